"""APC calibration scheduling by the controller.

An automatic polarisation compensator (sdqn-apc) tracks its fibre's drifting polarisation
continuously, but the residual error still grows, so it needs a full calibration about
hourly (controller/README.md, "Operational facts"). A calibration blinds the fibre for its whole
duration (``expected-duration``: 30 s on the emulated APC, minutes on real ones), so
*when* it runs decides whether a service loses key. The scheduler decides that from what
only the controller knows — the committed Q-NUM plan — and from the devices' state.

Periodic calibration (one cycle per device ``last-calibration``)
  due = last-calibration + ``interval_s`` (default hourly). When due:

  * the APC's fibres carry no admitted service in the committed plan → it is an idle
    window now: ``calibrate(force=false)``. Not ``force=true``: "idle in the plan" is not
    "dark" (an old path kept up by make-before-break, a service not yet released), and
    the device's own check then defers instead of interrupting;
  * a fibre carries admitted services → wait (one ``deferred`` event) for the plan to
    leave it idle (a service withdrawn or moved), and at due + ``max_deferral_s`` force
    it (``deferred-deadline``): a calibration postponed for ever would let the drift
    ruin every service on the fibre instead of interrupting them briefly.

  Why not the TDMA idle share: a service granted share s < 1 leaves 1 − s of the
  link's slots free (:func:`qnum.schedule.build_schedule`), but those slots are spread
  over a frame of ``frame_slots`` attempt periods — 0.28 s for the demo services on
  the metro topology (1000 slots of 280 µs) — while a calibration takes tens of
  seconds and the ``calibrate`` action cannot be aligned to a slot. A gap inside a
  frame can never hold a calibration, so the only usable window is a fibre no
  admitted service crosses; the plan's share is published (``busy_share``) for
  operators, not used.

Urgent calibration (force)
  * *QBER over threshold* (default 0.11, the BB84 limit): every measured QBER the
    devices report — a repeater's heralded link fidelity as e = 2(1 − F)/3 (qnum/README.md,
    "QKD"), an end node's per-service QBER — is attributed to the
    fibres it crosses (the repeater's span, the service's committed route). On a
    crossing, the APCs on those fibres are calibrated one at a time, the one reporting
    the largest misalignment-error first, until the QBER is back under threshold −
    0.01 (hysteresis): each APC at most once per crossing, so a QBER that calibration
    cannot fix (loss, a bad memory) blinds no fibre twice — the self-healer re-plans
    that case.
  * *Out of specification*: an APC reporting ``spec-status out-of-spec`` is calibrated
    once per out-of-spec episode (again if it is still out of spec after a calibration
    completed, never while one runs).
  * *A fibre drifting faster than its APC tracks* (``explained``: the APC's fibre has an
    active ``polarisation-drift`` alarm, controller/service/polarisation_drift.py) is out
    of spec again tolerance / (drift × tracking residual) after every calibration: a few
    minutes in a 50× surge, where recalibrating each time is still what keeps the
    services usable (left alone the misalignment grows until their QBER is past use),
    but seconds in a stronger one, where calibrating on every out-of-spec report would
    keep the fibre dark most of the time. So while the alarm holds, a forced calibration
    of that APC (any urgent trigger) waits until the fibre has carried traffic for as
    long as the previous forced calibration blinded it: it is dark at most half the time.
  * *An APC that is itself failing* (``failing``: its own ``apc-out-of-spec`` alarm is
    active, controller/service/apc_spec.py — a stuck actuator, a broken polarisation
    controller) is not brought back by calibrating: each forced calibration blinds the
    fibre for nothing. The first one is still sent (only it can tell a failing APC from
    a misaligned one), then every further forced one (any urgent trigger, a deferral's
    deadline) waits twice as long as the previous wait — 2, 4, 8 … calibration
    durations after each, at most ``interval_s`` — so a repaired APC is still calibrated
    without an operator, but a broken one is not hammered.

No hammering: nothing is sent to an APC while it reports ``calibration-in-progress``, nor
within the expected duration of a calibration the scheduler started (the device's own
answer, else :data:`ASSUMED_DURATION_S`; released early when the device reports a new
``last-calibration``), nor within ``retry_s`` of a failed request, nor (forced) during
the rest a drifting fibre or a failing APC gets after a forced calibration.

The device's own scheduling (sdqn-apc ``calibration-interval``, ``prefer-idle-windows``,
``max-deferral``, rendered by :mod:`controller.service.render` as 3600 s / true / 600 s
for every APC): the emulated APC calibrates by itself at last-calibration + interval,
deferring to its own view of idleness for at most max-deferral. Both schedulers count
from the same ``last-calibration``, so they cannot calibrate twice: whichever starts
first, the other sees ``calibration-in-progress`` (the scheduler sends nothing; a device
asked anyway answers ``busy``) and then a new last-calibration, which restarts both
cycles. With ``interval_s`` equal to the rendered interval the two race for the same
moment and the device usually wins; the controller then only adds the urgent triggers
and the forced deadline. So that the plan-aware controller places every periodic
calibration while it runs, and the device's own timer is only the backstop if the
controller is gone, the renderer should set ``calibration-interval`` to
``interval_s + max_deferral_s`` (4200 s for the defaults) and ``max-deferral`` to
``max_deferral_s``, keeping ``prefer-idle-windows`` true. Devices without a timer of
their own (the Polarix APC never calibrates by itself) depend on this scheduler.

Outcomes are :class:`CalibrationEvent` values given to ``on_event`` (the service manager
raises/clears alarms from them); :meth:`CalibrationScheduler.schedule` gives the per-APC
view for publishing.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import structlog
from lxml import etree

from controller.periodic import PeriodicTask
from controller.service.faults import endpoint_qbers, link_fidelities
from qnum.candidates import Route
from qnum.io import Network
from qnum.physics import qber_from_fidelity
from qnum.plan import Plan
from southbound.adapter import AdapterError
from southbound.pool import SessionPool

log = structlog.get_logger(__name__)

APC_NS = "urn:sdqn:sdqn-apc"
_A = f"{{{APC_NS}}}"
DEFAULT_INTERVAL_S = 3600.0        # recalibrate about hourly (controller/README.md)
DEFAULT_MAX_DEFERRAL_S = 600.0     # sdqn-apc max-deferral default
DEFAULT_QBER_THRESHOLD = 0.11      # sdqn-controller optimiser/qber-alarm-threshold default
QBER_HYSTERESIS = 0.01             # a crossing ends this far under the threshold (as heal.py)
#: How long a calibration is assumed to take when the device does not say.
ASSUMED_DURATION_S = 30.0
EVENT_HISTORY = 256

Reason = Literal["periodic", "deferred-deadline", "urgent-qber", "urgent-out-of-spec",
                 "operator"]
Result = Literal["started", "deferred", "busy", "failed"]
State = Literal["scheduled", "deferred", "requested", "calibrating", "unavailable"]
_RESULTS: tuple[Result, ...] = ("started", "deferred", "busy")


@dataclass(frozen=True)
class CalibrationEvent:
    """One scheduling decision: a calibrate request sent to an APC (started, deferred by
    the device, busy, failed) or the controller deferring a due calibration (deferred)."""

    apc: str
    links: tuple[str, ...]
    reason: Reason
    result: Result
    expected_duration: float | None = None   # seconds until the calibration completes
    error: str | None = None
    force: bool = False
    detail: str = ""
    at: float = 0.0                          # scheduler clock (epoch seconds)


@dataclass(frozen=True)
class ApcReading:
    """What the scheduler needs from one APC's operational data (sdqn-apc state/status)."""

    last_calibration: float | None       # epoch seconds
    next_calibration: float | None       # the device's own next due time
    in_progress: bool
    misalignment_error: float | None     # bit-flip probability sin²(θ/2)
    out_of_spec: bool
    down: bool                           # oper-status down: no light, nothing to calibrate


