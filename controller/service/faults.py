"""Fault correlation: many device reports → few root causes.

A cut fibre is seen by every device whose span crosses it: both repeaters at its ends, and
every repeater whose span runs through a q-ROADM over it. Each of them reports, by a
`link-failure` notification and in its link state, which fibre lost light (or which node
on the span is down). The correlator keys the reports by the failed element, so ten
reports of one cut make one root cause — the alarm storm is prevented here, before any
alarm exists. A report is withdrawn by the clearing notification or by the reporter's
next state snapshot, so a lost notification is repaired by the next telemetry round.

Only data-plane evidence makes a root cause that re-routes services: a device that merely
lost its management session may still carry traffic, so that is its own alarm
(`device-unreachable`) and the data plane is judged by its neighbours' reports.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from lxml import etree

REPEATER_NS = "urn:sdqn:sdqn-repeater"
END_NODE_NS = "urn:sdqn:sdqn-end-node"
LOSS_OF_LIGHT = "loss-of-light"
NEIGHBOUR_DOWN = "neighbour-unreachable"


@dataclass(frozen=True)
class LinkReport:
    """One device's word on one of its links: what failed (None: nothing)."""

    reporter: str
    link_id: str
    cause: str
    element: str


@dataclass(frozen=True)
class RootCauses:
    failed_links: frozenset[str] = frozenset()
    failed_nodes: frozenset[str] = frozenset()
    reporters: tuple[tuple[str, tuple[str, ...]], ...] = ()   # element → reporting devices
    unlocated: frozenset[str] = frozenset()    # failed links whose cause is not loss of light
    watch: frozenset[tuple[str, str]] = frozenset()   # (reporter, link entry) now reporting

    def reported_by(self, element: str) -> tuple[str, ...]:
        return dict(self.reporters).get(element, ())


def parse_link_failure(xml: str) -> tuple[str, LinkReport | None] | None:
    """A repeater's link-failure notification → (link-id, report or None when cleared);
    None for any other notification."""
    root = etree.fromstring(xml.encode())
    note = next(root.iter(f"{{{REPEATER_NS}}}link-failure"), None)
    if note is None:
        return None
    link_id = note.findtext(f"{{{REPEATER_NS}}}link-id") or ""
    if (note.findtext(f"{{{REPEATER_NS}}}severity") or "") == "cleared":
        return link_id, None
    cause = note.findtext(f"{{{REPEATER_NS}}}cause") or "unknown"
    element = (note.findtext(f"{{{REPEATER_NS}}}failed-fibre")
               or note.findtext(f"{{{REPEATER_NS}}}failed-node") or link_id)
    return link_id, LinkReport("", link_id, cause, element)


def link_states(xml: str) -> dict[str, LinkReport | None]:
    """Every link-generation entry in a repeater's operational state, and every fibre
    port a device supervises (keyed ``port:<fibre>``: a cut of a fibre no entry uses is a
    fault too), → its current failure report or None."""
    root = etree.fromstring(f"<data>{xml}</data>".encode())
    out: dict[str, LinkReport | None] = {}
    # sdqn-device-common's fibre-ports grouping: its nodes take the namespace of the
    # device module that uses it (RFC 7950 §7.13)
    for port in root.iterfind(".//{*}fibre-ports/{*}port"):
        fibre = port.findtext("{*}link-id")
        if fibre is None:
            continue
        signal = port.findtext("{*}signal")
        if signal == "loss-of-light":
            out[f"port:{fibre}"] = LinkReport("", fibre, LOSS_OF_LIGHT, fibre)
        elif signal == "peer-unreachable":
            out[f"port:{fibre}"] = LinkReport(
                "", fibre, NEIGHBOUR_DOWN, port.findtext("{*}neighbour") or fibre)
        else:
            out[f"port:{fibre}"] = None
    for link in root.iter(f"{{{REPEATER_NS}}}link"):
        link_id = link.findtext(f"{{{REPEATER_NS}}}link-id")
        state = link.find(f"{{{REPEATER_NS}}}state")
        if link_id is None or state is None:
            continue
        if state.findtext(f"{{{REPEATER_NS}}}oper-status") == "down":
            out[link_id] = LinkReport(
                "", link_id, state.findtext(f"{{{REPEATER_NS}}}failure-cause") or "unknown",
                state.findtext(f"{{{REPEATER_NS}}}failed-element") or link_id)
        else:
            out[link_id] = None
    return out


