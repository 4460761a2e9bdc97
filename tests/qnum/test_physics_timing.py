"""Attempt timing of a heralded link: per-scheme heralding signal, handshake round trips,
emission rounds, the swap-outcome (Pauli frame) delay, and the YANG leaves that set them."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from qnum.candidates import link_params
from qnum.io import InputError, parse_topology
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
