"""The result of one Q-NUM decision: per-request assignments plus how good the solve was.

The optimiser and every baseline return this same :class:`Plan`, so utilities are compared
on identical terms.  An assignment's rate and fidelity are the candidate's *guaranteed*
operating point (see :mod:`qnum.candidates`: fidelity evaluated at the candidate's share
floor, rate per unit share times the granted share, capped at the demand).

:meth:`Plan.to_json` renders RFC 7951-style JSON: decimal64 values as strings (RFC 7951
§6.1), leaf names taken from the request ``state`` container of ``sdqn-services`` so the
controller can copy them into operational state.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

from qnum.candidates import (
    Candidate,
    CandidateOptions,
    RequestCandidates,
    build_graph,
    generate_candidates,
    request_candidates,
    transparent_islands,
)
from qnum.io import Network, Request, SwitchingMode

#: Numerical slack when checking a plan against its capacities (solver tolerances).
CAPACITY_TOL = 1e-6
#: Why an idle request (``Problem.build``) has no candidates for now.
IDLE = "kept rejected while the failure is handled; no configuration avoids it yet"


class SolveStatus(StrEnum):
    """Mirrors ``sdqn-controller`` ``last-solve/status``."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    TIME_LIMIT = "time-limit"
    ERROR = "error"


@dataclass(frozen=True)
class Assignment:
    """What one request gets: a candidate and a share, or a rejection with its reason."""

    request: Request
    candidate: Candidate | None = None
    share: float = 0.0
    reason: str | None = None

    @property
    def admitted(self) -> bool:
        return self.candidate is not None and self.share > 0.0

    @property
    def rate_hz(self) -> float:
        """Delivered rate r_c·s capped at the demand (the solver's linear rate model)."""
        if self.candidate is None:
            return 0.0
        return min(self.candidate.rate_per_share_hz * self.share, self.request.demanded_rate_hz)

    @property
    def fidelity(self) -> float:
        return self.candidate.fidelity if self.candidate is not None else math.nan

    @property
    def utility(self) -> float:
        """U = R·q(F) at the assigned operating point (0 when rejected)."""
        return self.rate_hz * self.candidate.quality if self.candidate is not None else 0.0

    @property
    def weighted_utility(self) -> float:
        return self.request.weight * self.utility


@dataclass
class Plan:
    """Assignments for every request, in request order, plus solve metadata."""

    method: str
    assignments: dict[str, Assignment]
    status: SolveStatus = SolveStatus.FEASIBLE
    objective: float = math.nan
    bound: float = math.nan
    solve_time_s: float = 0.0
    objective_kind: str = "sum"
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_assignments(cls, method: str, assignments: Iterable[Assignment]) -> Plan:
        return cls(method=method, assignments={a.request.name: a for a in assignments})

    @property
    def total_utility(self) -> float:
        """Σ_j w_j U_j: the sum objective, whatever objective the plan was solved for."""
        return math.fsum(a.weighted_utility for a in self.assignments.values())

    @property
    def gap(self) -> float:
        """Relative gap |bound − objective| / max(|objective|, tiny); NaN without a bound."""
        if math.isnan(self.bound) or math.isnan(self.objective):
            return math.nan
        return abs(self.bound - self.objective) / max(abs(self.objective), 1e-12)

    @property
    def admitted(self) -> list[Assignment]:
        return [a for a in self.assignments.values() if a.admitted]

    def link_load(self) -> dict[str, float]:
        """Σ of granted shares per fibre."""
        return _sum_usage((a.candidate.links, a.share) for a in self.admitted if a.candidate)

    def frame_load(self) -> dict[str, float]:
        """Σ count·share per TDMA frame (fibre or transparent island; ≤ 1 when valid)."""
        out: dict[str, float] = {}
        for a in self.admitted:
            assert a.candidate is not None
            for frame, count in a.candidate.frames.items():
                out[frame] = out.get(frame, 0.0) + count * a.share
        return out

    def memory_use(self) -> dict[str, float]:
        """Qubits reserved per memory node."""
        return _sum_mapping(a.candidate.memory for a in self.admitted if a.candidate)

    def roadm_channels(self) -> dict[str, float]:
        """Wavelength channels used per circuit-switched q-ROADM."""
        return _sum_mapping(a.candidate.roadm_channels for a in self.admitted if a.candidate)

    def island_channels(self) -> dict[str, float]:
        """Lightpaths per transparent island (each needs its own channel on the island)."""
        return _sum_mapping(a.candidate.island_channels for a in self.admitted if a.candidate)

    def add_drop_ports(self) -> dict[str, float]:
        return _sum_mapping(a.candidate.add_drop_ports for a in self.admitted if a.candidate)

    def to_json(self) -> dict[str, Any]:
        """RFC 7951-style rendering (decimal64 as strings, uint as numbers)."""
        return {
            "sdqn-qnum:plan": {
                "method": self.method,
                "objective-kind": self.objective_kind,
                "status": self.status.value,
                "objective": _dec(self.objective),
                "bound": _dec(self.bound),
                "gap": _dec(self.gap),
                "solve-time": _dec(self.solve_time_s),
                "total-utility": _dec(self.total_utility),
                "admitted": len(self.admitted),
                "rejected": len(self.assignments) - len(self.admitted),
                "request": [_assignment_json(a) for a in self.assignments.values()],
            }
        }


