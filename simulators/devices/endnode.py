"""Emulated quantum network end node (module sdqn-end-node).

Physics:

* Source life cycle.  Switching the pump on starts a warm-up of ``warm-up-duration``
  (laser thermal equilibrium; real default 300 s, compressed by the clock factor) during
  which the pair rate ramps up.  Afterwards the measured pair rate converges to the set
  rate as r(t) = r_set·(1 − d0·e^(−(t−t_w)/τ)); the source is *stable* once the relative
  deviation d0·e^(−(t−t_w)/τ) is within ``stabilisation-tolerance``.  A new set rate
  restarts the convergence from the relative step |Δr|/r.
* Detectors (the kind's inventory, ``southbound.kinds``) count the locally kept photons
  (pair rate split over the enabled detectors) times their efficiency, plus dark counts
  (log-normal measurement noise).  A dead (or disabled) detector counts nothing; a noisy
  one has NOISY_DARK_FACTOR × its specified dark counts.
* Application endpoints receive pairs over the shortest usable path to ``peer-node`` on
  which every repeater runs a flow swapping between the path's two spans at it.  What the
  endpoint expects is qnum's analytic chain model (`chain_performance`) — the very model
  the optimiser predicts with — for the endpoint's configuration: this node and the peer
  as end memories (every memory on the path with its coherence time as the hardware has
  it now: the fault ``memory-degradation`` shortens it), the ``time-share`` of every
  elementary link's attempt slots, the ``cutoff-time`` round window and
  ``purification-rounds`` of ``purification-protocol``, every elementary link purified
  ``link-purification-rounds`` rounds by its two nodes before the swaps (this node on
  its attached link, the repeaters' flows on theirs).
  The endpoints start no more rounds than ``target-rate`` needs (the rate is
  min(chain rate, target-rate); the fidelity that of the share).  The pairs themselves are
  drawn once per tick for both ends of the flow (`simulators.devices.pairs`): raw pairs
  Poisson at the chain's raw rate, each purification round pairing them up and keeping
  one of two with the protocol's success probability, and a bit error per delivered pair
  with the pair's QBER ⊕ the residual polarisation misalignment of every compensated fibre.
* Locally, the endpoint's pairs are split evenly over its detectors: a dead one loses its
  share (all dead: nothing is delivered), a noisy one turns its excess dark counts into
  random outcomes (a flip with probability ½·excess/count rate), which raises the QBER.
  The specified dark counts add nothing: the topology's link fidelity is measured with them.
* State reports the pairs delivered (counter and last-tick rate) and the QBER measured on
  them — errors/pairs over the last ESTIMATE_WINDOW_S of delivery (reaching further back
  until it holds MIN_ESTIMATE_PAIRS pairs) — with the Werner fidelity of that QBER as
  ``fidelity-estimate``.  Every random draw is seeded.
* Relay (feature ``relay``): the flows of the ``relay`` container are swapped exactly as
  a repeater swaps them (:mod:`simulators.devices.swapping`, the same code): link
  generation on their two fibres, swap and purification counters, stored pairs; they
  count in the memory occupancy, and chains through this node deliver only while it
  swaps for them.  Its link and flow problems show in its health (sdqn-end-node has no
  repeater notifications).
* Memory: the node's periodic T2 probe (`simulators.devices.memory`) reports a measured
  coherence time, an estimate with shot noise.
"""

from __future__ import annotations

import collections
import itertools
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from qnum.physics import chain_performance, iterate, qber_from_fidelity
from simulators.devices.base import (
    DEGRADED,
    DOWN,
    QBER_ALARM,
    UP,
    AlarmLatch,
    Health,
    Json,
    Notification,
    counter,
    freq,
    prob,
    rate,
    seconds,
)
from simulators.devices.memory import CoherenceProbe
from simulators.devices.pairs import FlowOffer, JointDraw
from simulators.devices.swapping import Swapping
from simulators.devices.world import Span, xor_error

#: Convergence time constant of the pair rate after warm-up (simulated seconds).
STABILISATION_TAU = 10.0
#: Relative deviation of the pair rate at the end of warm-up.
INITIAL_DEVIATION = 0.5
DETECTOR_FAULTS = ("dead", "noisy")
#: Dark-count multiplier of a detector in the "noisy" failure mode (failed cooling or bias
#: drift: 100 /s specified becomes 1 MHz, comparable to the detector's photon load).
NOISY_DARK_FACTOR = 1e4
#: The QBER estimate covers the pairs of the last ESTIMATE_WINDOW_S simulated seconds,
#: reaching back (at most MAX_ESTIMATE_AGE_S) until it holds MIN_ESTIMATE_PAIRS pairs:
#: fewer pairs would make a single error swing the estimate across a min-fidelity.
ESTIMATE_WINDOW_S = 60.0
MIN_ESTIMATE_PAIRS = 200
MAX_ESTIMATE_AGE_S = 3600.0


