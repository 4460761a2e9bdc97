"""Operational sync: what the devices really do, per service.

Every `interval` the loop reads each device's operational state over its pooled session
(NMDA <get-data> where supported) and derives, for every admitted request, the measured
rate and fidelity at its end nodes' application endpoints and its service state:

  stabilising  a device on the path is not stable yet (laser warm-up, calibration, settle)
  up           every device on the path is stable and pairs arrive
  degraded     pairs arrive below the request's min-fidelity, or nothing arrives although
               the path is stable
  down         a device on the path is unreachable or reports oper-status down

A service becomes `up` only when every device on its path reports stable (controller/README.md,
"Operational facts": stabilisation delays). Results go to <operational> as learned state.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from lxml import etree

from controller.datastore.nmda import NmdaStore
from controller.periodic import PeriodicTask
from qnum.plan import Plan
from southbound.adapter import AdapterError
from southbound.pool import SessionPool

log = structlog.get_logger(__name__)

END_NODE_NS = "urn:sdqn:sdqn-end-node"
REQUEST_STATE = "/sdqn-services:entanglement-services/request/state"
PlanSource = Callable[[], Plan | None]
#: (node → device operational XML, monotonic time the round's reads began)
ReadingsObserver = Callable[[dict[str, str], float], object]


@dataclass(frozen=True)
class DeviceReading:
    reachable: bool
    stable: bool
    down: bool
    endpoints: dict[str, tuple[float, float | None]]  # request → (rate, fidelity estimate)


def read_device(xml: str) -> DeviceReading:
    """Parse a device's operational XML (any sdqn device module)."""
    root = etree.fromstring(f"<data>{xml}</data>".encode())
    stable, down = True, False
    for status in root.iter("{*}status"):
        if etree.QName(status.getparent()).localname in ("data",):
            continue
        text = status.findtext("{*}stable")
        if text is not None:
            stable = stable and text == "true"
        oper = (status.findtext("{*}oper-status") or "").rsplit(":", 1)[-1]
        down = down or oper == "down"
    endpoints: dict[str, tuple[float, float | None]] = {}
    for ep in root.iter(f"{{{END_NODE_NS}}}application-endpoint"):
        name = ep.findtext(f"{{{END_NODE_NS}}}name")
        state = ep.find(f"{{{END_NODE_NS}}}state")
        if name is None or state is None:
            continue
        rate = float(state.findtext(f"{{{END_NODE_NS}}}delivered-rate") or 0.0)
        fid = state.findtext(f"{{{END_NODE_NS}}}fidelity-estimate")
        endpoints[name] = (rate, float(fid) if fid is not None else None)
    return DeviceReading(reachable=True, stable=stable, down=down, endpoints=endpoints)


def service_states(plan: Plan, readings: dict[str, DeviceReading]) -> dict[str, dict[str, Any]]:
    """Per admitted request: oper-state, measured-rate, measured-fidelity."""
    states: dict[str, dict[str, Any]] = {}
    unreachable = DeviceReading(reachable=False, stable=False, down=True, endpoints={})
    for a in plan.admitted:
        assert a.candidate is not None
        path = list(a.candidate.route.nodes)
        seen = [readings.get(node, unreachable) for node in path]
        ends = [readings.get(path[0]), readings.get(path[-1])]
        rates = [r.endpoints[a.request.name][0] for r in ends
                 if r is not None and a.request.name in r.endpoints]
        fids = [f for r in ends if r is not None and a.request.name in r.endpoints
                for f in [r.endpoints[a.request.name][1]] if f is not None]
        entry: dict[str, Any] = {}
        if rates:
            entry["measured-rate"] = min(rates)
        if fids:
            entry["measured-fidelity"] = min(fids)
        if any(not r.reachable or r.down for r in seen):
            entry["oper-state"] = "down"
        elif not all(r.stable for r in seen):
            entry["oper-state"] = "stabilising"
        elif not rates or min(rates) <= 0 or (fids and min(fids) < a.request.min_fidelity):
            entry["oper-state"] = "degraded"
        else:
            entry["oper-state"] = "up"
        states[a.request.name] = entry
    return states


class TelemetryLoop:
    def __init__(self, store: NmdaStore, pool: SessionPool, plan: PlanSource) -> None:
        self.store = store
        self.pool = pool
        self.plan = plan
        self._loop = PeriodicTask("service-telemetry", self.poll_once, None)
        #: called with every round's raw device state (fault correlation, calibration)
        self.observers: list[ReadingsObserver] = []

    def poll_once(self) -> dict[str, dict[str, Any]]:
        plan = self.plan()
        if plan is None:
            return {}
        started = time.monotonic()
        raw: dict[str, str] = {}
        readings: dict[str, DeviceReading] = {}
        for node in self.pool.node_ids:
            try:
                with self.pool.session(node, wait_s=5) as adapter:
                    raw[node] = adapter.get_state()
                readings[node] = read_device(raw[node])
            except (AdapterError, etree.XMLSyntaxError) as exc:
                raw.pop(node, None)
                log.debug("telemetry: device not read", device=node, error=str(exc))
        for observer in self.observers:
            try:
                observer(raw, started)
            except Exception as exc:  # an observer's failure must not stop telemetry
                log.error("telemetry observer failed", error=str(exc))
        states = service_states(plan, readings)
        self._write(states)
        return states

    def _write(self, states: dict[str, dict[str, Any]]) -> None:
        schema = self.store.schema
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        entries = []
        for name, st in states.items():
            state: dict[str, Any] = {"oper-state": st["oper-state"], "last-change": stamp}
            for key in ("measured-rate", "measured-fidelity"):
                if key in st:
                    state[key] = schema.decimal(f"{REQUEST_STATE}/{key}", st[key])
            entries.append({"name": name, "state": state})
        if entries:
            self.store.merge_state(json.dumps({"sdqn-services:entanglement-services": {
                "request": entries}}))

    def start(self, interval_s: float) -> None:
        """Poll every `interval_s` seconds in the background (first round one interval
        after start); a failed round is logged and the next one runs as scheduled."""
        self._loop.interval_s = interval_s
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop(timeout=10)

