"""Operational sync: what the devices really do, read every telemetry round.

Every `interval` the loop reads each device's operational state over its pooled session
(NMDA <get-data> where supported) and hands it on: as raw XML to the round's observers
(fault correlation, network metrics, calibration) and, parsed into one `Observation` per
device (reachable, stable, down, and per application endpoint the delivered rate,
fidelity estimate and QBER), to `decide` — the service state machine
(controller/service/service_state.py), which turns them into each service's oper-state
and measured values in <operational>.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog
from lxml import etree

from controller.datastore.nmda import NmdaStore
from controller.periodic import PeriodicTask
from controller.service.service_state import Observation
from qnum.plan import Plan
from southbound.adapter import AdapterError
from southbound.pool import SessionPool

log = structlog.get_logger(__name__)

END_NODE_NS = "urn:sdqn:sdqn-end-node"
PlanSource = Callable[[], Plan | None]
#: (node → device operational XML, monotonic time the round's reads began)
ReadingsObserver = Callable[[dict[str, str], float], object]




def read_device(xml: str) -> Observation:
    """Parse a device's operational XML (any sdqn device module)."""
    root = etree.fromstring(f"<data>{xml}</data>".encode())
    stable, down, degraded = True, False, False
    for status in root.iter("{*}status"):
        if etree.QName(status.getparent()).localname in ("data",):
            continue
        text = status.findtext("{*}stable")
        if text is not None:
            stable = stable and text == "true"
        oper = (status.findtext("{*}oper-status") or "").rsplit(":", 1)[-1]
        down = down or oper == "down"
        degraded = degraded or oper == "degraded"
    endpoints: dict[str, tuple[float, float | None, float | None]] = {}
    for ep in root.iter(f"{{{END_NODE_NS}}}application-endpoint"):
        name = ep.findtext(f"{{{END_NODE_NS}}}name")
        state = ep.find(f"{{{END_NODE_NS}}}state")
        if name is None or state is None:
            continue
        rate = float(state.findtext(f"{{{END_NODE_NS}}}delivered-rate") or 0.0)
        fid = state.findtext(f"{{{END_NODE_NS}}}fidelity-estimate")
        qber = state.findtext(f"{{{END_NODE_NS}}}qber")
        endpoints[name] = (rate, float(fid) if fid is not None else None,
                           float(qber) if qber is not None else None)
    return Observation(reachable=True, stable=stable, down=down, endpoints=endpoints,
                       degraded=degraded)


#: a round that overruns its interval is warned of at most this often (the warning counts
#: the overruns since the previous one); the others are debug lines
OVERRUN_WARNING_EVERY_S = 60.0

#: decide(observations of this round) → per admitted request its published state
Decide = Callable[[dict[str, Observation]], dict[str, dict[str, Any]]]


class TelemetryLoop:
    def __init__(self, store: NmdaStore, pool: SessionPool, plan: PlanSource,
                 decide: Decide | None = None) -> None:
        self.store = store
        self.pool = pool
        self.plan = plan
        self.decide = decide
        self._loop = PeriodicTask("service-telemetry", self.poll_once, None)
        #: called with every round's raw device state (fault correlation, calibration)
        self.observers: list[ReadingsObserver] = []
        #: overrun rounds since the last warning, and when that was
        self._overruns = 0
        self._warned_at = -OVERRUN_WARNING_EVERY_S

    def poll_once(self) -> dict[str, dict[str, Any]]:
        """One round; returns what `decide` published per admitted request."""
        if self.plan() is None:
            return {}
        started = time.monotonic()
        raw: dict[str, str] = {}
        readings: dict[str, Observation] = {}
        slowest = ("", 0.0)
        for node in self.pool.node_ids:
            asked = time.monotonic()
            try:
                with self.pool.session(node, wait_s=5) as adapter:
                    raw[node] = adapter.get_state()
                readings[node] = read_device(raw[node])
            except (AdapterError, etree.XMLSyntaxError) as exc:
                raw.pop(node, None)
                log.debug("telemetry: device not read", device=node, error=str(exc))
            slowest = max(slowest, (node, time.monotonic() - asked), key=lambda s: s[1])
        timings = {"read": time.monotonic() - started}
        for observer in self.observers:
            began = time.monotonic()
            try:
                observer(raw, started)
            except Exception as exc:  # an observer's failure must not stop telemetry
                log.error("telemetry observer failed", error=str(exc))
            name = observer_name(observer)
            timings[name] = timings.get(name, 0.0) + time.monotonic() - began
        began = time.monotonic()
        published = self.decide(readings) if self.decide is not None else {}
        timings["decide"] = time.monotonic() - began
        self._report(time.monotonic() - started, timings, slowest)
        return published

    def _report(self, took: float, timings: dict[str, float], slowest: tuple[str, float]
                ) -> None:
        """Every state reaches the northbound one round late at best, so a round that
        overruns its interval is the operator's business: a warning with where the time
        went (the device reads, the slowest device, each observer; at most one a minute,
        counting the overruns since the last), else a debug line."""
        parts = {k: round(v, 3) for k, v in timings.items()}
        interval = self._loop.interval_s
        now = time.monotonic()
        if not (interval and took > interval):
            log.debug("telemetry round", took_s=round(took, 3), **parts)
            return
        self._overruns += 1
        if now - self._warned_at < OVERRUN_WARNING_EVERY_S:   # a warning a minute at most
            log.debug("telemetry round overran its interval", took_s=round(took, 3), **parts)
            return
        log.warning("telemetry round overran its interval", took_s=round(took, 3),
                    interval_s=interval, overruns=self._overruns, slowest_device=slowest[0],
                    slowest_device_s=round(slowest[1], 3), **parts)
        self._warned_at, self._overruns = now, 0

    def start(self, interval_s: float) -> None:
        """Poll every `interval_s` seconds in the background (first round one interval
        after start); a failed round is logged and the next one runs as scheduled."""
        self._loop.interval_s = interval_s
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop(timeout=10)


def observer_name(observer: ReadingsObserver) -> str:
    """A name for an observer in a round's timings: Class.method for a bound method, the
    class of a callable object, a function's name, a lambda's file and line."""
    owner = getattr(observer, "__self__", None)
    if owner is not None:
        return f"{type(owner).__name__}.{getattr(observer, '__name__', '?')}"
    code = getattr(observer, "__code__", None)
    if code is None:
        return type(observer).__name__
    name = str(getattr(observer, "__name__", "?"))
    if name == "<lambda>":
        return f"lambda@{code.co_filename.rsplit('/', 1)[-1]}:{code.co_firstlineno}"
    return name
