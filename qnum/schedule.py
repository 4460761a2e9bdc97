"""Expand a plan into per-device schedules (the "intended" configuration, RFC 8342 §5.1.4).

Output is plain, JSON-ready dicts with YANG-style (kebab-case) names, so the controller can
map them onto device models later without this library knowing those models:

``{"frame": {...}, "links": {link-id: {...}}, "devices": {node-id: {...}}}``

* Frame: one network-wide TDMA frame of ``frame_slots`` equal time slots.  A slot lasts the
  longest attempt period among the scheduled elementary links, so every slot holds at least
  one attempt of any link.
* Links (per fibre): which slots of the frame each flow's elementary link may attempt in.
  A flow granted share s gets ⌊s·N⌋ slots (never less than its share floor σ·N), spread
  evenly over the frame — the analytic chain model assumes evenly spaced attempts, one per
  τ/s.  An elementary link that crosses transparent nodes (q-ROADM, APC, …) gets the
  *same* slots on every fibre it uses: slots are drawn from its time-sharing domain (the
  transparent island, :mod:`qnum.candidates`), whose load the solver keeps ≤ 1.  The
  realised share k/N is reported (below the planned share by less than 1/N; predicted rates
  refer to the planned share).
* Every memory node of a flow: its per-link purification rounds.
* End nodes: role, peer, memory qubits, purification rounds/protocol, cut-off window and
  the predicted rate/fidelity per flow.
* Repeaters: memory qubits and swap order per flow.  The chain protocol swaps at every
  repeater as soon as all of the flow's elementary links hold a pair ("all-heralded"); the
  order field is the repeater's position along the path (1 = next to the source).
* Circuit-switched q-ROADMs: one cross-connect per elementary link through them, with a
  wavelength channel chosen first-fit and identical on every q-ROADM of that link
  (wavelength continuity; the solver only counts channels per node, this step checks it).

Every flow's heralding latency must stay below its entanglement lifetime T_ent (the
coherence budget); a plan that breaks it, or whose slots/channels cannot be assigned, raises
:class:`ScheduleError` instead of producing a configuration that cannot work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from qnum.candidates import Candidate, Segment
from qnum.io import DeviceKind, Network
from qnum.physics import attempt_period_s, heralding_latency_s
from qnum.plan import Assignment, Plan

_EPS = 1e-9


class ScheduleError(ValueError):
    """The plan cannot be turned into a consistent set of device schedules."""


@dataclass(frozen=True)
class ScheduleOptions:
    frame_slots: int = 1000

    def __post_init__(self) -> None:
        if self.frame_slots < 1:
            raise ValueError("frame_slots must be >= 1")


@dataclass
class _Builder:
    network: Network
    options: ScheduleOptions
    free: dict[str, set[int]] = field(default_factory=dict)
    links: dict[str, dict[str, Any]] = field(default_factory=dict)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_qubit: dict[str, int] = field(default_factory=dict)
    channels_used: dict[str, set[int]] = field(default_factory=dict)

    def slots_needed(self, a: Assignment, cand: Candidate) -> int:
        n = self.options.frame_slots
        k = max(math.floor(a.share * n + _EPS), math.ceil(cand.min_share * n - _EPS))
        return min(k, n)

    def allocate(self, name: str, seg: Segment, k: int) -> list[int]:
        """k free slots of the segment's TDMA frame, spread evenly over the frame."""
        n = self.options.frame_slots
        free = self.free.setdefault(seg.frame, set(range(n)))
        if len(free) < k:
            raise ScheduleError(
                f"flow {name}: frame {seg.frame} has {len(free)} free slots, {k} needed"
            )
        ordered = sorted(free)
        chosen = [ordered[math.floor(i * len(ordered) / k)] for i in range(k)]
        free -= set(chosen)
        return chosen

    def qubits(self, node: str, count: int) -> list[int]:
        first = self.next_qubit.get(node, 0)
        if first + count > self.network.nodes[node].memory_qubits:
            raise ScheduleError(f"node {node}: memory qubits exhausted")
        self.next_qubit[node] = first + count
        return list(range(first, first + count))

    def channel(self, name: str, seg: Segment) -> int | None:
        """First wavelength channel free on every circuit q-ROADM of the segment."""
        if not seg.roadm_channels:
            return None
        limit = min(self._channels(n) for n in seg.roadm_channels)
        for ch in range(limit):
            if all(ch not in self.channels_used.setdefault(n, set()) for n in seg.roadm_channels):
                for n in seg.roadm_channels:
                    self.channels_used[n].add(ch)
                return ch
        raise ScheduleError(
            f"flow {name}: no wavelength channel free on all of {', '.join(seg.roadm_channels)}"
        )

    def _channels(self, node: str) -> int:
        roadm = self.network.nodes[node].roadm
        return roadm.wavelength_channels if roadm is not None else 0

    def device(self, node: str) -> dict[str, Any]:
        if node not in self.devices:
            spec = self.network.nodes[node]
            entry: dict[str, Any] = {"device-kind": spec.kind.value}
            if spec.kind is DeviceKind.Q_ROADM:
                entry["cross-connects"] = []
            else:
                entry.update({"memory-qubits": spec.memory_qubits, "flows": []})
            self.devices[node] = entry
        return self.devices[node]


