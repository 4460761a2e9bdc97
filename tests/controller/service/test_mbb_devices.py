"""Make-before-break across the q-ROADM on the emulated metro network (real NETCONF
devices over SSH): a live service moved off a degraded fibre keeps its old cross-connects
and endpoints running beside the new ones until the new path is stable, and the old path
keeps delivering meanwhile; where the q-ROADM has no spare add/drop port the move is a
hard switch, reported as one."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from lxml import etree
from structlog.testing import capture_logs

from controller.datastore.nmda import Datastore
from controller.service.mbb import MoveKind, hard_switch_interruption
from simulators.launcher import Network
from tests.controller.service.conftest import World, advance, metro_world, started
from tests.controller.service.test_heal import path

DQC = "dqc-charlie-dave"
VIA_R2 = ["charlie", "qr1", "r2", "r3", "dave"]
QROADM_NS = "urn:sdqn:sdqn-qroadm"
END_NODE_NS = "urn:sdqn:sdqn-end-node"
LOW = ('<repeater xmlns="urn:sdqn:sdqn-repeater"><link-generation><link>'
       "<link-id>r2-r3</link-id><state><oper-status>up</oper-status>"
       "<fidelity-estimate>{f}</fidelity-estimate></state></link></link-generation>"
       "</repeater>")


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with metro_world() as w:
        yield started(w)


def r1_out_of_reach(topology: dict[str, Any]) -> None:
    """A long r1–qr1 fibre: with only these two services, the optimum over every route
    would otherwise take DQC through r1; the scenarios start it on r2's route."""
    for link in topology["ietf-network:networks"]["network"][0][
            "ietf-network-topology:link"]:
        if link["link-id"] == "r1-qr1":
            link["sdqn-topology:quantum-link"]["fibre-length"] = "80.0"


def without_spare_ports(topology: dict[str, Any]) -> None:
    """qr1 has just the four add/drop ports the two services through it use."""
    r1_out_of_reach(topology)
    for node in topology["ietf-network:networks"]["network"][0]["node"]:
        q = node["sdqn-topology:quantum-node"]
        if "q-roadm" in q:
            q["q-roadm"]["add-drop-ports"] = 4


@pytest.fixture(scope="module")
def tight_world() -> Iterator[World]:
    with metro_world(topology=without_spare_ports,
                     services=lambda rs: [r for r in rs if r["name"] in (
                         DQC, "teleport-bob-charlie")]) as w:
        yield started(w)


def running(net: Network, node: str, top: str) -> dict[str, Any]:
    return dict(json.loads(net.devices[node].store.get(Datastore.RUNNING))[top])


def cross_connects(net: Network, service: str) -> dict[str, tuple[Any, ...]]:
    """qr1's cross-connects of `service` (old ones included): name → (channel, source
    port, destination port, their attachments)."""
    body = running(net, "qr1", "sdqn-qroadm:q-roadm")
    ports = {p["port-number"]: (p.get("attached-node"), p.get("link-id"))
             for p in body.get("add-drop-port", [])}
    out = {}
    for x in body.get("circuit", {}).get("cross-connect", []):
        if str(x["name"]).split(":")[0].removesuffix("~old") != service:
            continue
        ends = [(json.dumps(e, sort_keys=True), ports.get(e.get("add-drop-port")))
                for e in (x["source"], x["destination"])]
        out[str(x["name"])] = (x["channel"], *ends)
    return out


def add_drop(xcs: dict[str, tuple[Any, ...]]) -> set[str]:
    return {end[0] for x in xcs.values() for end in x[1:] if "add-drop-port" in end[0]}


def endpoints(net: Network, node: str) -> dict[str, dict[str, Any]]:
    body = running(net, node, "sdqn-end-node:end-node")
    return {e["name"]: e for e in body.get("application-endpoint", [])}


def state(world: World, node: str) -> etree._Element:
    """The device's operational state, read over its NETCONF session."""
    _store, manager, _net, _clock = world
    with manager.pool.session(node, wait_s=5) as adapter:
        return etree.fromstring(f"<data>{adapter.get_state()}</data>".encode())


