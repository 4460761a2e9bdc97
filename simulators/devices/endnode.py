"""Emulated quantum network end node (module sdqn-end-node).

Physics:

* Source life cycle.  Switching the pump on starts a warm-up of ``warm-up-duration``
  (laser thermal equilibrium; real default 300 s, compressed by the clock factor) during
  which the pair rate ramps up.  Afterwards the measured pair rate converges to the set
  rate as r(t) = r_set·(1 − d0·e^(−(t−t_w)/τ)); the source is *stable* once the relative
  deviation d0·e^(−(t−t_w)/τ) is within ``stabilisation-tolerance``.  A new set rate
  restarts the convergence from the relative step |Δr|/r.
* Detectors count the locally kept photons (pair rate split over the enabled detectors)
  times their efficiency, plus dark counts (log-normal measurement noise).
* Application endpoints receive pairs over the shortest usable path to ``peer-node`` on
  which every repeater runs a flow swapping between the path's two spans at it;
  rate and fidelity come from qnum's analytic chain model (`chain_performance`) with this
  node and the peer as end memories, and the QBER adds the residual polarisation
  misalignment of every compensated fibre on the path (independent bit flips).  Counts
  are Poisson-sampled with the device's seeded random stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from qnum.physics import chain_performance, qber_from_fidelity
from simulators.devices.base import (
    DEGRADED,
    DOWN,
    QBER_ALARM,
    UP,
    AlarmLatch,
    DeviceModel,
    Health,
    Json,
    Notification,
    counter,
    freq,
    prob,
    rate,
    seconds,
)
from simulators.devices.world import Span, xor_error

#: Convergence time constant of the pair rate after warm-up (simulated seconds).
STABILISATION_TAU = 10.0
#: Relative deviation of the pair rate at the end of warm-up.
INITIAL_DEVIATION = 0.5
DETECTOR_FAULTS = ("dead", "noisy")
#: Dark-count multiplier of a detector in the "noisy" failure mode (e.g. bias drift).
NOISY_DARK_FACTOR = 1000.0


@dataclass(frozen=True)
class Delivery:
    """What one application endpoint receives (or why it receives nothing)."""

    rate_hz: float = 0.0
    fidelity: float | None = None
    qber: float | None = None
    latency_s: float = 0.0
    reason: str = ""
    links: tuple[str, ...] = ()  # fibres crossed (their misalignment adds to the QBER)


class EndNode(DeviceModel):
    kind: ClassVar[str] = "end-node"
    craft_edit: ClassVar[Json] = {"source": {"stabilisation-tolerance": "0.1"}}
    settle_time: ClassVar[float] = 1.0

    def hardware(self) -> None:
        self.failed: dict[str, str] = {}  # detector-id -> failure mode
        self.source_fault = False

    def reset(self, now: float) -> None:
        self._pump_on_at: float | None = None
        self._retarget_at = -math.inf
        self._dev0 = INITIAL_DEVIATION
        self._source_state = "off"
        self._source_changed = now
        self._measured_rate = 0.0
        self._delivered: dict[str, int] = {}
        self._sampled_rate: dict[str, float] = {}
        self._deliveries: dict[str, Delivery] = {}
        self._detectors: dict[str, Json] = {}
        self._in_use = 0
        self._alarms = AlarmLatch()
        self._cache: dict[str, tuple[Any, Delivery]] = {}
        self.world.sources_stable.discard(self.node_id)

    def factory_body(self) -> Json:
        detectors = [{"detector-id": "d1"}, {"detector-id": "d2"}]
        return {"memory": self.memory_facts(), "detector": detectors}

    # -- configuration -------------------------------------------------------------------

    @property
    def source(self) -> Json:
        return dict(self.config.get("source") or {})

    def on_config(self, old: Json, now: float) -> list[Notification]:
        was = dict(old.get("source") or {})
        src = self.source
        enabled = bool(src.get("pump-enabled", False))
        if not enabled:
            self._pump_on_at = None
        elif self._pump_on_at is None or not was.get("pump-enabled", False):
            self._pump_on_at, self._retarget_at, self._dev0 = now, -math.inf, INITIAL_DEVIATION
        elif float(was.get("pair-rate", 0)) != float(src.get("pair-rate", 0)):
            new = float(src.get("pair-rate", 1.0))
            self._retarget_at = now
            self._dev0 = min(INITIAL_DEVIATION, abs(new - float(was["pair-rate"])) / new)
        self._cache.clear()
        return []

    # -- source --------------------------------------------------------------------------

    def _source_phase(self, now: float) -> tuple[str, float, float]:
        """(source-state, warm-up remaining, mean measured pair rate) at ``now``."""
        src = self.source
        if self.source_fault:
            return "fault", 0.0, 0.0
        if self._pump_on_at is None or not src.get("pump-enabled", False):
            return "off", 0.0, 0.0
        target = float(src.get("pair-rate", 1e6))
        warm = float(src.get("warm-up-duration", 300))
        elapsed = now - self._pump_on_at
        if elapsed < warm:
            return "warming-up", warm - elapsed, target * INITIAL_DEVIATION * elapsed / warm
        start = max(self._pump_on_at + warm, self._retarget_at)
        deviation = self._dev0 * math.exp(-(now - start) / STABILISATION_TAU)
        tolerance = float(src.get("stabilisation-tolerance", 0.05))
        state = "stable" if deviation <= tolerance else "stabilising"
        return state, 0.0, target * (1.0 - deviation)

    def _step_source(self, now: float) -> list[Notification]:
        state, _, mean = self._source_phase(now)
        noise = self.rng.normal(0.0, 1.0 / math.sqrt(mean)) if mean > 1.0 else 0.0
        self._measured_rate = max(0.0, mean * (1.0 + noise))
        if state == "stable":
            self.world.sources_stable.add(self.node_id)
        else:
            self.world.sources_stable.discard(self.node_id)
        if state == self._source_state:
            return []
        previous, self._source_state, self._source_changed = self._source_state, state, now
        return [Notification(self.module, "source-state-change", {
            "source-state": state, "reason": f"{previous} -> {state}"})]

    # -- detectors -----------------------------------------------------------------------

    def _step_detectors(self) -> list[Notification]:
        notes: list[Notification] = []
        detectors = list(self.config.get("detector") or [])
        enabled = [d for d in detectors if d.get("enabled", True)
                   and self.failed.get(d["detector-id"]) != "dead"]
        photons = self._measured_rate / len(enabled) if enabled else 0.0
        self._detectors = {}
        for det in detectors:
            did = det["detector-id"]
            failure = self.failed.get(did)
            if not det.get("enabled", True) or failure == "dead":
                oper, count, dark = DOWN, 0.0, 0.0
            else:
                factor = NOISY_DARK_FACTOR if failure == "noisy" else 1.0
                dark = float(det.get("dark-count-rate", 100)) * factor
                dark *= float(self.rng.lognormal(0.0, 0.05))
                count = photons * float(det.get("efficiency", 0.9)) + dark
                oper = DEGRADED if failure else UP
            self._detectors[did] = {"oper": oper, "count": count, "dark": dark,
                                    "efficiency": float(det.get("efficiency", 0.9))}
            edge = self._alarms.update(f"failed:{did}", failure == "dead")
            if edge is not None:
                notes.append(self.alarm("detector-alarm", edge, "critical", "detector failed",
                                        detector_id=did, measured_dark_count_rate=freq(dark)))
            threshold = det.get("dark-count-alarm-threshold")
            edge = self._alarms.update(f"dark:{did}",
                                       threshold is not None and dark > float(threshold))
            if edge is not None:
                notes.append(self.alarm("detector-alarm", edge, "major",
                                        "dark-count rate above threshold", detector_id=did,
                                        measured_dark_count_rate=freq(dark)))
        return notes

    # -- endpoints -----------------------------------------------------------------------

    def _path_delivery(self, peer: str) -> Delivery:
        """Rate/fidelity over the current shortest usable path (cached per world version)."""
        key = (self.world.version, self.world.swap_version, peer)
        cached = self._cache.get(peer)
        if cached is not None and cached[0] == key:
            return cached[1]
        spans = self.world.configured_path(self.node_id, peer)
        if spans:
            delivery = self._chain(spans, peer)
        elif self.world.path(self.node_id, peer):
            delivery = Delivery(reason=f"no repeater chain to {peer} is set up")
        else:
            delivery = Delivery(reason=f"no usable path to {peer}")
        self._cache[peer] = (key, delivery)
        return delivery

    def _chain(self, spans: list[Span], peer: str) -> Delivery:
        nodes = self.world.topology.nodes
        inner = [nodes[s.ends[1]].node_params() for s in spans[:-1]]
        ends = (nodes[self.node_id].node_params(), nodes[peer].node_params())
        perf = chain_performance([s.params() for s in spans], inner, end_nodes=ends)
        links = tuple(i for s in spans for i in s.link_ids)
        reason = "" if perf.rate_hz > 0 else "coherence budget exceeded on path"
        return Delivery(perf.rate_hz, perf.fidelity, None, perf.latency_s, reason, links)

    def _deliver(self, ep: Json) -> Delivery:
        peer = ep["peer-node"]
        if peer not in self.world.topology.nodes:
            return Delivery(reason=f"unknown peer {peer}")
        if self._source_state != "stable":
            return Delivery(reason=f"source {self._source_state}")
        peer_node = self.world.topology.nodes[peer]
        if peer_node.kind == "end-node" and peer not in self.world.sources_stable:
            return Delivery(reason=f"source of {peer} not stable")
        base = self._path_delivery(peer)
        if base.rate_hz <= 0.0 or base.fidelity is None:
            return Delivery(reason=base.reason or "no pairs")
        efficiency = 1.0
        if int(ep.get("memory-slots", 0)) == 0 and ep.get("detectors"):
            usable = [self._detectors[d]["efficiency"] for d in ep["detectors"]
                      if d in self._detectors and self._detectors[d]["oper"] != DOWN]
            if not usable:
                return Delivery(reason="all endpoint detectors down")
            efficiency = sum(usable) / len(usable)
        qber = xor_error([qber_from_fidelity(base.fidelity),
                          self.world.misalignment_error(base.links)])
        return Delivery(base.rate_hz * efficiency, 1.0 - 1.5 * qber, qber, base.latency_s,
                        links=base.links)

    def _step_endpoints(self, dt: float) -> list[Notification]:
        notes: list[Notification] = []
        names: set[str] = set()
        in_use = 0
        for ep in self.config.get("application-endpoint") or []:
            name = ep["name"]
            names.add(name)
            delivery = self._deliver(ep)
            self._deliveries[name] = delivery
            pairs = int(self.rng.poisson(delivery.rate_hz * dt)) if dt > 0 else 0
            self._delivered[name] = self._delivered.get(name, 0) + pairs
            self._sampled_rate[name] = pairs / dt if dt > 0 else delivery.rate_hz
            slots = int(ep.get("memory-slots", 0))
            if slots and delivery.rate_hz > 0:
                busy = min(1.0, delivery.rate_hz * delivery.latency_s)
                in_use += int(self.rng.binomial(slots, busy))
            notes.extend(self._endpoint_alarm(ep, delivery))
        self._in_use = in_use
        for gone in set(self._deliveries) - names:
            del self._deliveries[gone]
        return notes

    def _endpoint_alarm(self, ep: Json, delivery: Delivery) -> list[Notification]:
        name = ep["name"]
        min_f = ep.get("min-fidelity")
        problem = delivery.reason
        if not problem and min_f is not None and (delivery.fidelity or 0.0) < float(min_f):
            problem = "fidelity below min-fidelity"
        if not problem and delivery.qber is not None and delivery.qber > QBER_ALARM:
            problem = "QBER above 11 %"
        edge = self._alarms.update(f"endpoint:{name}", bool(problem))
        if edge is None:
            return []
        return [self.alarm("endpoint-alarm", edge, "major", problem or "recovered", name=name,
                           fidelity_estimate=_opt(prob, delivery.fidelity),
                           qber=_opt(prob, delivery.qber))]

    # -- the tick ------------------------------------------------------------------------

    def step(self, now: float, dt: float) -> list[Notification]:
        if not self.configured:
            return []
        notes = self._step_source(now)
        notes.extend(self._step_detectors())
        notes.extend(self._step_endpoints(dt))
        return notes

    def health(self, now: float) -> Health:
        if self._source_state == "fault":
            return Health(DOWN, False, "source fault")
        problems = sorted(a for a in self._alarms.active)
        pump = bool(self.source.get("pump-enabled", False))
        stable = not pump or self._source_state == "stable"
        reason = f"source {self._source_state}"
        if problems:
            return Health(DEGRADED, stable, f"{reason}; alarms: {', '.join(problems)}")
        return Health(UP, stable, reason)

    def state_body(self, now: float) -> Json:
        state, remaining, _ = self._source_phase(now)
        body: Json = {"source": {"state": {
            "source-state": state, "warm-up-remaining": seconds(remaining),
            "measured-pair-rate": freq(self._measured_rate),
            "last-change": self.clock.iso(self._source_changed)}}}
        body["detector"] = [
            {"detector-id": did, "state": {"oper-status": d["oper"], "count-rate": freq(d["count"]),
                                           "measured-dark-count-rate": freq(d["dark"])}}
            for did, d in self._detectors.items()]
        registers = int((self.config.get("memory") or {}).get("register-count", 0))
        body["memory"] = {"occupancy": {
            "registers-in-use": self._in_use,
            "utilisation": prob(self._in_use / registers if registers else 0.0)}}
        endpoints = []
        for name, delivery in self._deliveries.items():
            st: Json = {"delivered-pairs": counter(self._delivered.get(name, 0)),
                        "delivered-rate": rate(self._sampled_rate.get(name, 0.0))}
            if delivery.fidelity is not None:
                st["fidelity-estimate"] = prob(delivery.fidelity)
            if delivery.qber is not None:
                st["qber"] = prob(delivery.qber)
            endpoints.append({"name": name, "state": st})
        body["application-endpoint"] = endpoints
        return body

    # -- faults --------------------------------------------------------------------------

    def fail_detector(self, detector_id: str, mode: str = "dead") -> None:
        if mode not in DETECTOR_FAULTS:
            raise ValueError(f"detector failure mode must be one of {DETECTOR_FAULTS}")
        self.failed[detector_id] = mode

    def repair_detector(self, detector_id: str) -> None:
        self.failed.pop(detector_id, None)


def _opt(fmt: Any, value: float | None) -> str | None:
    return None if value is None else str(fmt(value))
