"""Per-link purification reaches the devices: a plan that purifies its elementary links
is pushed over real NETCONF to the emulated repeaters and end nodes, whose flows then run
the rounds (their purification counters grow) and whose endpoints expect exactly what the
plan predicts.

Real emulators over real NETCONF (the metro world of conftest.py), simulated time on a
manual clock, seeded randomness; no timing."""

from __future__ import annotations

from lxml import etree

from controller.datastore.nmda import Datastore
from controller.paths import CONFIG_DIR
from qnum.candidates import node_params
from qnum.io import load_topology
from qnum.physics import chain_performance
from qnum.plan import Assignment
from tests.controller.service.conftest import World, advance

REP_NS = "urn:sdqn:sdqn-repeater"
END_NS = "urn:sdqn:sdqn-end-node"
WARM_UP_S = 400.0


def _leaves(element: etree._Element) -> dict[str, str]:
    return {etree.QName(leaf).localname: leaf.text or "" for leaf in element
            if len(leaf) == 0}


def repeater_flows(world: World, node: str, *, state: bool) -> dict[str, dict[str, str]]:
    """The repeater's flows over NETCONF: configuration leaves, or the flow's state."""
    _, manager, _, _ = world
    with manager.pool.session(node) as adapter:
        text = adapter.get_state() if state else adapter.get_config()
    root = etree.fromstring(f"<data>{text}</data>")
    out = {}
    for flow in root.iter(f"{{{REP_NS}}}flow"):
        name = flow.findtext(f"{{{REP_NS}}}flow-id") or ""
        st = flow.find(f"{{{REP_NS}}}state")
        out[name] = _leaves(st) if state and st is not None else _leaves(flow)
    return out


def endpoint_config(world: World, node: str) -> dict[str, dict[str, str]]:
    _, manager, _, _ = world
    with manager.pool.session(node) as adapter:
        root = etree.fromstring(f"<data>{adapter.get_config()}</data>")
    return {ep.findtext(f"{{{END_NS}}}name") or "": _leaves(ep)
            for ep in root.iter(f"{{{END_NS}}}application-endpoint")}


def _at_full_share(a: Assignment) -> float:
    """The delivered fidelity of ``a``'s configuration at share 1 (the best share)."""
    cand = a.candidate
    assert cand is not None
    network = load_topology(CONFIG_DIR / "topologies" / "metro.json")
    nodes = [node_params(network.nodes[n]) for n in cand.route.memory_nodes]
    return chain_performance(
        [seg.params for seg in cand.route.segments], nodes[1:-1], cand.purification_rounds,
        cand.protocol, cutoff_s=cand.cutoff_s, end_nodes=[nodes[0], nodes[-1]],
        link_purification_rounds=cand.link_purification_rounds).fidelity


def test_a_link_purified_plan_runs_on_the_devices(world: World) -> None:
    store, manager, net, clock = world
    plan = manager.expander.committed.plan
    assert plan is not None
    assert all(a.candidate is not None and a.candidate.link_purification_rounds == 0
               for a in plan.admitted), "the controller's default space has no link rounds"
    store.edit_json(Datastore.RUNNING, {"sdqn-controller:controller": {"optimiser": {
        "max-link-purification-rounds": 1}}})
    advance(net, clock, WARM_UP_S)
    plan = manager.expander.committed.plan
    assert plan is not None
    purified = [a for a in plan.admitted
                if a.candidate is not None and a.candidate.link_purification_rounds > 0
                and len(a.candidate.route.memory_nodes) > 2]
    assert purified, "with link rounds declared the metro plan purifies some route's links"
    for a in purified:
        cand = a.candidate
        assert cand is not None
        rounds = cand.link_purification_rounds
        repeaters = cand.route.memory_nodes[1:-1]
        before = {r: repeater_flows(world, r, state=True)[a.request.name] for r in repeaters}
        for r in repeaters:
            flow = repeater_flows(world, r, state=False)[a.request.name]
            assert int(flow["purification-rounds"]) == rounds
            assert flow["purification-protocol"].endswith(cand.protocol)
            assert int(flow["memory-slots"]) == 2 * (rounds + 1) == cand.memory[r]
        for end in (a.request.source, a.request.destination):
            ep = endpoint_config(world, end)[a.request.name]
            assert int(ep.get("link-purification-rounds", "0")) == rounds
            assert int(ep["memory-slots"]) == 1 + cand.purification_rounds + rounds
            expected = net.devices[end].model._deliveries[a.request.name]  # type: ignore[attr-defined]
            assert expected.reason == ""
            assert abs(expected.rate_hz - a.rate_hz) <= 1e-6 * a.rate_hz
            # the plan predicts at its share floor, the endpoint runs at the granted share
            # (no worse) with the cut-off and share as rendered (decimal rounding: the
            # 1e-3 the unpurified plans are held to) and at most what share 1 gives
            assert expected.fidelity is not None
            assert cand.fidelity - 1e-3 <= expected.fidelity <= _at_full_share(a) + 1e-9
        advance(net, clock, 60.0)
        for r in repeaters:
            after = repeater_flows(world, r, state=True)[a.request.name]
            attempts = int(after["purification-attempts"]) - int(
                before[r]["purification-attempts"])
            successes = int(after["purification-successes"]) - int(
                before[r]["purification-successes"])
            assert 0 < successes < attempts, (a.request.name, r, attempts, successes)
