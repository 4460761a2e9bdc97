"""End to end with real processes: the controller daemon is SIGKILLed in the middle of a
network-wide commit (after its durable write, before the devices' confirm) and restarted
on the same data directory. Nothing may stay half applied: the devices' pending confirmed
commits are confirmed by the new process (they would otherwise revert after the confirm
timeout), every device runs what <intended> says, and the services are served again."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from controller.datastore.nmda import Datastore
from controller.paths import CONFIG_DIR, REPO_ROOT
from controller.settings import ControllerSettings
from simulators.clock import ScaledClock
from simulators.devices.world import Topology
from simulators.launcher import DEFAULT_TOPOLOGY, Network, SchemaCache
from southbound.transport import connect

CONFIRM_TIMEOUT_S = 6.0
SVC = "urn:sdqn:sdqn-services"
CTL = "urn:sdqn:sdqn-controller"


@pytest.fixture
def network() -> Iterator[Network]:
    net = Network(Topology.load(DEFAULT_TOPOLOGY), clock=ScaledClock(60.0), seed=5,
                  use_topology_ports=False, tick=0.2, schemas=SchemaCache())
    net.start(control=False)
    try:
        yield net
    finally:
        net.stop()


def write_config(tmp: Path, pause_s: float) -> Path:
    settings = ControllerSettings.load()
    settings.datastore.data_dir = tmp / "data"
    settings.netconf.port = 0
    settings.restconf.enabled = False
    settings.grpc.enabled = False
    settings.service.time_limit_s = 5
    settings.service.confirm_timeout_s = CONFIRM_TIMEOUT_S
    settings.service.telemetry_interval_s = 0.5
    settings.service.fault_pause_before_confirm_s = pause_s
    path = tmp / f"controller-{pause_s}.json"
    path.write_text(settings.model_dump_json())
    return path


def start_daemon(config: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller.cli", "controller", "run", "--config", str(config),
         "--log-level", "warning"], cwd=REPO_ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True, env={**os.environ, "COLUMNS": "200"})
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("netconf listening on 127.0.0.1:"), line
    return proc, int(line.rsplit(":", 1)[1])


def intent(net: Network) -> str:
    ports = {d["node-id"]: d["port"] for d in net.inventory()["devices"]}
    topology = json.loads((CONFIG_DIR / "topologies" / "metro.json").read_text())
    for node in topology["ietf-network:networks"]["network"][0]["node"]:
        node["sdqn-topology:quantum-node"]["management"]["port"] = ports[node["node-id"]]
    return json.dumps({**topology, **json.loads(
        (CONFIG_DIR / "services" / "demo.json").read_text())})


def get_data(port: int, xpath: str, ns: dict[str, str]) -> etree._Element:
    m = connect(host="127.0.0.1", port=port, username="admin", password="admin")
    try:
        prefixes = " ".join(f'xmlns:{p}="{u}"' for p, u in ns.items())
        reply = m.dispatch(etree.fromstring(
            '<get-data xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-nmda" '
            'xmlns:ds="urn:ietf:params:xml:ns:yang:ietf-datastores">'
            f"<datastore>ds:operational</datastore><xpath-filter {prefixes}>{xpath}"
            "</xpath-filter></get-data>"))
        return etree.fromstring(reply.xml.encode())
    finally:
        m.close_session()


def device_configs(net: Network) -> dict[str, Any]:
    return {n: json.loads(d.store.get(Datastore.RUNNING) or "{}")
            for n, d in net.devices.items()}


def test_killed_between_write_and_confirm_recovers_consistently(
        network: Network, tmp_path: Path) -> None:
    proc, port = start_daemon(write_config(tmp_path, pause_s=30.0))
    try:
        # The first commit of the intent blocks in the injected pause: run it aside.
        payload = intent(network)

        def submit() -> None:
            m = connect(host="127.0.0.1", port=port, username="admin", password="admin",
                        timeout=60)
            with contextlib.suppress(Exception):  # the daemon dies under us: expected
                m.dispatch(etree.fromstring(
                    '<edit-data xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-nmda" '
                    'xmlns:ds="urn:ietf:params:xml:ns:yang:ietf-datastores">'
                    "<datastore>ds:running</datastore>"
                    f'<config>{rfc7951_to_xml(payload)}</config></edit-data>'))

        submitter = threading.Thread(target=submit, daemon=True)
        submitter.start()
        inflight = tmp_path / "data" / "inflight-commit.json"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:   # devices pending and the write done
            if inflight.exists() and all(device_configs(network).values()):
                break
            time.sleep(0.05)
        assert inflight.exists(), "the commit never reached its confirm phase"
        time.sleep(1.0)                      # inside the 30 s pause, after the write
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    pending = device_configs(network)
    assert all(pending.values())             # every device holds the pending config

    proc, port = start_daemon(write_config(tmp_path, pause_s=0.0))
    try:
        assert not inflight.exists()         # recovery finished the commit
        time.sleep(CONFIRM_TIMEOUT_S + 2)    # an unconfirmed commit would revert by now
        assert device_configs(network) == pending, "a device reverted: half applied"
        ctl = get_data(port, "/c:controller/c:southbound", {"c": CTL})
        sync = {d.findtext(f"{{{CTL}}}node-id"): d.findtext(f"{{{CTL}}}sync-state")
                for d in ctl.iter(f"{{{CTL}}}device")}
        assert len(sync) == 11 and set(sync.values()) == {"in-sync"}, sync
        deadline = time.monotonic() + 30
        states: dict[str | None, str | None] = {}
        while time.monotonic() < deadline:
            svc = get_data(port, "/s:entanglement-services", {"s": SVC})
            states = {r.findtext(f"{{{SVC}}}name"):
                      r.findtext(f"{{{SVC}}}state/{{{SVC}}}oper-state")
                      for r in svc.iter(f"{{{SVC}}}request")}
            if states.get("qkd-alice-bob") == "up":
                break
            time.sleep(0.5)
        assert states.get("qkd-alice-bob") == "up", states      # services restored
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def rfc7951_to_xml(payload: str) -> str:
    """The intent as NETCONF XML, via the controller's own schema (libyang)."""
    from controller.datastore.schema import Schema
    from controller.settings import PRODUCT_MODULES

    ctx = Schema(list(PRODUCT_MODULES)).ctx
    tree = ctx.parse_data_mem(payload, "json", no_state=True, strict=True,
                              validate_present=False, parse_only=True)
    try:
        return "".join(node.print_mem("xml", with_siblings=False)
                       for node in tree.siblings(include_self=True))
    finally:
        tree.free()
