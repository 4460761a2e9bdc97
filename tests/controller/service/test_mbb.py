"""Make-before-break decided per service (controller/service/mbb.py) on real renderings of
the metro network, checked with each device's own YANG model: a move across the q-ROADM
bridges on spare add/drop ports, end nodes hold both endpoints, and where the hardware
has no room the move is a hard switch that names the device and resource."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

import pytest

from controller.paths import CONFIG_DIR
from controller.service.mbb import (
    DEFAULT_PUSH_ESTIMATE_S,
    MoveKind,
    hard_switch_interruption,
    plan_bridges,
    plan_moves,
    planned_rates,
)
from controller.service.render import device_config_xml, render_devices
from qnum.io import AppClass, Network, Request, parse_requests, parse_topology
from qnum.plan import Assignment, Plan, Problem
from southbound.kinds import DEVICE_KINDS
from tests.controller.service.test_render import network_from

TOPOLOGY = json.loads((CONFIG_DIR / "topologies" / "metro.json").read_text())
SERVICES = json.loads((CONFIG_DIR / "services" / "demo.json").read_text())
QROADM = "sdqn-qroadm:q-roadm"
END_NODE = "sdqn-end-node:end-node"
VIA_R2 = ("charlie", "qr1", "r2", "r3", "dave")
VIA_R3 = ("charlie", "qr1", "r3", "dave")
TELEPORT = ("bob", "r2", "qr1", "charlie")


def metro(add_drop_ports: int = 8) -> tuple[Network, dict[str, Any]]:
    topology = copy.deepcopy(TOPOLOGY)
    for node in topology["ietf-network:networks"]["network"][0]["node"]:
        q = node["sdqn-topology:quantum-node"]
        if "q-roadm" in q:
            q["q-roadm"]["add-drop-ports"] = add_drop_ports
    running = {**topology, **SERVICES}
    network = parse_topology(running)
    assert network is not None
    return network, running


def plan_of(network: Network, running: Mapping[str, Any],
            routes: Mapping[str, tuple[str, ...]]) -> Plan:
    """The plan serving each request on the given route, at its candidates' share floor."""
    requests = {r.name: r for r in parse_requests(running, network)}
    problem = Problem.build(network, list(requests.values()))
    chosen = []
    for name, route in routes.items():
        found = [c for c in problem.candidates[name].candidates
                 if tuple(c.route.nodes) == route]
        assert found, f"no candidate of {name} on {route}"
        best = min(found, key=lambda c: c.min_share)
        chosen.append(Assignment(request=requests[name], candidate=best, share=best.min_share))
    return Plan.from_assignments("test", chosen)


def render(network: Network, plan: Plan, previous: Mapping[str, str] | None = None
           ) -> dict[str, str]:
    kinds = {n: node.kind.value for n, node in network.nodes.items()
             if node.kind.value in DEVICE_KINDS}
    return {n: json.dumps(d, sort_keys=True, separators=(",", ":"))
            for n, d in render_devices(network, plan, kinds=kinds, previous=previous).items()}


def validate(doc: str) -> None:
    device_config_xml(json.loads(doc))


def move(before: Mapping[str, tuple[str, ...]], after: Mapping[str, tuple[str, ...]],
         add_drop_ports: int = 8) -> tuple[dict[str, str], dict[str, str], Plan]:
    """(old documents, new documents, new plan) of a re-plan from `before` to `after`."""
    network, running = metro(add_drop_ports)
    old = render(network, plan_of(network, running, before))
    new_plan = plan_of(network, running, after)
    return old, render(network, new_plan, previous=old), new_plan


def body(doc: str, top: str = QROADM) -> dict[str, Any]:
    return dict(json.loads(doc)[top])


def hardware(xc: Mapping[str, Any]) -> tuple[Any, ...]:
    return (xc["channel"], json.dumps(xc["source"], sort_keys=True),
            json.dumps(xc["destination"], sort_keys=True))