@dataclass(frozen=True)
class Delivery:
    """What one application endpoint receives (or why it receives nothing)."""

    rate_hz: float = 0.0
    fidelity: float | None = None
    qber: float | None = None
    latency_s: float = 0.0
    reason: str = ""
    links: tuple[str, ...] = ()  # fibres crossed (their misalignment adds to the QBER)
    offer: FlowOffer | None = None  # what the flow's joint draw is made from


@dataclass(frozen=True)
class FlowSettings:
    """What the configuration asks of an endpoint's flow (sdqn-end-node leaves)."""

    rounds: int = 0
    protocol: str = "dejmps"
    share: float = 1.0
    target_rate: float | None = None
    cutoff_s: float | None = None
    destination: bool = False     # this end is the request's destination
    link_rounds: int = 0          # per-link purification along the flow's path

    @classmethod
    def of(cls, ep: Json) -> FlowSettings:
        target, cutoff = ep.get("target-rate"), ep.get("cutoff-time")
        return cls(int(ep.get("purification-rounds", 0)),
                   str(ep.get("purification-protocol", "dejmps")),
                   float(ep.get("time-share", 1.0)),
                   None if target is None else float(target),
                   None if cutoff is None else float(cutoff),
                   ep.get("role", "source") == "destination",
                   int(ep.get("link-purification-rounds", 0)))


@dataclass(frozen=True)
class Detection:
    """The endpoint's own part: which share of its pairs its detectors see, and the
    bit-flip probability their excess dark counts add."""

    accept: float = 1.0
    flip: float = 0.0
    reason: str = ""


@dataclass
class EndpointRun:
    """Counters and the QBER estimation window of one application endpoint."""

    delivered: int = 0
    sampled_rate: float = 0.0
    checked: int = 0
    errors: int = 0
    purification_attempts: int = 0
    purification_successes: int = 0
    window: collections.deque[tuple[float, int, int]] = field(
        default_factory=collections.deque)     # (tick end, pairs, errors)

    def record(self, now: float, dt: float, pairs: int, errors: int) -> None:
        """One tick's pairs; a tick in which no time passed measures nothing."""
        if dt <= 0:
            return
        self.delivered += pairs
        self.checked += pairs
        self.errors += errors
        self.sampled_rate = pairs / dt
        self.window.append((now, pairs, errors))
        while self.window and self.window[0][0] <= now - MAX_ESTIMATE_AGE_S:
            self.window.popleft()

    def qber_estimate(self, now: float) -> float | None:
        """errors/pairs over the recent window (module docstring); None if too few."""
        pairs = errors = 0
        for end, n, e in reversed(self.window):
            if end <= now - ESTIMATE_WINDOW_S and pairs >= MIN_ESTIMATE_PAIRS:
                break
            pairs, errors = pairs + n, errors + e
        return errors / pairs if pairs >= MIN_ESTIMATE_PAIRS else None


