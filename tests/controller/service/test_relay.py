"""End-node relay through the real stack: Q-NUM routes a service through an end node that
relays, the renderer gives that node a relay flow, the emulated devices take the
configuration over NETCONF and the service's two ends receive pairs while the relay's
swap counters grow."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from lxml import etree

from controller.service.mbb import bridge_documents
from controller.service.render import RenderError, device_config_xml, render_devices
from qnum.io import AppClass, Network, Request, parse_topology
from qnum.plan import Plan, Problem
from qnum.solver import SolverOptions, solve
from simulators.clock import ManualClock
from simulators.devices.world import Topology
from simulators.launcher import Network as SimNetwork
from simulators.launcher import SchemaCache
from southbound.commit import NetworkCommit
from southbound.model import DeviceChange, DeviceEndpoint
from southbound.pool import SessionPool
from tests.simulators.conftest import advance

END_NS = "urn:sdqn:sdqn-end-node"
SITE = "site"   # the end node between the two others: their only path


def topology(relay: bool) -> dict[str, Any]:
    def node(ident: str, qubits: int, **extra: Any) -> dict[str, Any]:
        return {"node-id": ident, "sdqn-topology:quantum-node": {
            "device-kind": "sdqn-types:end-node", "memory-qubits": qubits,
            "coherence-time": "2.0", "bsm-fidelity": "0.99",
            "swap-success-probability": "0.5", **extra}}

    def fibre(a: str, b: str) -> dict[str, Any]:
        return {"link-id": f"{a}-{b}", "source": {"source-node": a},
                "destination": {"dest-node": b}, "sdqn-topology:quantum-link": {
                    "fibre-length": "10.0", "source-rate": "10000000",
                    "link-fidelity": "0.99", "wavelength": "1550.12"}}

    return {"ietf-network:networks": {"network": [{
        "network-id": "relay", "network-types": {"sdqn-topology:quantum-network": {}},
        "node": [node("west", 4), node(SITE, 6, relay=relay), node("east", 4)],
        "ietf-network-topology:link": [fibre("west", SITE), fibre(SITE, "east")]}]}}


REQUESTS = [Request("across", "west", "east", AppClass.QKD, 0.8, 50.0),
            Request("local", SITE, "east", AppClass.QKD, 0.8, 50.0)]


def planned(net: Network) -> Plan:
    return solve(Problem.build(net, REQUESTS), SolverOptions(time_limit_s=5))


def kinds(net: Network) -> dict[str, str]:
    return {n: node.kind.value for n, node in net.nodes.items()}


def test_relay_flow_is_rendered_under_the_relay_container() -> None:
    net = parse_topology(topology(relay=True))
    plan = planned(net)
    across = plan.assignments["across"]
    assert across.admitted and across.candidate is not None, across.reason
    assert across.candidate.route.nodes == ("west", SITE, "east")
    docs = render_devices(net, plan, kinds=kinds(net))
    body = docs[SITE]["sdqn-end-node:end-node"]
    (flow,) = body["relay"]["flow"]
    assert flow["flow-id"] == "across" and flow["memory-slots"] == 2
    assert flow["neighbour-links"] == [f"west-{SITE}", f"{SITE}-east"]
    assert {e["link-id"] for e in body["relay"]["link-generation"]["link"]} == {
        f"west-{SITE}", f"{SITE}-east"}
    assert body["relay"]["bsm-fidelity"] == "0.99"
    # its own flow is unchanged: an endpoint, no relay entry
    assert [e["name"] for e in body["application-endpoint"]] == ["local"]
    for doc in docs.values():
        device_config_xml(doc)           # libyang: the relay must on the shared registers
    assert "relay" not in docs["west"]["sdqn-end-node:end-node"]


def test_relay_through_an_end_node_the_topology_does_not_let_relay_is_refused() -> None:
    net = parse_topology(topology(relay=True))
    plan = planned(net)
    nodes = dict(net.nodes)
    nodes[SITE] = dataclasses.replace(nodes[SITE], relay=False)
    with pytest.raises(RenderError, match=f"relays through end node {SITE}"):
        render_devices(dataclasses.replace(net, nodes=nodes), plan, kinds=kinds(net))


def test_without_relay_the_service_across_is_not_admitted() -> None:
    plan = planned(parse_topology(topology(relay=False)))
    assert not plan.assignments["across"].admitted
    assert "disconnected" in (plan.assignments["across"].reason or "")
    assert plan.assignments["local"].admitted


def _state(pool: SessionPool, node: str) -> etree._Element:
    with pool.session(node) as adapter:
        return etree.fromstring(f"<data>{adapter.get_state()}</data>")


def _endpoint(root: etree._Element, name: str) -> dict[str, str]:
    for ep in root.iter(f"{{{END_NS}}}application-endpoint"):
        if ep.findtext(f"{{{END_NS}}}name") == name:
            return {etree.QName(leaf).localname: leaf.text or ""
                    for leaf in ep.iterfind(f"{{{END_NS}}}state/*")}
    raise AssertionError(f"no endpoint {name}")


def _swaps(root: etree._Element) -> tuple[int, int]:
    (flow,) = root.iter(f"{{{END_NS}}}flow")
    st = flow.find(f"{{{END_NS}}}state")
    assert st is not None
    return (int(st.findtext(f"{{{END_NS}}}swap-attempts") or 0),
            int(st.findtext(f"{{{END_NS}}}swap-successes") or 0))


def test_service_through_a_relaying_end_node_delivers_pairs_over_netconf() -> None:
    data = topology(relay=True)
    net = parse_topology(data)
    plan = planned(net)
    clock = ManualClock()
    sim = SimNetwork(Topology.from_json(data), clock=clock, seed=11,
                     use_topology_ports=False, tick=0.05, schemas=SchemaCache())
    sim.start(control=False)
    pool = SessionPool([DeviceEndpoint.model_validate(d) for d in sim.inventory()["devices"]],
                       timeout=10)
    try:
        docs = render_devices(net, plan, kinds=kinds(net))
        changes = [DeviceChange(node_id=n, config_xml=device_config_xml(doc))
                   for n, doc in sorted(docs.items())]
        result = NetworkCommit(pool).apply(changes)
        assert result.success, {n: o.error for n, o in result.devices.items() if o.error}
        advance(sim, clock, 360.0, step=6.0)     # pump warm-up (300 s) + stabilisation
        first = _swaps(_state(pool, SITE))
        assert first[0] > 0 and first[1] > 0
        for end in ("west", "east"):
            state = _endpoint(_state(pool, end), "across")
            assert int(state["delivered-pairs"]) > 0, (end, state)
        assert int(_endpoint(_state(pool, "east"), "local")["delivered-pairs"]) > 0
        assert sim.world.configured_path("west", "east") is not None
        advance(sim, clock, 12.0, step=6.0)
        later = _swaps(_state(pool, SITE))
        assert later[0] > first[0] and later[1] > first[1]
    finally:
        pool.close()
        sim.stop()


def test_make_before_break_keeps_the_old_relay_flow_beside_the_new_configuration() -> None:
    """A service moving off the relay: its old swap flow (and the link entries it uses)
    stays on the end node beside the new configuration until the new path delivers."""
    net = parse_topology(topology(relay=True))
    plan = planned(net)
    old = render_devices(net, plan, kinds=kinds(net))
    gone = dataclasses.replace(plan, assignments={
        n: a for n, a in plan.assignments.items() if n != "across"})
    new = render_devices(net, gone, kinds=kinds(net))
    assert "relay" not in new[SITE]["sdqn-end-node:end-node"]
    bridges = bridge_documents({SITE: json.dumps(new[SITE])}, {SITE: json.dumps(old[SITE])},
                               ["across"])
    relay = json.loads(bridges[SITE])["sdqn-end-node:end-node"]["relay"]
    assert [f["flow-id"] for f in relay["flow"]] == ["across"]
    assert relay["bsm-fidelity"] == "0.99"
    device_config_xml(json.loads(bridges[SITE]))
