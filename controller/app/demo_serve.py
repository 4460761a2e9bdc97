"""`sdqn demo`'s northbounds beyond NETCONF, and the client commands it prints.

The demo serves what the daemon serves (RESTCONF with the console under /console, gRPC,
the training drills) on loopback with the demo credentials, wired as `sdqn controller
run` wires them: one DataAccess (the NETCONF core's NACM and sessions), one event hub.
Every command `client_hints` prints is run as printed by tests/controller/test_demo.py,
so a hint that stops working fails a test rather than a reader.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from controller.app.calibrate_rpcs import (
    calibrator,
    netconf_calibrate_rpcs,
    restconf_calibrate_rpcs,
)
from controller.app.change_rpcs import netconf_change_rpcs, restconf_change_rpcs
from controller.app.commit_devices import serve_commit_devices
from controller.app.drills import EmulatorChannel, netconf_drill_rpcs, restconf_drill_rpcs
from controller.app.grpc import start_grpc
from controller.app.history_rpcs import (
    TimeSeries,
    netconf_history_rpcs,
    open_time_series,
    restconf_history_rpcs,
)
from controller.app.restconf import build_restconf, start_optional
from controller.app.store import open_history
from controller.datastore.history import RunningHistory
from controller.datastore.nmda import NmdaStore
from controller.grpc_api.server import GrpcServer
from controller.netconf.authguard import AuthGuard
from controller.netconf.server import NetconfServer
from controller.restconf.access import DataAccess
from controller.restconf.events import EventHub
from controller.restconf.server import RestconfServer
from controller.service.alarm_actions import alarm_action_handlers
from controller.service.drills import DrillService
from controller.service.manager import ServiceManager
from controller.settings import ControllerSettings

#: the commands run as this user: an operator (NACM read-only, drills allowed) shows that
#: the hints do not need the administrator
HINT_USER = "operator"


@dataclass
class DemoNorthbounds:
    history: RunningHistory
    access: DataAccess
    hub: EventHub
    drills: DrillService
    series: TimeSeries
    restconf: RestconfServer | None
    grpc: GrpcServer | None

    def stop(self) -> None:
        self.series.stop()
        self.drills.close()
        if self.grpc is not None:
            self.grpc.stop()
        if self.restconf is not None:
            self.restconf.stop()
        self.hub.stop()
        self.access.close()
        self.history.close()


def start_northbounds(settings: ControllerSettings, store: NmdaStore, server: NetconfServer,
                      service: ServiceManager | None, channel: EmulatorChannel | None
                      ) -> DemoNorthbounds:
    """RESTCONF and gRPC beside the running NETCONF server; the change and drill rpcs on
    all of them."""
    history = open_history(settings, store)
    drills = DrillService(store, channel)
    server.core.extra_rpcs.update(netconf_drill_rpcs(drills))
    if service is not None:
        server.core.extra_rpcs.update(netconf_change_rpcs(service.change, server.core))
        # RFC 8632 set-operator-state (acknowledge) on every northbound sharing the core
        server.core.action_handlers.update(alarm_action_handlers(service.alarms))
    calibrate = calibrator(service.calibration) if service is not None else None
    if calibrate is not None:
        server.core.extra_rpcs.update(netconf_calibrate_rpcs(calibrate))
    access = DataAccess(store, users=settings.netconf.auth, nacm=settings.netconf.nacm,
                        core=server.core,
                        guard=server.guard or AuthGuard(settings.netconf.auth.lockout))
    serve_commit_devices(server.core, service)
    hub = EventHub(store)
    # the bounded history the console's time slider and charts read (sdqn-history)
    series = open_time_series(settings, store, access, history)
    server.core.extra_rpcs.update(netconf_history_rpcs(series.api))
    series.recorder.start()
    rpcs = {**(restconf_change_rpcs(service.change, access) if service is not None else {}),
            **restconf_history_rpcs(series.api),
            **(restconf_calibrate_rpcs(calibrate) if calibrate is not None else {}),
            **restconf_drill_rpcs(drills)}
    restconf: RestconfServer | None = build_restconf(settings, access, hub, history,
                                                     extra_rpcs=rpcs)
    assert restconf is not None
    if not start_optional("restconf", restconf.start):
        restconf = None
    grpc = start_grpc(settings, access, hub, history,
                      service.expander if service is not None else None, series.api,
                      calibrate=calibrate, drills=drills)
    return DemoNorthbounds(history, access, hub, drills, series, restconf, grpc)


def _tool(name: str) -> str:
    """The tool next to this interpreter (the project's venv), as short as it runs from
    here: relative to the working directory when under it."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        found = shutil.which(name)
        return found or name
    try:
        return str(Path(".") / path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def client_hints(server: NetconfServer, northbounds: DemoNorthbounds) -> list[str]:
    """Lines for an 80-column terminal: per interface a title, then one shell command
    ("  $ " first line, " \\" continued), ready to paste."""
    host, user = server.host, HINT_USER
    lines = [f"NETCONF: ssh {user}@{host} -p {server.port} -s netconf   (password {user})",
             f"  $ {_tool('netconf-console2')} \\",
             f"      --host {host} --port {server.port} -u {user} -p {user} \\",
             "      --get -x /entanglement-services"]
    if northbounds.restconf is not None:
        rc = northbounds.restconf
        base = f"http://{rc.host}:{rc.port}"
        lines += [f"console: {base}/console   (user {user}, password {user})",
                  "RESTCONF (RFC 8040):",
                  f"  $ curl -sf -u {user}:{user} -H 'Accept: application/yang-data+json' \\",
                  f"      {base}/restconf/data/sdqn-services:entanglement-services"]
    if northbounds.grpc is not None:
        target = shlex.quote(northbounds.grpc.target)
        lines += ["gRPC (the sdqn client; bearer token = password):",
                  f"  $ {_tool('sdqn')} alarms --target {target} --token {user}",
                  "gRPC, grpcurl-style JSON (grpcurl is not installed):"
                  if shutil.which("grpcurl") is None else "gRPC, JSON:",
                  f"  $ {_tool('sdqn')} request list --json \\",
                  f"      --target {target} --token {user}"]
    lines += [f"  {user}/{user} and admin/admin are demo-only credentials:",
              "  `sdqn controller run` never ships them"]
    return lines
