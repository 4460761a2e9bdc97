"""What a self-healing or revertive round may change: the services it moves, nothing else.

`keep` pins every service a failure did not hit to its candidate and share, so their
repeater flows, end-node endpoints and q-ROADM cross-connects (port numbers included) render
as before. Some settings are shared between the services using an element, though, and
rendered from all of them (controller/service/render.py): a repeater's generation entry
(its registers are the sum of the flows', its attempt rate the slowest route's), an end
node's source (the fastest pair rate), an APC's tracking tolerance (the tightest budget,
`misalignment_budget`). A service leaving or joining such an element would re-tune it
under every other service relying on it. A round therefore

* restores, on each shared element that only kept services use after the round, exactly
  its committed setting: they ran with it, and it was derived from them plus the services
  that left (more registers, a slower attempt rate, a faster pair rate, a tighter
  tolerance than they need — never less); the next operator commit renders it from
  scratch;
* prefers, for each service it places, candidates that leave the tolerance of every APC
  serving a kept service as it is (only when none is left may one tighten it: serving
  the re-routed service matters more than an untouched threshold).

What still changes a kept service's part is split in two. A generation entry it shares
with a service the round re-routed, dropped or pre-empted (that service joined or left
the entry, so its registers — the sum of its flows' — change) is resized: the kept
service's flow is the same, and the entry changes by exactly the departed or arrived
share; it is logged at info level and reported (`resized`). Anything else is logged as
a warning and reported (`touched`): a kept service whose own part changed.

A revertive round (the hold-off after a repair expired) goes further: it puts the
reverting service back on its pre-failure candidate and share, and refuses — with a
reason naming the service and the resource, nothing changed — when that is no longer
possible (the request or its path changed, capacity on it was taken) or would change any
other service's part of any device's configuration.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR
from typing import Any

import structlog

from controller.errors import ErrorTag, NetconfError, RpcError
from controller.service.render import dec, misalignment_budget, service_parts
from qnum.candidates import Candidate, RequestCandidates, transparent_islands
from qnum.io import Network, Request
from qnum.plan import Assignment, Plan, Problem, violations

log = structlog.get_logger(__name__)

APC = "sdqn-apc:apc"
REPEATER = "sdqn-repeater:repeater"
END_NODE = "sdqn-end-node:end-node"
TOLERANCE = "tracking-tolerance"
Json = dict[str, Any]


@dataclass(frozen=True)
class Original:
    """Where a service ran before the failure that moved it: its assignment and the
    network it was evaluated on (a changed fibre or node makes the evaluation stale)."""

    assignment: Assignment
    network: Network

    @property
    def path(self) -> tuple[str, ...]:
        cand = self.assignment.candidate
        return tuple(cand.route.nodes) if cand is not None else ()


@dataclass
class HealScope:
    """The expander's `Scope` for one self-healing or revertive round."""

    committed: Mapping[str, str]                      # node → committed device document
    revert: Mapping[str, Original] = field(default_factory=dict)
    kept: frozenset[str] = frozenset()                # filled by before_solve
    #: 'service on device' for each kept service whose part the round changed anyway
    touched: list[str] = field(default_factory=list)
    #: 'device link-id: leaf old→new (with the moved services)': generation entries a
    #: kept service shares with services the round moved, dropped or pre-empted
    resized: list[str] = field(default_factory=list)
    _pinned: Plan | None = None

    # -- before the solve ------------------------------------------------------------------
    def before_solve(self, problem: Problem, previous: Plan | None, keep: frozenset[str]
                     ) -> tuple[Problem, Plan | None, frozenset[str]]:
        self.kept = keep
        if previous is None:
            return problem, previous, keep
        if self.revert:
            return self._pin_back(problem, previous, keep)
        return self._gentle(problem, previous, keep), previous, keep

    def _gentle(self, problem: Problem, previous: Plan, keep: frozenset[str]) -> Problem:
        """Each free request's candidates that leave the shared APCs as they are, when it
        has any (otherwise all of them)."""
        shared = self._shared_tolerances(problem.network, previous, keep)
        if not shared:
            return problem
        narrowed = dict(problem.candidates)
        for req in problem.requests:
            rc = problem.candidates.get(req.name)
            if req.name in keep or rc is None:
                continue
            fits = tuple(c for c in rc.candidates
                         if not retuned(problem.network, req, c, shared))
            if fits and len(fits) < len(rc.candidates):
                narrowed[req.name] = RequestCandidates(rc.request, fits, rc.reason)
                log.debug("self-healing keeps shared APCs as they are", request=req.name,
                          candidates=len(fits), of=len(rc.candidates))
        return Problem(problem.network, problem.requests, narrowed)

    def _pin_back(self, problem: Problem, previous: Plan, keep: frozenset[str]
                  ) -> tuple[Problem, Plan, frozenset[str]]:
        """The problem with each reverting request's original candidate among its options,
        and `previous` with it assigned there (so `keep` pins it); refused when that is
        not possible as things are now."""
        requests = {r.name: r for r in problem.requests}
        candidates = dict(problem.candidates)
        assignments = dict(previous.assignments)
        islands = set(transparent_islands(problem.network).values())
        shared = self._shared_tolerances(problem.network, previous, keep)
        for name, original in sorted(self.revert.items()):
            cand, req = original.assignment.candidate, requests.get(name)
            if cand is None or req is None:
                raise refused(f"{name}: withdrawn since the failure")
            if req != original.assignment.request:
                raise refused(f"{name}: its request changed since the failure")
            changed = changed_elements(original.network, problem.network, cand)
            if changed:
                raise refused(f"{name}: its original path changed or is unusable: "
                              f"{', '.join(changed)}")
            if not set(cand.island_channels) <= islands:
                raise refused(f"{name}: the transparent island of its original path "
                              "changed")
            apcs = retuned(problem.network, req, cand, shared)
            if apcs:
                raise refused(f"{name}: its original path would tighten the tracking "
                              f"tolerance of {', '.join(apcs)}, which other services use")
            rc = candidates[name]
            if all(c.key != cand.key for c in rc.candidates):
                candidates[name] = RequestCandidates(rc.request, (*rc.candidates, cand),
                                                     rc.reason)
            assignments[name] = Assignment(req, cand, original.assignment.share)
        widened = Problem(problem.network, problem.requests, candidates)
        pinned = Plan(method=previous.method, assignments=assignments)
        known = set(violations(widened, previous))
        taken = [v for v in violations(widened, pinned) if v not in known]
        if taken:
            raise refused(f"{', '.join(sorted(self.revert))}: capacity on the original path "
                          f"is taken: {'; '.join(taken)}")
        self._pinned = pinned
        self.kept = keep | frozenset(self.revert)
        return widened, pinned, self.kept

    def _shared_tolerances(self, network: Network, previous: Plan, keep: frozenset[str]
                           ) -> dict[str, str]:
        """APC → committed tracking tolerance, for every APC on a kept service's path."""
        out: dict[str, str] = {}
        for apc, _names in serving_apcs(network, previous, keep).items():
            tolerance = tolerance_of(self.committed.get(apc))
            if tolerance is not None:
                out[apc] = tolerance
        return out

    # -- after rendering -------------------------------------------------------------------
    def after_render(self, network: Network, plan: Plan, docs: dict[str, str]) -> None:
        """Shared elements only kept services use keep their committed settings; a revert
        that moved a kept service or changed its part of any device is refused."""
        kept = self.kept - set(self.revert)
        apc_users = serving_apcs(network, plan, plan.assignments)
        for node, doc in sorted(docs.items()):
            old = self.committed.get(node)
            if old is None or old == doc:
                continue
            restored = restore_shared(json.loads(doc), json.loads(old), kept,
                                      set(apc_users.get(node, ())))
            if restored is not None:
                docs[node] = json.dumps(restored, sort_keys=True, separators=(",", ":"))
        if self._pinned is None:
            touched = untouched_violations(network, plan, self.kept, self.committed, docs)
            staying = {n for n in self.kept if (a := plan.assignments.get(n)) is not None
                       and a.admitted}
            self.touched, self.resized = split_shared(touched, staying, self.committed, docs)
            if self.resized:
                log.info("self-healing resizes generation entries that kept services share "
                         "with services it moved, dropped or pre-empted (their flows are "
                         "unchanged)", resized=self.resized)
            if self.touched:
                log.warning("self-healing changes services it did not move",
                            touched=self.touched)
            return
        for name, want in self._pinned.assignments.items():
            got = plan.assignments.get(name)
            if name in self.kept and _choice(got) != _choice(want):
                raise refused(f"{', '.join(sorted(self.revert))}: the optimiser could not "
                              f"keep {name} where it is")
        touched = untouched_violations(network, plan, self.kept - set(self.revert),
                                       self.committed, docs)
        if touched:
            raise refused(f"{', '.join(sorted(self.revert))}: the move back would change "
                          f"{'; '.join(touched)}")


