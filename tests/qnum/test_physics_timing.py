"""Attempt timing of a heralded link: per-scheme heralding signal, handshake round trips,
emission rounds, the swap-outcome (Pauli frame) delay, and the YANG leaves that set them."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from qnum.candidates import link_params, node_params
from qnum.io import InputError, parse_topology, topology_to_json
from qnum.physics import (
    C_FIBRE_KM_PER_S,
    LinkParams,
    NodeParams,
    attempt_period_s,
    chain_performance,
    chain_setup,
    generation_rate_hz,
    heralding_latency_s,
    swap_outcome_delay_s,
)
from qnum.physics.swap_timing import parallel_swap_timing, sequence_swap_plan
from simulators.montecarlo import simulate_chain

DATA = Path(__file__).parent / "data"
L_KM = 20.0
ONE_WAY = L_KM / C_FIBRE_KM_PER_S  # 100 µs


def _link(**kw: Any) -> LinkParams:
    return LinkParams(L_KM, source_rate_hz=1e9, **kw)


@pytest.mark.parametrize(
    ("scheme", "handshakes", "rounds", "period_in_one_way", "latency_in_one_way"),
    [
        ("midpoint-source", 0.0, 1, 1.0, 1.0),
        ("meet-in-the-middle", 0.0, 1, 1.0, 1.0),
        ("sender-receiver", 0.0, 1, 2.0, 2.0),
        # SeQUeNCe's single-heralded protocol: NEGOTIATE/ACK plus a pairing message.
        ("meet-in-the-middle", 1.5, 1, 4.0, 1.0),
        ("sender-receiver", 1.0, 1, 4.0, 2.0),
        # Barrett-Kok: two rounds, one round trip each; stored from the first emission.
        ("meet-in-the-middle", 1.0, 2, 6.0, 4.0),
    ],
)
def test_attempt_period_per_scheme_and_handshakes(
    scheme: Any, handshakes: float, rounds: int, period_in_one_way: float,
    latency_in_one_way: float,
) -> None:
    link = _link(heralding=scheme, handshake_round_trips=handshakes, herald_rounds=rounds)
    assert attempt_period_s(link) == pytest.approx(period_in_one_way * ONE_WAY)
    assert heralding_latency_s(link) == pytest.approx(latency_in_one_way * ONE_WAY)


def test_slow_source_bounds_the_period_once_per_round() -> None:
    link = LinkParams(1.0, source_rate_hz=1e3, handshake_round_trips=1.0, herald_rounds=2)
    assert attempt_period_s(link) == pytest.approx(2e-3)


def test_handshakes_scale_the_rate_down() -> None:
    ideal, slow = _link(), _link(handshake_round_trips=1.5)
    assert generation_rate_hz(slow) == pytest.approx(generation_rate_hz(ideal) / 4.0)


def test_defaults_keep_the_ideal_link_layer() -> None:
    link = _link()
    assert (link.handshake_round_trips, link.herald_rounds) == (0.0, 1)
    assert attempt_period_s(link) == pytest.approx(ONE_WAY)


@pytest.mark.parametrize(
    ("field", "value"),
    [("handshake_round_trips", -0.5), ("handshake_round_trips", math.inf), ("herald_rounds", 0)],
)
def test_bad_timing_values_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        _link(**{field: value})


def test_swap_outcome_delay_is_the_chain_length() -> None:
    links = [_link(), LinkParams(30.0, source_rate_hz=1e9)]
    assert swap_outcome_delay_s(links[:1]) == 0.0
    assert swap_outcome_delay_s(links) == pytest.approx(50.0 / C_FIBRE_KM_PER_S)
    assert chain_setup(links, [NodeParams(1.0)]).signalling_s == swap_outcome_delay_s(links)


def test_model_and_simulator_agree_with_handshakes() -> None:
    links = [
        _link(heralding="meet-in-the-middle", handshake_round_trips=1.5),
        LinkParams(30.0, source_rate_hz=1e9, handshake_round_trips=1.0, herald_rounds=2),
    ]
    repeaters = [NodeParams(0.1)]
    ends = (NodeParams(0.1), NodeParams(0.1))
    model = chain_performance(links, repeaters, end_nodes=ends)
    assert model.coherence_ok
    sim = simulate_chain(links, repeaters, end_nodes=ends, n_rounds=100_000, seed=3)
    assert sim.rate_hz.contains(model.rate_hz)
    assert sim.fidelity.contains(model.fidelity)


def _topology() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / "metro.json").read_text())
    return data


def _quantum_link(data: dict[str, Any], ident: str) -> dict[str, Any]:
    net = data["ietf-network:networks"]["network"][0]
    link = next(lk for lk in net["ietf-network-topology:link"] if lk["link-id"] == ident)
    q: dict[str, Any] = link["sdqn-topology:quantum-link"]
    return q


def test_yang_leaves_are_parsed_and_reach_the_model() -> None:
    data = _topology()
    _quantum_link(data, "r1-r2").update({"handshake-round-trips": "1.5", "herald-rounds": 2})
    link = parse_topology(data).links["r1-r2"]
    assert (link.handshake_round_trips, link.herald_rounds) == (1.5, 2)
    params = link_params(link)
    assert (params.handshake_round_trips, params.herald_rounds) == (1.5, 2)
    default = parse_topology(_topology()).links["r1-r2"]
    assert (default.handshake_round_trips, default.herald_rounds) == (0.0, 1)


@pytest.mark.parametrize(
    ("leaf", "value", "message_part"),
    [
        ("handshake-round-trips", "-1", "outside"),
        ("handshake-round-trips", "nan", "finite"),
        ("herald-rounds", 0, "outside"),
        ("herald-rounds", 256, "outside"),
        ("herald-rounds", "2", "integer"),
    ],
)
def test_bad_timing_leaves_are_refused_with_the_leaf_named(
    leaf: str, value: Any, message_part: str
) -> None:
    data = _topology()
    _quantum_link(data, "r1-r2")[leaf] = value
    with pytest.raises(InputError) as err:
        parse_topology(data)
    assert leaf in err.value.path
    assert message_part in err.value.message


# --- swap timing: pairing delay before the swap, outcome route to the end nodes ---------


def _repeater(**kw: Any) -> NodeParams:
    return NodeParams(0.05, bsm_lambda=0.98, swap_success_probability=0.6, **kw)


def test_parallel_swap_timing_offsets() -> None:
    links = [_link(), LinkParams(30.0, source_rate_hz=1e9)]
    far = 30.0 / C_FIBRE_KM_PER_S
    default = parallel_swap_timing(links, [0.0], ["along-chain"])
    assert default.swap_delay_s == (0.0,)
    assert default.end_wait_s == pytest.approx((ONE_WAY + far, ONE_WAY + far))
    direct = parallel_swap_timing(links, [1.0], ["direct"])
    assert direct.swap_delay_s == pytest.approx((2.0 * far,))
    assert direct.end_wait_s == pytest.approx((2.0 * far + ONE_WAY, 3.0 * far))
    assert direct.busy_s == pytest.approx(2.0 * far)
    along = parallel_swap_timing(links, [0.5], ["along-chain"])
    assert along.end_wait_s == pytest.approx((far + ONE_WAY + far,) * 2)


def test_swap_delays_multiply_the_werner_parameter_and_lengthen_the_round() -> None:
    links = [_link(heralding="meet-in-the-middle"), LinkParams(30.0, source_rate_hz=1e9)]
    ends = (NodeParams(0.02), NodeParams(0.04))
    base = chain_performance(links, [_repeater()], end_nodes=ends)
    timed = chain_performance(
        links,
        [_repeater(swap_pairing_round_trips=2.0, swap_outcome_route="direct")],
        end_nodes=ends,
    )
    far = 30.0 / C_FIBRE_KM_PER_S
    d = 2.0 * 2.0 * far  # two round trips to the farther neighbour
    s0, s1 = d + ONE_WAY, d + far
    s_base = ONE_WAY + far
    factor = math.exp(
        -2.0 * (1 / 0.05) * d - (1 / 0.02) * (s0 - s_base) - (1 / 0.04) * (s1 - s_base)
    )
    w_base = (4.0 * base.raw_fidelity - 1.0) / 3.0
    w_timed = (4.0 * timed.raw_fidelity - 1.0) / 3.0
    assert w_timed == pytest.approx(w_base * factor, rel=1e-12)
    cycle_base = base.success_probability / base.raw_rate_hz
    cycle_timed = timed.success_probability / timed.raw_rate_hz
    assert cycle_timed == pytest.approx(cycle_base + d, rel=1e-9)
    assert timed.latency_s == pytest.approx(max(s0, s1) + far, rel=1e-12)  # + max herald


@pytest.mark.parametrize("cutoff_s", [None, 2e-3])
def test_model_and_simulator_agree_with_swap_delays(cutoff_s: float | None) -> None:
    links = [
        _link(heralding="meet-in-the-middle", handshake_round_trips=1.5),
        LinkParams(30.0, source_rate_hz=1e9, handshake_round_trips=1.0),
        LinkParams(10.0, source_rate_hz=1e9),
    ]
    repeaters = [
        _repeater(swap_pairing_round_trips=1.0, swap_outcome_route="direct"),
        _repeater(swap_pairing_round_trips=2.5),
    ]
    # End memories long-lived enough that every round fits the coherence budget (the
    # time the modelled pair stays above F = 2/3), so the model's rate is not zeroed.
    ends = (NodeParams(0.02), NodeParams(0.06))
    model = chain_performance(links, repeaters, end_nodes=ends, cutoff_s=cutoff_s)
    assert model.coherence_ok
    sim = simulate_chain(
        links, repeaters, end_nodes=ends, cutoff_s=cutoff_s, n_rounds=200_000, seed=4
    )
    assert sim.rate_hz.contains(model.rate_hz)
    assert sim.fidelity.contains(model.fidelity)


def test_sequence_swap_plan_follows_its_reservation_rule() -> None:
    def plan(n: int) -> list[tuple[int, int, int]]:
        return [(s.node, s.left, s.right) for s in sequence_swap_plan(n)]

    assert plan(1) == []
    assert plan(2) == [(1, 0, 2)]
    assert plan(3) == [(1, 0, 2), (2, 0, 3)]
    assert plan(4) == [(1, 0, 2), (3, 2, 4), (2, 0, 4)]
    assert plan(5) == [(1, 0, 2), (3, 2, 4), (2, 0, 4), (4, 0, 5)]


def test_sequential_protocol_with_ideal_memories_keeps_the_swapped_fidelity() -> None:
    """No decoherence: every delivered pair is exactly Π w_i Π λ_j, whatever it waited."""
    links = [_link(), LinkParams(30.0, source_rate_hz=1e9), _link()]
    ideal = NodeParams(math.inf, bsm_lambda=0.98, swap_success_probability=0.5,
                       swap_pairing_round_trips=1.0, swap_outcome_route="direct")
    sim = simulate_chain(links, [ideal] * 2, n_rounds=2_000, seed=2, swap_order="sequential")
    expected = chain_performance(links, [ideal] * 2).raw_fidelity
    assert sim.raw_fidelity == pytest.approx(expected, rel=1e-12)
    assert sim.n_delivered == 2_000


def test_sequential_protocol_keeps_pairs_waiting_across_failed_swaps() -> None:
    """Three links: the third pair waits while the first swap is retried, so the
    sequential protocol delivers faster than synchronous rounds (which discard it) and
    at a lower fidelity (it waited longer)."""
    link = LinkParams(10.0, source_rate_hz=1e6, heralding="meet-in-the-middle",
                      handshake_round_trips=1.5)
    node = NodeParams(0.01, bsm_lambda=1.0, swap_success_probability=0.5,
                      swap_pairing_round_trips=1.0, swap_outcome_route="direct")
    rounds = simulate_chain([link] * 3, [node] * 2, end_nodes=(node, node), n_rounds=50_000)
    sequential = simulate_chain([link] * 3, [node] * 2, end_nodes=(node, node),
                                n_rounds=5_000, swap_order="sequential")
    assert sequential.fidelity.ci_high < rounds.fidelity.ci_low
    assert sequential.raw_rate_hz > rounds.raw_rate_hz


def test_sequential_protocol_refuses_a_cutoff_and_unknown_orders() -> None:
    links, nodes = [_link()] * 2, [NodeParams(1.0)]
    with pytest.raises(ValueError, match="cut-off"):
        simulate_chain(links, nodes, cutoff_s=1e-3, swap_order="sequential")
    with pytest.raises(ValueError, match="swap_order"):
        simulate_chain(links, nodes, swap_order="random")  # type: ignore[arg-type]


def _quantum_node(data: dict[str, Any], ident: str) -> dict[str, Any]:
    net = data["ietf-network:networks"]["network"][0]
    node = next(nd for nd in net["node"] if nd["node-id"] == ident)
    q: dict[str, Any] = node["sdqn-topology:quantum-node"]
    return q


def test_swap_timing_leaves_are_parsed_and_reach_the_model() -> None:
    data = _topology()
    _quantum_node(data, "r1").update(
        {"swap-pairing-round-trips": "1.5", "swap-outcome-route": "direct"}
    )
    network = parse_topology(data)
    params = node_params(network.nodes["r1"])
    assert (params.swap_pairing_round_trips, params.swap_outcome_route) == (1.5, "direct")
    default = node_params(network.nodes["r2"])
    assert (default.swap_pairing_round_trips, default.swap_outcome_route) == (0.0, "along-chain")
    again = parse_topology(topology_to_json(network)).nodes["r1"]
    assert (again.swap_pairing_round_trips, again.swap_outcome_route.value) == (1.5, "direct")


@pytest.mark.parametrize(
    ("leaf", "value", "message_part"),
    [
        ("swap-pairing-round-trips", "-0.5", "outside"),
        ("swap-pairing-round-trips", "inf", "finite"),
        ("swap-pairing-round-trips", 1, "decimal64"),
        ("swap-outcome-route", "teleport", "not one of"),
    ],
)
def test_bad_swap_timing_leaves_are_refused_with_the_leaf_named(
    leaf: str, value: Any, message_part: str
) -> None:
    data = _topology()
    _quantum_node(data, "r1")[leaf] = value
    with pytest.raises(InputError) as err:
        parse_topology(data)
    assert leaf in err.value.path
    assert message_part in err.value.message


@pytest.mark.parametrize(
    ("field", "value"), [("swap_pairing_round_trips", -1.0), ("swap_outcome_route", "x")]
)
def test_bad_swap_timing_parameters_are_refused(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field):
        NodeParams(1.0, **{field: value})
