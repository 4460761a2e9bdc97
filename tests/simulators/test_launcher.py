"""The launcher: topology → devices, shared schemas, inventory, paths, `sdqn sim run`."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from controller.bench.sim import synthetic_topology, vm_rss_mb
from controller.paths import REPO_ROOT
from simulators.devices.world import PhysNode, Topology, World
from simulators.launcher import Network, SchemaCache
from southbound.model import DeviceEndpoint

pytestmark = pytest.mark.timeout(60)

MODULES = {"end-node": "sdqn-end-node", "repeater": "sdqn-repeater", "apc": "sdqn-apc",
           "q-roadm": "sdqn-qroadm"}


def test_every_topology_node_becomes_a_device_of_its_kind(metro: Topology,
                                                          schemas: SchemaCache) -> None:
    network = Network(metro, serve=False, schemas=schemas)
    assert set(network.devices) == set(metro.nodes)
    for node_id, device in network.devices.items():
        assert device.model.module == MODULES[metro.nodes[node_id].kind]
        assert device.port == metro.nodes[node_id].port  # management port of the topology
    by_kind: dict[str, set[int]] = {}
    for device in network.devices.values():
        by_kind.setdefault(device.kind, set()).add(id(device.store.schema))
    assert all(len(ids) == 1 for ids in by_kind.values())  # one libyang context per kind
    assert len({s for ids in by_kind.values() for s in ids}) == 4


def test_inventory_is_loadable_by_the_southbound(network: Network, tmp_path: Path) -> None:
    path = tmp_path / "sim" / "inventory.json"
    network.write_inventory(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    data = json.loads(path.read_text())
    assert data["network-id"] == "metro" and data["control"]["token"]
    endpoints = [DeviceEndpoint.model_validate(d) for d in data["devices"]]
    assert {e.node_id for e in endpoints} == set(network.devices)
    for e in endpoints:
        device = network.devices[e.node_id]
        assert (e.port, e.kind, e.adapter, e.modules) == (
            device.port, device.kind, "netconf", (device.model.module,))
        assert e.username == "admin" and e.password == "admin"


def test_kinds_without_a_model_are_skipped(schemas: SchemaCache) -> None:
    topo = Topology("t", [PhysNode("a", "end-node"), PhysNode("s", "source")], [])
    network = Network(topo, serve=False, schemas=schemas)
    assert set(network.devices) == {"a"} and network.skipped == ["s"]


def test_paths_use_the_redundant_route_when_a_fibre_is_cut(metro: Topology) -> None:
    world = World(metro)
    spans = world.path("alice", "bob")
    assert spans is not None
    assert [s.ends for s in spans] == [("alice", "r1"), ("r1", "r2"), ("r2", "bob")]
    assert spans[1].link_ids == ("r1-r2",)
    world.set_cut("r1-r2", True)
    spans = world.path("alice", "bob")
    assert spans is not None
    assert [s.ends for s in spans] == [("alice", "r1"), ("r1", "r2"), ("r2", "bob")]
    assert spans[1].link_ids == ("r1-qr1", "qr1-r2") and spans[1].roadms[0].node_id == "qr1"
    world.set_down("qr1", True)
    assert world.path("alice", "bob") is None
    with pytest.raises(KeyError):
        world.set_cut("nope", True)


def test_synthetic_topology_for_the_benchmark(schemas: SchemaCache) -> None:
    topo = synthetic_topology(20)
    kinds = [n.kind for n in topo.nodes.values()]
    assert {k: kinds.count(k) for k in MODULES} == {"end-node": 4, "repeater": 8, "apc": 4,
                                                    "q-roadm": 4}
    apcs = {n for n, node in topo.nodes.items() if node.kind == "apc"}
    assert {lk.compensator for lk in topo.links.values() if lk.compensator} == apcs
    assert len(topo.links) == 16  # a ring over the 16 non-APC nodes
    with Network(topo, use_topology_ports=False, tick=0.2, schemas=schemas) as network:
        ports = {d.port for d in network.devices.values()}
        assert len(ports) == 20 and 0 not in ports
    assert vm_rss_mb() > 0


def test_sim_run_and_fault_commands(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.json"
    cmd = [sys.executable, "-m", "controller.cli", "sim", "run", "--any-port",
           "--inventory", str(inventory), "--duration", "20", "--time-factor", "10"]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not inventory.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert inventory.exists(), proc.stderr.read() if proc.poll() is not None else ""
        fault = subprocess.run(
            [sys.executable, "-m", "controller.cli", "sim", "fault", "fibre-cut", "r1-r2",
             "--inventory", str(inventory)], cwd=REPO_ROOT, capture_output=True, text=True,
            timeout=30)
        assert fault.returncode == 0, fault.stderr
        assert fault.stdout.strip() == "fibre r1-r2 cut"
    finally:
        proc.send_signal(signal.SIGINT)  # the launcher stops its devices and says so
        out, _ = proc.communicate(timeout=20)
    assert "qr1" in out and "sdqn-qroadm" in out and "11 devices up" in out
    assert "emulated network stopped" in out
