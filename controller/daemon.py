"""`sdqn controller run`: the controller daemon (datastores + northbound NETCONF).

The daemon opens the persistent NMDA store, seeds the default NACM rules on first start
(running without /nacm), and serves NETCONF, RESTCONF and gRPC until SIGINT/SIGTERM.
With --inventory it manages the devices an `sdqn sim run` emulates: their topology (at
the ports the emulators actually listen on) and, with --services, service requests are
merged into running before the northbound servers open.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import structlog
import typer
from lxml import etree

from controller.app.authalarm import raise_lockout_alarms
from controller.app.calibrate_rpcs import (
    calibrator,
    netconf_calibrate_rpcs,
    restconf_calibrate_rpcs,
)
from controller.app.change_rpcs import netconf_change_rpcs, restconf_change_rpcs
from controller.app.commit_devices import serve_commit_devices
from controller.app.credentials import ensure_credentials, warn_default_credentials
from controller.app.drills import EmulatorChannel, netconf_drill_rpcs, restconf_drill_rpcs
from controller.app.files import PRIVATE_UMASK, private_data_dir
from controller.app.grpc import start_grpc
from controller.app.history_rpcs import (
    netconf_history_rpcs,
    open_time_series,
    restconf_history_rpcs,
)
from controller.app.intent import inventory_credentials, inventory_topology, load_intent
from controller.app.keystore import device_login
from controller.app.restconf import build_restconf, start_optional
from controller.app.store import device_modules, open_history, open_store
from controller.datastore.history import RunningHistory
from controller.datastore.nmda import NmdaStore
from controller.datastore.schema import Schema
from controller.errors import NetconfError
from controller.logs import configure_logging
from controller.netconf import NETCONF_MODULES
from controller.netconf.authguard import AuthGuard
from controller.netconf.certname import CertNameMapper
from controller.netconf.commit_rpcs import commit_history_rpcs
from controller.netconf.commits import CommitHistory
from controller.netconf.core import Limits
from controller.netconf.nacm import seed_nacm
from controller.netconf.operations import Operations
from controller.netconf.server import NetconfServer
from controller.restconf import RESTCONF_MODULES
from controller.restconf.access import DataAccess
from controller.restconf.events import EventHub
from controller.service.alarm_actions import alarm_action_handlers
from controller.service.alarms import AlarmManager
from controller.service.drills import DrillService
from controller.service.manager import ServiceManager
from controller.settings import ControllerSettings
from simulators.launcher import load_inventory

log = structlog.get_logger(__name__)


def controller_schema(settings: ControllerSettings) -> Schema:
    """The configured modules plus what the NETCONF server needs (same order as the
    defaults, so a store written by the daemon opens with the default schema too)."""
    return Schema(list(dict.fromkeys([*settings.modules, *NETCONF_MODULES,
                                      *RESTCONF_MODULES])), mounted_modules=device_modules())


def build_server(settings: ControllerSettings, store: NmdaStore,
                 history: RunningHistory | None = None) -> NetconfServer:
    """The NETCONF server; with `history`, it serves the commit-history rpcs too."""
    nc = settings.netconf
    if nc.nacm:
        seed_nacm(store, nc.nacm_file)
    server = NetconfServer(
        store, host=nc.host, port=nc.port, users=nc.auth, host_key=settings.host_key_path,
        nacm=nc.nacm, name="controller", push_limits=nc.push,
        limits=Limits(max_message_size=nc.max_message_size, hello_timeout=nc.hello_timeout,
                      send_timeout=nc.send_timeout, max_sessions=nc.max_sessions,
                      sessions=nc.limits, what_if=nc.what_if,
                      xpath_max_scans=nc.xpath_max_scans,
                      max_result_nodes=nc.max_result_nodes,
                      replay_events=nc.replay_events,
                      replay_log=settings.datastore.data_dir / "notifications.jsonl"))
    if history is not None:
        server.core.extra_rpcs.update(commit_history_rpcs(
            CommitHistory(history, server.core), Operations(server.core)))
    return server


def build_service(settings: ControllerSettings, store: NmdaStore, *,
                  notify: Callable[[etree._Element], None] | None = None
                  ) -> ServiceManager | None:
    """The service layer with its loops running; `notify` sends alarm notifications
    northbound (the NETCONF server's publish)."""
    svc = settings.service
    if not svc.enabled:
        return None
    manager = ServiceManager(store, username=svc.device_username,
                             password=svc.device_password,
                             history_path=settings.datastore.data_dir / "commit-history.sqlite",
                             confirm_timeout_s=svc.confirm_timeout_s,
                             device_timeout_s=svc.device_timeout_s,
                             time_limit_s=svc.time_limit_s, notify=notify,
                             inflight_path=settings.datastore.data_dir / "inflight-commit.json",
                             provisioning_path=settings.datastore.data_dir
                             / "devices-not-reached.json")
    manager.committer.pause_before_confirm_s = svc.fault_pause_before_confirm_s
    manager.recover()
    manager.start(svc.telemetry_interval_s, svc.sync_interval_s)
    return manager


def _load_intent(store: NmdaStore, topology: dict[str, Any] | None,
                 services: Path | None) -> None:
    """The operator asked for this intent: a refusal (schema, Q-NUM, a device) stops the
    daemon with the reason rather than serving without it."""
    try:
        load_intent(store, topology, services)
    except (OSError, ValueError, NetconfError) as exc:
        log.error("cannot load the intent into running", error=str(exc))
        raise typer.Exit(1) from exc
    log.info("intent loaded into running", topology=topology is not None,
             services=str(services) if services else None)


def run(config: Annotated[Path | None,
                          typer.Option(help="controller.json (default: config/)")] = None,
        port: Annotated[int | None,
                        typer.Option(help="NETCONF port (overrides the config)")] = None,
        log_level: Annotated[str, typer.Option(help="debug, info, warning, error")] = "info",
        log_format: Annotated[str, typer.Option(help="console or json")] = "console",
        inventory: Annotated[Path | None, typer.Option(
            help="manage the devices of this `sdqn sim run` inventory: merge its topology "
                 "into running")] = None,
        services: Annotated[Path | None, typer.Option(
            help="service requests (RFC 7951 JSON) to merge into running")] = None) -> None:
    """Run the controller daemon until interrupted."""
    configure_logging(log_level, log_format)
    # Everything the daemon creates (datastores, logs, notification replay, keys) is
    # readable by its user only.
    os.umask(PRIVATE_UMASK)
    settings = ControllerSettings.load(config)
    if port is not None:
        settings.netconf.port = port
    try:
        private_data_dir(settings.datastore.data_dir)
        ensure_credentials(settings)
        (settings.service.device_username,
         settings.service.device_password) = device_login(settings)
    except (OSError, ValueError, KeyError) as exc:
        log.error("cannot set up the credentials", error=str(exc))
        raise typer.Exit(1) from exc
    warn_default_credentials(settings)
    try:
        emulated = load_inventory(inventory) if inventory is not None else None
        topology = inventory_topology(emulated) if emulated is not None else None
        # the drills' control channel reads the topology file the inventory names
        channel = EmulatorChannel.from_inventory(emulated) if emulated is not None else None
        if emulated is not None:
            (settings.service.device_username,
             settings.service.device_password) = inventory_credentials(emulated)
    except (OSError, ValueError, KeyError) as exc:
        log.error("cannot load the inventory", inventory=str(inventory), error=str(exc))
        raise typer.Exit(1) from exc
    store = open_store(settings, schema=controller_schema(settings),
                       defer_restart_revert=settings.service.enabled)
    history = open_history(settings, store)
    server = build_server(settings, store, history) if settings.netconf.enabled else None
    service = build_service(settings, store,
                            notify=server.publish if server is not None else None)
    calibrate = calibrator(service.calibration) if service is not None else None
    if server is not None and service is not None:
        server.core.extra_rpcs.update(netconf_change_rpcs(service.change, server.core))
    if server is not None and calibrate is not None:
        server.core.extra_rpcs.update(netconf_calibrate_rpcs(calibrate))
    # Training drills act on the emulated network only: through the control channel the
    # inventory names (refused as operation-not-supported without one).
    drills = DrillService(store, channel)
    if server is not None:
        server.core.extra_rpcs.update(netconf_drill_rpcs(drills))
    # RESTCONF and gRPC share the store, the accounts, NACM (the NETCONF core's) and the
    # brute-force guard, whose lockouts are alarms.
    guard = (server.guard if server is not None and server.guard is not None
             else AuthGuard(settings.netconf.auth.lockout))
    alarms = (service.alarms if service is not None
              else AlarmManager(store, notify=server.publish if server is not None else None)
              if "sdqn-alarms" in settings.modules else None)
    if alarms is not None:
        raise_lockout_alarms(guard, alarms)
        if server is not None:
            # RFC 8632 set-operator-state (acknowledge) on every northbound sharing the core
            server.core.action_handlers.update(alarm_action_handlers(alarms))
    rc_tls = settings.restconf.tls
    access = DataAccess(store, users=settings.netconf.auth, nacm=settings.netconf.nacm,
                        core=server.core if server is not None else None, guard=guard,
                        cert_names=CertNameMapper.from_files(
                            settings.netconf.auth.cert_to_name, [rc_tls.client_ca_file])
                        if rc_tls is not None and rc_tls.client_ca_file is not None else None)
    serve_commit_devices(access.core, service)
    hub = EventHub(store)
    series = open_time_series(settings, store, access, history)
    recorder, history_api = series.recorder, series.api
    if server is not None:
        server.core.extra_rpcs.update(netconf_history_rpcs(history_api))
    rpcs = {**(restconf_change_rpcs(service.change, access) if service is not None else {}),
            **restconf_history_rpcs(history_api),
            **(restconf_calibrate_rpcs(calibrate) if calibrate is not None else {}),
            **restconf_drill_rpcs(drills)}
    restconf = (build_restconf(settings, access, hub, history, extra_rpcs=rpcs)
                if settings.restconf.enabled else None)
    grpc = None
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        recorder.start()
        if topology is not None or services is not None:
            _load_intent(store, topology, services)
        if server is not None:
            server.start()
            # One plain line for scripts (and tests) that start us with port 0.
            typer.echo(f"netconf listening on {server.host}:{server.port}", err=False)
        if restconf is not None and start_optional("restconf", restconf.start):
            typer.echo(f"restconf listening on {restconf.host}:{restconf.port}")
        grpc = (start_grpc(settings, access, hub, history,
                           service.expander if service else None, history_api,
                           calibrate=calibrate, drills=drills)
                if settings.grpc.enabled else None)
        if grpc is not None:
            typer.echo(f"grpc listening on {grpc.target}")
        while not stop.wait(3600):
            pass
    finally:
        if grpc is not None:
            grpc.stop()
        if restconf is not None:
            restconf.stop()
        hub.stop()
        series.stop()
        guard.close()
        access.close()
        if server is not None:
            server.stop()
        drills.close()
        if service is not None:
            service.close()
        history.close()
        if store.persistence is not None:
            store.close()
