"""Harness for end-to-end tests: the emulated metro network in the test process and the
controller daemon as a real subprocess (`sdqn controller run`), talked to over NETCONF/SSH.

Everything binds to 127.0.0.1 with port 0; the daemon's first stdout line gives its port.
`Daemon` always kills its process on exit (SIGTERM, then SIGKILL), whatever the test did.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import libyang
from lxml import etree
from ncclient import manager as nc_manager

from controller.app.credentials import use_demo_credentials
from controller.datastore.nmda import Datastore
from controller.datastore.schema import Schema
from controller.paths import CONFIG_DIR, REPO_ROOT
from controller.settings import PRODUCT_MODULES, ControllerSettings
from simulators.clock import ScaledClock
from simulators.devices.world import Topology
from simulators.launcher import DEFAULT_TOPOLOGY, Network, SchemaCache
from southbound.kinds import DEVICE_KINDS
from southbound.transport import connect

SVC = "urn:sdqn:sdqn-services"
CTL = "urn:sdqn:sdqn-controller"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NMDA = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
#: simulated seconds per wall second: laser warm-ups of minutes take seconds
TIME_SCALE = 60.0

T = TypeVar("T")
#: oper-states that count as served for the demo's admitted requests. DQC: a known
#: device-model gap (end nodes cannot purify yet) makes it measure below its minimum
#: fidelity, so it reports degraded.
SERVED = {"qkd-alice-bob": {"up"}, "teleport-bob-charlie": {"up"},
          "dqc-charlie-dave": {"up", "degraded"}}


@contextlib.contextmanager
def emulated_network(seed: int = 5) -> Iterator[Network]:
    net = Network(Topology.load(DEFAULT_TOPOLOGY), clock=ScaledClock(TIME_SCALE), seed=seed,
                  use_topology_ports=False, tick=0.2, schemas=SchemaCache())
    net.start(control=False)
    try:
        yield net
    finally:
        net.stop()


def write_config(directory: Path, name: str, **service: Any) -> Path:
    """A controller.json for a test: data in `directory`/data, NETCONF on a free port,
    RESTCONF and gRPC off, fast telemetry; `service` overrides ServiceSettings fields."""
    settings = ControllerSettings.load()
    use_demo_credentials(settings)  # the shipped config has no accounts
    settings.datastore.data_dir = directory / "data"
    settings.netconf.port = 0
    settings.restconf.enabled = False
    settings.grpc.enabled = False
    settings.service.enabled = True
    settings.service.time_limit_s = 5
    settings.service.telemetry_interval_s = 0.5
    for key, value in service.items():
        setattr(settings.service, key, value)
    path = directory / f"controller-{name}.json"
    path.write_text(settings.model_dump_json())
    return path


class Daemon:
    """`sdqn controller run --config ...` in a subprocess; stderr goes to a log file that
    failure messages quote."""

    def __init__(self, config: Path, log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "controller.cli", "controller", "run", "--config",
             str(config), "--log-level", "info"], cwd=REPO_ROOT, stdout=subprocess.PIPE,
            stderr=self._log, text=True, env={**os.environ, "COLUMNS": "200"})
        assert self.proc.stdout is not None
        # Start-up (store, recovery, device sessions) happens before this line.
        line = self.proc.stdout.readline()
        if not line.startswith("netconf listening on 127.0.0.1:"):
            self.stop()
            raise AssertionError(f"daemon did not start: {line!r}\n{self.log_tail()}")
        self.port = int(line.rsplit(":", 1)[1])

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text().splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind runs in the daemon."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()

    def __enter__(self) -> Daemon:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def manager(self, timeout: float = 60) -> nc_manager.Manager:
        return connect(host="127.0.0.1", port=self.port, username="admin",
                       password="admin", timeout=timeout)

    def get_data(self, datastore: str, xpath: str, ns: dict[str, str]) -> etree._Element:
        """RFC 8526 <get-data> of one NMDA datastore, the reply's <data> element."""
        m = self.manager()
        try:
            prefixes = " ".join(f'xmlns:{p}="{u}"' for p, u in ns.items())
            reply = m.dispatch(etree.fromstring(
                f'<get-data xmlns="{NMDA}" '
                'xmlns:ds="urn:ietf:params:xml:ns:yang:ietf-datastores">'
                f"<datastore>ds:{datastore}</datastore><xpath-filter {prefixes}>{xpath}"
                "</xpath-filter></get-data>"))
            data = etree.fromstring(reply.xml.encode()).find(f"{{{NMDA}}}data")
            assert data is not None, reply.xml
            return data
        finally:
            m.close_session()

    def service_states(self) -> dict[str, dict[str, str | None]]:
        """Per request: admission and oper-state from <operational>."""
        data = self.get_data("operational", "/s:entanglement-services", {"s": SVC})
        return {str(r.findtext(f"{{{SVC}}}name")):
                {"admission": r.findtext(f"{{{SVC}}}state/{{{SVC}}}admission"),
                 "oper-state": r.findtext(f"{{{SVC}}}state/{{{SVC}}}oper-state")}
                for r in data.iter(f"{{{SVC}}}request")}

    def sync_states(self) -> dict[str | None, str | None]:
        data = self.get_data("operational", "/c:controller/c:southbound", {"c": CTL})
        return {d.findtext(f"{{{CTL}}}node-id"): d.findtext(f"{{{CTL}}}sync-state")
                for d in data.iter(f"{{{CTL}}}device")}

    def connection_states(self) -> dict[str | None, str | None]:
        data = self.get_data("operational", "/c:controller/c:southbound", {"c": CTL})
        return {d.findtext(f"{{{CTL}}}node-id"): d.findtext(f"{{{CTL}}}connection-state")
                for d in data.iter(f"{{{CTL}}}device")}

    def intended_configs(self) -> dict[str, Any]:
        """Per device: the configuration the controller intends for it (RFC 7951 dict)."""
        data = self.get_data("intended", "/c:controller/c:devices", {"c": CTL})
        return {str(d.findtext(f"{{{CTL}}}node-id")): _xml_to_rfc7951(
                    d.find(f"{{{CTL}}}configuration"))
                for d in data.iter(f"{{{CTL}}}device")}


