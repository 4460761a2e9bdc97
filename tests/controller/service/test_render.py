"""Rendering a Q-NUM plan into device configurations (controller.service.render)."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from collections.abc import Iterator
from decimal import ROUND_CEILING, ROUND_FLOOR
from typing import Any

import pytest
from lxml import etree

from controller.datastore.nmda import Datastore
from controller.paths import CONFIG_DIR
from controller.service.render import (
    RenderError,
    dec,
    device_config_xml,
    misalignment_budget,
    render_devices,
)
from qnum.io import (
    AppClass,
    Link,
    Network,
    Request,
    SwitchingMode,
    load_requests,
    load_topology,
    parse_topology,
)
from qnum.plan import Assignment, Plan, Problem
from qnum.solver import SolverOptions, solve
from simulators.clock import ManualClock
from simulators.devices.repeater import effective_fidelity
from simulators.devices.world import Topology
from simulators.launcher import DEFAULT_TOPOLOGY, SchemaCache
from simulators.launcher import Network as SimNetwork
from southbound.commit import NetworkCommit
from southbound.model import DeviceChange, DeviceEndpoint
from southbound.pool import SessionPool
from tests.simulators.conftest import advance

MODULE_OF = {"end-node": "sdqn-end-node:end-node", "repeater": "sdqn-repeater:repeater",
             "apc": "sdqn-apc:apc", "q-roadm": "sdqn-qroadm:q-roadm"}


@pytest.fixture(scope="module")
def metro() -> Network:
    return load_topology(CONFIG_DIR / "topologies" / "metro.json")


@pytest.fixture(scope="module")
def plan(metro: Network) -> Plan:
    requests = load_requests(CONFIG_DIR / "services" / "demo.json", metro)
    return solve(Problem.build(metro, requests), SolverOptions(time_limit_s=5))


@pytest.fixture(scope="module")
def kinds(metro: Network) -> dict[str, str]:
    return {n: node.kind.value for n, node in metro.nodes.items()}


def render(metro: Network, plan: Plan, kinds: dict[str, str]) -> dict[str, dict[str, Any]]:
    return render_devices(metro, plan, kinds=kinds)


def withdrawn(plan: Plan, name: str) -> Plan:
    assignments = dict(plan.assignments)
    assignments[name] = Assignment(assignments[name].request, reason="withdrawn")
    return dataclasses.replace(plan, assignments=assignments)


def arrays(value: Any) -> Iterator[list[Any]]:
    if isinstance(value, list):
        yield value
        for item in value:
            yield from arrays(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from arrays(item)


def test_plan_has_admitted_and_rejected_requests(plan: Plan) -> None:
    # The scenario the other tests rely on: three admitted, the DQS request unreachable.
    assert sorted(a.request.name for a in plan.admitted) == [
        "dqc-charlie-dave", "qkd-alice-bob", "teleport-bob-charlie"]


def test_every_device_gets_a_valid_full_config_in_its_module(
        metro: Network, plan: Plan, kinds: dict[str, str]) -> None:
    docs = render(metro, plan, kinds)
    assert set(docs) == set(kinds)
    for node, doc in docs.items():
        assert list(doc) == [MODULE_OF[kinds[node]]]
        assert doc[MODULE_OF[kinds[node]]]["node-id"] == node
        xml = device_config_xml(doc)          # libyang, strict, with every must/leafref
        assert f"<node-id>{node}</node-id>" in xml
        assert not [a for a in arrays(doc) if not a], f"{node} has an empty JSON array"


def test_rendering_is_deterministic(metro: Network, plan: Plan, kinds: dict[str, str]) -> None:
    first = json.dumps(render(metro, plan, kinds))
    shuffled = dataclasses.replace(plan, assignments=dict(reversed(plan.assignments.items())))
    again = json.dumps(render(metro, shuffled, dict(reversed(kinds.items()))))
    assert first == again


def test_repeater_flows_join_the_two_path_fibres(
        metro: Network, plan: Plan, kinds: dict[str, str]) -> None:
    docs = render(metro, plan, kinds)
    for a in plan.admitted:
        assert a.candidate is not None
        route = a.candidate.route
        for pos, node in enumerate(route.memory_nodes[1:-1], start=1):
            body = docs[node]["sdqn-repeater:repeater"]
            flow = {f["flow-id"]: f for f in body["flow"]}[a.request.name]
            up, down = route.segments[pos - 1], route.segments[pos]
            assert flow["memory-slots"] == a.candidate.memory[node]
            generation = {g["link-id"]: (g.get("fibre", g["link-id"]), g["neighbour"])
                          for g in body["link-generation"]["link"]}
            # Each side's entry: the attached fibre, aimed at the segment's far end.
            first, second = flow["neighbour-links"]
            assert generation[first] == (up.links[-1], up.nodes[0])
            assert generation[second] == (down.links[0], down.nodes[-1])
            for entry, seg in ((first, up), (second, down)):   # named by fibre if direct
                assert (entry == (seg.links[-1] if seg is up else seg.links[0])) == (
                    len(seg.links) == 1)
        for end, peer in ((route.memory_nodes[0], route.memory_nodes[-1]),
                          (route.memory_nodes[-1], route.memory_nodes[0])):
            body = docs[end]["sdqn-end-node:end-node"]
            assert body["source"]["pump-enabled"] is True
            endpoint = {e["name"]: e for e in body["application-endpoint"]}[a.request.name]
            assert endpoint["peer-node"] == peer


def test_qroadm_timing_companion_shares_the_quantum_ports(
        metro: Network, plan: Plan, kinds: dict[str, str]) -> None:
    body = render(metro, plan, kinds)["qr1"]["sdqn-qroadm:q-roadm"]
    xcs = {x["name"]: x for x in body["circuit"]["cross-connect"]}
    kind = {c["channel-id"]: c["kind"] for c in body["channel"]}
    through = sorted(a.request.name for a in plan.admitted
                     if a.candidate is not None and "qr1" in a.candidate.route.nodes)
    assert sorted(n for n, x in xcs.items() if kind[x["channel"]] == "quantum") == through
    for name in through:
        quantum, timing = xcs[name], xcs[xcs[name]["timing-companion"]]
        assert quantum["amplifier-bypass"] is True and kind[timing["channel"]] == "timing"
        assert (quantum["source"], quantum["destination"]) == (timing["source"],
                                                               timing["destination"])
    # One add/drop port per lightpath side facing a memory node, as Q-NUM counts them.
    used = [p for p in body["add-drop-port"] if "attached-node" in p]
    assert len(used) == sum(a.candidate.add_drop_ports.get("qr1", 0)
                            for a in plan.admitted if a.candidate is not None)


def test_withdrawn_request_releases_its_resources(
        metro: Network, plan: Plan, kinds: dict[str, str]) -> None:
    docs = render(metro, withdrawn(plan, "qkd-alice-bob"), kinds)
    r1 = docs["r1"]["sdqn-repeater:repeater"]
    assert "flow" not in r1 and "link-generation" not in r1      # only qkd crossed r1
    assert r1["memory"]["register-count"] == metro.nodes["r1"].memory_qubits
    r2_flows = {f["flow-id"] for f in docs["r2"]["sdqn-repeater:repeater"]["flow"]}
    assert r2_flows == {"dqc-charlie-dave", "teleport-bob-charlie"}
    alice = docs["alice"]["sdqn-end-node:end-node"]
    assert alice["source"]["pump-enabled"] is False and "application-endpoint" not in alice
    for doc in docs.values():
        device_config_xml(doc)


def test_rejected_request_gets_nothing(metro: Network, plan: Plan,
                                       kinds: dict[str, str]) -> None:
    text = json.dumps(render(metro, plan, kinds))
    assert "dqs-alice-dave" not in text


def test_plan_the_repeater_model_cannot_express_is_refused(
        metro: Network, plan: Plan, kinds: dict[str, str]) -> None:
    a = plan.assignments["qkd-alice-bob"]
    assert a.candidate is not None
    starved = dataclasses.replace(a.candidate, memory={**a.candidate.memory, "r1": 1})
    assignments = {**plan.assignments, a.request.name: dataclasses.replace(a, candidate=starved)}
    with pytest.raises(RenderError, match="repeater r1: flow qkd-alice-bob reserves 1"):
        render(metro, dataclasses.replace(plan, assignments=assignments), kinds)
    with pytest.raises(RenderError, match="not a node"):
        render(metro, plan, {**kinds, "ghost": "repeater"})


def test_invalid_device_content_is_rejected(metro: Network, plan: Plan,
                                           kinds: dict[str, str]) -> None:
    doc = copy.deepcopy(render(metro, plan, kinds)["r2"])
    doc["sdqn-repeater:repeater"]["memory"]["register-count"] = 3   # flows need 6 slots
    with pytest.raises(RenderError, match="more memory slots"):
        device_config_xml(doc)
    qroadm = copy.deepcopy(render(metro, plan, kinds)["qr1"])
    for xc in qroadm["sdqn-qroadm:q-roadm"]["circuit"]["cross-connect"]:
        xc.pop("timing-companion", None)
    with pytest.raises(RenderError, match="timing-companion"):
        device_config_xml(qroadm)
    with pytest.raises(RenderError, match="not the top container"):
        device_config_xml({"sdqn-services:entanglement-services": {}})


def test_empty_plan_gives_every_device_its_valid_base(metro: Network,
                                                       kinds: dict[str, str]) -> None:
    docs = render(metro, Plan("none", {}), kinds)
    assert set(docs) == set(kinds)
    for node, doc in docs.items():
        body = doc[MODULE_OF[kinds[node]]]
        assert not {"flow", "link-generation", "application-endpoint", "circuit",
                    "channel"} & set(body), node
        device_config_xml(doc)
    assert docs["alice"]["sdqn-end-node:end-node"]["source"] == {"pump-enabled": False}
    assert docs["apc-1"]["sdqn-apc:apc"]["link-id"] == "r1-r2"


def test_sources_emit_on_the_wavelength_their_lightpaths_are_switched_on(
        metro: Network, plan: Plan, kinds: dict[str, str]) -> None:
    docs = render(metro, plan, kinds)
    qr1 = docs["qr1"]["sdqn-qroadm:q-roadm"]
    channel = {c["channel-id"]: c for c in qr1["channel"]}
    xcs = {x["name"]: x for x in qr1["circuit"]["cross-connect"]}
    charlie = docs["charlie"]["sdqn-end-node:end-node"]["source"]["signal-wavelength"]
    # Both of charlie's lightpaths leave its one source: one channel, on the wavelength the
    # topology gives charlie's fibre (1548.51 nm = 193.6 THz on the 100 GHz grid).
    for name in ("dqc-charlie-dave", "teleport-bob-charlie"):
        assert channel[xcs[name]["channel"]]["wavelength"] == charlie == "1548.51"
    timing = {c["wavelength"] for c in channel.values() if c["kind"] == "timing"}
    assert timing == {"1310.0"}                     # the fibres' timing-channel wavelength
    assert len(channel) <= qr1["wavelength-channels"]
    # Sources on plain fibres emit on the fibre's own quantum wavelength.
    for node, fibre in (("alice", "alice-r1"), ("bob", "r2-bob"), ("dave", "r3-dave")):
        source = docs[node]["sdqn-end-node:end-node"]["source"]
        assert source["signal-wavelength"] == f"{metro.links[fibre].wavelength_nm:.2f}"
        assert float(source["pair-rate"]) == metro.links[fibre].source_rate_hz


def test_link_generation_reserves_one_register_per_flow_side(
        metro: Network, plan: Plan, kinds: dict[str, str]) -> None:
    r2 = render(metro, plan, kinds)["r2"]["sdqn-repeater:repeater"]
    registers = {g["link-id"]: g["max-registers"] for g in r2["link-generation"]["link"]}
    # r2-bob: qkd + teleport; qr1-r2 (through qr1 to charlie): dqc + teleport; r1-r2: qkd;
    # r2-r3: dqc.
    assert registers == {"r2-bob": 2, "qr1-r2>charlie": 2, "r1-r2": 1, "r2-r3": 1}
    assert sum(registers.values()) == sum(f["memory-slots"] for f in r2["flow"])  # two sides
    cutoffs = {f["flow-id"]: f["cutoff-time"] for f in r2["flow"]}
    for a in plan.admitted:
        assert a.candidate is not None
        assert float(cutoffs[a.request.name]) <= a.candidate.cutoff_s   # rounded down


def test_endpoints_carry_the_plan_of_their_flow(metro: Network, plan: Plan,
                                               kinds: dict[str, str]) -> None:
    docs = render(metro, plan, kinds)
    for a in plan.admitted:
        assert a.candidate is not None
        for end in (a.request.source, a.request.destination):
            body = docs[end]["sdqn-end-node:end-node"]
            ep = {e["name"]: e for e in body["application-endpoint"]}[a.request.name]
            assert ep["purification-rounds"] == a.candidate.purification_rounds > 0
            assert ep["purification-protocol"] == a.candidate.protocol
            assert 0 <= float(ep["time-share"]) - a.share < 1e-6       # rounded up
            assert float(ep["target-rate"]) == pytest.approx(a.rate_hz, abs=1e-6)
            assert float(ep["cutoff-time"]) <= a.candidate.cutoff_s    # rounded down
            assert ep["detectors"] == ["d1", "d2"]
    # qkd is granted more than its share floor (its rate is r_c·s = its demand); the
    # others sit at their floor and the demand caps their rate.
    qkd = plan.assignments["qkd-alice-bob"]
    assert qkd.candidate is not None and qkd.share > qkd.candidate.min_share


def test_detector_inventory_is_kept_on_every_end_node(metro: Network, plan: Plan,
                                                      kinds: dict[str, str]) -> None:
    for p in (plan, Plan("none", {})):
        docs = render(metro, p, kinds)
        for node in ("alice", "bob", "charlie", "dave"):
            body = docs[node]["sdqn-end-node:end-node"]
            assert body["detector"] == [{"detector-id": "d1", "enabled": True},
                                        {"detector-id": "d2", "enabled": True}]


def test_q_roadm_add_drop_ports_name_their_fibre(metro: Network, plan: Plan,
                                                 kinds: dict[str, str]) -> None:
    qr1 = render(metro, plan, kinds)["qr1"]["sdqn-qroadm:q-roadm"]
    attached = [p for p in qr1["add-drop-port"] if "attached-node" in p]
    assert attached
    for port in attached:
        link = metro.links[port["link-id"]]
        assert {link.a, link.b} == {"qr1", port["attached-node"]}
    assert {p["link-id"] for p in attached} == {"charlie-qr1", "qr1-r2"}


def limited(monkeypatch: pytest.MonkeyPatch, **capabilities: Any) -> None:
    """End nodes whose kind can do less than the real one (southbound.kinds)."""
    from controller.service import render as render_module
    from southbound.kinds import kind_spec

    real = kind_spec("end-node")
    assert real is not None
    weaker = dataclasses.replace(real, capabilities=dataclasses.replace(
        real.capabilities, **capabilities))
    monkeypatch.setattr(render_module, "kind_spec",
                        lambda kind: weaker if kind == "end-node" else kind_spec(kind))


def test_plan_an_end_node_cannot_run_is_refused(metro: Network, plan: Plan,
                                                kinds: dict[str, str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    limited(monkeypatch, max_purification_rounds=1)
    with pytest.raises(RenderError, match=r"flow dqc-charlie-dave: the plan purifies end to "
                       r"end with 2 rounds of dejmps at charlie, but end-node devices run "
                       r"at most 1 rounds of bbpssw or dejmps"):
        render(metro, plan, kinds)
    limited(monkeypatch, purification_protocols=("bbpssw",))
    with pytest.raises(RenderError, match="rounds of dejmps at charlie, but end-node devices "
                       "run at most 3 rounds of bbpssw"):
        render(metro, plan, kinds)
    limited(monkeypatch, purification_protocols=(), max_purification_rounds=0)
    with pytest.raises(RenderError, match="but end-node devices run no purification"):
        render(metro, plan, kinds)
    limited(monkeypatch, detectors=())
    with pytest.raises(RenderError, match="flow dqc-charlie-dave: end-node charlie has no "
                       "detectors"):
        render(metro, plan, kinds)


def tight(plan: Plan, name: str, margin: float) -> Plan:
    """The plan with request ``name``'s min-fidelity ``margin`` below its predicted one."""
    a = plan.assignments[name]
    assert a.candidate is not None
    request = dataclasses.replace(a.request, min_fidelity=a.candidate.fidelity - margin)
    return dataclasses.replace(plan, assignments={**plan.assignments,
                                                  name: dataclasses.replace(a, request=request)})