def connects(doc: str, service: str) -> list[dict[str, Any]]:
    return [x for x in body(doc).get("circuit", {}).get("cross-connect", [])
            if str(x["name"]).split(":")[0].removesuffix("~old") == service]


def add_drop(xcs: list[dict[str, Any]]) -> set[int]:
    return {int(end["add-drop-port"]) for x in xcs for end in (x["source"], x["destination"])
            if "add-drop-port" in end}


def attachments(doc: str) -> dict[int, tuple[str, str]]:
    return {int(p["port-number"]): (p["attached-node"], p["link-id"])
            for p in body(doc).get("add-drop-port", []) if "attached-node" in p}


def test_a_move_across_the_q_roadm_bridges_on_spare_add_drop_ports() -> None:
    old, new, plan = move({"dqc-charlie-dave": VIA_R2, "teleport-bob-charlie": TELEPORT},
                          {"dqc-charlie-dave": VIA_R3, "teleport-bob-charlie": TELEPORT})
    decided = plan_bridges(new, old, ["dqc-charlie-dave"], validate,
                           rates=planned_rates(plan))
    moved = decided.moves["dqc-charlie-dave"]
    assert moved.kind is MoveKind.MAKE_BEFORE_BREAK, moved.reason
    assert moved.interruption_s == 0.0
    assert {"qr1", "r2", "r3", "charlie", "dave"} <= set(moved.bridged)
    bridge = decided.bridges["qr1"]
    running = {hardware(x) for x in body(bridge)["circuit"]["cross-connect"]}
    # the old cross-connects stay exactly as the device runs them, ports and channel ...
    old_xcs = connects(old["qr1"], "dqc-charlie-dave")
    assert old_xcs and {hardware(x) for x in old_xcs} <= running
    # ... their ports stay attached as they were ...
    assert {p: attachments(bridge)[p] for p in add_drop(old_xcs)} == {
        p: attachments(old["qr1"])[p] for p in add_drop(old_xcs)}
    # ... and the new lightpath is made on ports the old one does not use
    new_xcs = connects(new["qr1"], "dqc-charlie-dave")
    assert {hardware(x) for x in new_xcs} <= running
    assert not add_drop(new_xcs) & add_drop(old_xcs)
    assert {attachments(new["qr1"])[p][0] for p in add_drop(new_xcs)} == {"charlie", "r3"}
    # the service the move does not touch keeps its cross-connects and ports
    assert connects(new["qr1"], "teleport-bob-charlie") == connects(old["qr1"],
                                                                     "teleport-bob-charlie")
    # break: the final configuration has only the new path
    assert not add_drop(new_xcs) & {p for p, a in attachments(new["qr1"]).items()
                                    if a[0] == "r2" and p in add_drop(old_xcs)}
    validate(bridge)


def test_a_lightpath_between_repeaters_that_turns_elsewhere_is_bridged() -> None:
    """The r1 side of the lightpath stays, its far side moves from r2 to r3: the new
    cross-connect cannot share the old one's r1 port on the same channel."""
    old, new, _plan = move({"qkd-alice-bob": ("alice", "r1", "qr1", "r2", "bob")},
                           {"qkd-alice-bob": ("alice", "r1", "qr1", "r3", "r2", "bob")})
    moves = plan_moves(new, old, ["qkd-alice-bob"], validate)
    assert moves["qkd-alice-bob"].kind is MoveKind.MAKE_BEFORE_BREAK, moves
    assert "qr1" in moves["qkd-alice-bob"].bridged


def test_end_nodes_hold_the_old_and_the_new_endpoint_during_the_bridge() -> None:
    old, new, _plan = move({"dqc-charlie-dave": VIA_R2}, {"dqc-charlie-dave": VIA_R3})
    bridges = plan_bridges(new, old, ["dqc-charlie-dave"], validate).bridges
    for node in ("charlie", "dave"):
        endpoints = {e["name"]: e for e in body(bridges[node], END_NODE)[
            "application-endpoint"]}
        old_ep = body(old[node], END_NODE)["application-endpoint"][0]
        new_ep = body(new[node], END_NODE)["application-endpoint"][0]
        assert old_ep != new_ep             # the new path runs other settings
        assert endpoints == {"dqc-charlie-dave": new_ep,
                             "dqc-charlie-dave~old": {**old_ep, "name": "dqc-charlie-dave~old"}}
        assert body(bridges[node], END_NODE)["source"] == body(new[node], END_NODE)["source"]


