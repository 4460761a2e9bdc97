"""The emulated plant reads the node leaves the way qnum does: bsm-fidelity as a fidelity,
initial-fidelity as the memory write, the node's decoherence-model, multimode capacity."""

from __future__ import annotations

import pytest

from simulators.devices.world import PhysLink, PhysNode, Span, Topology


def _node(node_id: str, **leaves: object) -> PhysNode:
    q = {"device-kind": "sdqn-types:repeater", "memory-qubits": 4, "coherence-time": "0.01",
         **leaves}
    return PhysNode.from_json({"node-id": node_id, "sdqn-topology:quantum-node": q})


def test_node_params_follow_the_topology_leaves() -> None:
    params = _node("r", **{"bsm-fidelity": "0.97", "initial-fidelity": "0.99",
                           "decoherence-model": "dephasing"}).node_params()
    assert params.bsm_lambda == pytest.approx((4 * 0.97 - 1) / 3)
    assert params.initial_fidelity == pytest.approx(0.99)
    assert params.decoherence_model == "dephasing"
    assert params.z_decay_rate == 0.0 and params.decay_rate == pytest.approx(100.0)
    assert _node("d").node_params().decoherence_model == "depolarising"


def test_span_modes_are_capped_by_both_memories() -> None:
    fibre = PhysLink("f", "a", "b", 10.0, modes=16)
    topo = Topology("t", [_node("a", **{"multimode-capacity": 4}), _node("b")], [fibre])
    assert topo.span_modes(Span(("a", "b"), (fibre,))) == 4
    topo = Topology("t", [_node("a"), _node("b")], [fibre])
    assert topo.span_modes(Span(("a", "b"), (fibre,))) == 16