def test_apc_tolerance_keeps_the_tightest_service_above_its_min_fidelity(
        metro: Network, plan: Plan, kinds: dict[str, str]) -> None:
    docs = render(metro, plan, kinds)
    assert {docs[n]["sdqn-apc:apc"]["tracking-tolerance"] for n in ("apc-1", "apc-2",
                                                                     "apc-3")} == {"0.1"}
    squeezed = tight(plan, "qkd-alice-bob", 0.001)   # qkd crosses r1-r2 (apc-1) only
    candidate = squeezed.assignments["qkd-alice-bob"].candidate
    assert candidate is not None
    f = candidate.fidelity
    # By hand: e = 2(1-F)/3 grows by at most 2·0.001/3 = s(1 - 2e); theta = 2 asin(sqrt s).
    s = (2.0 * 0.001 / 3.0) / (1.0 - 4.0 * (1.0 - f) / 3.0)
    theta = 2.0 * math.asin(math.sqrt(s))
    apc = render(metro, squeezed, kinds)["apc-1"]["sdqn-apc:apc"]
    assert theta - 1e-6 <= float(apc["tracking-tolerance"]) <= theta < 0.1
    # The emulator's own physics: the pair misaligned by exactly the tolerance keeps F_min.
    flip = math.sin(float(apc["tracking-tolerance"]) / 2.0) ** 2
    assert effective_fidelity(f, flip) >= f - 0.001 - 1e-9
    assert effective_fidelity(f, math.sin(theta * 1.01 / 2.0) ** 2) < f - 0.001
    # Two compensated fibres on one path share the budget (union bound).
    assert misalignment_budget(f, f - 0.001, 2) == pytest.approx(
        2.0 * math.asin(math.sqrt(s / 2.0)))
    assert render(metro, squeezed, kinds)["apc-2"]["sdqn-apc:apc"]["tracking-tolerance"] == "0.1"


