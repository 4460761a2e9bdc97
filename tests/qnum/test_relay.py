"""End-node relay: an end node with two memory qubits and ``relay`` set is an inner hop
like a repeater (its swap physics and memory), and without it routes never cross it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from qnum.candidates import build_graph, request_candidates
from qnum.instances import request, small_network
from qnum.io import DeviceKind, InputError, Network, parse_topology, topology_to_json
from qnum.plan import Problem
from qnum.solver import solve

END = DeviceKind.END_NODE


def _site(relay: bool, qubits: int = 4) -> Network:
    """A — S — B: the end node S is the only way between A and B."""
    net = small_network([("A", "S", 20.0), ("S", "B", 25.0)],
                        kinds={"A": END, "S": END, "B": END}, memory={"S": qubits})
    nodes = dict(net.nodes)
    nodes["S"] = replace(nodes["S"], relay=relay, bsm_fidelity=0.98,
                         swap_success_probability=0.6)
    return replace(net, nodes=nodes)


def test_only_path_through_a_relaying_end_node_is_admitted() -> None:
    net = _site(relay=True)
    plan = solve(Problem.build(net, [request("through", "A", "B")]))
    a = plan.assignments["through"]
    assert a.admitted and a.candidate is not None, a.reason
    assert a.candidate.route.nodes == ("A", "S", "B")
    assert a.candidate.route.memory_nodes == ("A", "S", "B")
    assert a.candidate.memory["S"] == 2          # one half from each side, like a repeater
    assert dict(a.candidate.resource_use)["memory"]["S"] == 2


def test_relay_hop_has_the_repeater_physics() -> None:
    """Same node facts as a repeater: the same candidates (rate, fidelity, memory)."""
    relay = _site(relay=True)
    nodes = dict(relay.nodes)
    nodes["S"] = replace(nodes["S"], kind=DeviceKind.REPEATER, relay=False)
    repeater = replace(relay, nodes=nodes)
    req = request("through", "A", "B")
    got = request_candidates(relay, build_graph(relay), req).candidates
    want = request_candidates(repeater, build_graph(repeater), req).candidates
    assert [(c.rate_per_share_hz, c.fidelity, dict(c.memory)) for c in got] == [
        (c.rate_per_share_hz, c.fidelity, dict(c.memory)) for c in want]


def test_without_relay_the_request_is_refused_as_disconnected() -> None:
    plan = solve(Problem.build(_site(relay=False), [request("through", "A", "B")]))
    a = plan.assignments["through"]
    assert not a.admitted
    assert "disconnected" in (a.reason or "")


def test_relay_memory_is_shared_with_the_nodes_own_endpoints() -> None:
    """S has 3 qubits: relaying A–B takes 2, its own flow to B needs 1 more."""
    net = _site(relay=True, qubits=3)
    reqs = [request("through", "A", "B"), request("own", "S", "B")]
    plan = solve(Problem.build(net, reqs))
    used = sum(a.candidate.memory.get("S", 0) for a in plan.admitted if a.candidate)
    assert used <= 3
    assert {a.request.name for a in plan.admitted} == {"through", "own"}


def test_topology_round_trips_relay_and_refuses_it_on_small_memories() -> None:
    net = _site(relay=True)
    assert parse_topology(topology_to_json(net)).nodes["S"].relay
    data = topology_to_json(_site(relay=True, qubits=1))
    with pytest.raises(InputError, match="relay") as err:
        parse_topology(data)
    assert err.value.args and "quantum-node/relay" in str(err.value)
