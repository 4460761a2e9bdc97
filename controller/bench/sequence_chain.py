"""Run a repeater chain in SeQUeNCe (the public discrete-event simulator) with the
project's physical parameters mapped onto its components.

The mapping (qnum/README.md, "Validation against SeQUeNCe") is:

* fibre: SeQUeNCe quantum channels take dB/m and metres; light travels at 2e-4 m/ps in both;
* link: SeQUeNCe's single-heralded protocol (a meet-in-the-middle scheme: both memories
  emit, the midpoint station heralds on one click from each side), detector efficiency on
  both midpoint detectors, the memory's raw fidelity as a Werner pair
  (``raw_epr_errors`` = X, Y, Z equally likely), the source rate as the memories'
  excitation frequency;
* memory: the Bell-diagonal formalism with Pauli rates γ/3 each (depolarising).  One
  memory of coherence time T_s multiplies the Werner parameter by e^(−4t/(3T_s)), so a
  project coherence time T maps onto T_s = 4T/3; SeQUeNCe's expiry cut-off is switched
  off (the chain model's cut-off is a separate, optional window);
* swap: SeQUeNCe 0.8.5 has no Bell-diagonal swap, so the run supplies one
  (``_bell_diagonal_swap``: exact Pauli composition of the two stored pairs, then the
  project's λ-depolarising Bell measurement) with the project's success probability p_swap;
  outcomes travel in SeQUeNCe's own SWAP_RES messages;
* classical channels: every pair of routers is joined with a delay equal to the fibre
  distance between them (the Pauli frame travels over the chain).

Every delivered end-to-end pair is recorded at the first end node that learns of it, with
its Bell-diagonal fidelity after both end memories have decohered up to that moment.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from qnum.physics.constants import C_FIBRE_KM_PER_S

#: SeQUeNCe's time unit is the picosecond.
PS_PER_S: Final[float] = 1e12
#: Depolarising-memory conversion: SeQUeNCe's Pauli rates γ/3 decay w as e^(−4γt/3).
SEQUENCE_COHERENCE_FACTOR: Final[float] = 4.0 / 3.0
#: The app's target fidelity only gates SeQUeNCe's bookkeeping; low enough never to purify.
_TARGET_FIDELITY: Final[float] = 0.3
#: Requests start after the reservation messages have settled.
_START_PS: Final[int] = 10**9


@dataclass(frozen=True)
class SequenceChain:
    """A homogeneous chain in project units (km, Hz, s)."""

    n_links: int
    length_km: float
    coherence_time_s: float
    source_rate_hz: float
    attenuation_db_per_km: float
    detector_efficiency: float
    link_fidelity: float
    swap_success_probability: float
    bsm_lambda: float


@dataclass(frozen=True)
class SequenceRun:
    """Delivery times (s, from the request start) and fidelities of end-to-end pairs."""

    times_s: tuple[float, ...]
    fidelities: tuple[float, ...]
    duration_s: float


def _router(i: int) -> str:
    return f"r{i}"


def topology_config(chain: SequenceChain, duration_s: float, seed: int) -> dict[str, Any]:
    """SeQUeNCe RouterNetTopo configuration of the chain (JSON-ready)."""
    n = chain.n_links
    one_way_ps = chain.length_km / C_FIBRE_KM_PER_S * PS_PER_S
    memory = {
        "fidelity": chain.link_fidelity,
        "efficiency": 1.0,
        "coherence_time": chain.coherence_time_s * SEQUENCE_COHERENCE_FACTOR,
        "frequency": chain.source_rate_hz,
        "decoherence_errors": [1 / 3, 1 / 3, 1 / 3],
        "cutoff_flag": False,
    }
    detector = {
        "efficiency": chain.detector_efficiency,
        "dark_count": 0,
        "time_resolution": 10,
        "count_rate": 1e12,
    }
    nodes = [
        {
            "name": _router(i),
            "type": "QuantumRouter",
            "seed": seed * 101 + i,
            "memo_size": 1 if i in (0, n) else 2,
            "template": "memory",
        }
        for i in range(n + 1)
    ]
    qconnections = [
        {
            "node1": _router(i),
            "node2": _router(i + 1),
            "attenuation": chain.attenuation_db_per_km / 1000.0,
            "distance": chain.length_km * 1000.0,
            "type": "meet_in_the_middle",
            "seed": seed * 101 + 50 + i,
            "template": "bsm",
        }
        for i in range(n)
    ]
    cconnections = [
        {"node1": _router(i), "node2": _router(j), "delay": round((j - i) * one_way_ps)}
        for i in range(n + 1)
        for j in range(i + 1, n + 1)
    ]
    return {
        "is_parallel": False,
        "stop_time": _START_PS + int(duration_s * PS_PER_S),
        "formalism": "bell_diagonal",
        "nodes": nodes,
        "qconnections": qconnections,
        "cconnections": cconnections,
        "templates": {
            "memory": {"MemoryArray": memory},
            "bsm": {
                "encoding_type": "single_heralded",
                "SingleHeraldedBSM": {"detectors": [detector, detector]},
            },
        },
    }


def swapped_bell_diagonal(
    left: Sequence[float], right: Sequence[float], bsm_lambda: float
) -> list[float]:
    """Bell-diagonal state after swapping two Bell-diagonal pairs.

    SeQUeNCe orders the diagonal as (Φ+, Φ−, Ψ+, Ψ−), i.e. Pauli errors (I, Z, X, Y) on one
    half; indices 0..3 then compose by XOR (Z·X = Y, ...), so the outcome-corrected pair
    carries error k with probability Σ_i a_i·b_(i⊕k).  An imperfect Bell measurement is a
    λ-depolarising map on the result, as in ``qnum.physics.swap``.
    """
    out = [math.fsum(left[i] * right[i ^ k] for i in range(4)) for k in range(4)]
    return [bsm_lambda * x + (1.0 - bsm_lambda) / 4.0 for x in out]


def _bell_diagonal_swap(swap_success_probability: float, bsm_lambda: float) -> Any:
    """``EntanglementSwappingA.start`` for the Bell-diagonal formalism.

    SeQUeNCe 0.8.5's swap runs a circuit, which its Bell-diagonal quantum manager ignores
    (it returns no outcome and the protocol fails).  This start decoheres the four stored
    halves up to now, composes the two pairs exactly (``swapped_bell_diagonal``) onto the
    two outer memories, and then sends SeQUeNCe's own SWAP_RES messages (the outcome is
    already applied, so they carry no Pauli correction).
    """
    from sequence.entanglement_management.swapping import (
        EntanglementSwappingMessage,
        SwappingMsgType,
    )
    from sequence.resource_management.memory_manager import MemoryInfo

    def start(self: Any) -> None:
        timeline = self.owner.timeline
        qm = timeline.quantum_manager
        left, right = self.left_memo, self.right_memo
        if self.owner.get_generator().random() < swap_success_probability:
            outer = []
            for memory in (left, right):
                remote = timeline.get_entity_by_name(memory.entangled_memory["memo_id"])
                memory.bds_decohere()
                remote.bds_decohere()
                outer.append(remote)
            state = swapped_bell_diagonal(
                list(qm.states[left.qstate_key].state),
                list(qm.states[right.qstate_key].state),
                bsm_lambda,
            )
            qm.set([outer[0].qstate_key, outer[1].qstate_key], state)
            fidelity = self.updated_fidelity(left.fidelity, right.fidelity)
            expire = min(left.get_expire_time(), right.get_expire_time())
            self.is_success = True
            messages = [
                EntanglementSwappingMessage(
                    SwappingMsgType.SWAP_RES, name, fidelity=fidelity,
                    remote_node=other.entangled_memory["node_id"],
                    remote_memo=other.entangled_memory["memo_id"],
                    expire_time=expire, meas_res=[],
                )
                for name, other in (
                    (self.left_protocol_name, right),
                    (self.right_protocol_name, left),
                )
            ]
        else:
            messages = [
                EntanglementSwappingMessage(SwappingMsgType.SWAP_RES, name, fidelity=0)
                for name in (self.left_protocol_name, self.right_protocol_name)
            ]
        self.owner.send_message(self.left_node, messages[0])
        self.owner.send_message(self.right_node, messages[1])
        self.update_resource_manager(left, MemoryInfo.RAW)
        self.update_resource_manager(right, MemoryInfo.RAW)

    return start


@contextmanager
def _sequence_protocols(swap_success_probability: float, bsm_lambda: float) -> Iterator[None]:
    """Select the single-heralded generation protocol and the Bell-diagonal swap.

    SeQUeNCe 0.8.5 picks both process-wide (class attributes; its rules pass no swap
    parameters), so they are set for the run and restored afterwards.
    """
    from sequence.constants import BARRET_KOK, SINGLE_HERALDED
    from sequence.entanglement_management.generation import (
        EntanglementGenerationA,
        EntanglementGenerationB,
    )
    from sequence.entanglement_management.swapping import EntanglementSwappingA

    original = EntanglementSwappingA.start
    EntanglementGenerationA.set_global_type(SINGLE_HERALDED)
    EntanglementGenerationB.set_global_type(SINGLE_HERALDED)
    EntanglementSwappingA.start = _bell_diagonal_swap(
        swap_success_probability, bsm_lambda
    )
    try:
        yield
    finally:
        EntanglementSwappingA.start = original
        EntanglementGenerationA.set_global_type(BARRET_KOK)
        EntanglementGenerationB.set_global_type(BARRET_KOK)


class _Recorder:
    """Collects each delivered pair once, at the first end node that learns of it."""

    def __init__(self) -> None:
        self.times_ps: list[int] = []
        self.fidelities: list[float] = []
        self._pending: set[frozenset[int]] = set()

    def delivered(self, timeline: Any, memory: Any) -> None:
        qm = timeline.quantum_manager
        keys = frozenset(qm.states[memory.qstate_key].keys)
        if keys in self._pending:  # the other end already recorded this pair
            self._pending.discard(keys)
            return
        self._pending.add(keys)
        remote = timeline.get_entity_by_name(memory.entangled_memory["memo_id"])
        remote.bds_decohere()
        self.times_ps.append(timeline.now())
        self.fidelities.append(float(memory.get_bds_fidelity()))


def _make_app(node: Any, recorder: _Recorder) -> Any:
    from sequence.app.request_app import RequestApp

    class EndApp(RequestApp):  # type: ignore[misc]
        """RequestApp that reports every end-to-end pair to the recorder before release."""

        def get_memory(self, info: Any) -> None:
            if info.state == "ENTANGLED" and info.index in self.memo_to_reservation:
                reservation = self.memo_to_reservation[info.index]
                if info.remote_node in (reservation.initiator, reservation.responder) and (
                    info.remote_node != self.node.name
                ):
                    recorder.delivered(self.node.timeline, info.memory)
            super().get_memory(info)

    return EndApp(node)


def run_chain(chain: SequenceChain, duration_s: float, seed: int = 0) -> SequenceRun:
    """Simulate ``duration_s`` seconds of one request from r0 to r_n and record its pairs."""
    from sequence.topology.router_net_topo import RouterNetTopo

    config = topology_config(chain, duration_s, seed)
    with tempfile.TemporaryDirectory() as tmp, _sequence_protocols(
        chain.swap_success_probability, chain.bsm_lambda
    ):
        path = Path(tmp) / "chain.json"
        path.write_text(json.dumps(config))
        topo = RouterNetTopo(str(path))
        timeline = topo.get_timeline()
        routers = {r.name: r for r in topo.get_nodes_by_type(RouterNetTopo.QUANTUM_ROUTER)}
        recorder = _Recorder()
        initiator = _make_app(routers[_router(0)], recorder)
        _make_app(routers[_router(chain.n_links)], recorder)
        timeline.init()
        end_ps = _START_PS + int(duration_s * PS_PER_S)
        initiator.start(_router(chain.n_links), _START_PS, end_ps, 1, _TARGET_FIDELITY)
        timeline.run()
    return SequenceRun(
        times_s=tuple((t - _START_PS) / PS_PER_S for t in recorder.times_ps),
        fidelities=tuple(recorder.fidelities),
        duration_s=duration_s,
    )


def mean_interval(values: tuple[float, ...] | list[float], z: float) -> tuple[float, float]:
    """Sample mean and its normal-theory half-width z·s/√n (nan without two samples)."""
    n = len(values)
    if n < 2:
        return (values[0] if n else math.nan), math.nan
    mean = math.fsum(values) / n
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, z * math.sqrt(var / n)