@dataclass(frozen=True)
class ApcSchedule:
    """Per-APC schedule for publishing (times in epoch seconds)."""

    apc: str
    links: tuple[str, ...]
    state: State
    last_calibration: float | None
    next_due: float | None            # last-calibration + interval
    planned_at: float | None          # when the scheduler will calibrate under this plan
    window: str                       # why then: "idle", or the busy fibres and shares
    busy_share: float                 # largest planned time share on its fibres (0 = idle)
    device_next: float | None         # the device's own next-calibration
    last_event: CalibrationEvent | None


def compensators(network: Network | None) -> dict[str, tuple[str, ...]]:
    """APC node → the fibres it compensates (topology ``compensator``): the ``apcs``
    source for a scheduler over the committed network."""
    out: dict[str, list[str]] = {}
    for link_id, link in (network.links.items() if network is not None else ()):
        if link.compensator is not None:
            out.setdefault(link.compensator, []).append(link_id)
    return {apc: tuple(sorted(links)) for apc, links in sorted(out.items())}


def _epoch(stamp: str | None) -> float | None:
    """yang:date-and-time (RFC 3339) → epoch seconds."""
    if not stamp:
        return None
    return datetime.fromisoformat(stamp.strip().replace("Z", "+00:00")).timestamp()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


def read_apc(xml: str) -> ApcReading | None:
    """The sdqn-apc state in a device's operational XML (None if it has no APC)."""
    root = etree.fromstring(f"<data>{xml}</data>".encode())
    apc = next(root.iter(f"{_A}apc"), None)
    if apc is None:
        return None
    state = apc.find(f"{_A}state")

    def leaf(name: str) -> str | None:
        return state.findtext(f"{_A}{name}") if state is not None else None

    error = leaf("misalignment-error")
    oper = apc.findtext(f"{_A}status/{_A}oper-status") or ""
    return ApcReading(_epoch(leaf("last-calibration")), _epoch(leaf("next-calibration")),
                      leaf("calibration-in-progress") == "true",
                      float(error) if error is not None else None,
                      leaf("spec-status") == "out-of-spec",
                      oper.rsplit(":", 1)[-1] == "down")


