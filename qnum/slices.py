"""Network slices: tenants' shares of the quantum network and their service objectives.

The vocabulary follows the IETF network slice service (RFC 9543 §4: a slice is a set of
connectivity constructs with service level objectives, SLOs, and expectations, SLEs); here
a construct is one entanglement request.  This module only holds the data; the optimiser
turns it into constraints (qnum.slicing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Isolation(StrEnum):
    DEDICATED = "dedicated"
    SHARED = "shared"


class SliceObjective(StrEnum):
    WEIGHTED_SUM = "weighted-sum"
    PROPORTIONAL_FAIRNESS = "proportional-fairness"


@dataclass(frozen=True)
class SliceSlo:
    guaranteed_rate_hz: float | None = None        # per connection (each admitted request)
    aggregate_rate_hz: float | None = None         # sum over the slice's requests
    min_fidelity: float | None = None
    max_latency_s: float | None = None
    availability: float | None = None              # target fraction 0..1 (measured, not solved)


@dataclass(frozen=True)
class Slice:
    name: str
    tenant: str
    priority: int = 0
    weight: float = 1.0
    slo: SliceSlo = SliceSlo()
    isolation: Isolation = Isolation.SHARED
    reserved_memory: Mapping[str, int] = field(default_factory=dict)     # node-id -> qubits
    reserved_share: Mapping[str, float] = field(default_factory=dict)  # link-id -> 0..1 time share
    borrowing: bool = False
    max_requests: int | None = None                 # quota
    max_rate_hz: float | None = None                # quota: sum of demanded rates
    requests: tuple[str, ...] = ()                  # names of member requests


@dataclass(frozen=True)
class Slicing:
    slices: tuple[Slice, ...] = ()
    objective: SliceObjective = SliceObjective.WEIGHTED_SUM

    def slice_of(self, request: str) -> Slice | None:
        for sl in self.slices:
            if request in sl.requests:
                return sl
        return None