def commit_intent(daemon: Daemon, config: str) -> None:
    """The operator's way: `config` (XML data) into the locked candidate, then commit."""
    m = daemon.manager()
    try:
        with m.locked("candidate"):
            m.edit_config(target="candidate", config=f'<config xmlns="{NC}">{config}</config>')
            m.commit()
    finally:
        m.close_session()


@dataclass
class Northbounds:
    """A daemon serving RESTCONF (and gRPC) beside the emulated network."""

    net: Network
    daemon: Daemon
    restconf: str              # host:port
    grpc_target: str | None


@contextlib.contextmanager
def northbound_daemon(tmp: Path, name: str, *, grpc: bool = True,
                      intent: Callable[[Network], str] | None = None
                      ) -> Iterator[Northbounds]:
    """The daemon on the emulated metro network with RESTCONF (and gRPC) on free ports,
    `intent(net)` (default: the demo intent) committed over NETCONF."""
    config = write_config(tmp, name)
    settings = json.loads(config.read_text())
    settings["restconf"].update(enabled=True, port=0)
    settings["grpc"].update(enabled=grpc, port=0)
    config.write_text(json.dumps(settings))
    with emulated_network() as net, Daemon(config, tmp / f"{name}.log") as daemon:
        assert daemon.proc.stdout is not None
        restconf = daemon.proc.stdout.readline()
        assert restconf.startswith("restconf listening on"), restconf
        target = None
        if grpc:
            line = daemon.proc.stdout.readline()
            assert line.startswith("grpc listening on"), line
            target = line.split()[-1]
        commit_intent(daemon, (intent or intent_xml)(net))
        yield Northbounds(net, daemon, restconf.split()[-1], target)


def edit_running(daemon: Daemon, config: str) -> None:
    """RFC 8526 <edit-data> of running; blocks until the commit is done (or fails)."""
    m = daemon.manager()
    try:
        m.dispatch(etree.fromstring(
            f'<edit-data xmlns="{NMDA}" xmlns:ds="urn:ietf:params:xml:ns:yang:ietf-datastores"'
            f' xmlns:nc="{NC}"><datastore>ds:running</datastore><config>{config}</config>'
            "</edit-data>"))
    finally:
        with contextlib.suppress(Exception):
            m.close_session()


def datastores(daemon: Daemon) -> dict[str, bytes]:
    """The controller's services in running and device configurations in intended,
    canonical XML (C14N)."""
    return {f"{ds} {xpath}": etree.tostring(daemon.get_data(ds, xpath, {"s": SVC, "c": CTL}),
                                            method="c14n")
            for ds in ("running", "intended")
            for xpath in ("/s:entanglement-services", "/c:controller/c:devices")}


