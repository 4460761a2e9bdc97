"""A slice-aware starting plan: every guarantee placed first, then the rest greedily.

On a large sliced problem the MILP's hard part is finding *any* plan that keeps every
guarantee (all members of a guaranteed slice admitted at their rate, dedicated
reservations closed to outsiders); with none, a time-limited solve can end with nothing
admitted.  This allocator builds one in milliseconds, with the same resource rows as
:mod:`qnum.slicing` (a dedicated, non-borrowing slice's use of a resource counts as at
least its reservation, and only its members may use the reservation):

1. members of slices with a per-connection guarantee, the hardest first (fewest
   eligible configurations), each with exactly the time share its guarantee needs;
2. members of slices with an aggregate rate, best rate first, each with the share the
   rest of the aggregate needs, until the aggregate holds;
3. every other request in admission order (priority, weight) at its share floor.

Each request goes on the eligible configuration (slice fidelity/latency objectives) that
needs the least time share, after its higher-priority competitors (the priority rule),
within its slice's quotas.  Shares are kept small on purpose: the plan only has to be
feasible, so it admits as much as it can and leaves growing the shares to the MILP.

It is a heuristic: it may fail to place a guarantee the MILP could place (then the plan
breaks a slice rule and the solver does not use it).  The solver, not this module,
decides what is admitted; the plan is only a hint.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from qnum.baselines import admission_order
from qnum.candidates import Candidate
from qnum.io import Request
from qnum.plan import Assignment, Plan, Problem
from qnum.slices import Slice, Slicing
from qnum.slicing import Resource, capacity, eligible, guarantees, reservations, uses

#: Slack on capacity rows (float sums of shares).
_EPS = 1e-9
#: Share given to a request with no rate to meet when its floor is 0 (admitted at all).
_MIN_SHARE = 1e-3


@dataclass
class _Pool:
    """What is used of each resource row, by requests outside a blocking reservation
    (``free``) and by each blocking slice's members (``held``)."""

    problem: Problem
    blocking: dict[Resource, dict[str, float]]
    free: dict[Resource, float] = field(default_factory=dict)
    held: dict[tuple[str, Resource], float] = field(default_factory=dict)

    def _others(self, res: Resource, own: str | None) -> float:
        """Use of the row by everyone but ``own``'s blocking reservation."""
        total = self.free.get(res, 0.0)
        for name, reserved in self.blocking.get(res, {}).items():
            if name != own:
                total += max(self.held.get((name, res), 0.0), reserved)
        return total

    def _blocks(self, sl: Slice | None, res: Resource) -> bool:
        return sl is not None and sl.name in self.blocking.get(res, {})

    def share_left(self, sl: Slice | None, cand: Candidate) -> float:
        """Largest share the candidate can get on all its frames, and 0 when one of its
        per-configuration rows (memory, channels, ports) has no room."""
        best = 1.0
        for res, amount, by_share in uses(cand):
            own = sl.name if sl is not None and self._blocks(sl, res) else None
            mine = self.held.get((own, res), 0.0) if own is not None else 0.0
            room = capacity(self.problem, res) - self._others(res, own) - mine
            if by_share:
                best = min(best, room / amount)
            elif amount > room + _EPS:
                return 0.0
        return max(best, 0.0)

    def take(self, sl: Slice | None, cand: Candidate, share: float) -> None:
        for res, amount, by_share in uses(cand):
            used = amount * (share if by_share else 1.0)
            if sl is not None and self._blocks(sl, res):
                key = (sl.name, res)
                self.held[key] = self.held.get(key, 0.0) + used
            else:
                self.free[res] = self.free.get(res, 0.0) + used