@pytest.mark.parametrize(("value", "digits", "rounding", "text"), [
    (3600.0, 9, None, "3600.0"), (0.1, 6, None, "0.1"), (1e7, 3, None, "10000000.0"),
    (0.0112798578840544, 9, ROUND_FLOOR, "0.011279857"),
    (0.0012000000001, 9, ROUND_CEILING, "0.001200001"), (-0.0, 3, None, "0.0")])
def test_decimals_are_libyang_canonical(value: float, digits: int, rounding: str | None,
                                        text: str) -> None:
    assert (dec(value, digits) if rounding is None else dec(value, digits, rounding)) == text


def test_unschedulable_plan_is_refused(metro: Network, plan: Plan,
                                       kinds: dict[str, str]) -> None:
    # qkd and teleport both use fibre r2-bob: shares of 0.7 each overfill its TDMA frame.
    assignments = {n: dataclasses.replace(a, share=0.7) if n in (
        "qkd-alice-bob", "teleport-bob-charlie") else a for n, a in plan.assignments.items()}
    with pytest.raises(RenderError, match=r"cannot be scheduled: .*r2-bob"):
        render(metro, dataclasses.replace(plan, assignments=assignments), kinds)


def chosen(problem: Problem, name: str, links: tuple[str, ...]) -> Assignment:
    """The request's first candidate on exactly these fibres, at its share floor."""
    cand = next(c for c in problem.options(name) if c.route.links == links)
    return Assignment(problem.candidates[name].request, cand, cand.min_share)


