"""APC calibration scheduling by the controller.

A full calibration blinds the fibre for its duration, so *when* matters. Each device
knows its own interval and defers a due calibration to an idle window of its fibre (for
at most max-deferral — rendered from the plan); the controller adds what only it knows:

* **Idle windows from the plan.** A fibre no admitted service crosses is idle now: a due
  APC on it is told to calibrate at once (force, nothing to interrupt). A fibre that
  carries services gets a plain request (force false): the device starts in its next
  idle slot, or when max-deferral runs out.
* **Urgent calibration.** When drift pushes a compensated fibre's fidelity under the
  alarm threshold, or a service's QBER over it (the healer's threshold crossings), the
  APCs on the affected fibres calibrate now (force): a short blind spell beats a QBER
  that ruins the key. At most one urgent request per APC while one is running, and none
  again within `urgent_gap_s`, so a noisy threshold cannot hammer the device.

Outcomes are events (`CalibrationEvent`); the service manager turns failures into
`calibration-failed` alarms.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import structlog
from lxml import etree

from qnum.io import Network
from qnum.plan import Plan
from southbound.adapter import AdapterError
from southbound.pool import SessionPool

log = structlog.get_logger(__name__)

APC_NS = "urn:sdqn:sdqn-apc"
DEFAULT_INTERVAL_S = 3600.0


@dataclass(frozen=True)
class CalibrationEvent:
    apc: str
    links: tuple[str, ...]
    reason: str                 # periodic | urgent
    result: str                 # started | deferred | busy | failed
    force: bool
    expected_s: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class ApcState:
    last_calibration: float | None     # epoch seconds (device clock)
    in_progress: bool
    interval_s: float


def _epoch(stamp: str | None) -> float | None:
    if not stamp:
        return None
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def read_apc(xml: str) -> ApcState | None:
    root = etree.fromstring(f"<data>{xml}</data>".encode())
    apc = next(root.iter(f"{{{APC_NS}}}apc"), None)
    if apc is None:
        return None
    state = apc.find(f"{{{APC_NS}}}state")
    last = state.findtext(f"{{{APC_NS}}}last-calibration") if state is not None else None
    running = state is not None and \
        state.findtext(f"{{{APC_NS}}}calibration-in-progress") == "true"
    interval = float(apc.findtext(f"{{{APC_NS}}}calibration-interval") or DEFAULT_INTERVAL_S)
    return ApcState(_epoch(last), running, interval)


class CalibrationScheduler:
    def __init__(self, pool: SessionPool, plan: Callable[[], Plan | None],
                 network: Callable[[], Network | None], *,
                 clock: Callable[[], float] = time.time, urgent_gap_s: float = 30.0,
                 on_event: Callable[[CalibrationEvent], None] | None = None) -> None:
        self.pool = pool
        self.plan = plan
        self.network = network
        self.clock = clock
        self.urgent_gap_s = urgent_gap_s
        self.on_event = on_event
        self.events: list[CalibrationEvent] = []
        self._last_urgent: dict[str, float] = {}
        self._requested: dict[str, float | None] = {}   # apc → last-calibration we asked at
        self._lock = threading.Lock()

    # -- what the plan says ------------------------------------------------------------------
    def compensated(self) -> dict[str, tuple[str, ...]]:
        """APC → the fibres it compensates (topology `compensator`)."""
        net = self.network()
        out: dict[str, list[str]] = {}
        for link_id, link in (net.links.items() if net is not None else []):
            if link.compensator is not None:
                out.setdefault(link.compensator, []).append(link_id)
        return {apc: tuple(sorted(links)) for apc, links in out.items()}

    def busy_links(self) -> set[str]:
        plan = self.plan()
        return {lk for a in (plan.admitted if plan is not None else [])
                if a.candidate is not None for lk in a.candidate.route.links}

    # -- rounds ------------------------------------------------------------------------------
    def run_once(self, readings: Mapping[str, str], _taken_at: float = 0.0
                 ) -> list[CalibrationEvent]:
        """A telemetry observer: ask every APC whose calibration is due."""
        busy = self.busy_links()
        out = []
        for apc, links in sorted(self.compensated().items()):
            xml = readings.get(apc)
            state = read_apc(xml) if xml is not None else None
            if state is None or state.in_progress:
                continue
            due = state.last_calibration is None or \
                self.clock() >= state.last_calibration + state.interval_s
            if not due or self._requested.get(apc, -1.0) == state.last_calibration:
                continue          # not due, or already asked since its last calibration
            idle = not (set(links) & busy)
            event = self._calibrate(apc, links, "periodic", force=idle)
            if event.result in ("started", "deferred", "busy"):
                self._requested[apc] = state.last_calibration
            out.append(event)
        return out

    def urgent(self, subject: str, _value: float, apc: str | None) -> list[CalibrationEvent]:
        """A threshold crossing (healer.on_threshold): the APC of a link, or every APC on
        a service's route."""
        apcs = [apc] if apc is not None else self._apcs_of_service(subject)
        out = []
        comp = self.compensated()
        for name in apcs:
            now = time.monotonic()
            with self._lock:
                if now - self._last_urgent.get(name, -1e9) < self.urgent_gap_s:
                    continue
                self._last_urgent[name] = now
            out.append(self._calibrate(name, comp.get(name, ()), "urgent", force=True))
        return out

    def _apcs_of_service(self, service: str) -> list[str]:
        plan = self.plan()
        a = plan.assignments.get(service) if plan is not None else None
        if a is None or a.candidate is None:
            return []
        route = set(a.candidate.route.links)
        return sorted(apc for apc, links in self.compensated().items() if route & set(links))

    def _calibrate(self, apc: str, links: tuple[str, ...], reason: str, *, force: bool
                   ) -> CalibrationEvent:
        request = (f'<apc xmlns="{APC_NS}"><calibrate><force>{str(force).lower()}</force>'
                   "</calibrate></apc>")
        try:
            with self.pool.session(apc, wait_s=5) as adapter:
                reply = etree.fromstring(f"<out>{adapter.action(request)}</out>".encode())
            result = reply.findtext(f"{{{APC_NS}}}result") or "failed"
            expected = reply.findtext(f"{{{APC_NS}}}expected-duration")
            event = CalibrationEvent(apc, links, reason, result, force,
                                     float(expected) if expected else None)
        except (AdapterError, etree.XMLSyntaxError) as exc:
            event = CalibrationEvent(apc, links, reason, "failed", force, error=str(exc))
        self.events.append(event)
        del self.events[:-256]
        log.info("apc calibration", apc=apc, reason=reason, force=force, result=event.result,
                 error=event.error)
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception as exc:  # an alarm failure must not stop scheduling
                log.error("calibration event handler failed", error=str(exc))
        return event