class EndNode(Swapping):
    kind: ClassVar[str] = "end-node"
    swap_notifications: ClassVar[bool] = False
    supervises_fibres: ClassVar[bool] = True
    craft_edit: ClassVar[Json] = {"source": {"stabilisation-tolerance": "0.1"}}
    settle_time: ClassVar[float] = 1.0

    def hardware(self) -> None:
        self.failed: dict[str, str] = {}  # detector-id -> failure mode
        self.source_fault = False

    def reset(self, now: float) -> None:
        self.probe = CoherenceProbe(self.rng.spawn(1)[0])
        self._pump_on_at: float | None = None
        self._retarget_at = -math.inf
        self._dev0 = INITIAL_DEVIATION
        self._source_state = "off"
        self._source_changed = now
        self._measured_rate = 0.0
        self._runs: dict[str, EndpointRun] = {}
        self._deliveries: dict[str, Delivery] = {}
        self._detectors: dict[str, Json] = {}
        self._in_use = 0
        self._alarms = AlarmLatch()
        self._cache: dict[str, tuple[Any, Delivery]] = {}
        self.world.sources_stable.discard(self.node_id)
        self.reset_swapping()

    @property
    def swap_config(self) -> Json:
        return dict(self.config.get("relay") or {})

    def factory_body(self) -> Json:
        detectors = [{"detector-id": d} for d in self.spec.capabilities.detectors]
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
        self._perf_cache.clear()
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
            efficiency = float(det.get("efficiency", 0.9))
            flip = 0.0
            if not det.get("enabled", True) or failure == "dead":
                oper, count, dark = DOWN, 0.0, 0.0
            else:
                specified = float(det.get("dark-count-rate", 100))
                factor = NOISY_DARK_FACTOR if failure == "noisy" else 1.0
                expected = specified * factor
                dark = expected * float(self.rng.lognormal(0.0, 0.05))
                count = photons * efficiency + dark
                signal = photons * efficiency + expected
                # A click from an excess dark count is a random outcome: wrong half the time.
                flip = 0.5 * (expected - specified) / signal if signal > 0 else 0.5
                oper = DEGRADED if failure else UP
            self._detectors[did] = {"oper": oper, "count": count, "dark": dark,
                                    "efficiency": efficiency, "flip": flip}
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

    def _path_delivery(self, name: str, peer: str, settings: FlowSettings) -> Delivery:
        """Endpoint ``name``'s expectation over the current configured path (cached per
        world version and settings; the misalignment, which drifts, is added per tick)."""
        key = (self.world.version, self.world.swap_version, peer, settings)
        cached = self._cache.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        spans = self.world.configured_path(self.node_id, peer)
        if spans:
            if settings.destination:   # evaluate from the source end, as the plan does
                spans = [span.reversed() for span in reversed(spans)]
            delivery = self._chain(spans, settings)
        elif self.world.path(self.node_id, peer):
            delivery = Delivery(reason=f"no repeater chain to {peer} is set up")
        else:
            delivery = Delivery(reason=f"no usable path to {peer}")
        self._cache[name] = (key, delivery)
        return delivery

    def _chain(self, spans: list[Span], settings: FlowSettings) -> Delivery:
        """qnum's chain model for the configured flow: the optimiser's prediction for the
        same configuration (`qnum.candidates` evaluates a candidate the same way)."""
        node = self.world.node_params          # the memories as they are now
        inner = [node(s.ends[1]) for s in spans[:-1]]
        ends = (node(spans[0].ends[0]), node(spans[-1].ends[1]))
        links = tuple(i for s in spans for i in s.link_ids)
        try:
            params = [s.params(modes=self.world.topology.span_modes(s)) for s in spans]
            perf = chain_performance(params, inner, settings.rounds,
                                     settings.protocol, shares=[settings.share] * len(spans),
                                     cutoff_s=settings.cutoff_s, end_nodes=ends,
                                     link_purification_rounds=settings.link_rounds)
        except ValueError as exc:   # settings the chain model cannot run
            return Delivery(reason=f"flow cannot run: {exc}", links=links)
        if perf.rate_hz <= 0:
            return Delivery(reason="coherence budget exceeded on path", links=links)
        raw_rate = perf.raw_rate_hz
        if settings.target_rate is not None:   # rounds beyond the target are not started
            raw_rate = min(raw_rate, settings.target_rate * perf.pairs_per_output)
        successes = [iterate(settings.protocol, perf.raw_fidelity, k)[2]
                     for k in range(settings.rounds + 1)]
        round_success = tuple(b / a for a, b in itertools.pairwise(successes))
        offer = FlowOffer(raw_rate, round_success, qber_from_fidelity(perf.fidelity))
        return Delivery(raw_rate / perf.pairs_per_output, perf.fidelity, offer.qber,
                        perf.latency_s, links=links, offer=offer)

    def _detection(self, ep: Json) -> Detection:
        """The endpoint's pairs are split evenly over its detectors (module docstring)."""
        listed = [d for d in ep.get("detectors") or [] if d in self._detectors]
        if not listed:
            return Detection()
        usable = [self._detectors[d] for d in listed if self._detectors[d]["oper"] != DOWN]
        if not usable:
            return Detection(0.0, 0.0, "all endpoint detectors down")
        return Detection(len(usable) / len(listed),
                         sum(float(d["flip"]) for d in usable) / len(usable))

    def _deliver(self, ep: Json) -> tuple[Delivery, Detection]:
        peer = ep["peer-node"]
        if peer not in self.world.topology.nodes:
            return Delivery(reason=f"unknown peer {peer}"), Detection()
        if self._source_state != "stable":
            return Delivery(reason=f"source {self._source_state}"), Detection()
        peer_node = self.world.topology.nodes[peer]
        if peer_node.kind == "end-node" and peer not in self.world.sources_stable:
            return Delivery(reason=f"source of {peer} not stable"), Detection()
        base = self._path_delivery(ep["name"], peer, FlowSettings.of(ep))
        if base.offer is None or base.fidelity is None:
            return Delivery(reason=base.reason or "no pairs"), Detection()
        local = self._detection(ep)
        if local.reason:
            return Delivery(reason=local.reason), local
        flow_qber = xor_error([qber_from_fidelity(base.fidelity),
                               self.world.misalignment_error(base.links)])
        offer = FlowOffer(base.offer.raw_rate_hz, base.offer.round_success, flow_qber)
        qber = xor_error([flow_qber, local.flip])
        return Delivery(base.rate_hz * local.accept, 1.0 - 1.5 * qber, qber, base.latency_s,
                        links=base.links, offer=offer), local

    def _local_draw(self, joint: JointDraw, local: Detection) -> tuple[int, int]:
        """(pairs, errors) this end sees of the flow's joint draw."""
        pairs, errors = joint.delivered, joint.errors
        if local.accept < 1.0 and pairs:
            kept = int(self.rng.binomial(pairs, local.accept))
            errors = int(self.rng.hypergeometric(errors, pairs - errors, kept)) if kept else 0
            pairs = kept
        if local.flip > 0 and pairs:
            fixed = int(self.rng.binomial(errors, local.flip)) if errors else 0
            broken = int(self.rng.binomial(pairs - errors, local.flip))
            errors += broken - fixed
        return pairs, errors

    def _step_endpoints(self, now: float, dt: float) -> list[Notification]:
        notes: list[Notification] = []
        names: set[str] = set()
        in_use = 0
        for ep in self.config.get("application-endpoint") or []:
            name = ep["name"]
            names.add(name)
            delivery, local = self._deliver(ep)
            self._deliveries[name] = delivery
            run = self._runs.setdefault(name, EndpointRun())
            pairs = errors = 0
            if delivery.offer is not None and dt > 0:
                joint = self.world.joint_delivery(name, (self.node_id, ep["peer-node"])).draw(
                    (now - dt, now), delivery.offer)
                pairs, errors = self._local_draw(joint, local)
                for attempts, successes in joint.purification:
                    run.purification_attempts += attempts
                    run.purification_successes += successes
            run.record(now, dt, pairs, errors)
            slots = int(ep.get("memory-slots", 0))
            if slots and delivery.rate_hz > 0:
                busy = min(1.0, delivery.rate_hz * delivery.latency_s)
                in_use += int(self.rng.binomial(slots, busy))
            notes.extend(self._endpoint_alarm(ep, delivery))
        self._in_use = in_use
        for gone in set(self._deliveries) - names:
            del self._deliveries[gone]
            self._runs.pop(gone, None)
            self._cache.pop(gone, None)
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
        self.probe.step(now, self.world.coherence_time(self.node_id), self.rated_coherence())
        notes = self._step_source(now)
        notes.extend(self._step_detectors())
        notes.extend(self._step_endpoints(now, dt))
        notes.extend(self.step_swapping(dt))
        return notes

    def health(self, now: float) -> Health:
        if self._source_state == "fault":
            return Health(DOWN, False, "source fault")
        problems = sorted(a for a in self._alarms.active) + self.swap_problems()
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
        in_use = self._in_use + len(self.pairs)
        body["memory"] = {"occupancy": {
            "registers-in-use": in_use,
            "utilisation": prob(in_use / registers if registers else 0.0)},
            **self.probe.leaves(self.clock.iso)}
        endpoints = []
        for name in self._deliveries:
            run = self._runs.get(name, EndpointRun())
            st: Json = {"delivered-pairs": counter(run.delivered),
                        "delivered-rate": rate(run.sampled_rate)}
            qber = run.qber_estimate(now)
            if qber is not None:
                st["fidelity-estimate"] = prob(1.0 - 1.5 * qber)
                st["qber"] = prob(qber)
            st.update({"estimation-pairs": counter(run.checked),
                       "estimation-errors": counter(run.errors),
                       "purification-attempts": counter(run.purification_attempts),
                       "purification-successes": counter(run.purification_successes)})
            endpoints.append({"name": name, "state": st})
        body["application-endpoint"] = endpoints
        if "relay" in self.config:
            body["relay"] = self.swap_state()
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
