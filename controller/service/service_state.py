"""The service state machine: what each entanglement service's oper-state means, decided.

The states and their meaning are defined in YANG (sdqn-types `service-oper-state`) and in
controller/README.md, "Service states"; this module implements exactly that:

* A commit (a plan the store adopted) moves only the services whose plan changed: a
  service newly placed or moved is `stabilising` once its configuration is pushed (or
  `provisioning` while a device that must take it cannot), and the devices whose
  configuration changed for it must report stable before it can be `up`. A service the
  plan does not place is `rejected` (no configuration meets its requirements),
  `not-admitted` (its resources went to others), `pre-empted` (displaced for a
  higher-priority service) or `down` (its path failed and nothing replaces it). A
  service whose plan did not change keeps its state, reason and last-change.
* Each telemetry round decides the admitted services: `down` when a fibre or node on its
  path failed (as its neighbours report: the data plane) or a device on it reports itself
  down; a device whose management session is lost proves nothing about the data plane,
  so it changes nothing by itself — but when an end node that measures the service cannot
  be read, the last state is kept with a reason naming it (its values go stale like any
  unrefreshed value); `stabilising` while a device that
  changed for this service has not settled — bounded by the stabilisation timeout, after
  which it is `degraded` with an alarm; otherwise, on current measurements, `up` or
  `degraded` (fidelity under min-fidelity, or rate under the planned rate beyond the
  tolerance). Devices unstable for other services' reasons (another flow being set up, a
  failed fibre the service does not use) do not hold a service in `stabilising`.
* Measured values carry the time they were read; after `stale-after-rounds` rounds
  without a fresh reading they are stale: kept, shown, never used to decide.

Every transition records when and why, and is returned so the caller can notify
(sdqn-services `service-state-change`) and raise or clear alarms.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from qnum.candidates import RequestCandidates
from qnum.plan import IDLE, Assignment, Plan

PROVISIONING = "provisioning"
STABILISING = "stabilising"
UP = "up"
DEGRADED = "degraded"
DOWN = "down"
REJECTED = "rejected"
NOT_ADMITTED = "not-admitted"
PRE_EMPTED = "pre-empted"

#: Rate samples averaged for the up/degraded decision (counts are Poisson: one round of a
#: 10 pairs/s service would swing by a third).
RATE_WINDOW = 5
#: Consecutive fresh rounds a measured shortfall must last before a service is degraded
#: (alarm persistence: one short round, e.g. a shared device settling, is not a fault).
PERSISTENCE = 3


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Assurance:
    """sdqn-controller service-assurance settings (running), with their YANG defaults."""

    stabilisation_timeout_s: float = 600.0
    rate_tolerance: float = 0.1
    stale_after_rounds: int = 3
    #: rad/s: a compensated fibre drifting faster raises polarisation-drift; it clears
    #: below the clear threshold (controller/service/polarisation_drift.py)
    drift_alarm_threshold: float = 0.002
    drift_clear_threshold: float = 0.001
    #: a memory measured below this fraction of its planned coherence time is degraded
    memory_coherence_fraction: float = 0.5


@dataclass(frozen=True)
class Observation:
    """What one telemetry round read of one device (None fields: not reported)."""

    reachable: bool
    stable: bool
    down: bool
    #: request name → (delivered rate, fidelity estimate, QBER) at this end node
    endpoints: Mapping[str, tuple[float, float | None, float | None]] = field(
        default_factory=dict)
    #: oper-status degraded: something on the device fails or is not ready yet
    degraded: bool = False


@dataclass(frozen=True)
class Transition:
    name: str
    old: str | None
    new: str
    reason: str
    at: str


@dataclass
class ServiceRecord:
    state: str
    reason: str
    last_change: str
    admitted: bool = False
    route_nodes: tuple[str, ...] = ()
    route_links: tuple[str, ...] = ()
    planned_rate: float = 0.0
    min_fidelity: float = 0.0
    #: devices that changed for this service and have not reported stable since
    pending: set[str] = field(default_factory=set)
    stabilising_since: float | None = None      # monotonic
    rates: list[float] = field(default_factory=list)
    rate: float | None = None
    fidelity: float | None = None
    qber: float | None = None
    last_updated: str | None = None
    last_round: int | None = None
    stale: bool = False
    #: devices that did not settle within the timeout (the degraded alarm names them)
    overran: tuple[str, ...] = ()
    #: consecutive fresh rounds with a measured shortfall / without one while degraded
    short_rounds: int = 0
    good_rounds: int = 0
    #: the delivered rate and fidelity met the objective since the last (re)configuration:
    #: until then a shortfall is convergence (stabilising), afterwards a fault (degraded)
    converged: bool = False


@dataclass(frozen=True)
class _RoundFacts:
    """What a telemetry round knows beyond the devices' readings (see `on_round`)."""

    failed_links: frozenset[str]
    failed_nodes: frozenset[str]
    failing_at: frozenset[str]
    impaired: Mapping[str, str]
    impaired_links: Mapping[str, str]