def test_request_ending_at_a_repeater_is_refused(metro: Network,
                                                 kinds: dict[str, str]) -> None:
    request = Request("to-r2", "alice", "r2", AppClass.QKD, 0.8, 10.0)
    problem = Problem.build(metro, [request])
    a = chosen(problem, "to-r2", ("alice-r1", "r1-r2"))
    with pytest.raises(RenderError, match="ends at repeater r2"):
        render(metro, Plan.from_assignments("x", [a]), kinds)


def network_from(nodes: list[tuple[str, str]], fibres: list[tuple[str, str, str]]) -> Network:
    """A small quantum network: (node-id, kind) and (end, end, quantum wavelength)."""
    def node(ident: str, kind: str) -> dict[str, Any]:
        q: dict[str, Any] = {"device-kind": f"sdqn-types:{kind}"}
        if kind == "q-roadm":
            q.update({"memory-qubits": 0, "q-roadm": {"degrees": 4, "add-drop-ports": 8,
                                                      "wavelength-channels": 40}})
        else:
            q.update({"memory-qubits": 20, "coherence-time": "2.0"})
        return {"node-id": ident, "sdqn-topology:quantum-node": q}

    links = [{"link-id": f"{a}-{b}", "source": {"source-node": a},
              "destination": {"dest-node": b}, "sdqn-topology:quantum-link": {
                  "fibre-length": "10.0", "source-rate": "10000000", "link-fidelity": "0.99",
                  "wavelength": nm}} for a, b, nm in fibres]
    return parse_topology({"ietf-network:networks": {"network": [{
        "network-id": "t", "network-types": {"sdqn-topology:quantum-network": {}},
        "node": [node(i, k) for i, k in nodes], "ietf-network-topology:link": links}]}})