def _measured(xml: str, ns: str, entry: str, key: str, leaf: str) -> list[tuple[str, float]]:
    """(key, state/leaf) of every `entry` list element of a device's operational XML."""
    root = etree.fromstring(f"<data>{xml}</data>".encode())
    out = []
    for element in root.iter(f"{{{ns}}}{entry}"):
        name = element.findtext(f"{{{ns}}}{key}")
        value = element.findtext(f"{{{ns}}}state/{{{ns}}}{leaf}")
        if name is not None and value is not None:
            out.append((name, float(value)))
    return out


def link_fidelities(xml: str) -> dict[str, float]:
    """Measured fidelity of each generating link of a repeater, by the fibre it starts on
    (an entry named ``fibre>neighbour`` reports for that fibre): the worst one."""
    out: dict[str, float] = {}
    for link_id, value in _measured(xml, REPEATER_NS, "link", "link-id", "fidelity-estimate"):
        fibre = link_id.split(">", 1)[0]
        out[fibre] = min(value, out.get(fibre, 1.0))
    return out


def endpoint_qbers(xml: str) -> dict[str, float]:
    """QBER an end node measures per service endpoint (its application-endpoint name)."""
    return dict(_measured(xml, END_NODE_NS, "application-endpoint", "name", "qber"))


class FaultCorrelator:
    """Thread-safe store of the devices' current link reports; no I/O."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reports: dict[tuple[str, str], LinkReport] = {}
        self._updated: dict[tuple[str, str], float] = {}    # key → monotonic time of news

    def report(self, reporter: str, link_id: str, report: LinkReport | None) -> bool:
        """Record (or withdraw, with None) one report; True if the root causes may change."""
        with self._lock:
            return self._set(reporter, link_id, report, time.monotonic())

    def snapshot(self, reporter: str, links: dict[str, LinkReport | None], *,
                 taken_at: float | None = None) -> bool:
        """A reporter's full state, read at `taken_at` (monotonic), replaces what it said
        before — except news that arrived after the read began (a notification racing the
        poll is newer than the snapshot and wins)."""
        taken = time.monotonic() if taken_at is None else taken_at
        with self._lock:
            keys = {k for k in self._reports if k[0] == reporter} | {
                (reporter, link_id) for link_id in links}
            changed = False
            for key in keys:
                if self._updated.get(key, 0.0) > taken:
                    continue
                changed |= self._set(reporter, key[1], links.get(key[1]), taken)
            return changed

    def forget(self, reporter: str) -> bool:
        return self.snapshot(reporter, {})

    def _set(self, reporter: str, link_id: str, report: LinkReport | None, at: float) -> bool:
        key = (reporter, link_id)
        self._updated[key] = max(at, self._updated.get(key, 0.0))
        old = self._reports.get(key)
        if report is None:
            return self._reports.pop(key, None) is not None
        new = LinkReport(reporter, link_id, report.cause, report.element)
        self._reports[key] = new
        return old != new

    def roots(self) -> RootCauses:
        with self._lock:
            reports = list(self._reports.values())
        links: dict[str, set[str]] = {}
        nodes: dict[str, set[str]] = {}
        light = set()
        for rep in reports:
            if rep.cause == NEIGHBOUR_DOWN:
                nodes.setdefault(rep.element, set()).add(rep.reporter)
            else:   # loss of light, or unlocated: the link itself is unusable
                links.setdefault(rep.element, set()).add(rep.reporter)
                if rep.cause == LOSS_OF_LIGHT:
                    light.add(rep.element)
        reporters = tuple(sorted((e, tuple(sorted(r))) for e, r in {**links, **nodes}.items()))
        return RootCauses(frozenset(links), frozenset(nodes), reporters,
                          frozenset(links) - light,
                          frozenset((r.reporter, r.link_id) for r in reports))