def choice(a: Assignment | None) -> tuple[object, float] | None:
    """What a plan decided for one request, as far as its devices are concerned."""
    if a is None or not a.admitted or a.candidate is None:
        return None
    return a.candidate.key, round(a.share, 9)


class ServiceStates:
    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 stamp: Callable[[], str] = now_iso) -> None:
        self.clock = clock
        self.stamp = stamp
        self.records: dict[str, ServiceRecord] = {}
        self.round = 0

    # -- a plan was adopted ------------------------------------------------------------------
    def on_plan(self, plan: Plan, previous: Plan | None, *, changed: Collection[str],
                pushed: Collection[str], inline: Mapping[str, Collection[str]],
                failed_links: Collection[str] = (), failed_nodes: Collection[str] = (),
                preempted: Collection[str] = (), rejected: Collection[str] = (),
                touched: Mapping[str, Collection[str]] | None = None) -> list[Transition]:
        """`changed`: devices whose configuration the commit changed; `pushed`: those it
        reached; `inline`: link → devices on it that are not path nodes (APCs);
        `rejected`: requests with no candidate configuration at all; `touched`: per
        service, the devices whose part serving it changed (default: a service whose plan
        did not change was not touched)."""
        out: list[Transition] = []
        for name in list(self.records):
            if name not in plan.assignments:           # withdrawn: no state to keep
                del self.records[name]
        for name, a in plan.assignments.items():
            record = self.records.get(name)
            before = previous.assignments.get(name) if previous is not None else None
            if a.admitted and a.candidate is not None:
                route = a.candidate.route
                devices = {*route.nodes, *(d for lk in route.links
                                           for d in inline.get(lk, ()))}
                mine = set(touched[name]) & devices if touched is not None and \
                    name in touched else devices & set(changed)
                if record is not None and record.admitted and choice(before) == choice(a):
                    record.planned_rate = a.rate_hz     # same plan: the state stays ...
                    record.min_fidelity = a.request.min_fidelity
                    if touched is not None and mine:    # ... unless its part changed
                        record.pending |= mine
                        record.stabilising_since, record.converged = self.clock(), False
                        self._enter(out, name, record, STABILISING,
                                    f"configuration serving it changed on "
                                    f"{', '.join(sorted(mine))}; waiting for them to settle")
                    continue
                path = " → ".join(route.nodes)
                moved = record is not None and record.admitted
                waiting = sorted(mine - set(pushed))
                new = PROVISIONING if waiting else STABILISING
                why = (f"waiting for {', '.join(waiting)} to take its configuration"
                       if waiting else "configuration pushed; waiting for the devices "
                       "on the path to settle")
                reason = f"{'moved to' if moved else 'placed on'} {path}; {why}"
                record = self._enter(out, name, record, new, reason)
                record.admitted = True
                record.route_nodes, record.route_links = tuple(route.nodes), tuple(route.links)
                record.planned_rate, record.min_fidelity = a.rate_hz, a.request.min_fidelity
                record.pending = set(mine)
                record.stabilising_since, record.converged = self.clock(), False
                record.rates, record.overran, record.short_rounds = [], (), 0
                continue
            was_live = record is not None and record.admitted
            cause = a.reason or "not placed by the plan"
            hit = [e for e in (*failed_links, *failed_nodes) if was_live and record is not None
                   and (e in record.route_links or e in record.route_nodes)]
            if hit:
                new, reason = DOWN, (f"{', '.join(sorted(hit))} failed and no other path "
                                     f"serves it: {cause}")
            elif was_live and name in preempted:
                new, reason = PRE_EMPTED, f"pre-empted: {cause}"
            elif name in rejected:
                new, reason = REJECTED, cause
            else:
                new, reason = NOT_ADMITTED, cause
            record = self._enter(out, name, record, new, reason)
            record.admitted = False
            record.pending, record.stabilising_since = set(), None
            record.rates, record.rate, record.fidelity, record.qber = [], None, None, None
            record.last_updated, record.last_round, record.stale = None, None, False
        return out

    def on_repushed(self, node: str) -> list[Transition]:
        """A device got its whole configuration again (after a restart or an out-of-band
        revert): every service it serves waits for it to settle again."""
        out: list[Transition] = []
        for name, record in self.records.items():
            if record.admitted and node in record.route_nodes:
                record.pending.add(node)
                if record.state in (UP, DEGRADED):
                    record.stabilising_since, record.converged = self.clock(), False
                    self._enter(out, name, record, STABILISING,
                                f"{node} was configured again; waiting for it to settle")
        return out

    # -- a telemetry round ---------------------------------------------------------------------
    def on_round(self, seen: Mapping[str, Observation], *, settings: Assurance,
                 failed_links: Collection[str] = (), failed_nodes: Collection[str] = (),
                 failing_at: Collection[str] = (),
                 impaired: Mapping[str, str] | None = None,
                 impaired_links: Mapping[str, str] | None = None) -> list[Transition]:
        """`failing_at`: devices at an end of a failed fibre. Such a device reports itself
        degraded and not stable for as long as the fibre is down (it keeps watching it);
        for a service that does not use that fibre it is not settling. `impaired`: node →
        a fault it reports that spoils what crosses it (a root-cause alarm is raised on
        it): the services through it are degraded at once, whatever they measure.
        `impaired_links`: the same for a fibre (link → why; a polarisation drift its APC
        cannot track)."""
        self.round += 1
        facts = _RoundFacts(frozenset(failed_links), frozenset(failed_nodes),
                            frozenset(failing_at), dict(impaired or {}),
                            dict(impaired_links or {}))
        out: list[Transition] = []
        stamp = self.stamp()
        for name, record in self.records.items():
            if not record.admitted:
                continue
            self._measure(name, record, seen, stamp, settings)
            new, reason = self._decide(record, seen, settings, facts)
            if new is not None:
                self._enter(out, name, record, new, reason)
        return out

    def _measure(self, name: str, record: ServiceRecord, seen: Mapping[str, Observation],
                 stamp: str, settings: Assurance) -> None:
        ends = [seen.get(record.route_nodes[0]), seen.get(record.route_nodes[-1])]
        values = [o.endpoints[name] for o in ends if o is not None and name in o.endpoints]
        if len(values) == 2:                     # both ends read this round: fresh
            record.rate = min(v[0] for v in values)
            fids = [v[1] for v in values if v[1] is not None]
            qbers = [v[2] for v in values if v[2] is not None]
            record.fidelity = min(fids) if fids else None
            record.qber = max(qbers) if qbers else None
            record.rates = [*record.rates, record.rate][-RATE_WINDOW:]
            record.last_updated, record.last_round = stamp, self.round
        record.stale = record.last_round is not None and \
            self.round - record.last_round >= settings.stale_after_rounds

    def _decide(self, record: ServiceRecord, seen: Mapping[str, Observation],
                settings: Assurance, facts: _RoundFacts) -> tuple[str | None, str]:
        broken = sorted(facts.failed_links & set(record.route_links)
                        | facts.failed_nodes & set(record.route_nodes))
        if broken:
            return DOWN, f"{', '.join(broken)} on its path failed"
        for node in record.route_nodes:
            o = seen.get(node)
            if o is not None and o.reachable and o.down:
                return DOWN, f"{node} on its path reports itself down"
        # A device that merely cannot be read (its management session is lost) is no
        # evidence about the data plane: the neighbours' reports are (`broken` above).
        # The service is judged by what its end nodes measure; without them, see `blind`.
        record.pending = {d for d in record.pending if not (
            d in seen and seen[d].reachable
            and (seen[d].stable or (seen[d].degraded and d in facts.failing_at)))}
        faults = [f"{node}: {facts.impaired[node]}" for node in record.route_nodes
                  if node in facts.impaired]
        faults += [f"{link}: {facts.impaired_links[link]}" for link in record.route_links
                   if link in facts.impaired_links]
        if faults:
            record.pending, record.overran, record.rates = set(), (), []
            record.good_rounds, record.converged = 0, True   # recovery must persist
            return DEGRADED, "; ".join(faults)
        if record.pending:
            record.rates = []      # what a settling path delivers says nothing yet
            since = record.stabilising_since
            waited = 0.0 if since is None else self.clock() - since
            devices = ", ".join(sorted(record.pending))
            if waited > settings.stabilisation_timeout_s:
                record.overran = tuple(sorted(record.pending))
                return DEGRADED, (f"stabilisation overran: {devices} not stable after "
                                  f"{settings.stabilisation_timeout_s:g} s")
            if record.state == DEGRADED and record.overran:
                return None, ""
            return STABILISING, f"waiting for {devices} to settle"
        record.overran = ()
        blind = self._blind(record, seen)
        if blind is not None:
            return record.state, blind
        if record.last_round is None:
            return (STABILISING if record.state in (PROVISIONING, STABILISING) else None,
                    "devices stable; waiting for the first measurement at both ends")
        if record.stale or record.last_round != self.round:
            return None, ""        # stale (or not refreshed this round): decides nothing
        return self._judge(record, settings)

    def _blind(self, record: ServiceRecord, seen: Mapping[str, Observation]) -> str | None:
        """Why this round cannot judge the service, when an end node measuring it could not
        be read: the last state is kept (nothing says the data plane changed), with this
        reason; its measured values turn stale after stale-after-rounds rounds."""
        ends = dict.fromkeys((record.route_nodes[0], record.route_nodes[-1]))
        unread = [n for n in ends if n not in seen or not seen[n].reachable]
        if not unread or record.last_round == self.round:
            return None
        since = (f"last measured {record.last_updated}" if record.last_updated
                 else "never measured")
        return (f"{', '.join(unread)} measuring it unreachable: {since}; "
                f"{record.state} kept until it is read again")

    def _judge(self, record: ServiceRecord, settings: Assurance) -> tuple[str | None, str]:
        """Current measurements of a settled service against its objective."""
        rate = sum(record.rates) / len(record.rates) if record.rates else 0.0
        floor = record.planned_rate * (1.0 - settings.rate_tolerance)
        shortfall = None
        if record.fidelity is not None and record.fidelity < record.min_fidelity:
            shortfall = (f"measured fidelity {record.fidelity:.4f} below min-fidelity "
                         f"{record.min_fidelity:g}")
        elif rate < floor:
            shortfall = (f"measured rate {rate:.3g} pairs/s below the planned "
                         f"{record.planned_rate:.3g} − {settings.rate_tolerance:.0%}")
        if shortfall is None:
            record.short_rounds = 0
            if record.state == DEGRADED and record.converged:   # a fault must be over
                record.good_rounds += 1                          # for as long as it had
                if record.good_rounds < PERSISTENCE:             # to last (no flapping)
                    return None, ""
            record.converged, record.good_rounds = True, 0
            return UP, "devices stable; rate and fidelity meet the objective"
        record.good_rounds = 0
        if not record.converged:
            since = record.stabilising_since
            if since is not None and self.clock() - since > settings.stabilisation_timeout_s:
                return DEGRADED, (f"stabilisation overran: {shortfall} after "
                                  f"{settings.stabilisation_timeout_s:g} s")
            return STABILISING, f"devices stable; converging: {shortfall}"
        record.short_rounds += 1
        if record.short_rounds >= PERSISTENCE or record.state == DEGRADED:
            return DEGRADED, f"{shortfall} for {record.short_rounds} rounds"
        return None, ""

    # -- plumbing ----------------------------------------------------------------------------
    def _enter(self, out: list[Transition], name: str, record: ServiceRecord | None,
               new: str, reason: str) -> ServiceRecord:
        if record is None:
            record = ServiceRecord(state=new, reason=reason, last_change=self.stamp())
            self.records[name] = record
            out.append(Transition(name, None, new, reason, record.last_change))
            return record
        if record.state == new:
            record.reason = reason
            return record
        old, record.state, record.reason = record.state, new, reason
        record.last_change = self.stamp()
        out.append(Transition(name, old, new, reason, record.last_change))
        return record


def no_candidates(problem_candidates: Mapping[str, RequestCandidates] | None,
                  names: Iterable[str]) -> set[str]:
    """Requests for which candidate generation found no configuration at all (not those
    self-healing left without candidates for now: `qnum.plan.IDLE`)."""
    if problem_candidates is None:
        return set()
    return {name for name in names
            if (rc := problem_candidates.get(name)) is not None and not rc.candidates
            and rc.reason != IDLE}