def guarantee_first(problem: Problem, slicing: Slicing) -> Plan:
    """The starting plan described in the module docstring."""
    blocking: dict[Resource, dict[str, float]] = {}
    for r in reservations(problem, slicing):
        if not r.borrowing:
            blocking.setdefault(r.resource, {})[r.slice] = r.amount
    pool = _Pool(problem, blocking)
    done: dict[str, Assignment] = {}
    guaranteed = guarantees(problem, slicing)
    by_name = {r.name: r for r in problem.requests}

    def options(req: Request) -> list[Candidate]:
        sl = slicing.slice_of(req.name)
        return [c for c in problem.options(req.name) if eligible(sl, c)]

    def within_quota(req: Request) -> bool:
        sl = slicing.slice_of(req.name)
        if sl is None:
            return True
        admitted = [done[m] for m in sl.requests if m in done and done[m].admitted]
        if sl.max_requests is not None and len(admitted) + 1 > sl.max_requests:
            return False
        demand = sum(a.request.demanded_rate_hz for a in admitted) + req.demanded_rate_hz
        return sl.max_rate_hz is None or demand <= sl.max_rate_hz * (1 + _EPS)

    def place(req: Request, want_hz: float) -> None:
        """Admit ``req`` on the eligible configuration needing the least time share for
        ``want_hz`` (at least its share floor), with exactly that share."""
        sl = slicing.slice_of(req.name)
        fitting: list[tuple[float, float, Candidate, float]] = []
        if within_quota(req):
            for cand in options(req):
                want = min(want_hz, req.demanded_rate_hz) / cand.rate_per_share_hz
                share = max(cand.min_share, want, _MIN_SHARE)
                if share <= min(1.0, pool.share_left(sl, cand)) + _EPS:
                    fitting.append((share * sum(cand.frames.values()), -cand.quality,
                                    cand, share))
        if not fitting:
            done[req.name] = Assignment(req, reason="no capacity left for any of its "
                                                    "configurations within its slice")
            return
        _, _, cand, share = min(fitting, key=lambda item: item[:2])
        pool.take(sl, cand, share)
        done[req.name] = Assignment(req, cand, share)

    for name in sorted(guaranteed, key=lambda n: (len(options(by_name[n])), n)):
        place(by_name[name], guaranteed[name])
    competitors: dict[str, list[str]] = {}
    rank = {r.name: i for i, r in enumerate(admission_order(problem))}
    for hi, lo in problem.priority_pairs:
        competitors.setdefault(lo, []).append(hi)

    def admit(req: Request, want_hz: float = 0.0) -> None:
        """Place ``req`` after its higher-priority competitors (the priority rule: a
        lower priority is admitted only if each competitor above it is)."""
        for hi in sorted(competitors.get(req.name, []), key=rank.__getitem__):
            if hi not in done:
                admit(by_name[hi])
        blocked = [hi for hi in competitors.get(req.name, []) if not done[hi].admitted]
        if blocked or not problem.options(req.name):
            reason = problem.candidates[req.name].reason or (
                f"pre-empted: higher-priority competitor {blocked[0]} rejected")
            done[req.name] = Assignment(req, reason=reason)
        else:
            place(req, want_hz)

    for sl in slicing.slices:
        target = sl.slo.aggregate_rate_hz
        if target is None:
            continue
        members = [by_name[m] for m in sl.requests if m in by_name and m not in done]
        members.sort(key=lambda r: -max((c.rate_per_share_hz for c in options(r)), default=0))
        for req in members:
            if _rate(done.values(), sl) >= target:
                break
            if req.name not in done:
                admit(req, target - _rate(done.values(), sl))
    for req in admission_order(problem):
        if req.name not in done:
            admit(req)
    _drop_priority_breaches(done, competitors, set(guaranteed))
    return Plan.from_assignments("slice-greedy", (done[r.name] for r in problem.requests))


def _drop_priority_breaches(done: dict[str, Assignment], competitors: dict[str, list[str]],
                            exempt: set[str]) -> None:
    """Reject every admitted request (a guaranteed member excepted) whose higher-priority
    competitor is rejected: an aggregate's member placed early can outrank a request that
    later found no room.  Rejecting frees capacity but breaks no other rule."""
    changed = True
    while changed:
        changed = False
        for lo, his in competitors.items():
            if lo in exempt or not done[lo].admitted:
                continue
            loser = next((hi for hi in his if not done[hi].admitted), None)
            if loser is not None:
                done[lo] = Assignment(done[lo].request, reason=(
                    f"pre-empted: higher-priority competitor {loser} rejected"))
                changed = True


def _rate(assignments: Iterable[Assignment], sl: Slice) -> float:
    members = set(sl.requests)
    return sum(a.rate_hz for a in assignments if a.admitted and a.request.name in members)