def test_without_a_spare_add_drop_port_the_move_is_a_hard_switch_naming_it() -> None:
    old, new, plan = move({"dqc-charlie-dave": VIA_R2, "teleport-bob-charlie": TELEPORT},
                          {"dqc-charlie-dave": VIA_R3, "teleport-bob-charlie": TELEPORT},
                          add_drop_ports=4)
    decided = plan_bridges(new, old, ["dqc-charlie-dave"], validate,
                           rates=planned_rates(plan), push_estimate_s=1.5)
    moved = decided.moves["dqc-charlie-dave"]
    assert moved.kind is MoveKind.HARD_SWITCH
    assert moved.device == "qr1" and "add/drop port" in moved.reason, moved.reason
    rate = plan.assignments["dqc-charlie-dave"].rate_hz
    assert moved.interruption_s == pytest.approx(1.5 + 1.0 / rate)
    assert decided.bridges == {}            # nothing of it is bridged anywhere


def test_each_moving_service_is_decided_on_its_own() -> None:
    """Both services move across the q-ROADM, which has spare ports for one new
    lightpath only: that one is bridged, the other switched directly."""
    old, new, plan = move(
        {"dqc-charlie-dave": VIA_R2, "qkd-alice-bob": ("alice", "r1", "qr1", "r2", "bob")},
        {"dqc-charlie-dave": VIA_R3, "qkd-alice-bob": ("alice", "r1", "qr1", "r3", "r2", "bob")},
        add_drop_ports=6)
    decided = plan_bridges(new, old, ["dqc-charlie-dave", "qkd-alice-bob"], validate,
                           rates=planned_rates(plan))
    kinds = {s: m.kind for s, m in decided.moves.items()}
    assert sorted(kinds.values()) == [MoveKind.HARD_SWITCH, MoveKind.MAKE_BEFORE_BREAK], kinds
    hard = next(m for m in decided.moves.values() if m.kind is MoveKind.HARD_SWITCH)
    bridged = next(m for m in decided.moves.values() if m.make_before_break)
    assert hard.device == "qr1" and hard.reason
    assert hard.interruption_s == pytest.approx(
        DEFAULT_PUSH_ESTIMATE_S + 1.0 / plan.assignments[hard.service].rate_hz)
    # only the bridged service's old pieces are in the bridge
    in_bridge = {x["name"] for x in body(decided.bridges["qr1"])["circuit"]["cross-connect"]}
    assert any(n.startswith(bridged.service) and "~old" in n for n in in_bridge)
    assert not any(n.startswith(hard.service) and "~old" in n for n in in_bridge)
    # the hard-switched one runs its new configuration from the first push on
    bridge = decided.bridges["qr1"]
    assert connects(bridge, hard.service) == connects(new["qr1"], hard.service)
    ports = add_drop(connects(new["qr1"], hard.service))
    assert {p: attachments(bridge)[p] for p in ports} == {
        p: attachments(new["qr1"])[p] for p in ports} != {
        p: attachments(old["qr1"]).get(p) for p in ports}


