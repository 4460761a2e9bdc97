"""Southbound against the emulated metro network (every device kind, real NETCONF)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from lxml import etree

from simulators.clock import ManualClock
from simulators.faults import FaultKind, FaultRequest
from simulators.launcher import DEFAULT_TOPOLOGY, Network, SchemaCache, Topology
from southbound.commit import NetworkCommit
from southbound.model import DeviceChange, DeviceEndpoint, SyncState
from southbound.pool import SessionPool
from southbound.sync import SyncManager, SyncPolicy


@pytest.fixture(scope="module")
def metro_network() -> Iterator[Network]:
    net = Network(Topology.load(DEFAULT_TOPOLOGY), clock=ManualClock(), seed=3,
                  use_topology_ports=False, tick=0.05, schemas=SchemaCache())
    net.start(control=False)
    try:
        yield net
    finally:
        net.stop()


@pytest.fixture
def pool(metro_network: Network) -> Iterator[SessionPool]:
    endpoints = [DeviceEndpoint.model_validate(d) for d in metro_network.inventory()["devices"]]
    sessions = SessionPool(endpoints, timeout=10)
    try:
        yield sessions
    finally:
        sessions.close()


def running(pool: SessionPool) -> dict[str, str]:
    configs = {}
    for node in pool.node_ids:
        with pool.session(node) as adapter:
            configs[node] = adapter.get_config("running")
    return configs


def with_leaf(config_xml: str, leaf: str, value: str) -> str:
    root = etree.fromstring(f"<r>{config_xml}</r>")
    found = [e for e in root.iter() if etree.QName(e).localname == leaf]
    if not found:  # only its default so far (explicit basic-mode): set it on the top node
        top = root[0]
        found = [etree.SubElement(top, f"{{{etree.QName(top).namespace}}}{leaf}")]
    found[0].text = value
    return "".join(etree.tostring(c, encoding="unicode") for c in root)


def kinds(pool: SessionPool, kind: str) -> list[str]:
    return [n for n in pool.node_ids if pool.endpoint(n).kind == kind]


def test_commit_across_every_device_kind_is_all_or_nothing(pool: SessionPool) -> None:
    assert {pool.endpoint(n).kind for n in pool.node_ids} >= {"end-node", "repeater", "apc",
                                                              "q-roadm"}
    before = running(pool)
    apcs, repeaters = kinds(pool, "apc"), kinds(pool, "repeater")
    wanted = {n: with_leaf(x, "calibration-interval", "900") if n in apcs else x
              for n, x in before.items()}
    committer = NetworkCommit(pool)
    result = committer.apply([DeviceChange(node_id=n, config_xml=x) for n, x in wanted.items()])
    assert result.success, {n: o.error for n, o in result.devices.items() if o.error}
    after = running(pool)
    assert all("<calibration-interval>900" in after[n] for n in apcs)

    bad = dict(wanted)
    bad[repeaters[0]] = with_leaf(bad[repeaters[0]], "swap-success-probability", "1.5")
    bad.update({n: with_leaf(wanted[n], "calibration-interval", "60") for n in apcs})
    result = committer.apply([DeviceChange(node_id=n, config_xml=x) for n, x in bad.items()])
    assert not result.success and result.devices[repeaters[0]].status == "failed"
    assert running(pool) == after          # nothing changed anywhere


def test_out_of_band_fault_is_detected_and_reverted(metro_network: Network,
                                                    pool: SessionPool) -> None:
    intended = running(pool)
    target = kinds(pool, "repeater")[0]
    sync = SyncManager(pool, NetworkCommit(pool), intended=intended.get,
                       policy=lambda _: SyncPolicy.REVERT, importer=lambda n, x: None)
    assert {r.state for r in sync.run_once()} == {SyncState.IN_SYNC}
    metro_network.faults.apply(FaultRequest(kind=FaultKind.OOB_EDIT, target=target))
    reports = {r.node_id: r for r in sync.run_once()}
    assert reports[target].state is SyncState.OUT_OF_SYNC
    assert [e["path"].rsplit("/", 1)[-1] for e in reports[target].diff] == [
        "swap-success-probability"]
    assert all(r.state is SyncState.IN_SYNC for n, r in reports.items() if n != target)
    assert running(pool)[target] == intended[target]   # reverted by policy
