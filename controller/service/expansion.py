"""Q-NUM expansion: running (topology + requests + settings) → intended.

RFC 8342 §5.1.4 lets <intended> differ from <running> by the server's "template
expansion"; here the template is the network itself. Every commit of running solves
Q-NUM (warm-started from the committed plan, so a change does not reshuffle services
that it does not affect), renders each managed device's configuration, validates it
against the device's own YANG model, and writes it under
/sdqn-controller:controller/devices in intended — all inside the datastore transaction,
so a failure leaves running and intended as they were.

Two inputs besides running shape an expansion. `health` (controller/service/health.py)
removes what is broken from the network Q-NUM sees, and `keep` pins the requests a
failure did not hit, so self-healing re-routes only what it must. An operator pin — a
device entry under the same devices container in *running*, written there by an
out-of-band import — replaces that device's rendered configuration verbatim until the
operator deletes it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import structlog

from controller.datastore.apply import JournalOp, replay
from controller.datastore.editnode import quote
from controller.datastore.nmda import Datastore, Expanded, NmdaStore, Transaction
from controller.errors import ErrorTag, NetconfError, RpcError
from controller.service import live_move
from controller.service.admin_state import Reachability, exclusions, locked_nodes, without
from controller.service.health import NetworkHealth
from controller.service.impact import Impact, impact
from controller.service.mbb import (
    DEFAULT_PUSH_ESTIMATE_S,
    Move,
    MoveKind,
    hard_switch,
    log_moves,
    moving_services,
    plan_bridges,
    planned_rates,
)
from controller.service.partitions import OwnedResource, owned_resources
from controller.service.placements import PATH as PLACEMENTS
from controller.service.placements import placements_json, restore_plan
from qnum.baselines import all_baselines
from qnum.candidates import CandidateOptions, check_route_length
from qnum.io import (
    InputError,
    Network,
    OptimiserSettings,
    parse_requests,
    parse_settings,
    parse_topology,
)
from qnum.plan import Plan, Problem, SolveStatus, violations
from qnum.reduced import solve_reduced
from qnum.slices import Slicing
from qnum.slices_io import check_slicing, parse_slicing
from qnum.slicing import SloInfeasible, ranked_requests, without_guarantees
from qnum.solver import SolverOptions, project, solve
from southbound.kinds import DEVICE_KINDS
from southbound.model import DeviceChange, DeviceEndpoint, Exclusion

log = structlog.get_logger(__name__)

#: Routes a self-healing round lists exhaustively for a hit service left with no candidate;
#: beyond it the service gets a quick k-shortest set (Problem.build ``quick``): a healing
#: round reports a feasible plan anyway, and a later full solve prices the rest.
HEAL_ROUTE_LIMIT = 8

DEVICES_PATH = "/sdqn-controller:controller/devices"
REPEATER = "sdqn-repeater:repeater"
#: why a service changes path when a failure broke its old one
FAILURE = "its old path is hit by a failure"


class Scope(Protocol):
    """What a server-side change (a self-healing or revertive round) may alter:
    `before_solve` may narrow the candidates, re-pin requests (it returns the problem,
    the plan `keep` pins to and the kept requests) or refuse; `after_render` may restore
    settings of devices it keeps or refuse the result. Refusing raises NetconfError,
    which fails the transaction: nothing changes (controller/service/heal_scope.py)."""

    def before_solve(self, problem: Problem, previous: Plan | None, keep: frozenset[str]
                     ) -> tuple[Problem, Plan | None, frozenset[str]]: ...

    def after_render(self, network: Network, plan: Plan, docs: dict[str, str]) -> None: ...


class Render(Protocol):
    """Plan → every managed device's configuration (`render.render_devices`); `previous`
    is the committed configuration per device, whose numbering it keeps."""

    def __call__(self, network: Network, plan: Plan, *, kinds: Mapping[str, str],
                 previous: Mapping[str, str] | None = None,
                 slicing: Slicing | None = None) -> dict[str, dict[str, Any]]: ...



@dataclass
class Expansion:
    """What one expansion decided: travels through the commit pipeline as
    `Expanded.detail` and becomes `QnumExpander.committed` once the transaction commits."""

    plan: Plan | None
    network: Network | None
    docs: dict[str, str] = field(default_factory=dict)          # node → canonical JSON
    changes: list[DeviceChange] = field(default_factory=list)   # devices to push
    endpoints: list[DeviceEndpoint] = field(default_factory=list)
    solve_s: float = 0.0
    expand_s: float = 0.0       # the whole expansion: the solve, rendering and diffing
    health: NetworkHealth = field(default_factory=NetworkHealth)
    pinned: frozenset[str] = frozenset()                        # devices under operator pin
    problem: Problem | None = None          # its candidates are reused by the next solve
    moving: list[str] = field(default_factory=list)      # live services changing path
    bridges: dict[str, str] = field(default_factory=dict)  # node → make-before-break doc
    #: per moving service: make-before-break or hard switch, and why (controller/service/
    #: mbb.py `plan_bridges`); what a dry run reports is what the commit does
    moves: dict[str, Move] = field(default_factory=dict)
    movable: frozenset[str] = frozenset()   # live services this change was allowed to move
    touched: frozenset[str] = frozenset()   # live services whose request it changes
    impact: Impact | None = None            # what it does, against the committed expansion
    #: the commit-history id of the change of running it expands (None: running did not
    #: change, e.g. a self-healing round): its impact is kept under that id (impact_log.py)
    running_commit: str | None = None
    push_estimate_s: float = DEFAULT_PUSH_ESTIMATE_S   # what its hard switches assumed
    #: managed devices out of service: no service on or through them, nothing pushed
    #: (controller/service/admin_state.py)
    excluded: dict[str, Exclusion] = field(default_factory=dict)
    #: requests whose candidates are only those that survived a failure: self-healing
    #: reuses them instead of generating routes around it (that takes seconds); the next
    #: expansion that is not a healing round generates them afresh
    survivors: frozenset[str] = frozenset()
    #: the slices the plan was solved under, and those whose guarantees a failure made
    #: impossible (slice → why): the slice state and its SLA alarm read them
    slicing: Slicing | None = None
    suspended: dict[str, str] = field(default_factory=dict)
    #: slice → the device resources its partitions own in `docs` (what the devices
    #: enforce: controller/service/partitions.py); published under the slice's state
    owned: dict[str, list[OwnedResource]] = field(default_factory=dict)

    @property
    def in_service(self) -> set[str]:
        """Managed devices the plan may use and the push reaches."""
        return {ep.node_id for ep in self.endpoints} - set(self.excluded)


class QnumExpander:
    def __init__(self, *, username: str = "admin", password: str | None = "admin",
                 time_limit_s: float | None = None, render: Render | None = None,
                 to_xml: Callable[[dict[str, Any]], str] | None = None) -> None:
        self.username = username
        self.password = password
        self.time_limit_s = time_limit_s
        self._render = render
        self._to_xml = to_xml
        self.committed = Expansion(plan=None, network=None)
        #: called with each expansion the store adopts (a commit of running succeeded)
        self.adopted: list[Callable[[Expansion], None]] = []
        self.health = NetworkHealth()
        self.keep: frozenset[str] = frozenset()
        #: set by the self-healer for one round, like `keep`
        self.scope: Scope | None = None
        self.make_before_break = True
        #: set (under the store lock) by the optimise rpc around its re-expansion
        self.reoptimise = False
        #: the last dry-run: (its input, the committed expansion it was made against, the
        #: expansion, each device's first push), adopted by the commit it previewed
        self._preview: tuple[tuple[object, ...], Expansion, Expansion,
                             dict[str, str]] | None = None
        #: seconds a push takes, for the interruption a hard switch is expected to cause
        #: (the service manager gives the last push's duration)
        self.push_estimate_s: Callable[[], float] = lambda: DEFAULT_PUSH_ESTIMATE_S
        #: judges the devices not reached yet (the service manager wires the session
        #: pool's); None counts every device as reachable
        self.reachability: Reachability | None = None

    # -- the Expander protocol (controller/datastore/pipeline.py, phase 2) -----------------
    def expand(self, txn: Transaction, running_ops: Sequence[JournalOp]) -> Expanded:
        """intended := running + each managed device's rendered configuration; the
        pipeline validates the result as a whole (phase 3)."""
        started = time.perf_counter()
        intended = txn.forest(Datastore.INTENDED)
        undo, changes = txn.undo(Datastore.INTENDED), txn.record(Datastore.INTENDED)
        replay(intended, running_ops, undo, changes)          # intended ⊇ running
        running = txn.forest(Datastore.RUNNING).to_dict()
        expansion, xml = self._previewed(running) or self._expansion(
            running, reoptimise=self.reoptimise)
        entries = [{"node-id": node, "kind": kind,
                    "configuration": json.loads(expansion.docs[node])}
                   for node, kind in sorted(self._kinds(expansion.network).items())
                   if node in expansion.docs]
        if entries:
            devices = {"sdqn-controller:controller": {"devices": {"device": entries}}}
            replay(intended, [("replace", DEVICES_PATH, json.dumps(devices))], undo, changes)
        else:  # RFC 7951 has no empty lists: no devices means no container
            replay(intended, [("delete", DEVICES_PATH, None)], undo, changes)
        placed = placements_json(expansion.plan)
        replay(intended, [("replace", PLACEMENTS, json.dumps(placed)) if placed is not None
                          else ("delete", PLACEMENTS, None)], undo, changes)
        previous = self.committed.docs
        # A device that comes into service (reached at last, or unlocked) may run anything
        # but what intended said for it while it was out: it gets its whole document.
        joining = set(self.committed.excluded) - set(expansion.excluded)
        for node, doc in sorted(expansion.docs.items()):
            target = expansion.bridges.get(node, doc)
            if previous.get(node) != target or node in joining:
                expansion.changes.append(DeviceChange(node_id=node, config_xml=xml[node]))
        expansion.expand_s = time.perf_counter() - started
        expansion.running_commit = txn.commit_id if running_ops else None
        return Expanded(derived=True, detail=expansion)

    def _solve(self, problem: Problem, options: SolverOptions, previous: Plan | None,
               keep: frozenset[str], protected: frozenset[str]) -> Plan:
        if self._server_round and keep and previous is not None:
            # Healing: only what the failure hit is re-placed, on the reduced model.
            return solve_reduced(problem, options, previous=previous, keep=keep,
                                 protected=protected)
        hints = [] if keep else list(all_baselines(problem).values())
        return solve(problem, options, previous=previous, hints=hints, keep=keep,
                     protected=protected, strict_keep=not self._server_round)

    @property
    def _server_round(self) -> bool:
        """A self-healing or revertive round: the healer, not the live-move policy,
        decides what stays (`keep`, `scope`)."""
        return bool(self.keep) or self.scope is not None

    def preview(self, running: Mapping[str, Any], *, reoptimise: bool = False) -> Expansion:
        """The expansion a commit of `running` (or the optimise rpc) would make, with its
        impact, changing nothing: the dry-run. Call under the store's lock, as a commit
        runs, so the committed reference cannot change meanwhile.

        The result is kept for the commit that follows: a solve that stops at its time
        limit need not find the same plan twice, so the commit of the very same running
        content against the very same committed expansion and network health adopts the
        previewed expansion instead of solving again — what the dry-run showed is what
        the commit does."""
        expansion, xml = self._expansion(running, reoptimise=reoptimise)
        self._preview = (self._preview_key(running, reoptimise), self.committed,
                         expansion, xml)
        return expansion

    def _preview_key(self, running: Mapping[str, Any], reoptimise: bool) -> tuple[object, ...]:
        return (json.dumps(running, sort_keys=True), reoptimise, self.health)

    def _previewed(self, running: Mapping[str, Any]
                   ) -> tuple[Expansion, dict[str, str]] | None:
        """The kept preview, if this expansion is the change it previewed (used once)."""
        kept, self._preview = self._preview, None
        if kept is None or self._server_round:
            return None
        key, committed, expansion, xml = kept
        if committed is not self.committed or key != self._preview_key(running,
                                                                       self.reoptimise):
            return None
        log.info("q-num expansion: the previewed plan", admitted=len(
            expansion.plan.admitted) if expansion.plan is not None else 0)
        return expansion, xml

    def _expansion(self, running: Mapping[str, Any], *, reoptimise: bool
                   ) -> tuple[Expansion, dict[str, str]]:
        """Solve, render, validate, plan the moves and check them against the live-move
        policy (controller/service/live_move.py); re-optimisation keeps the
        make-before-break-only services it found could only be hard-switched and solves
        again (at the last attempt it keeps every make-before-break-only service, so
        only `free` ones move). Returns the expansion (with its impact) and each device's
        first push."""
        policy = live_move.policies(running)
        hold: set[str] = set()
        attempts = 4
        for attempt in range(attempts):
            if reoptimise and attempt == attempts - 1:
                # Last resort: no make-before-break-only service moves; `free` ones may.
                hold |= {a.request.name for a in (self.committed.plan.admitted
                                                  if self.committed.plan else [])
                         if policy.get(a.request.name, live_move.DEFAULT)
                         == live_move.MBB_ONLY}
            expansion = self._solve_and_render(running, policy, reoptimise=reoptimise,
                                               hold=hold)
            xml: dict[str, str] = {}
            for node, doc in sorted(expansion.docs.items()):
                try:  # parsing with the device's own schema validates the rendering
                    xml[node] = self._xml(json.loads(doc))
                except (ValueError, NetconfError) as exc:
                    raise _failed(f"configuration rendered for {node} is invalid: {exc}"
                                  ) from exc
            self._bridge(expansion, xml)
            refused = [] if self._server_round else self._refused_moves(expansion, policy)
            if not refused:
                break
            retry = {name for name, _why in refused if name in expansion.movable}
            if not reoptimise or not retry:
                raise _failed("; ".join(why for _name, why in refused))
            hold |= retry
        else:
            raise _failed("re-optimisation found no plan that respects every "
                          "make-before-break-only service")
        expansion.impact = impact(
            self.committed.plan, self.committed.docs, expansion.plan, expansion.docs,
            moves=expansion.moves, policy=policy)
        return expansion, xml

    def _refused_moves(self, expansion: Expansion, policy: Mapping[str, str]
                       ) -> list[tuple[str, str]]:
        """Moves the policy forbids: a pinned service changing path other than by a
        failure, a make-before-break-only service that would be hard-switched, a live
        service that is not `free` losing its path to a change of something else (a
        fibre or node its path uses removed or locked, and no path left)."""
        out = []
        before, after, network = self.committed.plan, expansion.plan, expansion.network
        if before is not None and after is not None and network is not None:
            unusable = expansion.health.unusable_links(network)
            for a in before.admitted:
                name, b = a.request.name, after.assignments.get(a.request.name)
                kind = policy.get(name, live_move.DEFAULT)
                if (b is None or b.admitted or name in expansion.touched
                        or kind == live_move.FREE or a.candidate is None
                        or set(a.candidate.route.links) & unusable
                        or set(a.candidate.route.nodes) & expansion.health.failed_nodes):
                    continue
                gone = live_move.lost_elements(
                    a.candidate.route, network,
                    {n: why.value for n, why in expansion.excluded.items()})
                out.append((name, f"{kind} service {name} would lose its path "
                                  f"({'; '.join(gone) or b.reason}) and no other path is "
                                  "left; set its live-move to free to allow it"))
        for name, move in sorted(expansion.moves.items()):
            kind = policy.get(name, live_move.DEFAULT)
            if kind == live_move.PINNED and move.reason != FAILURE:
                out.append((name, f"pinned service {name} would move to another path; "
                                  "set its live-move to make-before-break-only or free to "
                                  "allow it"))
            elif kind == live_move.MBB_ONLY and move.kind is MoveKind.HARD_SWITCH \
                    and move.reason != FAILURE:
                out.append((name, f"make-before-break-only service {name} would be "
                                  f"hard-switched: {move.reason}"))
        return out

    def _bridge(self, expansion: Expansion, xml: dict[str, str]) -> None:
        """Make-before-break documents for the live services this expansion moves, decided
        per service (controller/service/mbb.py); `xml` then holds what the first push
        sends, and `expansion.moves` how each moving service switches (a service whose old
        path a failure broke: a hard switch by necessity)."""
        network = expansion.network
        if network is None:
            return
        unusable = expansion.health.unusable_links(network)
        failed = expansion.health.failed_nodes
        push_s = expansion.push_estimate_s = self.push_estimate_s()
        rates = planned_rates(expansion.plan)

        def broken(links: tuple[str, ...], nodes: tuple[str, ...]) -> bool:
            return bool(set(links) & unusable or set(nodes) & failed)

        expansion.moves = {name: hard_switch(name, None, FAILURE, rates.get(name), push_s)
                           for name in _rerouted(self.committed.plan, expansion.plan, broken)}
        expansion.moving = moving_services(self.committed.plan, expansion.plan, broken)
        if not expansion.moving:
            return
        if not self.make_before_break:
            expansion.moves.update({
                s: hard_switch(s, None, "make-before-break is switched off", rates.get(s),
                               push_s) for s in expansion.moving})
            log_moves(expansion.moves)
            return
        converted: dict[str, str] = {}

        def validate(doc: str) -> None:   # parsing with the device's schema validates it
            converted[doc] = self._xml(json.loads(doc))

        unpinned = {node: doc for node, doc in expansion.docs.items()
                    if node not in expansion.pinned and node not in expansion.excluded}
        decided = plan_bridges(unpinned, self.committed.docs, expansion.moving, validate,
                               rates=rates, push_estimate_s=push_s)
        expansion.moves.update(decided.moves)
        expansion.bridges = decided.bridges
        xml.update({node: converted[doc] for node, doc in decided.bridges.items()})
        log_moves(expansion.moves)

    def adopt(self, expanded: Expanded) -> None:
        """Phase 7: the transaction committed, its expansion becomes the reference."""
        expansion = expansion_of(expanded)
        if expansion is None:
            return
        self.committed = expansion
        for observer in self.adopted:
            observer(expansion)

    def load_committed(self, store: NmdaStore) -> None:
        """At start-up: what intended already says the devices run (no re-push), and the
        committed plan's choices (controller/service/placements.py), so the next
        expansion keeps every live service where it is."""
        data = store.forest(Datastore.INTENDED).to_dict()
        devices = data.get("sdqn-controller:controller", {}).get("devices", {})
        self.committed.docs = {d["node-id"]: _canonical(d.get("configuration", {}))
                               for d in devices.get("device", [])}
        self.committed.owned = owned_resources(self.committed.docs)
        running = store.forest(Datastore.RUNNING).to_dict()
        if _has_quantum_network(running):
            try:
                network = parse_topology(running)
            except InputError as exc:
                log.warning("stored topology cannot be optimised", error=str(exc))
                return
            self.committed.endpoints = self._endpoints(running, self._kinds(network))
            self.committed.plan = restore_plan(data, running, network)
            self.committed.network = network
            self.committed.excluded = {node: Exclusion.LOCKED for node in locked_nodes(running)
                                       if node in self.committed.in_service}

    def excluded_nodes(self, running: Mapping[str, Any]) -> dict[str, Exclusion]:
        """The managed devices of `running`'s topology the plan may not use (no service
        on them nor through them, nothing pushed to them), and why: locked by the
        operator, or unreachable (not reached since they joined or were unlocked;
        controller/service/admin_state.py). Devices not reached yet may be tried, as the
        expansion does; inside an expansion, read `Expansion.excluded` instead."""
        if not _has_quantum_network(running):
            return {}
        try:
            network = parse_topology(running)
        except InputError:
            return {}
        return self._exclusions(running, self._endpoints(running, self._kinds(network)))

    def _exclusions(self, running: Mapping[str, Any], endpoints: Sequence[DeviceEndpoint]
                    ) -> dict[str, Exclusion]:
        committed = self.committed
        return exclusions(endpoints, locked_nodes(running), in_service=committed.in_service,
                          before=committed.excluded, reachability=self.reachability)

    # -- internals ------------------------------------------------------------------------
    def _solve_and_render(self, running: Mapping[str, Any], policy: Mapping[str, str], *,
                          reoptimise: bool = False, hold: Collection[str] = ()
                          ) -> Expansion:
        if not _has_quantum_network(running):
            return Expansion(plan=None, network=None)   # nothing quantum to optimise
        try:
            network = parse_topology(running)
        except InputError as exc:
            raise _failed(f"topology cannot be optimised: {exc}") from exc
        if network is None:
            return Expansion(plan=None, network=None)
        try:
            requests = (parse_requests(running, network)
                        if "sdqn-services:entanglement-services" in running else [])
            settings = parse_settings(running) if "sdqn-controller:controller" in running \
                else None
        except InputError as exc:
            raise _failed(f"requests cannot be optimised: {exc}") from exc
        slicing = _check_slicing(running, network)
        requests = ranked_requests(requests, slicing)   # slice priority ranks first
        defaults = settings or OptimiserSettings()
        options = SolverOptions(time_limit_s=self.time_limit_s or defaults.time_limit_s,
                                objective=defaults.objective,
                                relative_gap=defaults.relative_gap,
                                slicing=slicing if slicing.slices else None)
        space = CandidateOptions(
            max_hops=defaults.max_route_hops,
            max_link_purification_rounds=defaults.max_link_purification_rounds)
        try:
            check_route_length(network, requests, space.max_hops)
        except InputError as exc:
            raise _failed(f"requests cannot be optimised: {exc}") from exc
        kinds = self._kinds(network)
        endpoints = self._endpoints(running, kinds)
        excluded = self._exclusions(running, endpoints)
        start = time.perf_counter()
        health = self.health
        usable = without(health.apply(network), excluded)
        if options.slicing is not None:   # a failed fibre or node reserves nothing now
            options = replace(options, slicing=_within(options.slicing, usable))
        previous = self.committed.plan
        if self._server_round:  # self-healing (or a revertive round) decided what stays
            keep, protected = self.keep, frozenset[str]()
            movable = touched = frozenset[str]()
        else:                   # the live-move policy decides
            decision = live_move.decide(previous, requests, policy, reoptimise=reoptimise,
                                        hold=hold)
            problems = live_move.blocked(previous, network, decision.keep, policy,
                                         {n: why.value for n, why in excluded.items()})
            if problems:
                raise _failed("; ".join(problems))
            keep, protected = decision.keep, decision.protected
            movable, touched = decision.movable, decision.touched
        lost = {a.request.name for a in (previous.admitted if previous else [])
                if a.candidate is not None
                and any(lid not in usable.links for lid in a.candidate.route.links)}
        retain = {a.request.name: a.candidate for a in (previous.admitted if previous else [])
                  if a.candidate is not None and a.request.name in keep}
        before = self.committed.problem
        stale = self.committed.survivors | lost
        # Healing re-places only what the failure hit: a service it keeps rejected needs
        # no new candidates now, nor does a hit one while some of its old ones avoid the
        # failure (the next commit that is not a healing round generates both afresh).
        idle = {a.request.name for a in (previous.assignments.values() if previous else ())
                if a.request.name in keep and not a.admitted} if self._server_round else ()
        problem = Problem.build(usable, requests, space, previous=before,
                                recompute=() if self._server_round else stale,
                                retain=retain, idle=idle,
                                quick=replace(space, route_limit=HEAL_ROUTE_LIMIT)
                                if self._server_round else None)
        survivors = (_survivors(problem, before, stale) if self._server_round
                     else frozenset[str]())
        solved = problem                       # the next solve reuses the full `problem`
        if self.scope is not None:
            solved, previous, keep = self.scope.before_solve(problem, previous, keep)
        suspended: dict[str, str] = {}
        try:
            plan = self._solve(solved, options, previous, keep, protected)
        except SloInfeasible as exc:
            if not self._server_round or options.slicing is None:
                # A change the slices' guarantees cannot survive is refused, naming the
                # slice, the resource and the shortfall (RFC 6241 App. A operation-failed).
                raise NetconfError(RpcError(
                    tag=ErrorTag.OPERATION_FAILED, path=_slice_path(sorted(exc.slices)),
                    message=f"the slices' guarantees cannot all hold: {exc}")) from exc
            # A failure made them impossible: the other slices keep theirs, these lose
            # theirs until the network allows them again (said in the log, not hidden).
            log.warning("slice guarantees suspended: the network cannot meet them",
                        slices=sorted(exc.slices), reason=str(exc))
            suspended = {name: str(exc) for name in sorted(exc.slices)}
            options = replace(options, slicing=without_guarantees(options.slicing,
                                                                  exc.slices))
            plan = self._solve(solved, options, previous, keep, protected)
        if plan.status is SolveStatus.INFEASIBLE and not self._server_round \
                and previous is not None:
            kept = Plan.from_assignments("kept", [a for a in previous.assignments.values()
                                                  if a.request.name in keep])
            why = violations(solved, project(solved, kept)) or ["capacities shrank"]
            raise _failed("the change leaves no room for the live services it must keep "
                          f"where they are: {'; '.join(why)}")
        solve_s = time.perf_counter() - start
        try:
            docs = {n: _canonical(d) for n, d in
                    self.render(network, plan, kinds=kinds,
                                slicing=options.slicing).items()}
        except ValueError as exc:
            raise _failed(f"the plan cannot be expressed as device configuration: {exc}"
                          ) from exc
        self._keep_watching(docs, health)
        if self.scope is not None:
            self.scope.after_render(network, plan, docs)
        pins = {node: doc for node, doc in _pins(running).items() if node in kinds}
        docs.update(pins)
        log.info("q-num expansion", status=plan.status.value, admitted=len(plan.admitted),
                 requests=len(plan.assignments), seconds=round(solve_s, 3),
                 kept=len(keep), failed_links=sorted(health.failed_links),
                 failed_nodes=sorted(health.failed_nodes), pinned=sorted(pins),
                 excluded={node: why.value for node, why in sorted(excluded.items())})
        return Expansion(plan=plan, network=network, docs=docs, endpoints=endpoints,
                         solve_s=solve_s, health=health, pinned=frozenset(pins),
                         problem=problem, movable=movable, touched=touched,
                         excluded=excluded, survivors=survivors,
                         slicing=slicing if slicing.slices else None, suspended=suspended,
                         owned=owned_resources(docs))

    def _keep_watching(self, docs: dict[str, str], health: NetworkHealth) -> None:
        """Keep configured every link-generation entry that watches a failure (see
        NetworkHealth.watch): those that reported it, and every entry starting on a failed
        fibre (a report may still be on its way). Their settings are the ones last pushed."""
        for node, old in sorted(self.committed.docs.items()):
            doc = docs.get(node)
            if doc is None or REPEATER not in json.loads(old):
                continue
            watching = [link for link in json.loads(old)[REPEATER]
                        .get("link-generation", {}).get("link", [])
                        if (node, link["link-id"]) in health.watch
                        or link.get("fibre", link["link-id"]) in health.failed_links]
            new_body = json.loads(doc).get(REPEATER, {})
            links = new_body.get("link-generation", {}).get("link", [])
            have = {link["link-id"] for link in links}
            missing = [link for link in watching if link["link-id"] not in have]
            if not missing:
                continue
            links = sorted([*links, *missing], key=lambda link: str(link["link-id"]))
            new_body.setdefault("link-generation", {})["link"] = links
            docs[node] = _canonical({REPEATER: new_body})

    def render(self, network: Network, plan: Plan, *, kinds: Mapping[str, str],
               slicing: Slicing | None = None) -> dict[str, dict[str, Any]]:
        """The plan as device configuration; what the committed configuration numbered
        (q-ROADM add/drop ports) keeps its numbers; dedicated slices get their device
        partitions."""
        if self._render is None:
            from controller.service.render import render_devices

            self._render = render_devices
        if slicing is None:
            return self._render(network, plan, kinds=kinds, previous=self.committed.docs)
        return self._render(network, plan, kinds=kinds, previous=self.committed.docs,
                            slicing=slicing)

    def device_xml(self, doc: str) -> str:
        """A device document (canonical JSON) as the XML its adapter pushes."""
        return self._xml(json.loads(doc))

    def _xml(self, doc: dict[str, Any]) -> str:
        if self._to_xml is None:
            from controller.service.render import device_config_xml

            self._to_xml = device_config_xml
        return self._to_xml(doc)

    @staticmethod
    def _kinds(network: Network | None) -> dict[str, str]:
        """Managed devices: the nodes whose kind has a device module (a row of
        southbound.kinds); bare sources and detectors are parts of those, not devices."""
        if network is None:
            return {}
        return {node_id: node.kind.value for node_id, node in network.nodes.items()
                if node.kind.value in DEVICE_KINDS}

    def _endpoints(self, running: Mapping[str, Any], kinds: Mapping[str, str]
                   ) -> list[DeviceEndpoint]:
        endpoints = []
        for net in running.get("ietf-network:networks", {}).get("network", []):
            for node in net.get("node", []):
                q = node.get("sdqn-topology:quantum-node", {})
                mgmt = q.get("management")
                if not mgmt or node["node-id"] not in kinds:
                    continue
                kind = DEVICE_KINDS[kinds[node["node-id"]]]
                endpoints.append(DeviceEndpoint.model_validate({
                    "node-id": node["node-id"], "address": mgmt.get("address", "127.0.0.1"),
                    "port": mgmt["port"], "adapter": mgmt.get("adapter", kind.default_adapter),
                    "username": self.username, "password": self.password, "kind": kind.name,
                    "modules": kind.diff_modules}))
        return endpoints


def _rerouted(before: Plan | None, after: Plan | None,
              broken: Callable[[tuple[str, ...], tuple[str, ...]], bool]) -> list[str]:
    """Services live in both plans whose old path a failure broke and that changed path."""
    if before is None or after is None:
        return []
    out = []
    for a in before.admitted:
        b = after.assignments.get(a.request.name)
        if (b is not None and b.admitted and a.candidate is not None
                and b.candidate is not None
                and a.candidate.route.links != b.candidate.route.links
                and broken(a.candidate.route.links, a.candidate.route.nodes)):
            out.append(a.request.name)
    return out


def _survivors(problem: Problem, before: Problem | None, names: Collection[str]
               ) -> frozenset[str]:
    """Those of `names` whose candidates `problem` took over from `before` (the ones that
    avoid what failed) rather than generated afresh."""
    if before is None:
        return frozenset()
    out = set()
    for name in names:
        old = before.candidates.get(name)
        new = problem.candidates.get(name)
        if old is not None and new is not None and new.candidates and all(
                any(c is o for o in old.candidates) for c in new.candidates):
            out.add(name)
    return frozenset(out)


def expansion_of(expanded: Expanded) -> Expansion | None:
    """The Q-NUM expansion carried by a pipeline `Expanded` (None for another expander)."""
    return expanded.detail if isinstance(expanded.detail, Expansion) else None


def _has_quantum_network(running: Mapping[str, Any]) -> bool:
    networks = running.get("ietf-network:networks", {}).get("network", [])
    return any("sdqn-topology:quantum-network" in (n.get("network-types") or {})
               for n in networks)


def _pins(running: Mapping[str, Any]) -> dict[str, str]:
    """Operator-pinned device configurations in running (node → canonical JSON)."""
    devices = running.get("sdqn-controller:controller", {}).get("devices", {})
    return {d["node-id"]: _canonical(d.get("configuration", {}))
            for d in devices.get("device", [])}


def _canonical(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def _within(slicing: Slicing, network: Network) -> Slicing:
    """The slicing with reservations only on nodes and fibres the solve can use: a
    reservation on a cut fibre holds no capacity (the slice's guarantees still stand or
    are suspended by the solve itself)."""
    return replace(slicing, slices=tuple(
        replace(sl, reserved_memory={n: q for n, q in sl.reserved_memory.items()
                                     if n in network.nodes},
                reserved_share={lk: x for lk, x in sl.reserved_share.items()
                                if lk in network.links})
        for sl in slicing.slices))


def _slice_path(names: list[str]) -> str | None:
    return f"/sdqn-slices:slicing/slice[name={quote(names[0])}]" if names else None


def _check_slicing(running: Mapping[str, Any], network: Network) -> Slicing:
    """Refuse slices no plan can honour (over-subscribed dedicated reservations, requests
    beyond their slice's quota) before solving: what YANG cannot state with a useful
    message, named by its leaf. RFC 6241 Appendix A: an unacceptable value is
    invalid-value, error-type application, with the offending leaf as error-path."""
    try:
        slicing = parse_slicing(running)
        check_slicing(slicing, network, running)
        return slicing
    except InputError as exc:
        raise NetconfError(RpcError(tag=ErrorTag.INVALID_VALUE, path=exc.path,
                                    message=f"slicing refused: {exc}")) from exc


def _failed(message: str) -> NetconfError:
    return NetconfError(RpcError(tag=ErrorTag.OPERATION_FAILED, message=message))