def test_timing_channel_that_cannot_follow_two_lightpaths_is_refused() -> None:
    # Two lightpaths cross the qa–qb fibre from different ports; that fibre carries one
    # 1310 nm timing signal, which qa can switch onto it from one port only.
    nodes = [*((n, "end-node") for n in "abcd"), *((n, "repeater") for n in
                                                    ("r1", "r2", "r3", "r4")),
             ("qa", "q-roadm"), ("qb", "q-roadm")]
    fibres = [(a, b, "1550.12") for a, b in (("a", "r1"), ("r1", "qa"), ("qa", "qb"),
                                            ("qb", "r2"), ("r2", "b"), ("c", "r3"),
                                            ("r3", "qa"), ("qb", "r4"), ("r4", "d"))]
    net = network_from(nodes, fibres)
    problem = Problem.build(net, [Request("ab", "a", "b", AppClass.QKD, 0.8, 10.0),
                                  Request("cd", "c", "d", AppClass.QKD, 0.8, 10.0)])
    floor = [min(problem.options(n), key=lambda c: c.min_share) for n in ("ab", "cd")]
    plan = Plan.from_assignments("x", [Assignment(problem.candidates[c.request].request, c,
                                                  c.min_share) for c in floor])
    kinds = {n: node.kind.value for n, node in net.nodes.items()}
    with pytest.raises(RenderError, match="timing channel cannot follow the quantum path "
                                          "through q-ROADM qa"):
        render_devices(net, plan, kinds=kinds)
    one = Plan.from_assignments("x", [plan.assignments["ab"]])
    for doc in render_devices(net, one, kinds=kinds).values():   # alone it fits
        device_config_xml(doc)