def _assignment_json(a: Assignment) -> dict[str, Any]:
    out: dict[str, Any] = {"name": a.request.name}
    if not a.admitted or a.candidate is None:
        out["admission"] = "rejected"
        out["rejection-reason"] = a.reason or "not admitted"
        return out
    c = a.candidate
    out.update(
        {
            "admission": "admitted",
            "path": list(c.route.nodes),
            "purification-rounds": c.purification_rounds,
            "purification-protocol": c.protocol,
            "link-purification-rounds": c.link_purification_rounds,
            "share": _dec(a.share),
            "share-floor": _dec(c.min_share),
            "cutoff": _dec(c.cutoff_s),
            "predicted-rate": _dec(a.rate_hz),
            "predicted-fidelity": _dec(c.fidelity),
            "utility": _dec(a.utility),
        }
    )
    return out


def _dec(value: float | None) -> str | None:
    """decimal64 as a JSON string; NaN/None (no value) become null."""
    if value is None or math.isnan(value):
        return None
    if math.isinf(value):
        return "inf"
    return f"{value:.6g}"


def _sum_usage(items: Iterable[tuple[Iterable[str], float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for keys, amount in items:
        for key in keys:
            out[key] = out.get(key, 0.0) + amount
    return out


def _sum_mapping(items: Iterable[Mapping[str, int]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for mapping in items:
        for key, amount in mapping.items():
            out[key] = out.get(key, 0.0) + amount
    return out


@dataclass(frozen=True)
class Problem:
    """One Q-NUM instance: the network, the requests and their candidate sets."""

    network: Network
    requests: tuple[Request, ...]
    candidates: Mapping[str, RequestCandidates]
    #: The declared configuration space the candidates were generated from; column
    #: generation prices over it when a request's set does not cover it.
    space: CandidateOptions | None = None
    #: Priority pairs given rather than derived from the candidates: a problem restricted
    #: to some of another's candidates (qnum.neighbourhood) keeps the full problem's rule.
    pairs: tuple[tuple[str, str], ...] | None = None

    @classmethod
    def build(
        cls,
        network: Network,
        requests: Iterable[Request],
        options: CandidateOptions | None = None,
        *,
        previous: Problem | None = None,
        recompute: Collection[str] = (),
        retain: Mapping[str, Candidate] | None = None,
        idle: Collection[str] = (),
        quick: CandidateOptions | None = None,
    ) -> Problem:
        """Candidates for every request; with ``previous``, reused where still exact.

        Candidate generation dominates a re-solve on a large network (k-shortest paths
        and chain evaluation per request). When the network only lost fibres or nodes
        since ``previous`` (every remaining link and node unchanged), an unchanged
        request's old candidates that avoid what was lost are still exactly evaluated,
        so they are reused; requests named in ``recompute`` (those a failure hit, which
        need routes around it) and any left without a candidate are generated afresh.

        ``retain`` (request → the candidate it runs on) keeps a running service's
        candidate among its options whenever its route is intact, even when fresh
        generation would not list it (k-shortest sets change when links go), so a
        service a change did not hit can always stay where it is.

        ``idle`` requests will not be placed by the coming solve (self-healing keeps them
        rejected): their old candidates that avoid what was lost are reused even when
        none is left, rather than generating new ones nobody uses now.

        ``quick`` (self-healing) lists the candidates of a reused problem's requests that
        must be generated afresh with these search limits instead, typically a route
        limit small enough that the set comes from k shortest paths: a hit service is
        re-placed in a fraction of the time, its set marked incomplete when it does not
        cover the space (so a later full solve prices the rest by column generation).
        """
        reqs = tuple(requests)
        options = options or CandidateOptions()
        reusable = (previous is not None and previous.space == options
                    and _shrunk_from(previous.network, network))
        if not reusable or previous is None:
            fresh = generate_candidates(network, reqs, options)
            return cls(network, reqs, _retained(network, fresh, retain or {}), options)
        graph = build_graph(network)
        out: dict[str, RequestCandidates] = {}
        for req in reqs:
            old = previous.candidates.get(req.name)
            if old is not None and old.request == req and req.name not in recompute:
                kept = tuple(c for c in old.candidates
                             if all(lid in network.links for lid in c.route.links))
                if kept or req.name in idle:  # a shrunk network's routes are a subset:
                    out[req.name] = RequestCandidates(  # completeness carries over
                        req, kept, None if kept else IDLE, complete=old.complete)
                    continue
            out[req.name] = request_candidates(network, graph, req, quick or options)
        return cls(network, reqs, _retained(network, out, retain or {}), options)

    def options(self, name: str) -> tuple[Candidate, ...]:
        return self.candidates[name].candidates

    @property
    def covers_space(self) -> bool:
        """Every request's candidates cover its declared space (so an optimum over the
        candidates is an optimum over the space)."""
        return all(self.candidates[r.name].complete for r in self.requests)

    def frame_capacity(self, frame: str) -> float:
        """Share of a TDMA frame (fibre or transparent island) the requests may use."""
        return 1.0

    def capacity(self, kind: str, key: str) -> float:
        """Capacity of one resource row other than a TDMA frame (``Candidate.resource_use``
        kinds: "memory", "channels", "ports")."""
        by_kind = {"memory": self.memory_capacity, "channels": self.channel_capacity,
                   "ports": self.port_capacity}
        return by_kind[kind](key)

    def memory_capacity(self, node: str) -> int:
        return self.network.nodes[node].memory_qubits

    @cached_property
    def _island_members(self) -> dict[str, list[str]]:
        members: dict[str, list[str]] = {}
        for node, island in transparent_islands(self.network).items():
            members.setdefault(island, []).append(node)
        return members

    def channel_capacity(self, island: str) -> int:
        """Channels every lightpath of the island can get: the island's smallest q-ROADM."""
        sizes = [
            roadm.wavelength_channels
            for n in self._island_members.get(island, [])
            if (roadm := self.network.nodes[n].roadm) is not None
            and roadm.switching_mode is SwitchingMode.CIRCUIT
        ]
        return min(sizes, default=0)

    def port_capacity(self, node: str) -> int:
        roadm = self.network.nodes[node].roadm
        return roadm.add_drop_ports if roadm is not None else 0

    def resources(self, name: str) -> set[str]:
        """Every fibre, memory node and q-ROADM any candidate of ``name`` could use."""
        out: set[str] = set()
        for cand in self.options(name):
            out.update(f"frame:{f}" for f in cand.frames)
            out.update(f"node:{n}" for n in cand.memory)
            out.update(f"node:{n}" for n in cand.roadm_channels)
        return out

    @cached_property
    def priority_pairs(self) -> list[tuple[str, str]]:
        """(higher, lower) priority requests that compete for a resource.

        The ``priority`` leaf says lower priorities are rejected first; we enforce it as
        "a lower-priority request is admitted only if every higher-priority request it
        competes with is admitted" (requests without any candidate are exempt).
        """
        if self.pairs is not None:
            return list(self.pairs)
        live = [r for r in self.requests if self.options(r.name)]
        res = {r.name: self.resources(r.name) for r in live}
        return [
            (hi.name, lo.name)
            for hi in live
            for lo in live
            if hi.priority > lo.priority and not res[hi.name].isdisjoint(res[lo.name])
        ]


def violations(problem: Problem, plan: Plan, tol: float = CAPACITY_TOL,
               exempt: Collection[str] = ()) -> list[str]:
    """Every constraint the plan breaks (empty for a valid plan).  ``exempt`` requests are
    not held to the priority rule (a slice's guaranteed members, qnum.slicing)."""
    out: list[str] = []
    for a in plan.admitted:
        cand = a.candidate
        assert cand is not None
        if cand not in problem.options(a.request.name):
            out.append(f"{a.request.name}: candidate not in its candidate set")
        if not cand.min_share - tol <= a.share <= 1.0 + tol:
            out.append(f"{a.request.name}: share {a.share} outside [{cand.min_share}, 1]")
    checks = (
        (plan.frame_load(), problem.frame_capacity, "frame {} carries share {:.6g} > {}"),
        (plan.memory_use(), problem.memory_capacity, "node {} uses {:g} qubits > {}"),
        (plan.island_channels(), problem.channel_capacity, "{} uses {:g} channels > {}"),
        (plan.add_drop_ports(), problem.port_capacity, "q-ROADM {} uses {:g} ports > {}"),
    )
    for usage, capacity, message in checks:
        out.extend(
            message.format(key, used, capacity(key))
            for key, used in usage.items()
            if used > capacity(key) + tol
        )
    admitted = {a.request.name for a in plan.admitted}
    out.extend(
        f"{lo} admitted while higher-priority competitor {hi} is rejected"
        for hi, lo in problem.priority_pairs
        if lo in admitted and hi not in admitted and lo not in exempt
    )
    return out


def _shrunk_from(before: Network, after: Network) -> bool:
    """``after`` is ``before`` minus some links (every remaining part unchanged)."""
    if not (after.network_id == before.network_id
            and dict(after.nodes) == dict(before.nodes)
            and all(before.links.get(lid) == link for lid, link in after.links.items())):
        return False
    # Candidates name the transparent island their lightpath uses: it must not change.
    roadms = {n for n, node in after.nodes.items() if node.roadm is not None}
    old, new = transparent_islands(before), transparent_islands(after)
    return all(old.get(n) == new.get(n) for n in roadms)


def _retained(network: Network, found: Mapping[str, RequestCandidates],
              retain: Mapping[str, Candidate]) -> dict[str, RequestCandidates]:
    """``found`` plus each retained candidate whose route, nodes and transparent islands
    are all unchanged in ``network`` (so its evaluation is still exact)."""
    out = dict(found)
    islands = set(transparent_islands(network).values())
    for name, cand in retain.items():
        rc = out.get(name)
        if rc is None or any(c.key == cand.key for c in rc.candidates):
            continue
        if not all(lid in network.links for lid in cand.route.links):
            continue
        if not set(cand.island_channels) <= islands:
            continue
        out[name] = RequestCandidates(rc.request, (*rc.candidates, cand), complete=rc.complete)
    return out
