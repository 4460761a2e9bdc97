"""Per-slice operational state: SLO compliance, suspended guarantees, reserved-idle capacity.

Computed from what the rest of the service layer already knows (the slicing parsed from
running, the committed plan, and the service state machine's measured records), so the
slice view can never disagree with its members' request/state. Pure: the publisher
(controller/service/slice_publish.py) writes it into <operational> and raises the alarms.

Only objectives the controller measures are judged: per-connection and aggregate rate and
minimum fidelity. Latency and availability have no measurement yet and are not listed,
rather than shown as compliant (RFC 9543 §4: an SLO is a measurable target).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from controller.service.service_state import DEGRADED, UP, ServiceRecord
from qnum.plan import Plan
from qnum.slices import Isolation, Slice, Slicing

GUARANTEED_RATE = "guaranteed-rate"
AGGREGATE_RATE = "aggregate-rate"
MIN_FIDELITY = "min-fidelity"


@dataclass(frozen=True)
class SloCompliance:
    """One objective of a slice against its measurement (None: nothing measured yet)."""

    objective: str
    target: float
    measured: float | None = None
    compliant: bool | None = None
    measured_at: str | None = None


@dataclass(frozen=True)
class SliceState:
    name: str
    tenant: str
    slos: tuple[SloCompliance, ...] = ()
    suspended: str | None = None      # why its guarantees are suspended, None if in force
    #: node → (reserved, idle) memory qubits; link → (reserved, idle) time share
    idle_qubits: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    idle_share: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def violated(self) -> bool:
        """A guarantee is not met: measured below target, or suspended."""
        return self.suspended is not None or any(s.compliant is False for s in self.slos)

    def violation_text(self) -> str:
        parts = [f"{s.objective} {s.measured:.6g} below {s.target:.6g}"
                 for s in self.slos if s.compliant is False and s.measured is not None]
        if self.suspended is not None:
            parts.append(f"guarantees suspended: {self.suspended}")
        return f"slice {self.name} misses its SLA: " + "; ".join(parts)


def slice_states(slicing: Slicing, plan: Plan | None, records: Mapping[str, ServiceRecord],
                 *, suspended: Mapping[str, str] | None = None,
                 rate_tolerance: float = 0.0) -> list[SliceState]:
    """The state of every slice. `rate_tolerance` is service assurance's: a rate within
    that fraction under its objective is measurement noise, not a violation."""
    suspended = suspended or {}
    return [SliceState(name=sl.name, tenant=sl.tenant,
                       slos=_compliance(sl, records, rate_tolerance),
                       suspended=suspended.get(sl.name),
                       idle_qubits=_idle_qubits(sl, plan),
                       idle_share=_idle_share(sl, plan))
            for sl in slicing.slices]


def _judged(record: ServiceRecord) -> bool:
    """Whether a member's measurement counts: once it is up or degraded. While it is
    provisioning or stabilising a shortfall is convergence, not a violation (the service
    state machine's rule), so the slice does not alarm on every re-configuration."""
    return record.admitted and record.state in (UP, DEGRADED) and not record.stale


def _compliance(sl: Slice, records: Mapping[str, ServiceRecord],
                tolerance: float) -> tuple[SloCompliance, ...]:
    members = [records[n] for n in sl.requests if n in records]
    judged = [r for r in members if _judged(r)]
    measured = [r for r in judged if r.rate is not None]
    stamps = [r.last_updated for r in judged if r.last_updated is not None]
    at = max(stamps) if stamps else None
    out: list[SloCompliance] = []
    slo = sl.slo
    if slo.guaranteed_rate_hz is not None:
        # Every member is guaranteed the rate: one the plan does not admit delivers
        # nothing (one still converging is not judged yet).
        rates = [r.rate for r in measured if r.rate is not None]
        rates += [0.0 for r in members if not r.admitted]
        out.append(_judge(GUARANTEED_RATE, slo.guaranteed_rate_hz,
                          min(rates) if measured else None, at, tolerance))
    if slo.aggregate_rate_hz is not None:
        total = sum(r.rate for r in measured if r.rate is not None)
        out.append(_judge(AGGREGATE_RATE, slo.aggregate_rate_hz,
                          total if measured else None, at, tolerance))
    if slo.min_fidelity is not None:
        fids = [r.fidelity for r in judged if r.fidelity is not None]
        out.append(_judge(MIN_FIDELITY, slo.min_fidelity, min(fids) if fids else None, at,
                          0.0))
    return tuple(out)


def _judge(objective: str, target: float, measured: float | None, at: str | None,
           tolerance: float) -> SloCompliance:
    if measured is None:
        return SloCompliance(objective, target)
    return SloCompliance(objective, target, measured,
                         measured >= target * (1.0 - tolerance) - 1e-12, at)


def _used(sl: Slice, plan: Plan | None) -> tuple[dict[str, float], dict[str, float]]:
    """Memory qubits per node and time share per link (TDMA frame) the slice's admitted
    members use."""
    memory: dict[str, float] = {}
    share: dict[str, float] = {}
    if plan is None:
        return memory, share
    members = set(sl.requests)
    for a in plan.admitted:
        if a.request.name not in members or a.candidate is None:
            continue
        for kind, amounts in a.candidate.resource_use:
            if kind == "memory":
                for node, amount in amounts.items():
                    memory[node] = memory.get(node, 0.0) + float(amount)
        # A link's time share is its TDMA frame's (see qnum.candidates); a link in
        # a transparent island shares the island's frame and is not split per link here.
        for frame, count in a.candidate.frames.items():
            share[frame] = share.get(frame, 0.0) + count * a.share
    return memory, share


def _idle_qubits(sl: Slice, plan: Plan | None) -> dict[str, tuple[int, int]]:
    if sl.isolation is not Isolation.DEDICATED:
        return {}
    memory, _ = _used(sl, plan)
    return {node: (q, max(0, q - round(memory.get(node, 0.0))))
            for node, q in sorted(sl.reserved_memory.items())}


def _idle_share(sl: Slice, plan: Plan | None) -> dict[str, tuple[float, float]]:
    if sl.isolation is not Isolation.DEDICATED:
        return {}
    _, share = _used(sl, plan)
    return {link: (s, max(0.0, s - share.get(link, 0.0)))
            for link, s in sorted(sl.reserved_share.items())}