def test_one_source_cannot_emit_on_two_wavelengths(metro: Network) -> None:
    # charlie gains a plain fibre to r3 on 1550.12 nm; its lightpath through qr1 prefers
    # its qr1 fibre's 1548.51 nm: one source cannot serve both.
    fibres = [(lk.a, lk.b, f"{lk.wavelength_nm}") for lk in metro.links.values()]
    net = network_from([(n, node.kind.value) for n, node in metro.nodes.items()],
                       [*fibres, ("charlie", "r3", "1550.12")])
    problem = Problem.build(net, [
        Request("via-r3", "charlie", "dave", AppClass.QKD, 0.8, 10.0),
        Request("via-qr1", "bob", "charlie", AppClass.QKD, 0.8, 10.0)])
    plan = Plan.from_assignments("x", [
        chosen(problem, "via-r3", ("charlie-r3", "r3-dave")),
        chosen(problem, "via-qr1", ("r2-bob", "qr1-r2", "charlie-qr1"))])
    kinds = {n: node.kind.value for n, node in net.nodes.items()}
    with pytest.raises(RenderError, match=r"end node charlie has one source .*1548\.51 nm"
                                          r".*1550\.12 nm"):
        render_devices(net, plan, kinds=kinds)


def test_packet_mode_q_roadm_routes_bursts_to_both_ends(metro: Network) -> None:
    fibres = [(lk.a, lk.b, f"{lk.wavelength_nm}") for lk in metro.links.values()]
    net = network_from([(n, node.kind.value) for n, node in metro.nodes.items()], fibres)
    spec = net.nodes["qr1"].roadm
    assert spec is not None
    nodes = {**net.nodes, "qr1": dataclasses.replace(net.nodes["qr1"], roadm=dataclasses.replace(
        spec, switching_mode=SwitchingMode.PACKET))}
    net = dataclasses.replace(net, nodes=nodes)
    problem = Problem.build(net, [Request("t", "bob", "charlie", AppClass.QKD, 0.8, 10.0)])
    plan = Plan.from_assignments("x", [chosen(problem, "t", ("r2-bob", "qr1-r2", "charlie-qr1"))])
    docs = render_devices(net, plan, kinds={n: node.kind.value for n, node in net.nodes.items()})
    qr1 = docs["qr1"]["sdqn-qroadm:q-roadm"]
    ports = {p["port-number"]: p.get("attached-node") for p in qr1["add-drop-port"]}
    routes = {r["destination-node"]: ports[r["egress"]["add-drop-port"]]
              for r in qr1["packet"]["route"]}
    assert routes == {"charlie": "charlie", "r2": "r2"} and "circuit" not in qr1
    for doc in docs.values():
        device_config_xml(doc)