def calibrate_action(force: bool) -> str:
    """The RFC 7950 §7.15.2 data tree of the sdqn-apc ``calibrate`` action (what
    ``DeviceAdapter.action`` takes; NETCONF wraps it in <action>, a vendor adapter maps
    it to its own call)."""
    return (f'<apc xmlns="{APC_NS}"><calibrate><force>{"true" if force else "false"}'
            "</force></calibrate></apc>")


def calibrate_result(output_xml: str) -> tuple[Result, float | None]:
    """(result, expected-duration) of a ``calibrate`` action's output elements."""
    root = etree.fromstring(f"<output>{output_xml}</output>".encode())
    text = (root.findtext(f"{_A}result") or "").strip()
    expected = root.findtext(f"{_A}expected-duration")
    for result in _RESULTS:
        if result == text:
            return result, float(expected) if expected is not None else None
    raise ValueError(f"calibrate answered {text or 'nothing'!r}")


@dataclass
class _Track:
    """The scheduler's memory of one APC."""

    reading: ApcReading | None = None
    read_at: float = float("-inf")
    cycle_known: bool = False
    cycle: float | None = None        # last-calibration the periodic cycle counts from
    since: float = 0.0                # first seen without any calibration (its due time)
    asked: bool = False               # calibrate(force=false) sent in this cycle
    deferring: bool = False           # the controller waits for an idle window
    hold_until: float = float("-inf")  # send nothing before (running, or retry back-off)
    oos_fired: bool = False           # urgent sent for the current out-of-spec episode
    oos_last: float | None = None     # last-calibration when it was sent
    rest_until: float = float("-inf")  # drifting: no forced calibration before (module doc)
    futile: int = 0                   # forced calibrations started while it was failing
    last_event: CalibrationEvent | None = None