def oper(world: World) -> dict[str, str]:
    """qr1's cross-connects as it reports them: name → oper-status."""
    root = state(world, "qr1")
    return {str(x.findtext(f"{{{QROADM_NS}}}name")):
            str(x.findtext(f"{{{QROADM_NS}}}state/{{{QROADM_NS}}}oper-status")).rsplit(":")[-1]
            for x in root.iter(f"{{{QROADM_NS}}}cross-connect")}


def delivered_pairs(world: World, node: str, name: str) -> int:
    root = state(world, node)
    for ep in root.iter(f"{{{END_NODE_NS}}}application-endpoint"):
        if ep.findtext(f"{{{END_NODE_NS}}}name") == name:
            return int(ep.findtext(f"{{{END_NODE_NS}}}state/{{{END_NODE_NS}}}delivered-pairs")
                       or 0)
    raise AssertionError(f"{node} reports no endpoint {name}")


def old_route_runs(net: Network) -> bool:
    """The emulated plant still carries the old route as a chain: its spans usable and
    every repeater on it swapping between them (what an end node delivers over)."""
    world = net.world
    for spans in world.paths("charlie", "dave"):
        nodes = [spans[0].ends[0], *(s.ends[1] for s in spans)]
        roadms = {r.node_id for s in spans for r in s.roadms}
        if [n for n in VIA_R2 if n not in roadms] == nodes:
            return all(world.swaps_between(a.ends[1], a, b)
                       for a, b in itertools.pairwise(spans))
    return False


def degrade(world: World, fidelity: str) -> None:
    _store, manager, _net, _clock = world
    manager.healer.on_readings({"r2": LOW.format(f=fidelity)})
    assert manager.healer.wait_idle(30)


def test_a_move_across_the_q_roadm_is_made_before_it_is_broken(world: World) -> None:
    store, manager, net, clock = world
    assert path(store, DQC) == VIA_R2
    old_xcs = cross_connects(net, DQC)
    old_endpoints = {n: endpoints(net, n)[DQC] for n in ("charlie", "dave")}
    assert old_route_runs(net)
    pairs_before = delivered_pairs(world, "charlie", DQC)
    released = len(manager.releases)
    degrade(world, "0.800000")
    assert "r2" not in path(store, DQC)
    move = manager.expander.committed.moves[DQC]
    assert move.kind is MoveKind.MAKE_BEFORE_BREAK, move
    assert {"qr1", "r2"} <= set(move.bridged)
    # Make: the q-ROADM runs the old cross-connects exactly as before (channel, ports and
    # their attachments) and the new ones on other add/drop ports ...
    bridged = cross_connects(net, DQC)
    assert set(old_xcs.values()) <= set(bridged.values())
    new_xcs = {n: x for n, x in bridged.items() if x not in set(old_xcs.values())}
    assert new_xcs and not add_drop(new_xcs) & add_drop(old_xcs)
    # ... the end nodes hold the old endpoint (the old path's cut-off and share) beside
    # the new one ...
    assert {"charlie", "dave", "r3"} <= set(move.bridged)
    for node, old_ep in old_endpoints.items():
        held = endpoints(net, node)
        assert held[DQC] != old_ep
        assert held[f"{DQC}~old"] == {**old_ep, "name": f"{DQC}~old"}
    # ... and while the new path settles, the old one keeps delivering: every cross-connect
    # passes light, the old route is a swapping chain, both end nodes' sources are stable.
    for _tick in range(6):       # 1.5 s: the new repeater r3 takes 2 s to settle
        advance(net, clock, 0.25, step=0.25)
        assert len(manager.releases) == released
        status = oper(world)
        assert {n: status.get(n) for n in bridged} == dict.fromkeys(bridged, "up")
        assert old_route_runs(net)
        for node in ("charlie", "dave"):
            root = state(world, node)
            assert root.findtext(f".//{{{END_NODE_NS}}}source-state") == "stable"
            reported = {e.findtext(f"{{{END_NODE_NS}}}name")
                        for e in root.iter(f"{{{END_NODE_NS}}}application-endpoint")}
            assert {DQC, f"{DQC}~old"} <= reported
    downs = [n.content for n in net.devices["qr1"].history
             if n.name == "cross-connect-state-change" and n.content.get("name") in bridged]
    assert downs == []
    # Break: once the new path is stable, only the new configuration is left.
    deadline = time.monotonic() + 60
    while len(manager.releases) == released and time.monotonic() < deadline:
        advance(net, clock, 5, step=5)
        time.sleep(0.3)
    release = manager.releases[-1]
    assert release.ok is True and release.timed_out is False
    advance(net, clock, 1.0, step=1.0)              # the devices run what was released
    assert set(cross_connects(net, DQC).values()) == set(new_xcs.values())
    assert set(endpoints(net, "charlie")) - {"teleport-bob-charlie"} == {DQC}
    assert DQC not in {f["flow-id"].removesuffix("~old")
                       for f in running(net, "r2", "sdqn-repeater:repeater").get("flow", [])}
    assert not old_route_runs(net)
    assert manager.bridging == {}
    assert delivered_pairs(world, "charlie", DQC) > pairs_before
    degrade(world, "0.970000")                       # recovered (the path stays)


