"""One memory-decay model per node: chain fidelity, coherence budget and BSM/write factors
checked against explicit density matrices (tests/qnum/physics_dm.py)."""

from __future__ import annotations

import math

import pytest

from qnum.physics import (
    LinkParams,
    NodeParams,
    chain_performance,
    dejmps,
    iterate_bell_diagonal,
    pauli_bell_diagonal,
)
from tests.qnum import physics_dm as dm

LINK = LinkParams(50.0, source_rate_hz=1e6)  # herald latency 250 µs, F = 0.97


def _stored(rho: dm.Matrix, t: float, nodes: tuple[NodeParams, NodeParams]) -> dm.Matrix:
    """Both halves of a pair stored for t, each in its own node's memory channel."""
    for qubit, node in enumerate(nodes):
        decay = math.exp(-t / node.coherence_time_s)
        kraus = (
            dm.depolarising_kraus(decay)
            if node.decoherence_model == "depolarising"
            else dm.dephasing_kraus((1.0 - decay) / 2.0)
        )
        rho = dm.apply_channel(rho, kraus, qubit, 2)
    return rho


MODELS = {
    "depolarising": (NodeParams(0.01), NodeParams(0.02)),
    "dephasing": (
        NodeParams(0.01, decoherence_model="dephasing"),
        NodeParams(0.02, decoherence_model="dephasing"),
    ),
    "mixed": (NodeParams(0.01), NodeParams(0.02, decoherence_model="dephasing")),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_budget_is_the_time_the_modelled_pair_stays_above_two_thirds(name: str) -> None:
    ends = MODELS[name]
    t_ent = chain_performance([LINK], [], end_nodes=ends).t_ent_s
    assert 0.0 < t_ent < math.inf
    pair = dm.werner(LINK.link_fidelity)
    assert dm.fidelity(_stored(pair, t_ent, ends)) == pytest.approx(2 / 3, abs=1e-9)
    assert dm.fidelity(_stored(pair, t_ent * 0.999, ends)) > 2 / 3
    assert dm.fidelity(_stored(pair, t_ent * 1.001, ends)) < 2 / 3


def test_dephasing_budget_is_longer_than_depolarising() -> None:
    # Dephasing keeps the Z correlations, so the same T buys more time above 2/3.
    dep = chain_performance([LINK], [], end_nodes=MODELS["depolarising"]).t_ent_s
    mixed = chain_performance([LINK], [], end_nodes=MODELS["mixed"]).t_ent_s
    deph = chain_performance([LINK], [], end_nodes=MODELS["dephasing"]).t_ent_s
    assert dep < mixed < deph


@pytest.mark.parametrize("name", list(MODELS))
def test_single_link_fidelity_follows_each_nodes_model(name: str) -> None:
    ends = MODELS[name]
    perf = chain_performance([LINK], [], end_nodes=ends)
    # One link: both halves wait exactly the herald latency before delivery.
    rho = _stored(dm.werner(LINK.link_fidelity), 2.5e-4, ends)
    assert perf.raw_fidelity == pytest.approx(dm.fidelity(rho), abs=1e-12)


def test_dephased_pair_is_purified_as_the_bell_diagonal_state_it_is() -> None:
    ends = MODELS["dephasing"]
    perf = chain_performance([LINK], [], purification_rounds=1, end_nodes=ends)
    rho = _stored(dm.werner(LINK.link_fidelity), 2.5e-4, ends)
    coeffs = dm.bell_coefficients(rho)
    p, out = dejmps(coeffs)
    assert perf.fidelity == pytest.approx(out[0], abs=1e-12)
    assert perf.pairs_per_output == pytest.approx(2 / p, rel=1e-12)
    # DEJMPS on the true state beats DEJMPS on its Werner twirl (same fidelity).
    twirled, _, _ = iterate_bell_diagonal("dejmps", dm.bell_coefficients(dm.werner(coeffs[0])), 1)
    assert perf.fidelity > twirled


def test_pauli_eigenvalue_form_matches_density_matrix() -> None:
    lam_xy, lam_z = 0.81, 0.93
    coeffs = pauli_bell_diagonal(lam_xy, lam_z)
    assert sum(coeffs) == pytest.approx(1.0)
    # λ_xy = e^(−t/T2) after dephasing both halves of Φ+ by p with (1 − 2p)² = λ_xy, then
    # depolarising one half by λ_z: λ_X = λ_Y = λ_xy·λ_z, λ_Z = λ_z.
    p = (1 - math.sqrt(lam_xy)) / 2
    rho = dm.projector(dm.PHI_PLUS)
    for qubit in (0, 1):
        rho = dm.apply_channel(rho, dm.dephasing_kraus(p), qubit, 2)
    rho = dm.apply_channel(rho, dm.depolarising_kraus(lam_z), 0, 2)
    assert dm.bell_coefficients(rho) == pytest.approx(
        pauli_bell_diagonal(lam_xy * lam_z, lam_z), abs=1e-12
    )


def test_initial_fidelity_is_a_depolarising_write_at_each_end() -> None:
    ends = (
        NodeParams(math.inf, initial_fidelity=0.99),
        NodeParams(math.inf, initial_fidelity=0.98),
    )
    perf = chain_performance([LINK], [], end_nodes=ends)
    rho = dm.werner(LINK.link_fidelity)
    for qubit, f_write in ((0, 0.99), (1, 0.98)):
        rho = dm.apply_channel(rho, dm.depolarising_kraus((4 * f_write - 1) / 3), qubit, 2)
    assert perf.fidelity == pytest.approx(dm.fidelity(rho), abs=1e-12)


def test_unknown_model_and_bad_write_fidelity_are_refused() -> None:
    with pytest.raises(ValueError, match="decoherence model"):
        NodeParams(1.0, decoherence_model="amplitude-damping")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="initial_fidelity"):
        NodeParams(1.0, initial_fidelity=0.2)


@pytest.mark.parametrize("w", [0.7, 0.8, 0.9, 0.96, 0.99])
def test_dephasing_never_helps_dejmps_so_the_no_decoherence_bound_stays_valid(w: float) -> None:
    # The candidate pruning bound purifies the undecayed Werner pair; a dephased pair is
    # Bell-diagonal (not Werner), so check that its purified fidelity is never higher.
    for rounds in (1, 2, 3):
        undecayed = iterate_bell_diagonal("dejmps", pauli_bell_diagonal(w, w), rounds)[0]
        for keep in (0.3, 0.5, 0.8, 0.95, 0.99, 0.999):
            dephased = pauli_bell_diagonal(w * keep, w)
            assert iterate_bell_diagonal("dejmps", dephased, rounds)[0] <= undecayed + 1e-12