def build_schedule(
    network: Network, plan: Plan, options: ScheduleOptions | None = None
) -> dict[str, Any]:
    """Per-device schedules for every admitted request of ``plan`` (module docstring)."""
    options = options or ScheduleOptions()
    b = _Builder(network, options)
    admitted = [a for a in plan.assignments.values() if a.admitted and a.candidate is not None]
    periods = [
        attempt_period_s(seg.params)
        for a in admitted
        if a.candidate is not None
        for seg in a.candidate.route.segments
    ]
    slot_s = max(periods, default=0.0)
    for a in admitted:
        _flow(b, a)
    for link in b.links.values():
        link["idle-share"] = _round(1.0 - sum(x["share"] for x in link["allocations"]))
    return {
        "frame": {
            "slots": options.frame_slots,
            "slot-duration": slot_s,
            "duration": slot_s * options.frame_slots,
        },
        "links": dict(sorted(b.links.items())),
        "devices": dict(sorted(b.devices.items())),
    }


def _round(x: float) -> float:
    return round(x, 12)


def _flow(b: _Builder, a: Assignment) -> None:
    cand = a.candidate
    assert cand is not None
    name = a.request.name
    k = b.slots_needed(a, cand)
    for seg in cand.route.segments:
        herald = heralding_latency_s(seg.params)
        if herald >= cand.t_ent_s:
            raise ScheduleError(
                f"flow {name}: heralding latency {herald:.3g} s on {seg.nodes[0]}–{seg.nodes[-1]} "
                f"is not below T_ent {cand.t_ent_s:.3g} s"
            )
        slots = b.allocate(name, seg, k)
        channel = b.channel(name, seg)
        for lk in seg.links:
            entry = b.links.setdefault(
                lk,
                {"frame-slots": b.options.frame_slots, "allocations": []},
            )
            entry["allocations"].append(
                {
                    "flow": name,
                    "elementary-link": list(seg.nodes),
                    "attempt-period": attempt_period_s(seg.params),
                    "heralding-latency": herald,
                    "slots": slots,
                    "share": _round(k / b.options.frame_slots),
                }
            )
        _cross_connects(b, name, seg, channel)
    _memory_nodes(b, a, cand, k)


def _cross_connects(b: _Builder, name: str, seg: Segment, channel: int | None) -> None:
    for i in range(1, len(seg.nodes) - 1):
        node = seg.nodes[i]
        if node not in seg.roadm_channels:
            continue
        b.device(node)["cross-connects"].append(
            {
                "flow": name,
                "in-link": seg.links[i - 1],
                "out-link": seg.links[i],
                "channel": channel,
                "add-drop-ports": sum(1 for p in seg.add_drop_ports if p == node),
            }
        )


def _memory_nodes(b: _Builder, a: Assignment, cand: Candidate, k: int) -> None:
    name = a.request.name
    mem = cand.route.memory_nodes
    segs = cand.route.segments
    common = {"flow": name, "cutoff": cand.cutoff_s,
              "link-purification-rounds": cand.link_purification_rounds}
    for pos, node in enumerate(mem):
        entry: dict[str, Any] = {**common, "qubits": b.qubits(node, cand.memory[node])}
        if pos in (0, len(mem) - 1):
            entry.update(
                {
                    "role": "source" if pos == 0 else "destination",
                    "peer": mem[-1] if pos == 0 else mem[0],
                    "links": list(segs[0].links if pos == 0 else segs[-1].links),
                    "purification-rounds": cand.purification_rounds,
                    "purification-protocol": cand.protocol,
                    "predicted-rate": a.rate_hz,
                    "predicted-fidelity": cand.fidelity,
                    "realised-share": _round(k / b.options.frame_slots),
                }
            )
        else:
            entry.update(
                {
                    "role": "repeater",
                    "upstream-links": list(segs[pos - 1].links),
                    "downstream-links": list(segs[pos].links),
                    "swap-order": pos,
                    "swap-policy": "all-heralded",
                }
            )
        b.device(node)["flows"].append(entry)