def refused(message: str) -> NetconfError:
    return NetconfError(RpcError(tag=ErrorTag.OPERATION_FAILED, message=message))


def _choice(a: Assignment | None) -> tuple[object, float] | None:
    if a is None or not a.admitted or a.candidate is None:
        return None
    return a.candidate.key, round(a.share, 9)


def restore_shared(new: Json, old: Json, kept: Collection[str], apc_users: set[str]
                   ) -> Json | None:
    """`new` with each shared element that only `kept` services use taken from `old`
    (None when nothing was restored): a repeater's generation entries, an end node's
    source, an APC's settings (`apc_users`: the services crossing its fibre)."""
    out = copy.deepcopy(new)
    restored = False
    if REPEATER in out and REPEATER in old:
        body = out[REPEATER]
        users: dict[str, set[str]] = {}
        for flow in body.get("flow", []):
            for entry in flow.get("neighbour-links", []):
                users.setdefault(entry, set()).add(str(flow.get("service", flow["flow-id"])))
        before = {e["link-id"]: e for e in old[REPEATER].get("link-generation", {})
                  .get("link", [])}
        entries = body.get("link-generation", {}).get("link", [])
        for i, entry in enumerate(entries):
            mine, was = users.get(entry["link-id"], set()), before.get(entry["link-id"])
            if mine and mine <= set(kept) and was is not None and was != entry:
                entries[i], restored = was, True
    elif END_NODE in out and END_NODE in old:
        body = out[END_NODE]
        mine = {str(e.get("service", e["name"])) for e in body.get("application-endpoint", [])}
        was = old[END_NODE].get("source")
        if mine and mine <= set(kept) and was is not None and was != body.get("source"):
            body["source"], restored = was, True
    elif (APC in out and APC in old and apc_users and apc_users <= set(kept)
          and old[APC] != out[APC]):
        out[APC], restored = old[APC], True
    return out if restored else None


