"""Entanglement swapping of a device that relays flows: the repeater's whole job, and an
end node's when it relays (sdqn-device-common swap-physics, link-generation, swap-flows).

Physics, per configured neighbour link (``link-generation/link``): the span from this node
to ``neighbour`` (through transparent q-ROADMs) is qnum's elementary link with the
configured attempt rate and multiplexing; each tick draws the successes of the attempts
made (binomial, seeded).  The heralded fidelity is the span's link fidelity with the
polarisation misalignment of its compensated fibres added as bit flips.  Nothing is
generated when a fibre is cut, the neighbour or a q-ROADM on the span is down, or the
configured neighbour is not at the other end of the fibre.

Per flow (two neighbour links swapped together): the two spans form a two-link chain with
this node in the middle, evaluated by qnum's analytic ``chain_performance`` (swap-asap
with the flow's cut-off).  Purification is applied to each side before the swap, as the
YANG grouping says: round k consumes two pairs for one with probability p_k
(``purification.iterate``), which scales the side's pair supply by Π p_k / 2^r and lifts
its fidelity.  Stored pairs are sampled from the time each side's half waits for the
other side (E[M] − E[T_i]) and aged through the depolarising-memory Werner map.  The
flows that run are published to the world (``World.set_swaps``): end nodes' deliveries
follow only chains whose every inner node swaps for them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, ClassVar, cast

from qnum.physics import (
    IDEAL_END_NODE,
    ChainPerformance,
    DecoherenceModel,
    LinkParams,
    NodeParams,
    attempt_period_s,
    attempt_success_probability,
    chain_performance,
    iterate,
    pair_fidelity,
    qber_from_fidelity,
    werner_from_fidelity,
)
from simulators.devices.base import (
    FIDELITY_ALARM,
    AlarmLatch,
    DeviceModel,
    Json,
    Notification,
    counter,
    prob,
    rate,
    seconds,
)
from simulators.devices.registers import allocate
from simulators.devices.world import Span, xor_error


@dataclass
class LinkRun:
    """Counters and the current physics of one neighbour link."""

    attempts: int = 0
    successes: int = 0
    rate_hz: float = 0.0
    sampled_rate: float = 0.0
    fidelity: float | None = None
    params: LinkParams | None = None
    span: Span | None = None
    problem: str = ""
    #: (cause, failed fibre or node) while the span carries nothing: what link-failure reports
    fault: tuple[str, str] | None = None


@dataclass(frozen=True)
class Side:
    """One side of a flow as its swap sees it: purified link, share of slots, round odds."""

    params: LinkParams
    supply: float               # output pairs per raw herald (Π p_k / 2^r)
    cumulative: tuple[float, ...]  # Π_{j≤k} p_j for k = 1..r
    raw_rate: float             # raw heralds per second on the link


@dataclass
class FlowRun:
    swap_attempts: int = 0
    swap_successes: int = 0
    purification_attempts: int = 0
    purification_successes: int = 0
    cutoff_discards: int = 0
    stored: int = 0
    fidelity: float | None = None
    problem: str = ""


def slots_needed(purification_rounds: int) -> int:
    """Registers a flow needs: per side, a sequential recurrence of r rounds holds one pair
    per level plus the incoming one (r + 1); with no purification one half per side."""
    return 2 * (purification_rounds + 1)


def effective_fidelity(fidelity: float, flip: float) -> float:
    """Werner fidelity whose QBER equals the pair's QBER ⊕ an extra bit-flip probability."""
    return 1.0 - 1.5 * xor_error([qber_from_fidelity(fidelity), flip])