@dataclasses.dataclass(frozen=True)
class TimedLink(Link):
    """A fibre with the sdqn-topology timing-channel facts qnum.io may carry."""

    timing_wavelength_nm: float | None = None
    timing_same_fibre: bool | None = None


@pytest.mark.parametrize(("timing", "message"), [
    ({"timing_same_fibre": False}, "qr1-r2 it runs in a parallel fibre"),
    ({"timing_wavelength_nm": 1290.0}, "different wavelengths .*qr1-r2 1290.0 nm")])
def test_timing_that_leaves_the_quantum_fibres_is_refused(
        metro: Network, plan: Plan, kinds: dict[str, str], timing: dict[str, Any],
        message: str) -> None:
    fibre = metro.links["qr1-r2"]
    links = {**metro.links, fibre.link_id: TimedLink(**dataclasses.asdict(fibre), **timing)}
    with pytest.raises(RenderError, match=message):
        render(dataclasses.replace(metro, links=links), plan, kinds)


# -- end to end on the emulated metro network ---------------------------------------------

END_NS = "urn:sdqn:sdqn-end-node"
REP_NS = "urn:sdqn:sdqn-repeater"


def endpoints(pool: SessionPool, node: str) -> dict[str, dict[str, str]]:
    """Application endpoints' state of an end node, over NETCONF <get-data> (operational)."""
    with pool.session(node) as adapter:
        root = etree.fromstring(f"<data>{adapter.get_state()}</data>")
    return {ep.findtext(f"{{{END_NS}}}name") or "": {
        etree.QName(leaf).localname: leaf.text or ""
        for leaf in ep.iterfind(f"{{{END_NS}}}state/*")}
        for ep in root.iter(f"{{{END_NS}}}application-endpoint")}