def tolerance_of(doc: str | None) -> str | None:
    """An APC document's tracking tolerance (its decimal text), None for other devices."""
    if doc is None:
        return None
    body = json.loads(doc).get(APC)
    return str(body[TOLERANCE]) if isinstance(body, dict) and TOLERANCE in body else None


def serving_apcs(network: Network, plan: Plan, names: Iterable[str]) -> dict[str, list[str]]:
    """APC → the services among `names` admitted in `plan` whose path it compensates."""
    out: dict[str, list[str]] = {}
    for name in sorted(names):
        a = plan.assignments.get(name)
        if a is None or not a.admitted or a.candidate is None:
            continue
        for link in a.candidate.route.links:
            apc = network.links[link].compensator if link in network.links else None
            if apc is not None:
                out.setdefault(apc, []).append(name)
    return out


def retuned(network: Network, request: Request, candidate: Candidate,
            tolerances: Mapping[str, str]) -> list[str]:
    """The APCs among `tolerances` whose rendered tolerance this candidate would tighten
    (the renderer's rule: the minimum of the budgets, floored to 6 decimals)."""
    apcs = [c for link in candidate.route.links
            if link in network.links and (c := network.links[link].compensator) is not None]
    if not apcs:
        return []
    budget = misalignment_budget(candidate.fidelity, request.min_fidelity, len(apcs))
    return sorted(apc for apc in set(apcs) if apc in tolerances
                  and dec(min(float(tolerances[apc]), budget), 6, ROUND_FLOOR)
                  != tolerances[apc])