def test_without_a_spare_add_drop_port_the_move_is_a_reported_hard_switch(
        tight_world: World) -> None:
    store, manager, net, _clock = tight_world
    assert path(store, DQC) == VIA_R2
    old_xcs = cross_connects(net, DQC)
    released = len(manager.releases)
    with capture_logs() as logs:
        degrade(tight_world, "0.800000")
    assert "r2" not in path(store, DQC)
    expansion = manager.expander.committed
    move = expansion.moves[DQC]
    assert move.kind is MoveKind.HARD_SWITCH and move.device == "qr1"
    assert "add/drop port" in move.reason and "no spare" in move.reason, move.reason
    assert move.interruption_s == pytest.approx(hard_switch_interruption(
        expansion.plan.assignments[DQC].rate_hz if expansion.plan else None,
        expansion.push_estimate_s))
    assert [(e["service"], e["device"]) for e in logs
            if e["event"] == "make-before-break not possible: switching directly"] == [
        (DQC, "qr1")]
    # switched at once: no old piece is left anywhere, nothing waits for a release
    assert expansion.bridges == {} and manager.bridging == {}
    new_xcs = cross_connects(net, DQC)
    assert not any("~old" in n for n in new_xcs) and new_xcs != old_xcs
    assert DQC not in {f["flow-id"] for f in running(net, "r2", "sdqn-repeater:repeater")
                       .get("flow", [])}
    assert len(manager.releases) == released


@pytest.fixture(scope="module")
def lone_world() -> Iterator[World]:
    with metro_world(topology=r1_out_of_reach, services=lambda rs: [r for r in rs if r[
            "name"] in (DQC, "teleport-bob-charlie")]) as w:
        yield started(w)


def test_a_release_that_waits_in_vain_says_so(lone_world: World) -> None:
    """The new path does not settle (simulated time stands still): after the bounded wait
    the old path is released all the same, and the release and the log say it timed out."""
    store, manager, _net, _clock = lone_world
    assert path(store, DQC) == VIA_R2
    released = len(manager.releases)
    manager.mbb_timeout_s = 0.0
    with capture_logs() as logs:
        degrade(lone_world, "0.800000")
        assert manager.expander.committed.moves[DQC].make_before_break
        deadline = time.monotonic() + 30
        while len(manager.releases) == released and time.monotonic() < deadline:
            time.sleep(0.2)
    release = manager.releases[-1]
    assert release.timed_out is True and release.unstable and release.ok is True
    assert [e["unstable"] for e in logs if e["event"].startswith(
        "make-before-break: new paths not stable")] == [list(release.unstable)]
    assert manager.bridging == {}