class CalibrationScheduler:
    """Places APC calibrations (module docstring). Thread-safe: rounds, urgent requests
    and the publishing view are serialised by one lock, which is what guarantees that two
    triggers in the same moment send one calibrate, not two."""

    def __init__(self, pool: SessionPool, plan: Callable[[], Plan | None],
                 apcs: Callable[[], Mapping[str, Sequence[str]]], *,
                 interval_s: float = DEFAULT_INTERVAL_S,
                 max_deferral_s: float = DEFAULT_MAX_DEFERRAL_S,
                 qber_threshold: float | Callable[[], float] = DEFAULT_QBER_THRESHOLD,
                 clock: Callable[[], float] = time.time,
                 on_event: Callable[[CalibrationEvent], object] | None = None,
                 retry_s: float = 60.0, wait_s: float = 5.0,
                 explained: Callable[[str], Sequence[str]] = lambda _apc: (),
                 failing: Callable[[str], bool] = lambda _apc: False) -> None:
        """`explained`: APC → the resources of active root alarms that explain its being
        out of spec again and again (forced calibrations are then spaced out); `failing`:
        the APC itself is alarmed as out of spec (forced calibrations back off)."""
        if interval_s <= 0 or max_deferral_s < 0:
            raise ValueError("interval_s must be > 0 and max_deferral_s >= 0")
        self.pool = pool
        self.plan = plan
        self.apcs = apcs
        self.interval_s = interval_s
        self.max_deferral_s = max_deferral_s
        self._threshold = qber_threshold
        self.clock = clock
        self.on_event = on_event
        self.retry_s = retry_s
        self.wait_s = wait_s
        self.explained = explained
        self.failing = failing
        self.events: deque[CalibrationEvent] = deque(maxlen=EVENT_HISTORY)
        self._tracks: dict[str, _Track] = {}
        self._crossings: dict[str, set[str]] = {}   # QBER observation → APCs tried
        self._round: list[CalibrationEvent] = []
        self._lock = threading.RLock()
        self._loop = PeriodicTask("apc-calibration", self.run_once, None,
                                  run_immediately=True)

    @property
    def qber_threshold(self) -> float:
        return self._threshold() if callable(self._threshold) else self._threshold

    # -- rounds ------------------------------------------------------------------------------
    def run_once(self, readings: Mapping[str, str] | None = None) -> list[CalibrationEvent]:
        """One scheduling round. `readings` (node → operational XML, e.g. a telemetry
        round's) are used as they are: an APC missing from them is left for the next
        round. Without readings, the APCs and the end nodes / repeaters of services over
        compensated fibres are read over the pool."""
        with self._lock:
            apcs = {apc: tuple(links) for apc, links in self.apcs().items()}
            plan = self.plan()
            if readings is None:
                readings = self._read(apcs, plan)
            readings = {node: xml for node, xml in readings.items() if _well_formed(node, xml)}
            now = self.clock()
            for apc in apcs:
                xml = readings.get(apc)
                self._observe(apc, read_apc(xml) if xml is not None else None, now)
            self._round = []
            self._urgent_qber(apcs, plan, readings, now)
            for apc, links in apcs.items():
                self._out_of_spec(apc, links, now)
            load = plan.link_load() if plan is not None else {}
            for apc, links in apcs.items():
                self._periodic(apc, links, load, now)
            return self._round

    def urgent(self, apc: str, reason: Reason = "urgent-qber") -> CalibrationEvent:
        """Calibrate now (force). Refused without asking the device while a calibration
        runs or a request failed recently: the returned event says ``busy`` and is not
        published (only decisions that reach a device, or defer one, are)."""
        with self._lock:
            links = tuple(self.apcs().get(apc, ()))
            now = self.clock()
            if self._calibrating(apc, now, fresh_s=ASSUMED_DURATION_S) \
                    or self._resting(apc, now):
                return CalibrationEvent(apc, links, reason, "busy", force=True, at=now,
                                        detail="calibrating, retry back-off or the rest "
                                               "after a forced one; not sent")
            return self._send(apc, links, reason, force=True, now=now)

    def requested(self, apc: str, force: bool) -> CalibrationEvent:
        """An operator's calibration (the sdqn-controller calibrate-apc rpc): always
        sent, the device's own check answers it (busy while one runs, deferred without
        `force` while services use the fibre); recorded like the scheduler's own, so
        the hold-off and the next periodic cycle count from it. KeyError for a node
        that is not an APC of the committed topology."""
        with self._lock:
            apcs = self.apcs()
            if apc not in apcs:
                raise KeyError(apc)
            return self._send(apc, tuple(apcs[apc]), "operator", force=force,
                              now=self.clock(), detail="requested by an operator")

    def schedule(self) -> list[ApcSchedule]:
        """Per APC: last calibration, next due, when and why it will run, state."""
        with self._lock:
            apcs = {apc: tuple(links) for apc, links in self.apcs().items()}
            plan = self.plan()
            load = plan.link_load() if plan is not None else {}
            return [self._view(apc, links, load) for apc, links in sorted(apcs.items())]

    def start(self, interval_s: float) -> None:
        """Run a round (reading over the pool) now and then every `interval_s` seconds in
        a thread; a bad round is logged and does not end scheduling."""
        self._loop.interval_s = interval_s
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop(timeout=self.wait_s + 5)

    # -- inputs --------------------------------------------------------------------------------
    def _read(self, apcs: Mapping[str, tuple[str, ...]], plan: Plan | None) -> dict[str, str]:
        compensated = {lk for links in apcs.values() for lk in links}
        nodes = set(apcs)
        for route in _routes(plan).values():
            if compensated & set(route.links):
                nodes.update(route.memory_nodes)
        out: dict[str, str] = {}
        for node in sorted(nodes):
            try:
                with self.pool.session(node, wait_s=self.wait_s) as adapter:
                    out[node] = adapter.get_state()
            except AdapterError as exc:
                log.debug("calibration: no reading", node=node, error=str(exc))
        return out

    def _observe(self, apc: str, reading: ApcReading | None, now: float) -> None:
        track = self._track(apc)
        track.reading, track.read_at = reading, now
        if not self.failing(apc):
            track.futile = 0
        if reading is None:
            return
        if not track.cycle_known or reading.last_calibration != track.cycle:
            if track.cycle_known:          # a calibration completed: nothing to wait for
                track.hold_until = float("-inf")
            track.cycle_known, track.cycle, track.since = True, reading.last_calibration, now
            track.asked = track.deferring = False
        if not reading.out_of_spec or reading.last_calibration != track.oos_last \
                or reading.down:
            # in spec, calibrated since, or dark: an attempt made before a dark spell
            # (it failed without light) does not stand for the misalignment after it
            track.oos_fired = False

    # -- urgent --------------------------------------------------------------------------------
    def _urgent_qber(self, apcs: Mapping[str, tuple[str, ...]], plan: Plan | None,
                     readings: Mapping[str, str], now: float) -> None:
        threshold = self.qber_threshold
        apc_of = {lk: apc for apc, links in apcs.items() for lk in links}
        for key, (fibres, qber) in sorted(_observations(plan, readings, set(apcs)).items()):
            if qber <= threshold - QBER_HYSTERESIS:
                self._crossings.pop(key, None)
                continue
            if qber <= threshold and key not in self._crossings:
                continue
            tried = self._crossings.setdefault(key, set())
            candidates = sorted({apc_of[lk] for lk in fibres if lk in apc_of})
            if not candidates or any(self._calibrating(a, now) for a in candidates):
                continue       # nothing to calibrate, or a calibration that may fix it runs
            untried = [a for a in candidates if a not in tried
                       and not (self._track(a).reading or _DOWN).down
                       and not self._resting(a, now)]
            if not untried:
                continue       # every APC on it was calibrated in this crossing
            apc = max(untried, key=lambda a: (self._misalignment(a), a))
            event = self._send(apc, apcs[apc], "urgent-qber", force=True, now=now,
                               detail=f"QBER {qber:.4f} of {key} over {threshold}")
            if event.result != "failed":
                tried.add(apc)

    def _out_of_spec(self, apc: str, links: tuple[str, ...], now: float) -> None:
        track = self._track(apc)
        reading = track.reading
        if reading is None or reading.down or not reading.out_of_spec or track.oos_fired \
                or self._calibrating(apc, now) or self._resting(apc, now):
            return
        event = self._send(apc, links, "urgent-out-of-spec", force=True, now=now,
                           detail="tracking error beyond tracking-tolerance")
        if event.result != "failed":
            track.oos_fired, track.oos_last = True, reading.last_calibration

    # -- periodic ------------------------------------------------------------------------------
    def _due(self, track: _Track) -> float | None:
        reading = track.reading
        if reading is None:
            return None
        if reading.last_calibration is None:
            return track.since
        return reading.last_calibration + self.interval_s

    def _periodic(self, apc: str, links: tuple[str, ...], load: Mapping[str, float],
                  now: float) -> None:
        track = self._track(apc)
        due = self._due(track)
        reading = track.reading
        if reading is None or due is None or reading.down or self._calibrating(apc, now) \
                or now < due:
            return
        busy = _busy(links, load)
        deadline = due + self.max_deferral_s
        if not busy and not track.asked:
            event = self._send(apc, links, "periodic", force=False, now=now,
                               detail="idle window: no admitted service on its fibres")
            track.asked = event.result != "failed"
        elif now >= deadline:
            if not self._resting(apc, now):
                self._send(apc, links, "deferred-deadline", force=True, now=now,
                           detail=f"no idle window since {_iso(due)}")
        elif busy and not track.deferring:
            track.deferring = True
            self._record(CalibrationEvent(apc, links, "periodic", "deferred", at=now,
                                          detail=f"{_busy_text(busy)}; forced at "
                                                 f"{_iso(deadline)}"))

    # -- the device call -----------------------------------------------------------------------
    def _send(self, apc: str, links: tuple[str, ...], reason: Reason, *, force: bool,
              now: float, detail: str = "") -> CalibrationEvent:
        track = self._track(apc)
        try:
            with self.pool.session(apc, wait_s=self.wait_s) as adapter:
                result, expected = calibrate_result(adapter.action(calibrate_action(force)))
            event = CalibrationEvent(apc, links, reason, result, expected, force=force,
                                     detail=detail, at=now)
        except (AdapterError, ValueError, etree.XMLSyntaxError) as exc:
            event = CalibrationEvent(apc, links, reason, "failed", error=str(exc),
                                     force=force, detail=detail, at=now)
        if event.result == "failed":
            track.hold_until = now + self.retry_s
        elif event.result in ("started", "busy"):
            duration = event.expected_duration or ASSUMED_DURATION_S
            track.hold_until = max(track.hold_until, now + duration)
            if force and event.result == "started":
                rest = 2 * duration                       # as long again in service
                if self.failing(apc):                     # ... doubling while it fails
                    track.futile += 1
                    rest = min(self.interval_s, rest * 2 ** (track.futile - 1))
                track.rest_until = now + rest
        return self._record(event)

    def _record(self, event: CalibrationEvent) -> CalibrationEvent:
        self._track(event.apc).last_event = event
        self.events.append(event)
        self._round.append(event)
        log.info("apc calibration", apc=event.apc, reason=event.reason, result=event.result,
                 force=event.force, detail=event.detail, error=event.error)
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception as exc:  # an alarm failure must not stop scheduling
                log.error("calibration event handler failed", error=str(exc))
        return event

    # -- views ---------------------------------------------------------------------------------
    def _track(self, apc: str) -> _Track:
        return self._tracks.setdefault(apc, _Track())

    def _calibrating(self, apc: str, now: float, fresh_s: float = float("inf")) -> bool:
        """Running (its last reading, if younger than `fresh_s`, says so; or one this
        scheduler started has not had its expected time yet) or backing off a failure."""
        track = self._track(apc)
        running = track.reading is not None and track.reading.in_progress \
            and now - track.read_at < fresh_s
        return running or now < track.hold_until

    def _resting(self, apc: str, now: float) -> bool:
        """Its fibre drifts beyond tracking, or the APC itself fails, and the last forced
        calibration has not been followed by its rest yet (module docstring)."""
        return now < self._track(apc).rest_until and (bool(self.explained(apc))
                                                      or self.failing(apc))

    def _misalignment(self, apc: str) -> float:
        reading = self._track(apc).reading
        return -1.0 if reading is None or reading.misalignment_error is None \
            else reading.misalignment_error

    def _view(self, apc: str, links: tuple[str, ...], load: Mapping[str, float]
              ) -> ApcSchedule:
        track = self._track(apc)
        reading = track.reading
        busy = _busy(links, load)
        due = self._due(track)
        planned = None if due is None else due + (self.max_deferral_s if busy else 0.0)
        state: State
        if reading is None or reading.down:
            state, planned = "unavailable", None
        elif reading.in_progress or (self.clock() < track.hold_until
                                     and track.last_event is not None
                                     and track.last_event.result == "started"):
            state = "calibrating"
        elif track.asked:
            state = "requested"
        elif track.deferring:
            state = "deferred"
        else:
            state = "scheduled"
        return ApcSchedule(apc, links, state,
                           reading.last_calibration if reading is not None else None,
                           None if reading is None or reading.last_calibration is None
                           else reading.last_calibration + self.interval_s,
                           planned, _busy_text(busy) if busy else "idle",
                           max(busy.values(), default=0.0),
                           reading.next_calibration if reading is not None else None,
                           track.last_event)