class Swapping(DeviceModel):
    """The swapping part of a device model: its configuration is ``swap_config`` (the
    container that uses the three groupings), its memory the device's ``memory``.

    ``swap_notifications``: whether the device's module has the repeater's link-failure,
    fidelity-alarm and memory-exhausted notifications (an end node reports the same
    conditions through its health instead).
    """

    swap_notifications: ClassVar[bool] = True

    @property
    def swap_config(self) -> Json:
        return self.config

    def reset_swapping(self) -> None:
        self.links: dict[str, LinkRun] = {}
        self.flows: dict[str, FlowRun] = {}
        self.pairs: list[Json] = []
        self.swap_alarms = AlarmLatch()
        self._last_fault: dict[str, tuple[str, str]] = {}
        self._perf_cache: dict[str, tuple[Any, ChainPerformance]] = {}

    # -- links ---------------------------------------------------------------------------

    def _link_configs(self) -> list[Json]:
        return list((self.swap_config.get("link-generation") or {}).get("link") or [])

    def _step_link(self, cfg: Json, run: LinkRun, dt: float) -> None:
        span = self.world.span(self.node_id, str(cfg.get("fibre") or cfg["link-id"]),
                               cfg["neighbour"])
        run.span, run.params, run.fault = span, None, None
        if not cfg.get("enabled", True):
            run.problem = "disabled"
        elif span is None:
            run.problem = f"{cfg['neighbour']} is not at the end of {cfg['link-id']}"
        elif not self.world.span_usable(span):
            run.fault = self._fault(span)
            cause, where = run.fault
            run.problem = (f"fibre cut on {where}" if cause == "loss-of-light"
                           else f"{where} unreachable" if cause == "neighbour-unreachable"
                           else "span unusable")
        else:
            run.problem = ""
        if run.problem or span is None:
            run.rate_hz = run.sampled_rate = 0.0
            run.fidelity = None
            return
        params = span.params(source_rate=float(cfg["attempt-rate"]),
                             modes=int(cfg.get("multiplexing-modes", 1)))
        run.params = params
        p = attempt_success_probability(params)
        period = attempt_period_s(params)
        run.rate_hz = p / period
        attempts = int(self.rng.poisson(dt / period)) if dt > 0 else 0
        successes = int(self.rng.binomial(attempts, p)) if attempts else 0
        run.attempts += attempts
        run.successes += successes
        run.sampled_rate = successes / dt if dt > 0 else run.rate_hz
        flip = self.world.misalignment_error(span.link_ids)
        run.fidelity = effective_fidelity(params.link_fidelity, flip)

    def _fault(self, span: Span) -> tuple[str, str]:
        """Why a span carries nothing: no light on a fibre (the q-ROADM port monitors on
        the span tell which one) or a node at its end or inside it is down."""
        for fibre in span.fibres:
            if not self.world.fibre_ok(fibre):
                return "loss-of-light", fibre.link_id
        for node in (*span.ends, *(r.node_id for r in span.roadms)):
            if not self.world.node_up(node):
                return "neighbour-unreachable", node
        return "unknown", span.fibres[0].link_id

    # -- flows ---------------------------------------------------------------------------

    def _node(self) -> NodeParams:
        memory = self.config.get("memory") or {}
        t2 = memory.get("coherence-time")
        return NodeParams(   # a degraded memory (fault memory-degradation) decoheres faster
            math.inf if t2 is None else float(t2) / self.world.degradation(self.node_id),
            # bsm-fidelity is a fidelity F: the swap's depolarising factor is (4F − 1)/3
            bsm_lambda=werner_from_fidelity(float(self.swap_config.get("bsm-fidelity", 1.0))),
            swap_success_probability=float(
                self.swap_config.get("swap-success-probability", 0.5)),
            memory_efficiency=float(memory.get("efficiency", 1.0)),
            decoherence_model=cast(DecoherenceModel,
                                   str(memory.get("decoherence-model", "depolarising"))),
            initial_fidelity=self.node.initial_fidelity,   # the plant's write fidelity
        )

    def _purified_side(self, run: LinkRun, flow: Json) -> Side:
        """The side's link as the swap sees it after per-side purification."""
        assert run.params is not None and run.fidelity is not None
        rounds = int(flow.get("purification-rounds", 0))
        protocol = str(flow.get("purification-protocol", "dejmps"))
        fidelity, cumulative = run.fidelity, []
        for k in range(1, rounds + 1):
            fidelity, _, success = iterate(protocol, run.fidelity, k)
            cumulative.append(success)
        supply = (cumulative[-1] if cumulative else 1.0) / 2**rounds
        return Side(replace(run.params, link_fidelity=max(0.25, fidelity)), supply,
                    tuple(cumulative), run.rate_hz)

    def _step_flow(self, flow: Json, run: FlowRun, dt: float) -> list[Json]:
        """Advance one flow; returns its stored pairs (register index assigned later)."""
        links = list(flow.get("neighbour-links") or [])
        sides = [self.links.get(i) for i in links]
        needed = slots_needed(int(flow.get("purification-rounds", 0)))
        if len(links) != 2 or any(s is None or s.params is None for s in sides):
            run.problem, run.fidelity, run.stored = "a neighbour link is not generating", None, 0
            return []
        if int(flow["memory-slots"]) < needed:
            run.problem, run.fidelity, run.stored = "memory-slots below need", None, 0
            return []
        run.problem = ""
        purified = [self._purified_side(s, flow) for s in sides if s is not None]
        cutoff = flow.get("cutoff-time")
        key = (tuple(purified), cutoff, self._node())
        cached = self._perf_cache.get(flow["flow-id"])
        if cached is None or cached[0] != key:
            perf = chain_performance([p.params for p in purified], [self._node()],
                                     shares=[p.supply for p in purified],
                                     cutoff_s=None if cutoff is None else float(cutoff),
                                     end_nodes=(IDEAL_END_NODE, IDEAL_END_NODE))
            self._perf_cache[flow["flow-id"]] = (key, perf)
        else:
            perf = cached[1]
        self._count_flow(run, perf, purified, dt, cutoff is not None)
        return self._sample_pairs(flow, perf, purified, links)

    def _draw(self, mean_rate: float, dt: float) -> int:
        return int(self.rng.poisson(mean_rate * dt)) if dt > 0 and mean_rate > 0 else 0

    def _count_flow(self, run: FlowRun, perf: ChainPerformance, purified: list[Side],
                    dt: float, has_cutoff: bool) -> None:
        """Swap, purification and cut-off counters of one tick.

        With ideal end memories the chain's success probability is accept·p_swap and its
        raw rate success/E[cycle], so rounds end at 1/E[cycle] per second, a fraction
        `accept` of them in a swap attempt and the rest (cut-off) in discarding.
        """
        node = self._node()
        p_swap = node.swap_success_probability * node.memory_efficiency**2
        run.fidelity = perf.fidelity if perf.rate_hz > 0 else None
        if perf.raw_rate_hz <= 0 or p_swap <= 0:
            return
        accept = perf.success_probability / p_swap
        cycle = perf.success_probability / perf.raw_rate_hz
        attempts = self._draw(accept / cycle, dt)
        run.swap_attempts += attempts
        run.swap_successes += int(self.rng.binomial(attempts, p_swap)) if attempts else 0
        if has_cutoff:
            run.cutoff_discards += self._draw((1.0 - accept) / cycle, dt)
        for side in purified:
            # Round k of a side fed at r (raw heralds/s) runs r·Π_{j<k} p_j / 2^k times/s.
            before = 1.0
            for k, upto in enumerate(side.cumulative, start=1):
                n = self._draw(side.raw_rate * before / 2**k, dt)
                run.purification_attempts += n
                run.purification_successes += int(self.rng.binomial(n, upto / before)) if n else 0
                before = upto

    def _sample_pairs(self, flow: Json, perf: ChainPerformance, purified: list[Side],
                      links: list[str]) -> list[Json]:
        """Stored halves now: each side holds its pair for E[M] − E[T_i] of each round."""
        if not math.isfinite(perf.waiting_time_s) or perf.waiting_time_s <= 0:
            return []
        cycle = perf.waiting_time_s
        per_side = int(flow["memory-slots"]) // 2
        node = self._node()
        pairs: list[Json] = []
        for side, link_id in zip(purified, links, strict=True):
            params = side.params
            wait_first = attempt_period_s(params) / side.supply / attempt_success_probability(
                params)
            hold = max(0.0, cycle - wait_first)
            occupied = int(self.rng.binomial(per_side, min(1.0, hold / cycle)))
            run = self.links[link_id]
            partner = run.span.ends[1] if run.span is not None else ""
            for _ in range(occupied):
                age = float(self.rng.uniform(0.0, hold)) if hold > 0 else 0.0
                # both halves aged here, under this node's memory model
                w = werner_from_fidelity(params.link_fidelity)
                estimate = pair_fidelity(w, age, 2.0 * node.decay_rate, 2.0 * node.z_decay_rate)
                pairs.append({"flow-id": flow["flow-id"], "link-id": link_id,
                              "partner-node": partner, "age": seconds(age),
                              "fidelity-estimate": prob(estimate)})
        return pairs

    # -- the tick ------------------------------------------------------------------------

    def step_swapping(self, dt: float) -> list[Notification]:
        """One tick of link generation and swap flows; the notifications it raises."""
        notes: list[Notification] = []
        configs = self._link_configs()
        self.links = {c["link-id"]: self.links.get(c["link-id"], LinkRun()) for c in configs}
        for cfg in configs:
            run = self.links[cfg["link-id"]]
            self._step_link(cfg, run, dt)
            edge = self.swap_alarms.update(f"failure:{cfg['link-id']}", run.fault is not None)
            if edge is not None:
                cause, where = run.fault or self._last_fault.get(cfg["link-id"], ("", ""))
                notes.append(self.alarm(
                    "link-failure", edge, "critical", run.problem or "link generating again",
                    link_id=cfg["link-id"], cause=cause or None,
                    failed_fibre=where if cause == "loss-of-light" else None,
                    failed_node=where if cause == "neighbour-unreachable" else None))
            if run.fault is not None:
                self._last_fault[cfg["link-id"]] = run.fault
            low = run.fidelity is not None and run.fidelity < FIDELITY_ALARM
            edge = self.swap_alarms.update(f"link:{cfg['link-id']}", low)
            if edge is not None:
                notes.append(self.alarm("fidelity-alarm", edge, "major",
                                        "heralded fidelity below QBER 11 % level",
                                        link_id=cfg["link-id"],
                                        fidelity_estimate=prob(run.fidelity or 0.25)))
        self.world.set_in_use(self.node_id, [i for c in configs if c.get("enabled", True)
                                             for i in self._span_links(c["link-id"])])
        flows = list(self.swap_config.get("flow") or [])
        self.flows = {f["flow-id"]: self.flows.get(f["flow-id"], FlowRun()) for f in flows}
        pairs: list[Json] = []
        for flow in flows:
            frun = self.flows[flow["flow-id"]]
            stored = self._step_flow(flow, frun, dt)
            pairs.extend(stored)
        # registers from the flow's slice partition only (simulators/devices/registers.py)
        held = allocate(self.config, flows, pairs)
        for flow in flows:
            frun = self.flows[flow["flow-id"]]
            frun.stored = sum(1 for p in held.pairs if p["flow-id"] == flow["flow-id"])
            edge = self.swap_alarms.update(f"memory:{flow['flow-id']}",
                                       frun.problem == "memory-slots below need")
            if edge is not None:
                notes.append(self.alarm("memory-exhausted", edge, "major",
                                        "flow has fewer memory slots than its purification "
                                        "needs", flow_id=flow["flow-id"],
                                        registers_in_use=len(self.pairs)))
        self.pairs = held.pairs
        self.world.set_swaps(self.node_id, (
            frozenset(self._span_links(i)[0] for i in f.get("neighbour-links") or [])
            for f in flows if not self.flows[f["flow-id"]].problem))
        self.swap_alarms.forget({f"{kind}:{c['link-id']}" for c in configs
                             for kind in ("link", "failure")}
                            | {f"memory:{f['flow-id']}" for f in flows})
        return notes if self.swap_notifications else []

    def _span_links(self, link_id: str) -> tuple[str, ...]:
        run = self.links.get(link_id)
        return run.span.link_ids if run is not None and run.span is not None else ()


    def swap_problems(self) -> list[str]:
        """Links that do not generate, flows that cannot run, raised alarms."""
        down = sorted(f"{i}: {r.problem}" for i, r in self.links.items()
                      if r.problem and r.problem != "disabled")
        blocked = sorted(f"{i}: {r.problem}" for i, r in self.flows.items() if r.problem)
        return down + blocked + sorted(a for a in self.swap_alarms.active
                                       if not a.startswith("failure:"))

    def swap_state(self) -> Json:
        """State of link-generation and the flows (the groupings' config-false leaves)."""
        links = []
        for link_id, run in self.links.items():
            st: Json = {"attempts": counter(run.attempts), "successes": counter(run.successes),
                        "generation-rate": rate(run.sampled_rate)}
            if run.fidelity is not None:
                st["fidelity-estimate"] = prob(run.fidelity)
            st["oper-status"] = "down" if run.fault is not None else "up"
            if run.fault is not None:
                st["failure-cause"] = run.fault[0]
                st["failed-element"] = run.fault[1]
            links.append({"link-id": link_id, "state": st})
        flows = []
        for flow_id, fr in self.flows.items():
            fst: Json = {"stored-pairs": fr.stored,
                         "swap-attempts": counter(fr.swap_attempts),
                         "swap-successes": counter(fr.swap_successes),
                         "purification-attempts": counter(fr.purification_attempts),
                         "purification-successes": counter(fr.purification_successes),
                         "cutoff-discards": counter(fr.cutoff_discards)}
            if fr.fidelity is not None:
                fst["fidelity-estimate"] = prob(fr.fidelity)
            flows.append({"flow-id": flow_id, "state": fst})
        return {"link-generation": {"link": links}, "flow": flows}