def changed_elements(then: Network, now: Network, candidate: Candidate) -> list[str]:
    """Fibres and nodes of the candidate's route that are missing from `now` (failed,
    removed) or configured differently than in `then`."""
    links = [lk for lk in candidate.route.links if now.links.get(lk) != then.links.get(lk)]
    nodes = [n for n in candidate.route.nodes if now.nodes.get(n) != then.nodes.get(n)]
    return [*links, *nodes]


def untouched_violations(network: Network, plan: Plan, names: Iterable[str],
                         committed: Mapping[str, str], docs: Mapping[str, str]) -> list[str]:
    """'service on device' for every kept service whose part of a device's configuration
    differs from the committed one (`render.service_parts`)."""
    out = []
    for name in sorted(names):
        a = plan.assignments.get(name)
        if a is None or not a.admitted or a.candidate is None:
            continue
        route = a.candidate.route
        devices = {*route.nodes, *(c for lk in route.links if lk in network.links
                                   and (c := network.links[lk].compensator) is not None)}
        for node in sorted(devices):
            old, new = committed.get(node), docs.get(node)
            if old is None or new is None or old == new:
                continue
            if service_parts(json.loads(old), name) != service_parts(json.loads(new), name):
                out.append(f"{name} on {node}")
    return out


def split_shared(touched: Iterable[str], staying: Collection[str],
                 committed: Mapping[str, str], docs: Mapping[str, str]
                 ) -> tuple[list[str], list[str]]:
    """`untouched_violations` apart: ('service on device' whose own part changed, the
    generation entries resized because a service not `staying` — re-routed, dropped,
    pre-empted — joined or left them). A kept service's repeater part counts as resized
    only when its flows are identical and every changed entry it uses has such a user
    before or after the round."""
    real: list[str] = []
    resized: dict[tuple[str, str], str] = {}
    for item in touched:
        name, _, node = item.partition(" on ")
        entries = _shared_changes(name, json.loads(committed[node]), json.loads(docs[node]),
                                  set(staying))
        if entries is None:
            real.append(item)
            continue
        for link_id, text in entries:
            resized.setdefault((node, link_id), f"{node} {link_id}: {text}")
    return real, [resized[k] for k in sorted(resized)]


def _shared_changes(name: str, old: Json, new: Json, staying: set[str]
                    ) -> list[tuple[str, str]] | None:
    """The changed generation entries `name` uses on a repeater, each with what changed
    and the non-staying services sharing it; None if anything else of its part changed
    or an entry changed that no such service explains."""
    if set(old) != {REPEATER} or set(new) != {REPEATER}:
        return None
    before, after = old[REPEATER], new[REPEATER]

    def flows(body: Json) -> list[Json]:
        return [f for f in body.get("flow", []) if name in (f.get("flow-id"), f.get("service"))]

    def users(body: Json) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for flow in body.get("flow", []):
            for entry in flow.get("neighbour-links", []):
                out.setdefault(entry, set()).add(str(flow.get("service", flow["flow-id"])))
        return out

    if flows(before) != flows(after):
        return None
    used = {e for f in flows(after) for e in f.get("neighbour-links", [])}
    was = {e["link-id"]: e for e in before.get("link-generation", {}).get("link", [])}
    now = {e["link-id"]: e for e in after.get("link-generation", {}).get("link", [])}
    users_before, users_after = users(before), users(after)
    out = []
    for link_id in sorted(used):
        a, b = was.get(link_id), now.get(link_id)
        if a == b:
            continue
        others = (users_before.get(link_id, set()) | users_after.get(link_id, set())) - staying
        if a is None or b is None or not others:
            return None
        leaves = ", ".join(f"{k} {a.get(k)}→{b.get(k)}" for k in sorted(set(a) | set(b))
                           if a.get(k) != b.get(k))
        out.append((link_id, f"{leaves} (shared with {', '.join(sorted(others))})"))
    return out