_DOWN = ApcReading(None, None, False, None, False, True)


def _well_formed(node: str, xml: str) -> bool:
    """A reading that does not parse is skipped (that device waits for the next round)
    instead of ending the round for every APC."""
    try:
        etree.fromstring(f"<data>{xml}</data>".encode())
    except etree.XMLSyntaxError as exc:
        log.warning("calibration: unreadable device state", node=node, error=str(exc))
        return False
    return True


def _busy(links: Sequence[str], load: Mapping[str, float]) -> dict[str, float]:
    """The APC's fibres some admitted service crosses, with its planned time share."""
    return {lk: load[lk] for lk in links if load.get(lk, 0.0) > 0.0}


def _busy_text(busy: Mapping[str, float]) -> str:
    return "busy: " + ", ".join(f"{lk} (share {s:.2f})" for lk, s in sorted(busy.items()))


def _routes(plan: Plan | None) -> dict[str, Route]:
    if plan is None:
        return {}
    return {a.request.name: a.candidate.route for a in plan.admitted if a.candidate}


def _observations(plan: Plan | None, readings: Mapping[str, str], skip: set[str]
                  ) -> dict[str, tuple[frozenset[str], float]]:
    """Measured QBERs by what they measure → (fibres crossed, worst QBER).

    ``link:<fibre>``: a repeater's heralded fidelity on the elementary link starting on
    that fibre (e = 2(1 − F)/3), which crosses every fibre of the plan's segment between
    the repeater and its neighbour; ``service:<name>``: an end node's measured QBER of
    the service, over its committed route."""
    routes = _routes(plan)
    out: dict[str, tuple[frozenset[str], float]] = {}

    def note(key: str, fibres: frozenset[str], qber: float) -> None:
        seen = out.get(key)
        out[key] = (fibres | seen[0], max(qber, seen[1])) if seen else (fibres, qber)

    for node, xml in readings.items():
        if node in skip:
            continue
        for fibre, fidelity in link_fidelities(xml).items():
            span = {lk for route in routes.values() for seg in route.segments
                    if fibre in seg.links and node in (seg.nodes[0], seg.nodes[-1])
                    for lk in seg.links}
            note(f"link:{fibre}", frozenset(span | {fibre}), qber_from_fidelity(fidelity))
        for service, qber in endpoint_qbers(xml).items():
            route = routes.get(service)
            note(f"service:{service}", frozenset(route.links if route else ()), qber)
    return out


__all__ = ["ApcReading", "ApcSchedule", "CalibrationEvent", "CalibrationScheduler",
           "calibrate_action", "calibrate_result", "compensators", "read_apc"]
