"""Network slices: the tenant-facing model the Q-NUM optimiser shares with the controller.

A slice groups requests of one tenant under common entanglement SLOs, a priority and a
weight, an isolation mode and quotas (the shape follows the IETF network slice service
model, RFC 9543 §3/§4, adapted to entanglement distribution).  These are pure data:
the controller parses ``/slicing`` into them and the optimiser reads them; neither side
needs the other's code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Isolation(StrEnum):
    """How a slice shares the network with others.

    DEDICATED: the slice's reserved node memory and link time shares are its own;
    no other slice may use them (unless the slice allows borrowing of idle capacity).
    SHARED: the slice competes with every other slice for the unreserved capacity.
    """

    DEDICATED = "dedicated"
    SHARED = "shared"


class SliceObjective(StrEnum):
    """How the optimiser trades slices off against each other."""

    WEIGHTED_SUM = "weighted-sum"
    PROPORTIONAL_FAIRNESS = "proportional-fairness"


@dataclass(frozen=True)
class SliceSlo:
    """Entanglement service-level objectives of a slice; ``None`` means no objective."""

    guaranteed_rate_hz: float | None = None  # per connection (each admitted request)
    aggregate_rate_hz: float | None = None  # sum over the slice's requests
    min_fidelity: float | None = None
    max_latency_s: float | None = None
    availability: float | None = None  # target fraction 0..1 (measured, not solved)


@dataclass(frozen=True)
class Slice:
    """One tenant's slice: SLOs, isolation, reservations, quotas and member requests."""

    name: str
    tenant: str
    priority: int = 0
    weight: float = 1.0
    slo: SliceSlo = SliceSlo()
    isolation: Isolation = Isolation.SHARED
    reserved_memory: Mapping[str, int] = field(default_factory=dict)  # node-id -> qubits
    reserved_share: Mapping[str, float] = field(default_factory=dict)  # link-id -> 0..1 time share
    borrowing: bool = False
    max_requests: int | None = None  # quota
    max_rate_hz: float | None = None  # quota: sum of demanded rates
    requests: tuple[str, ...] = ()  # names of member requests


@dataclass(frozen=True)
class Slicing:
    """All slices and the objective that arbitrates between them."""

    slices: tuple[Slice, ...] = ()
    objective: SliceObjective = SliceObjective.WEIGHTED_SUM

    def slice_of(self, request: str) -> Slice | None:
        """The slice ``request`` belongs to, or ``None`` if it is in none."""
        for member in self.slices:
            if request in member.requests:
                return member
        return None
