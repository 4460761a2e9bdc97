"""Self-healing: root causes → alarms → re-route only what the failure hit.

The healer is fed by device notifications (fast path), by each telemetry round's state
snapshots (repairs a lost notification) and by the management streams breaking. Whenever
the correlated root causes change, one worker thread:

1. computes which admitted services the new failures hit (their committed route crosses a
   failed fibre or node),
2. re-runs the expansion with the failures removed from the network and every *other*
   admitted service pinned (`keep`) — so Q-NUM only re-places the affected ones, warm
   started, and an unaffected service's device configuration cannot change,
3. commits and pushes the result as one network-wide transaction (the normal path:
   intended, devices, operational), and
4. raises one root alarm per failed element and one derived alarm per affected service
   (`service-rerouted` or `service-down`), clearing them when the root clears.

A short settle window (at most 50 ms by default) lets the reports of one cut from both
ends of the fibre arrive before the solve, so one cut causes one re-route; it ends as
soon as every newly failed element has been reported by two devices. A repair
re-expands too, keeping every live service where it is: only services that had been
dropped come back.
Every round is limited by a `HealScope` (controller/service/heal_scope.py): settings
shared between services (generation entries, sources, APCs) that only unaffected services
use afterwards keep their committed values, and the services it places prefer candidates
that leave shared APCs as they are — so a device's part serving an unaffected service
stays byte-identical.

Revertive mode (sdqn-controller optimiser/revertive, off by default; see
controller/service/revertive.py): the services a failure re-routed are remembered with
their original candidate; once that path has been repaired for the hold-off time, a
revertive round moves each back — every other service kept, the service pinned to its
original candidate and share, pushed by the normal commit (so make-before-break bridges
the move) — or records why it cannot.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from controller.datastore.nmda import Datastore, NmdaStore
from controller.errors import NetconfError
from controller.periodic import PeriodicTask
from controller.service.alarms import (
    AlarmKey,
    AlarmManager,
    Severity,
    link_resource,
    node_resource,
    service_resource,
)
from controller.service.assurance import read_settings
from controller.service.expansion import QnumExpander
from controller.service.faults import (
    FaultCorrelator,
    RootCauses,
    endpoint_qbers,
    link_fidelities,
    link_states,
    parse_link_failure,
)
from controller.service.heal_scope import HealScope, Original
from controller.service.health import NetworkHealth
from controller.service.revertive import (
    HOLDING_OFF,
    RevertiveSettings,
    RevertTracker,
    publish_revertive,
)
from qnum.io import Network
from qnum.plan import Plan

log = structlog.get_logger(__name__)

OPTIMISER = "/sdqn-controller:controller/optimiser"
DEFAULT_TRIGGERS = frozenset({"request-change", "link-failure", "threshold-crossing"})
DEFAULT_FIDELITY_THRESHOLD = 0.9      # sdqn-controller optimiser/fidelity-alarm-threshold
DEFAULT_QBER_THRESHOLD = 0.11         # sdqn-controller optimiser/qber-alarm-threshold
HYSTERESIS = 0.01                     # a crossing clears this far on the good side
#: (link or service, measured value, compensating APC or None) on a threshold crossing
ThresholdHandler = Callable[[str, float, str | None], object]


@dataclass
class HealReport:
    """What one healing round did (kept for the benchmark, tests and the demo)."""

    trigger: str
    started: float                      # time.monotonic() when the root causes changed
    roots: RootCauses
    affected: list[str] = field(default_factory=list)
    rerouted: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    touched_unaffected: list[str] = field(default_factory=list)   # moved (target: none)
    #: 'service on device': an unaffected service whose part of a device changed anyway
    touched_parts: list[str] = field(default_factory=list)
    #: generation entries unaffected services share with moved ones, resized (HealScope)
    resized_entries: list[str] = field(default_factory=list)
    reverted: list[str] = field(default_factory=list)    # back on their original path
    not_reverted: list[str] = field(default_factory=list)   # revert refused (see error)
    preempted: list[str] = field(default_factory=list)   # dropped for a higher priority
    pushed: list[str] = field(default_factory=list)
    degraded: list[str] = field(default_factory=list)   # links planned at measured fidelity
    solve_s: float = 0.0                 # candidates + Q-NUM solve inside the expansion
    push_s: float = 0.0                  # the network-wide device commit (its device phases)
    #: from `started` to the re-expansion's start: the settle window, correlation
    detect_s: float = 0.0
    render_s: float = 0.0                # the rest of the expansion: render, validate, diff
    finished: float = 0.0
    error: str | None = None

    @property
    def seconds(self) -> float:
        return self.finished - self.started

    @property
    def other_s(self) -> float:
        """What is neither detection, expansion nor push: validating intended, the
        durable write, publishing (alarms, operational state, service states)."""
        return max(0.0, self.seconds - self.detect_s - self.solve_s - self.render_s
                   - self.push_s)


def _choice(plan: Plan | None, name: str) -> tuple[Any, float] | None:
    if plan is None:
        return None
    a = plan.assignments.get(name)
    if a is None or not a.admitted or a.candidate is None:
        return None
    return a.candidate.key, round(a.share, 9)


def _original(original: Original) -> tuple[Any, float] | None:
    a = original.assignment
    return (a.candidate.key, round(a.share, 9)) if a.candidate is not None else None


class SelfHealer:
    def __init__(self, store: NmdaStore, expander: QnumExpander, *,
                 alarms: AlarmManager | None = None, settle_s: float = 0.05,
                 retry_s: float = 2.0,
                 pushed: Callable[[], list[str]] | None = None,
                 push_seconds: Callable[[], float] | None = None) -> None:
        self.store = store
        self.expander = expander
        self.alarms = alarms
        self.settle_s = settle_s
        self.retry_s = retry_s
        self.pushed = pushed or (lambda: [])
        self.push_seconds = push_seconds or (lambda: 0.0)
        self.correlator = FaultCorrelator()
        self.reports: list[HealReport] = []
        self._idle = threading.Event()
        self._idle.set()
        #: the worker: no interval, woken by every change (and a failed round's retry)
        self._worker = PeriodicTask("self-healer", self._round, None, join_timeout_s=30)
        self._news = threading.Condition()     # a report arrived (ends the settle early)
        self._since: float | None = None
        self._trigger = ""
        self._measured: dict[str, float] = {}
        #: (kind, subject) → telemetry rounds an alarmed subject went unmeasured
        self._unseen: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._root_alarms: dict[AlarmKey, str] = {}        # key → element
        self._derived: dict[str, AlarmKey] = {}            # service → its derived alarm
        self._unreachable: set[str] = set()
        self._low_links: dict[str, float] = {}             # link → measured fidelity
        self._high_qber: dict[str, float] = {}             # service → measured QBER
        #: called on a crossing of a link served by an APC (urgent calibration) or of a
        #: service's QBER (its APCs calibrate); wired to the calibration scheduler
        self.on_threshold: list[ThresholdHandler] = []
        #: links → resources of active root alarms that explain a quality loss on them
        #: (a polarisation drift, an APC out of spec); wired by the service manager
        self.explaining: Callable[[Sequence[str]], Sequence[str]] = lambda _links: ()
        self._explained: set[AlarmKey] = set()     # threshold crossings a root explains
        #: revertive mode: re-routed services, their original paths and hold-off timers
        self.revertive = RevertTracker()
        self._revert_timer: threading.Timer | None = None
        self._revert_due = False
        self._commit_seen = False        # an operator commit since the last round

    # -- inputs --------------------------------------------------------------------------
    def on_notification(self, node: str, xml: str) -> None:
        parsed = parse_link_failure(xml)
        if parsed is not None and self.correlator.report(node, *parsed):
            self._changed(f"link-failure notification from {node}")

    def on_readings(self, readings: Mapping[str, str], taken_at: float | None = None) -> None:
        """Telemetry snapshots: each repeater's link states replace its earlier reports."""
        changed = [node for node, xml in readings.items()
                   if self.correlator.snapshot(node, link_states(xml), taken_at=taken_at)]
        if changed:
            self._changed(f"device state of {', '.join(sorted(changed))}")
        self._thresholds(readings)

    # -- threshold crossings -------------------------------------------------------------
    def _thresholds(self, readings: Mapping[str, str]) -> None:
        """Link fidelity below / service QBER above the configured thresholds: an alarm
        on the crossing (not per poll); a link no APC compensates is re-planned with its
        measured fidelity (Q-NUM may add purification or avoid it); a link an APC serves,
        and a service's QBER, go to the calibration scheduler first (drift is what an
        APC fixes). A crossing a root alarm explains is not alarmed (`_symptom`)."""
        fid_min, qber_max = self.thresholds()
        fidelity: dict[str, float] = {}
        qber: dict[str, float] = {}
        for xml in readings.values():
            for link, value in link_fidelities(xml).items():
                fidelity[link] = min(value, fidelity.get(link, 1.0))
            for service, value in endpoint_qbers(xml).items():
                qber[service] = max(value, qber.get(service, 0.0))
        network = self.expander.committed.network
        net = self._network_id()
        replan = False
        for link, value in sorted(fidelity.items()):
            apc = network.links[link].compensator if network and link in network.links else None
            key = AlarmKey(link_resource(net, link), "sdqn-alarms:fidelity-threshold")
            if value < fid_min and link not in self._low_links:
                self._low_links[link] = value
                self._symptom(key, [link], f"measured fidelity {value:.4f} of {link} below "
                                           f"{fid_min}" + (f"; {apc} calibrates" if apc
                                                           else "; re-planning"))
                self._fire(link, value, apc)
                replan |= apc is None
            elif value >= fid_min + HYSTERESIS and link in self._low_links:
                del self._low_links[link]
                self._explained.discard(key)
                if self.alarms is not None:
                    self.alarms.clear_alarm(key, f"measured fidelity {value:.4f} recovered")
                replan |= apc is None
            elif link in self._low_links:
                self._symptom(key, [link])
        for service, value in sorted(qber.items()):
            key = AlarmKey(service_resource(service), "sdqn-alarms:qber-threshold")
            if value > qber_max and service not in self._high_qber:
                self._high_qber[service] = value
                self._symptom(key, self._route_links(service),
                              f"measured QBER {value:.4f} above {qber_max}",
                              impacted=[service_resource(service)])
                self._fire(service, value, None)
            elif value <= qber_max - HYSTERESIS and service in self._high_qber:
                del self._high_qber[service]
                self._explained.discard(key)
                if self.alarms is not None:
                    self.alarms.clear_alarm(key, f"measured QBER {value:.4f} recovered")
            elif service in self._high_qber:
                self._symptom(key, self._route_links(service))
        replan |= self._forget_unmonitored(fidelity, qber, network)
        if replan and self._enabled("threshold-crossing"):
            uncompensated = {link: v for link, v in self._low_links.items()
                             if not (network and link in network.links
                                     and network.links[link].compensator)}
            with self._lock:
                self._measured = uncompensated
            self._changed("fidelity threshold crossing")

    def _forget_unmonitored(self, fidelity: Mapping[str, float], qber: Mapping[str, float],
                            network: Network | None) -> bool:
        """A crossing whose subject no device has measured for stale-after-rounds rounds
        (the fibre carries no traffic any more, the service was withdrawn or moved) is
        no longer monitored: its alarm clears with that reason and its stale value stops
        steering the plan. True when an uncompensated link's value was dropped."""
        limit = self.stale_after_rounds()
        replan = False
        for kind, active, seen, resource, type_id in (
                ("link", self._low_links, fidelity,
                 lambda s: link_resource(self._network_id(), s),
                 "sdqn-alarms:fidelity-threshold"),
                ("service", self._high_qber, qber, service_resource,
                 "sdqn-alarms:qber-threshold")):
            for subject in list(active):
                if subject in seen:
                    self._unseen.pop((kind, subject), None)
                    continue
                missed = self._unseen[(kind, subject)] = self._unseen.get((kind, subject), 0) + 1
                if missed < limit:
                    continue
                del active[subject]
                self._unseen.pop((kind, subject), None)
                self._explained.discard(AlarmKey(resource(subject), type_id))
                if self.alarms is not None:
                    self.alarms.clear_alarm(AlarmKey(resource(subject), type_id),
                                            f"no longer monitored: {subject} not measured "
                                            f"for {missed} telemetry rounds")
                replan |= kind == "link" and not (
                    network is not None and subject in network.links
                    and network.links[subject].compensator)
        return replan

    def _symptom(self, key: AlarmKey, links: Sequence[str], text: str | None = None,
                 impacted: Sequence[str] = ()) -> None:
        """A threshold crossing's alarm: raised when the crossing begins (`text`) — unless
        an active root alarm explains the quality loss on `links`. Then no second alarm is
        raised for the same problem (RFC 8632 §3.6; ietf-alarms root-cause-resource: "should
        not also generate an alarm for the same problem"), and one raised before the
        explanation came is cleared naming it; either way for the rest of the crossing,
        which is that fault's consequence until the measurement recovers."""
        if self.alarms is None or key in self._explained:
            return
        why = self.explaining(links)
        if why:
            self._explained.add(key)
            self.alarms.clear_alarm(key, f"explained by the active root alarm on "
                                         f"{', '.join(why)}")
        elif text is not None:
            self.alarms.raise_alarm(key, Severity.MAJOR, text, impacted=impacted)

    def _route_links(self, service: str) -> tuple[str, ...]:
        plan = self.expander.committed.plan
        a = plan.assignments.get(service) if plan is not None else None
        return tuple(a.candidate.route.links) if a is not None and a.candidate else ()

    def stale_after_rounds(self) -> int:
        return read_settings(self.store).stale_after_rounds

    def _fire(self, subject: str, value: float, apc: str | None) -> None:
        for handler in self.on_threshold:
            try:
                handler(subject, value, apc)
            except Exception as exc:  # a failing handler must not stop fault handling
                log.error("threshold handler failed", subject=subject, error=str(exc))

    def thresholds(self) -> tuple[float, float]:
        """(fidelity-alarm-threshold, qber-alarm-threshold) from running."""
        opt = self._optimiser()
        return (float(opt.get("fidelity-alarm-threshold", DEFAULT_FIDELITY_THRESHOLD)),
                float(opt.get("qber-alarm-threshold", DEFAULT_QBER_THRESHOLD)))

    def on_stream(self, node: str, up: bool) -> None:
        """A device's management stream broke or came back: its own alarm (the data plane
        is judged by the neighbours' reports)."""
        key = AlarmKey(self.node_resource(node), "sdqn-alarms:device-unreachable")
        if self.alarms is None:
            return
        if up:
            self._unreachable.discard(node)
            self.alarms.clear_alarm(key, f"management session to {node} restored")
        else:
            self._unreachable.add(node)
            self.alarms.raise_alarm(key, Severity.MAJOR,
                                    f"management session to {node} lost")

    # -- worker --------------------------------------------------------------------------
    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        with self._lock:
            timer, self._revert_timer = self._revert_timer, None
        if timer is not None:
            timer.cancel()
        self._worker.stop()

    def wait_idle(self, timeout: float) -> bool:
        """Block until no healing round is pending or running (tests, benchmark)."""
        return self._idle.wait(timeout)

    def wait_rounds(self, since: int, timeout: float) -> list[HealReport]:
        """The rounds reported after the first `since`, once at least one exists and the
        healer is idle again (empty if none came within `timeout`)."""
        deadline = time.monotonic() + timeout
        while len(self.reports) <= since and time.monotonic() < deadline:
            time.sleep(0.01)
        self.wait_idle(max(0.0, deadline - time.monotonic()))
        return self.reports[since:]

    def _changed(self, why: str) -> None:
        with self._lock:
            if self._since is None:
                self._since, self._trigger = time.monotonic(), why
            self._idle.clear()
        self._worker.trigger()
        with self._news:
            self._news.notify_all()

    def _round(self) -> None:
        """The worker's round, after a change or a hold-off's end. Changes that arrive
        during the settle window join this round (the ones after it wake the next); a
        round woken by such a joined change finds nothing left to do. A revert runs after
        the healing, which may have stopped its hold-off."""
        with self._lock:
            due = self._since is not None
            reverting, self._revert_due = self._revert_due, False
            committed, self._commit_seen = self._commit_seen, False
        if due and not self._settle():  # let the other end's report arrive
            with self._lock:
                since, trigger = self._since, self._trigger
                self._since = None
            try:
                report = self.heal_now(trigger=trigger, since=since)
                if report is not None and report.error is not None:
                    self._retry(since, trigger)
            except Exception as exc:  # keep healing on the next change
                log.error("self-healing round failed", error=str(exc))
                self._retry(since, trigger)
        try:
            if reverting:
                self.revert_now()
            elif committed:
                self._revertive_update()
        except Exception as exc:  # keep healing; the entries say what is left
            log.error("revertive round failed", error=str(exc))
        with self._lock:
            if self._since is None and not self._revert_due and not self._worker.pending:
                self._idle.set()

    def _settle(self) -> bool:
        """Wait for the rest of a failure's reports, at most `settle_s`: over as soon as
        every element newly reported failed has been reported by two devices (a fibre's
        two ends; a node's neighbours), so a complete picture costs no fixed delay.
        True when the healer is stopping."""
        deadline = time.monotonic() + self.settle_s
        with self._news:   # held from the check to the wait: no report slips in between
            while not self._reported_twice():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._news.wait(left)
        return self._worker.stopping

    def _reported_twice(self) -> bool:
        """Every element failed since the plan was made is reported by two devices (a
        repair, or a fidelity crossing, has nothing left to wait for)."""
        roots = self.correlator.roots()
        old = self.expander.health
        new = (roots.failed_links - old.failed_links) | (roots.failed_nodes - old.failed_nodes)
        return all(len(roots.reported_by(e)) >= 2 for e in new)

    def _retry(self, since: float | None, trigger: str) -> None:
        if self._worker.wait(self.retry_s):
            return
        with self._lock:
            if self._since is None:
                self._since, self._trigger = since, f"retry: {trigger}"
        self._worker.trigger()

    # -- healing -------------------------------------------------------------------------
    def heal_now(self, *, trigger: str = "manual", since: float | None = None
                 ) -> HealReport | None:
        """One round: re-expand if the root causes differ from what the plan assumed."""
        roots = self.correlator.roots()
        exp = self.expander
        old = exp.health
        with self._lock:
            measured = dict(self._measured)
        new = NetworkHealth(roots.failed_links, roots.failed_nodes, measured, roots.watch)
        if new.same_failures(old):
            exp.health = new          # who watches may change; what failed did not
            self._sync_root_alarms(roots)
            return None
        report = HealReport(trigger=trigger, started=since or time.monotonic(), roots=roots)
        before = exp.committed.plan
        network = exp.committed.network
        if before is None or network is None:
            exp.health = new
            self._sync_root_alarms(roots)
            return None
        unusable = new.unusable_links(network)
        degraded = {link for link, value in new.link_fidelity.items()
                    if old.link_fidelity.get(link) != value}
        report.degraded = sorted(new.link_fidelity)
        admitted = {a.request.name: a for a in before.admitted if a.candidate is not None}
        report.affected = sorted(
            name for name, a in admitted.items()
            if a.candidate is not None and (set(a.candidate.route.links) & (unusable | degraded)
                                            or set(a.candidate.route.nodes) & new.failed_nodes))
        # A failure re-places what it hit and nothing else: live services stay where they
        # are and rejected ones stay rejected (capacity the failure freed is for the next
        # regular re-optimisation). A repair hits nothing: live services stay, and the
        # rejected ones may come back.
        keep = frozenset(admitted) - set(report.affected)
        if report.affected:
            keep |= frozenset(before.assignments) - set(admitted)
        if not self._enabled("link-failure"):
            exp.health = new   # alarms only; the next commit plans around the failure
            self._sync_root_alarms(roots)
            self._derive(report, before, before)
            self._revertive_update()
            return self._finish(report)
        scope = HealScope(committed=dict(exp.committed.docs))
        exp.health, exp.keep, exp.scope = new, keep, scope
        report.detect_s = time.monotonic() - report.started
        try:
            with self.store.sessions.server_change(f"self-healing after {trigger}"):
                self.store.reexpand()
        except NetconfError as exc:
            exp.health = old
            report.error = "; ".join(e.message or "" for e in exc.errors)
            log.error("self-healing commit refused", error=report.error)
            if self.alarms is not None:
                self.alarms.raise_alarm(
                    AlarmKey(self._network_resource(), "sdqn-alarms:commit-failed", "heal"),
                    Severity.MAJOR, f"re-route after {trigger} refused: {report.error}")
            self._sync_root_alarms(roots)
            self._revertive_update()
            return self._finish(report)
        finally:
            exp.keep, exp.scope = frozenset(), None
        after = exp.committed.plan
        report.touched_parts = list(scope.touched)
        report.resized_entries = list(scope.resized)
        if self.alarms is not None:
            self.alarms.clear_alarm(
                AlarmKey(self._network_resource(), "sdqn-alarms:commit-failed", "heal"))
        report.pushed = self.pushed()
        report.solve_s = exp.committed.solve_s
        report.render_s = max(0.0, exp.committed.expand_s - exp.committed.solve_s)
        report.push_s = self.push_seconds() if report.pushed else 0.0
        report.rerouted = [n for n in report.affected if _choice(after, n) is not None]
        report.dropped = [n for n in report.affected if _choice(after, n) is None]
        report.touched_unaffected = sorted(
            n for n in keep if n in admitted and _choice(after, n) is not None
            and _choice(before, n) != _choice(after, n))
        report.preempted = sorted(n for n in keep if n in admitted and _choice(after, n) is None)
        report.restored = sorted(a.request.name for a in (after.admitted if after else [])
                                 if a.request.name not in admitted)
        self._sync_root_alarms(roots)
        self._derive(report, before, after)
        if self.revertive_settings().enabled:
            for name in report.rerouted:
                self.revertive.remember(name, Original(before.assignments[name], network))
        self._revertive_update()
        return self._finish(report)

    # -- revertive mode ------------------------------------------------------------------
    def revertive_settings(self) -> RevertiveSettings:
        return RevertiveSettings.from_optimiser(self._optimiser())

    def _revertive_update(self) -> None:
        """The failures or the plan changed: forget services withdrawn or back on their
        original path, stop or start hold-offs, re-arm the timer, publish."""
        settings = self.revertive_settings()
        plan = self.expander.committed.plan
        if not settings.enabled or plan is None:
            self.revertive.clear()
        else:
            self.revertive.retain([
                name for name, entry in self.revertive.entries().items()
                if name in plan.assignments and _choice(plan, name) != _original(entry.original)])
            self.revertive.update(self._breaks, settings.hold_off_s)
        self._arm_revert_timer()
        self._publish_revertive()

    def _breaks(self, original: Original) -> str | None:
        """The failures (and degraded fibres) on an original path, None when it is whole."""
        cand = original.assignment.candidate
        exp = self.expander
        network = exp.committed.network
        if cand is None or network is None:
            return None
        bad = exp.health.unusable_links(network) | set(exp.health.link_fidelity)
        hit = [lk for lk in cand.route.links if lk in bad] + \
            [n for n in cand.route.nodes if n in exp.health.failed_nodes]
        return ", ".join(hit) if hit else None

    def _arm_revert_timer(self) -> None:
        """One timer, for the earliest hold-off end: it wakes the worker (threading.Timer,
        as the store's confirmed-commit timeout; rounds stay on the worker thread)."""
        wait = self.revertive.next_due()
        with self._lock:
            old, self._revert_timer = self._revert_timer, None
            if wait is not None:
                timer = threading.Timer(wait, self._hold_off_ended)
                timer.daemon = True
                timer.name = "revertive-hold-off"
                self._revert_timer = timer
                timer.start()
        if old is not None:
            old.cancel()

    def _hold_off_ended(self) -> None:
        with self._lock:
            self._revert_due = True
            self._idle.clear()
        self._worker.trigger()

    def on_commit(self) -> None:
        """An operator committed running: revertive may have been turned off or its
        hold-off changed, a waiting service withdrawn or placed back on its original
        path. The worker brings the entries in line (not this thread, which holds the
        store)."""
        with self._lock:
            self._commit_seen = True     # (not a healing round: idle stays as it is)
        self._worker.trigger()

    def revert_now(self) -> list[HealReport]:
        """Move back every service whose hold-off has ended, one commit each (so a refusal
        names its service and the others still go)."""
        reports: list[HealReport] = []
        if self.revertive_settings().enabled:
            for name in self.revertive.due():
                entry = self.revertive.get(name)
                if entry is not None and entry.state == HOLDING_OFF:
                    report = self._revert(name, entry.original)
                    if report is not None:
                        reports.append(report)
        self._revertive_update()
        return reports

    def _revert(self, name: str, original: Original) -> HealReport | None:
        exp = self.expander
        before = exp.committed.plan
        if before is None or name not in before.assignments:
            self.revertive.forget(name)
            return None
        if _choice(before, name) == _original(original):
            self.revertive.forget(name)            # already back (a re-optimisation)
            return None
        report = HealReport(trigger=f"revertive hold-off expired for {name}",
                            started=time.monotonic(), roots=self.correlator.roots(),
                            affected=[name])
        keep = frozenset(before.assignments) - {name}
        scope = HealScope(committed=dict(exp.committed.docs), revert={name: original})
        exp.keep, exp.scope = keep, scope
        path = " → ".join(original.path)
        try:
            with self.store.sessions.server_change(
                    f"revertive: {name} back to {path} after hold-off"):
                self.store.reexpand()
        except NetconfError as exc:
            report.error = "; ".join(e.message or "" for e in exc.errors)
            report.not_reverted = [name]
            self.revertive.refuse(name, f"stays on its current path: {report.error}")
            log.warning("revertive: service stays on its current path", service=name,
                        original_path=path, reason=report.error)
            return self._finish(report)
        finally:
            exp.keep, exp.scope = frozenset(), None
        committed = exp.committed
        after = committed.plan
        report.pushed = self.pushed()
        report.solve_s = committed.solve_s
        report.push_s = self.push_seconds() if report.pushed else 0.0
        report.touched_unaffected = sorted(
            n for n in keep if _choice(before, n) != _choice(after, n))
        if _choice(after, name) == _original(original):
            report.reverted = [name]
            self.revertive.forget(name)
            log.info("reverted to original path after hold-off", service=name, path=path,
                     make_before_break=name in committed.moving and bool(committed.bridges),
                     bridged=sorted(committed.bridges))
        return self._finish(report)

    def _publish_revertive(self) -> None:
        publish_revertive(self.store, self.revertive)

    def _finish(self, report: HealReport) -> HealReport:
        report.finished = time.monotonic()
        self.reports.append(report)
        del self.reports[:-64]
        log.info("self-healing", trigger=report.trigger, seconds=round(report.seconds, 3),
                 failed_links=sorted(report.roots.failed_links),
                 failed_nodes=sorted(report.roots.failed_nodes), affected=report.affected,
                 rerouted=report.rerouted, dropped=report.dropped, restored=report.restored,
                 preempted=report.preempted, reverted=report.reverted,
                 touched_unaffected=report.touched_unaffected,
                 touched_parts=report.touched_parts,
                 resized_entries=len(report.resized_entries), error=report.error,
                 detect_s=round(report.detect_s, 3), solve_s=round(report.solve_s, 3),
                 render_s=round(report.render_s, 3), push_s=round(report.push_s, 3),
                 other_s=round(report.other_s, 3))
        return report

    def _enabled(self, trigger: str) -> bool:
        configured = self._optimiser().get("re-optimisation-triggers")
        return trigger in (set(configured) if configured is not None else DEFAULT_TRIGGERS)

    def _optimiser(self) -> dict[str, Any]:
        """Running's optimiser settings: just that subtree, read under the store's lock
        (this runs on telemetry and healer threads while commits change running)."""
        text = self.store.get(Datastore.RUNNING, xpath=OPTIMISER)
        data: dict[str, Any] = json.loads(text) if text else {}
        return dict(data.get("sdqn-controller:controller", {}).get("optimiser", {}))

    # -- alarms --------------------------------------------------------------------------
    def _network_id(self) -> str:
        network = self.expander.committed.network
        return network.network_id if network is not None else "unknown"

    def _network_resource(self) -> str:
        return f"/ietf-network:networks/network[network-id='{self._network_id()}']"

    def link_resource(self, link: str) -> str:
        """A link of the committed network as an alarm resource."""
        return link_resource(self._network_id(), link)

    def node_resource(self, node: str) -> str:
        """A node of the committed network as an alarm resource."""
        return node_resource(self._network_id(), node)

    def _root_keys(self, roots: RootCauses) -> dict[AlarmKey, tuple[str, str]]:
        net = self._network_id()
        keys: dict[AlarmKey, tuple[str, str]] = {}
        for link in roots.failed_links:
            kind = "link-down" if link in roots.unlocated else "fibre-cut"
            keys[AlarmKey(link_resource(net, link), f"sdqn-alarms:{kind}")] = (link, kind)
        for node in roots.failed_nodes:
            keys[AlarmKey(node_resource(net, node), "sdqn-alarms:device-failure")] = (
                node, "device-failure")
        return keys

    def _sync_root_alarms(self, roots: RootCauses) -> None:
        if self.alarms is None:
            return
        wanted = self._root_keys(roots)
        for key, (element, kind) in wanted.items():
            seen = ", ".join(roots.reported_by(element))
            text = {"fibre-cut": f"no light on fibre {element} (seen by {seen})",
                    "link-down": f"link {element} unusable (seen by {seen})",
                    "device-failure": f"node {element} is down (seen by {seen})"}[kind]
            self.alarms.raise_alarm(key, Severity.CRITICAL, text)
            self._root_alarms[key] = element
        for key in [k for k in self._root_alarms if k not in wanted]:
            self.alarms.clear_alarm(key, f"{self._root_alarms.pop(key)} repaired")

    def _derive(self, report: HealReport, before: Plan, after: Plan | None) -> None:
        """Derived alarms on the services the failure hit, pointing at their roots."""
        if self.alarms is None:
            return
        net = self._network_id()
        roots = report.roots
        resources = {**{link: link_resource(net, link)
                        for link in (*roots.failed_links, *report.degraded)},
                     **{node: node_resource(net, node) for node in roots.failed_nodes}}
        for name in report.affected:
            old = before.assignments[name]
            route = old.candidate.route if old.candidate is not None else None
            hit = sorted(resources[e] for e in resources
                         if route is not None and (e in route.links or e in route.nodes))
            if name in report.rerouted:
                key = AlarmKey(service_resource(name), "sdqn-alarms:service-rerouted")
                severity, text = Severity.WARNING, "re-routed around the failure"
            else:
                key = AlarmKey(service_resource(name), "sdqn-alarms:service-down")
                reason = (after.assignments[name].reason if after is not None
                          and name in after.assignments else None)
                severity, text = Severity.CRITICAL, f"no route around the failure: {reason}"
            previous = self._derived.get(name)
            if previous is not None and previous != key:
                self.alarms.clear_alarm(previous, "superseded")
            self.alarms.raise_alarm(key, severity, text, root_causes=hit,
                                    impacted=[service_resource(name)])
            self._derived[name] = key
        # Services whose roots are all gone (repaired) and that are served again: clear.
        live = {a.request.name for a in (after.admitted if after is not None else [])}
        for name, key in list(self._derived.items()):
            alarm = self.alarms.get(key)
            still = alarm is not None and any(
                r in resources.values() for r in alarm.root_causes)
            if not still and name in live:
                self.alarms.clear_alarm(key, "failure repaired; service served")
                del self._derived[name]