def _xml_to_rfc7951(configuration: etree._Element | None) -> Any:
    """The anydata's content through the device's own module (libyang), as RFC 7951 JSON.

    The controller prints it as the device module's own XML (its namespace, identity
    prefixes declared), so it parses as it is."""
    assert configuration is not None and len(configuration) == 1
    module = DEVICE_MODULES[etree.QName(configuration[0]).localname]
    ctx = _DEVICE_SCHEMAS.get(module).ctx
    return json.loads(convert(ctx, etree.tostring(configuration[0]).decode(), "xml", "json"))


def convert(ctx: libyang.Context, text: str, source: str, target: str) -> str:
    """Configuration data from one encoding to the other (xml, json), via the schema."""
    tree = ctx.parse_data_mem(text, source, no_state=True, strict=True,
                              validate_present=False, parse_only=True)
    assert tree is not None, text
    try:
        return str(tree.print_mem(target, with_siblings=True))
    finally:
        tree.free()


#: device module of each top container (southbound.kinds)
DEVICE_MODULES = {kind.top: kind.module for kind in DEVICE_KINDS.values()}
_DEVICE_SCHEMAS = SchemaCache()


def intent_xml(net: Network) -> str:
    """config/topologies/metro.json (with the emulator's ports) and config/services/
    demo.json as NETCONF XML, through the controller's own schema (libyang)."""
    ports = {d["node-id"]: d["port"] for d in net.inventory()["devices"]}
    topology = json.loads((CONFIG_DIR / "topologies" / "metro.json").read_text())
    for node in topology["ietf-network:networks"]["network"][0]["node"]:
        node["sdqn-topology:quantum-node"]["management"]["port"] = ports[node["node-id"]]
    payload = json.dumps({**topology, **json.loads(
        (CONFIG_DIR / "services" / "demo.json").read_text())})
    return convert(Schema(list(PRODUCT_MODULES)).ctx, payload, "json", "xml")


def device_configs(net: Network) -> dict[str, Any]:
    """Every emulated device's running configuration (RFC 7951 dict)."""
    return {n: json.loads(d.store.get(Datastore.RUNNING) or "{}")
            for n, d in net.devices.items()}


def canonical(value: Any) -> Any:
    """Order-insensitive form of RFC 7951 data (list entries sorted), for equality."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return sorted((canonical(v) for v in value), key=lambda v: json.dumps(v,
                                                                            sort_keys=True))
    return value


def wait_for(probe: Callable[[], T], done: Callable[[T], bool], timeout: float,
             period: float = 0.5) -> T:
    """Poll `probe` until `done(value)` or the timeout; the last value either way."""
    deadline = time.monotonic() + timeout
    value = probe()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(period)
        value = probe()
    return value


def assert_devices_run_intended(daemon: Daemon, net: Network) -> None:
    intended = daemon.intended_configs()
    running = device_configs(net)
    assert set(intended) == set(net.devices)
    for node, config in intended.items():
        assert canonical(running[node]) == canonical(config), node
    assert set(daemon.sync_states().values()) == {"in-sync"}, daemon.sync_states()


def wait_devices_run_intended(daemon: Daemon, net: Network, timeout: float = 120) -> None:
    """`assert_devices_run_intended` once the network has settled: make-before-break has
    released the old paths of moved services (controller/service/mbb.py), self-healing
    and check-sync have done their part."""
    def off() -> list[str]:
        """Devices not running intended, or not yet checked in sync by the controller
        (a device restored after a reboot is `unknown` until its next check-sync)."""
        intended, running = daemon.intended_configs(), device_configs(net)
        sync = daemon.sync_states()
        return sorted(n for n, c in intended.items()
                      if canonical(running.get(n)) != canonical(c)
                      or sync.get(n) != "in-sync")

    wait_for(off, lambda nodes: not nodes, timeout=timeout)
    assert_devices_run_intended(daemon, net)


def assert_services_served(daemon: Daemon) -> None:
    def served(states: dict[str, dict[str, str | None]]) -> bool:
        return all(states.get(n, {}).get("oper-state") in ok for n, ok in SERVED.items())

    states = wait_for(daemon.service_states, served, timeout=30)
    assert served(states), f"{states}\n{daemon.log_tail()}"