def test_a_line_degree_both_paths_leave_by_is_a_hard_switch() -> None:
    """a's photons reach qb over the qa–qb fibre on a's one wavelength, old path and new:
    qb cannot send that channel from the degree both to r1 and to r2 (nor its timing
    channel), whatever add/drop ports are spare."""
    nodes = [("a", "end-node"), ("b", "end-node"), ("r1", "repeater"), ("r2", "repeater"),
             ("qa", "q-roadm"), ("qb", "q-roadm")]
    fibres = [(x, y, "1550.12") for x, y in (("a", "qa"), ("qa", "qb"), ("qb", "r1"),
                                            ("qb", "r2"), ("r1", "b"), ("r2", "b"))]
    net = network_from(nodes, fibres)
    problem = Problem.build(net, [Request("ab", "a", "b", AppClass.QKD, 0.8, 10.0)])

    def on(route: tuple[str, ...]) -> Plan:
        cand = min((c for c in problem.options("ab") if tuple(c.route.nodes) == route),
                   key=lambda c: c.min_share)
        return Plan.from_assignments("x", [Assignment(problem.candidates["ab"].request,
                                                      cand, cand.min_share)])

    old = render(net, on(("a", "qa", "qb", "r1", "b")))
    new = render(net, on(("a", "qa", "qb", "r2", "b")), previous=old)
    moved = plan_moves(new, old, ["ab"], validate)["ab"]
    assert moved.kind is MoveKind.HARD_SWITCH and moved.device in ("qa", "qb"), moved
    assert "line degree" in moved.reason, moved.reason


# -- end nodes, on documents written out --------------------------------------------------


def end_node(endpoints: list[tuple[str, int, str]], *, registers: int = 10,
             wavelength: str = "1550.12") -> str:
    """An end node's configuration: (service, memory slots, cut-off) per endpoint."""
    return json.dumps({END_NODE: {
        "node-id": "e1", "memory": {"register-count": registers, "coherence-time": "1.0"},
        "source": {"pump-enabled": True, "pair-rate": "1000000.0",
                   "signal-wavelength": wavelength},
        "detector": [{"detector-id": "d1", "enabled": True}],
        "application-endpoint": [
            {"name": s, "service": s, "application": "sdqn-types:qkd", "peer-node": "e2",
             "memory-slots": slots, "cutoff-time": cutoff, "detectors": ["d1"]}
            for s, slots, cutoff in endpoints]}}, sort_keys=True, separators=(",", ":"))


def test_an_end_node_whose_source_changes_wavelength_cannot_bridge() -> None:
    old = {"e1": end_node([("a", 1, "0.1")], wavelength="1550.12")}
    new = {"e1": end_node([("a", 1, "0.2")], wavelength="1549.32")}
    moved = plan_moves(new, old, ["a"], validate)["a"]
    assert moved.kind is MoveKind.HARD_SWITCH and moved.device == "e1"
    assert "1550.12 nm" in moved.reason and "1549.32 nm" in moved.reason
    assert moved.interruption_s == DEFAULT_PUSH_ESTIMATE_S      # no rate known


def test_bridges_that_fit_alone_but_not_together_bridge_the_first_only() -> None:
    """Old and new endpoints together need more memory slots than the node has."""
    old = {"e1": end_node([("a", 1, "0.1"), ("b", 1, "0.1")], registers=3)}
    new = {"e1": end_node([("a", 1, "0.2"), ("b", 1, "0.2")], registers=3)}
    moves = plan_moves(new, old, ["b", "a"], validate)
    assert moves["a"].kind is MoveKind.MAKE_BEFORE_BREAK and moves["a"].bridged == ("e1",)
    assert moves["b"].kind is MoveKind.HARD_SWITCH and moves["b"].device == "e1"
    assert "together with the bridges of a" in moves["b"].reason
    assert "memory slots" in moves["b"].reason


def test_an_unchanged_endpoint_serves_both_paths() -> None:
    old = {"e1": end_node([("a", 1, "0.1")])}
    decided = plan_bridges(old, old, ["a"], validate)
    assert decided.moves["a"].kind is MoveKind.MAKE_BEFORE_BREAK
    assert decided.bridges == {}


def test_the_interruption_of_a_hard_switch_is_the_push_and_the_first_pair() -> None:
    assert hard_switch_interruption(4.0, 2.0) == 2.25
    assert hard_switch_interruption(None, 2.0) == 2.0