def repeater_flows(net: SimNetwork, node: str) -> set[str]:
    data = json.loads(net.devices[node].store.get(Datastore.RUNNING))
    return {f["flow-id"] for f in data["sdqn-repeater:repeater"].get("flow", [])}


def push(pool: SessionPool, docs: dict[str, dict[str, Any]]) -> None:
    changes = [DeviceChange(node_id=n, config_xml=device_config_xml(doc))
               for n, doc in sorted(docs.items())]
    result = NetworkCommit(pool).apply(changes)
    assert result.success, {n: o.error for n, o in result.devices.items() if o.error}


def test_rendered_plan_delivers_pairs_on_the_emulated_network(
        metro: Network, plan: Plan, kinds: dict[str, str]) -> None:
    clock = ManualClock()
    net = SimNetwork(Topology.load(DEFAULT_TOPOLOGY), clock=clock, seed=5,
                     use_topology_ports=False, tick=0.05, schemas=SchemaCache())
    net.start(control=False)
    pool = SessionPool([DeviceEndpoint.model_validate(d) for d in net.inventory()["devices"]],
                       timeout=10)
    try:
        push(pool, render(metro, plan, kinds))
        advance(net, clock, 360.0, step=6.0)      # pump warm-up (300 s) + stabilisation
        delivered: dict[tuple[str, str], int] = {}
        for a in plan.admitted:
            for end in (a.request.source, a.request.destination):
                state = endpoints(pool, end)[a.request.name]
                assert int(state["delivered-pairs"]) > 0, (a.request.name, end, state)
                assert float(state["delivered-rate"]) > 0.0
                delivered[(a.request.name, end)] = int(state["delivered-pairs"])
        for node in ("alice", "dave"):
            assert "dqs-alice-dave" not in endpoints(pool, node)
        # The swaps set up for the others form no repeater chain alice–dave either.
        assert net.world.configured_path("alice", "dave") is None

        # Withdrawing teleport releases it on the devices; the others keep delivering.
        push(pool, render(metro, withdrawn(plan, "teleport-bob-charlie"), kinds))
        advance(net, clock, 12.0, step=6.0)
        assert repeater_flows(net, "r2") == {"dqc-charlie-dave", "qkd-alice-bob"}
        for end in ("bob", "charlie"):
            assert "teleport-bob-charlie" not in endpoints(pool, end)
        assert int(endpoints(pool, "bob")["qkd-alice-bob"]["delivered-pairs"]) > delivered[
            ("qkd-alice-bob", "bob")]
        with pool.session("r2") as adapter:
            state = etree.fromstring(f"<data>{adapter.get_state()}</data>")
        stored = {p.findtext(f"{{{REP_NS}}}flow-id")
                  for p in state.iter(f"{{{REP_NS}}}pair")}
        assert "teleport-bob-charlie" not in stored
    finally:
        pool.close()
        net.stop()
