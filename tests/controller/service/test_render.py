"""Rendering a Q-NUM plan into device configurations (controller.service.render)."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest

from controller.datastore.nmda import Datastore
from controller.paths import CONFIG_DIR
from controller.service.render import RenderError, device_config_xml, render_devices
from qnum.io import Network, load_requests, load_topology
from qnum.plan import Assignment, Plan, Problem
from qnum.solver import SolverOptions, solve
from simulators.clock import ManualClock
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
            assert flow["neighbour-links"] == [up.links[-1], down.links[0]]
            assert flow["memory-slots"] == a.candidate.memory[node]
            generation = {g["link-id"]: g["neighbour"] for g in body["link-generation"]["link"]}
            assert generation[up.links[-1]] == up.nodes[0]
            assert generation[down.links[0]] == down.nodes[-1]
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


# -- end to end on the emulated metro network ---------------------------------------------


def endpoints(net: SimNetwork, node: str) -> dict[str, dict[str, Any]]:
    raw = net.devices[node].store.get(Datastore.OPERATIONAL)
    data = json.loads(raw) if isinstance(raw, str) else raw
    body = data.get("sdqn-end-node:end-node", {})
    return {e["name"]: e.get("state", {}) for e in body.get("application-endpoint", [])}


def test_rendered_plan_delivers_pairs_on_the_emulated_network(
        metro: Network, plan: Plan, kinds: dict[str, str]) -> None:
    docs = render(metro, plan, kinds)
    clock = ManualClock()
    net = SimNetwork(Topology.load(DEFAULT_TOPOLOGY), clock=clock, seed=5,
                     use_topology_ports=False, tick=0.05, schemas=SchemaCache())
    net.start(control=False)
    pool = SessionPool([DeviceEndpoint.model_validate(d) for d in net.inventory()["devices"]],
                       timeout=10)
    try:
        changes = [DeviceChange(node_id=n, config_xml=device_config_xml(doc))
                   for n, doc in sorted(docs.items())]
        result = NetworkCommit(pool).apply(changes)
        assert result.success, {n: o.error for n, o in result.devices.items() if o.error}
        advance(net, clock, 360.0, step=6.0)      # pump warm-up (300 s) + stabilisation
        for a in plan.admitted:
            for end in (a.request.source, a.request.destination):
                state = endpoints(net, end)[a.request.name]
                assert int(state["delivered-pairs"]) > 0, (a.request.name, end, state)
                assert float(state["delivered-rate"]) > 0.0
        for node in ("alice", "dave"):
            assert "dqs-alice-dave" not in endpoints(net, node)
    finally:
        pool.close()
        net.stop()
