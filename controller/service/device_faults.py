"""Device impairments read from telemetry: faults a reachable device reports in its own
operational state that neither fail a fibre nor take the device down, but spoil what the
services through it deliver.

* ``timing-skew``: a q-ROADM cross-connect whose measured delay to its timing companion
  (sdqn-qroadm ``cross-connect/state/timing-skew``) exceeds SKEW_LIMIT_PS: coincidences
  fall outside the detection window.
* ``detector-failure``: an end node's enabled single-photon detector reports oper-status
  down (dead) or degraded (noisy).
  The node itself stays reachable and reports ``degraded`` (not ``down``), so it is a
  fault of one element rather than a ``device-failure``.
* ``memory-degraded``: a memory node (repeater, end node) measures its registers'
  coherence time (sdqn-device-common ``memory/measured-coherence-time``, the device's own
  T2 probe) below a fraction (service-assurance ``memory-coherence-fraction``) of the
  ``coherence-time`` its topology node gives — the T2 the plan budgeted with — so pairs
  stored there decohere faster than planned.  The node stays up.

Each is a root-cause alarm (RFC 8632 §3.2) on the node, raised while the round shows it and
cleared in the first round that no longer does. The service state machine reads
`impairments()` to degrade the services whose path crosses such a node; their
`service-degraded` alarm lists these alarms as root causes (controller/service/assurance.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import structlog
from lxml import etree

from controller.service.alarms import AlarmKey, AlarmManager, Severity
from qnum.io import Network

log = structlog.get_logger(__name__)

QROADM_NS = "urn:sdqn:sdqn-qroadm"
END_NODE_NS = "urn:sdqn:sdqn-end-node"
REPEATER_NS = "urn:sdqn:sdqn-repeater"
#: The q-ROADM's skew tolerance: detection windows are tens to hundreds of ps wide, and
#: the emulated q-ROADM raises its own timing-skew-alarm beyond the same 50 ps.
SKEW_LIMIT_PS = 50.0
TIMING_SKEW = "sdqn-alarms:timing-skew"
DETECTOR_FAILURE = "sdqn-alarms:detector-failure"
MEMORY_DEGRADED = "sdqn-alarms:memory-degraded"


@dataclass(frozen=True)
class Impairment:
    node: str
    alarm_type: str
    text: str


@dataclass(frozen=True)
class MemoryBaseline:
    """What the plan assumes of the memories, and how far below it a measurement may be."""

    #: memory node → the coherence-time of its topology node in running (s)
    planned: Mapping[str, float] = field(default_factory=dict)
    #: service-assurance memory-coherence-fraction
    fraction: float = 0.5


def memory_baseline(network: Network | None, fraction: float) -> MemoryBaseline:
    """The committed network's memory nodes (those with registers) and their planned T2."""
    if network is None:
        return MemoryBaseline(fraction=fraction)
    return MemoryBaseline({n.node_id: n.coherence_time_s for n in network.nodes.values()
                           if n.is_memory_node and n.memory_qubits > 0}, fraction)


def memory_impairment(node: str, root: etree._Element, baseline: MemoryBaseline
                      ) -> Impairment | None:
    """memory-degraded when the device's measured T2 is below the fraction of the plan's."""
    planned = baseline.planned.get(node)
    if planned is None:
        return None
    for memory in (*root.iter(f"{{{REPEATER_NS}}}memory"),
                   *root.iter(f"{{{END_NODE_NS}}}memory")):
        text = memory.findtext(f"{{{etree.QName(memory).namespace}}}measured-coherence-time")
        if text is not None and float(text) < baseline.fraction * planned:
            # the limit, not the reading: a text changing every round would be a new
            # status change of the alarm each time (RFC 8632 §3.5.1)
            return Impairment(node, MEMORY_DEGRADED,
                              f"memory coherence time below {baseline.fraction:.0%} of the "
                              f"planned {planned:g} s")
    return None


def impairments_of(node: str, xml: str, baseline: MemoryBaseline | None = None
                   ) -> list[Impairment]:
    """What one device's operational XML shows as impairing its services (`baseline`:
    the memory coherence the plan assumed; without it memories are not judged)."""
    root = etree.fromstring(f"<data>{xml}</data>".encode())
    out: list[Impairment] = []
    skewed = []
    for xc in root.iter(f"{{{QROADM_NS}}}cross-connect"):
        text = xc.findtext(f"{{{QROADM_NS}}}state/{{{QROADM_NS}}}timing-skew")
        if text is not None and abs(float(text)) > SKEW_LIMIT_PS:
            # names only: the text must not change with every reading (a changed text is
            # a new status change of the alarm, RFC 8632 §3.5.1)
            skewed.append(xc.findtext(f"{{{QROADM_NS}}}name") or "?")
    if skewed:
        out.append(Impairment(node, TIMING_SKEW,
                              f"timing skew beyond {SKEW_LIMIT_PS:g} ps on "
                              f"{', '.join(sorted(skewed))}"))
    failing = []
    for det in root.iter(f"{{{END_NODE_NS}}}detector"):
        if det.findtext(f"{{{END_NODE_NS}}}enabled") == "false":
            continue                        # switched off on purpose: not a fault
        oper = (det.findtext(f"{{{END_NODE_NS}}}state/{{{END_NODE_NS}}}oper-status")
                or "").rsplit(":", 1)[-1]
        if oper in ("down", "degraded"):
            failing.append(f"{det.findtext(f'{{{END_NODE_NS}}}detector-id') or '?'} {oper}")
    if failing:
        out.append(Impairment(node, DETECTOR_FAILURE,
                              f"detector {', '.join(sorted(failing))}"))
    memory = memory_impairment(node, root, baseline) if baseline is not None else None
    if memory is not None:
        out.append(memory)
    return out


class ImpairmentMonitor:
    """A telemetry observer (controller/service/telemetry.py `ReadingsObserver`)."""

    def __init__(self, alarms: AlarmManager | None,
                 node_resource: Callable[[str], str] = lambda node: node,
                 baseline: Callable[[], MemoryBaseline | None] = lambda: None) -> None:
        self.alarms = alarms
        self.node_resource = node_resource
        self.baseline = baseline
        self._active: dict[AlarmKey, Impairment] = {}
        self._lock = threading.Lock()

    def __call__(self, readings: Mapping[str, str], _taken_at: float) -> None:
        found: dict[AlarmKey, Impairment] = {}
        baseline = self.baseline()
        for node, xml in readings.items():
            try:
                for imp in impairments_of(node, xml, baseline):
                    found[AlarmKey(self.node_resource(node), imp.alarm_type)] = imp
            except (etree.XMLSyntaxError, ValueError) as exc:
                log.debug("impairments: device state not parsed", device=node, error=str(exc))
        with self._lock:
            # A device not read this round keeps its alarm: no reading is no repair.
            gone = [k for k, imp in self._active.items()
                    if k not in found and imp.node in readings]
            for key in gone:
                imp = self._active.pop(key)
                if self.alarms is not None:
                    self.alarms.clear_alarm(key, f"{imp.node}: no longer reported")
            for key, imp in found.items():
                self._active[key] = imp
                if self.alarms is not None:
                    self.alarms.raise_alarm(key, Severity.MAJOR, f"{imp.node}: {imp.text}")

    def impairments(self) -> dict[str, str]:
        """node → why it impairs the services through it (the alarms' texts)."""
        with self._lock:
            out: dict[str, str] = {}
            for imp in self._active.values():
                out[imp.node] = f"{out[imp.node]}; {imp.text}" if imp.node in out \
                    else imp.text
            return out
