"""qcNOC metrics per node and per link into <operational> (learned state).

The topology model has `state` containers on every quantum node and link (sdqn-topology);
this fills them from each telemetry round, so an engineer reads the network's measured
behaviour where the network is described, with `ietf-origin` learned (RFC 8342 §5.3.4):

  node: oper-status, stable and their last change (device status), memory-in-use
        (repeater occupancy)
  link: measured-fidelity and generation-rate (the repeaters generating on the fibre; the
        worse end), qber = 2(1 − F)/3 (Werner pair, qnum/README.md "QKD"), polarisation drift
        rate (the APC compensating it), oper-status (down while a repeater reports the
        fibre without light), loss (measured from the repeaters' heralding counters,
        controller/service/linkloss.py), decoherence-time (the shortest coherence time
        the memories storing the fibre's pairs measured this round, `link_memories`)
  both: last-updated (when measured) and stale (not refreshed for stale-after-rounds)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import structlog
from lxml import etree

from controller.datastore.editnode import quote
from controller.datastore.nmda import NmdaStore
from controller.service.linkloss import LossEstimator
from qnum.io import Network

log = structlog.get_logger(__name__)

REPEATER = "urn:sdqn:sdqn-repeater"
APC = "urn:sdqn:sdqn-apc"
TOPO = "sdqn-topology"


def _device_status(root: etree._Element) -> tuple[str | None, bool | None, str | None]:
    """(oper-status, stable, when the device says its status last changed)."""
    for status in root.iter("{*}status"):
        oper = status.findtext("{*}oper-status")
        stable = status.findtext("{*}stable")
        if oper is not None or stable is not None:
            return (oper, (stable == "true") if stable is not None else None,
                    status.findtext("{*}last-change"))
    return None, None, None


def link_memories(network: Network) -> dict[str, set[str]]:
    """link → the memory nodes that store the halves of the pairs heralded over it: its
    own ends, and behind an end that holds no memory (a transparent q-ROADM) every memory
    node reachable through such nodes — the q-ROADM may switch the fibre to any of them, so
    the worst of them bounds what the fibre's pairs live."""
    by_node: dict[str, list[str]] = {n: [] for n in network.nodes}
    for link in network.links.values():
        for end in (link.a, link.b):
            by_node.setdefault(end, []).append(link.link_id)
    out: dict[str, set[str]] = {}
    for link in network.links.values():
        found: set[str] = set()
        seen = {link.link_id}
        todo = [link.a, link.b]
        visited: set[str] = set()
        while todo:
            node = todo.pop()
            if node in visited:
                continue
            visited.add(node)
            spec = network.nodes.get(node)
            if spec is not None and spec.is_memory_node:
                found.add(node)
                continue
            for other in by_node.get(node, []):
                if other not in seen:
                    seen.add(other)
                    todo.append(network.links[other].other_end(node))
        out[link.link_id] = found
    return out


def measured_coherence(root: etree._Element) -> float | None:
    """The device's measured memory T2 (sdqn-device-common memory/
    measured-coherence-time, in the device module's namespace), if it reports one."""
    for memory in root.iter("{*}memory"):
        text = memory.findtext(f"{{{etree.QName(memory).namespace}}}measured-coherence-time")
        if text is not None:
            return float(text)
    return None


def network_metrics(network: Network, readings: Mapping[str, str]
                    ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(node → state, link → state) in RFC 7951 shape (floats; the writer rounds)."""
    nodes: dict[str, dict[str, Any]] = {}
    links: dict[str, dict[str, Any]] = {}
    coherence: dict[str, float] = {}
    for node, xml in readings.items():
        root = etree.fromstring(f"<data>{xml}</data>".encode())
        t2 = measured_coherence(root)
        if t2 is not None:
            coherence[node] = t2
        oper, stable, changed = _device_status(root)
        state: dict[str, Any] = {}
        if oper is not None:
            state["oper-status"] = oper if ":" in oper else f"sdqn-types:{oper}"
        if stable is not None:
            state["stable"] = stable
        if changed is not None:
            state["last-change"] = changed
        in_use = root.findtext(f".//{{{REPEATER}}}occupancy/{{{REPEATER}}}registers-in-use")
        if in_use is not None:
            state["memory-in-use"] = int(in_use)
        nodes[node] = state
        for link in root.iter(f"{{{REPEATER}}}link"):
            link_id = (link.findtext(f"{{{REPEATER}}}link-id") or "").split(">", 1)[0]
            st = link.find(f"{{{REPEATER}}}state")
            if link_id not in network.links or st is None:
                continue
            entry = links.setdefault(link_id, {})
            if st.findtext(f"{{{REPEATER}}}oper-status") == "down":
                entry["oper-status"] = "sdqn-types:down"
                failed = st.findtext(f"{{{REPEATER}}}failed-element")
                if failed in network.links:
                    links.setdefault(failed, {})["oper-status"] = "sdqn-types:down"
            fid = st.findtext(f"{{{REPEATER}}}fidelity-estimate")
            if fid is not None:
                entry["measured-fidelity"] = min(float(fid), entry.get("measured-fidelity", 1.0))
            rate = st.findtext(f"{{{REPEATER}}}generation-rate")
            if rate is not None:
                entry["generation-rate"] = min(float(rate),
                                               entry.get("generation-rate", float("inf")))
        drift = root.findtext(f".//{{{APC}}}state/{{{APC}}}polarisation-drift-rate")
        if drift is not None:
            for link_id, link in network.links.items():
                if link.compensator == node:
                    links.setdefault(link_id, {})["polarisation-drift-rate"] = float(drift)
    if coherence:
        for link_id, memories in link_memories(network).items():
            measured = [coherence[m] for m in memories if m in coherence]
            if measured:
                links.setdefault(link_id, {})["decoherence-time"] = min(measured)
    for entry in links.values():
        if "measured-fidelity" in entry:
            entry["qber"] = 2.0 * (1.0 - entry["measured-fidelity"]) / 3.0
        entry.setdefault("oper-status", "sdqn-types:up" if "generation-rate" in entry
                         else None)
        if entry["oper-status"] is None:
            del entry["oper-status"]
    return nodes, links


class NetworkStatePublisher:
    """A telemetry observer: writes the metrics of each round into <operational>, each
    node and link with the time it was last measured and whether that is stale (not
    refreshed for stale-after-rounds rounds: a frozen value must not look current)."""

    def __init__(self, store: NmdaStore, network: Any,
                 stale_after: Callable[[], int] = lambda: 3,
                 notify: Callable[[etree._Element], None] | None = None) -> None:
        self.store = store
        self.network = network        # () -> qnum Network | None (the committed one)
        self.stale_after = stale_after
        #: sends sdqn-topology link-state-change northbound (NETCONF's notification
        #: stream) when a link's published oper-status changes
        self.notify = notify
        self._link_status: dict[str, str] = {}
        #: (kind, id) → the state leaves published last round: a leaf no longer measured
        #: must go, not linger beside a fresh last-updated (a merge alone would keep it)
        self._published: dict[tuple[str, str], frozenset[str]] = {}
        self.round = 0
        self._seen: dict[tuple[str, str], tuple[int, str]] = {}   # (kind, id) → round, time
        self.losses = LossEstimator()

    def __call__(self, readings: dict[str, str], _taken_at: float) -> None:
        network: Network | None = self.network()
        if network is None:
            return
        self.round += 1
        nodes, links = network_metrics(network, readings) if readings else ({}, {})
        for link_id, loss in self.losses.update(network, readings).items():
            links.setdefault(link_id, {})["loss"] = loss
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        measured_now: set[tuple[str, str]] = set()
        for kind, measured in (("node", nodes), ("link", links)):
            for entity, st in measured.items():
                if st:
                    self._seen[(kind, entity)] = (self.round, stamp)
                    measured_now.add((kind, entity))
        limit = self.stale_after()
        for (kind, entity), (seen, when) in self._seen.items():
            if (kind == "node" and entity not in network.nodes) \
                    or (kind == "link" and entity not in network.links):
                continue
            target = nodes if kind == "node" else links
            entry = target.setdefault(entity, {})
            entry["last-updated"] = when
            entry["stale"] = self.round - seen >= limit
        schema = self.store.schema
        lbase = ("/ietf-network:networks/network/ietf-network-topology:link/"
                 "sdqn-topology:quantum-link/state")
        node_entries = [{"node-id": n, f"{TOPO}:quantum-node": {"state": st}}
                        for n, st in sorted(nodes.items()) if st]
        link_entries = []
        for link_id, st in sorted(links.items()):
            out: dict[str, Any] = {}
            for key, value in st.items():
                out[key] = (schema.decimal(f"{lbase}/{key}", value)
                            if isinstance(value, float) else value)
            if out:
                link_entries.append({"link-id": link_id, f"{TOPO}:quantum-link": {
                    "state": out}})
        data: dict[str, Any] = {"network-id": network.network_id}
        if node_entries:
            data["node"] = node_entries
        if link_entries:
            data["ietf-network-topology:link"] = link_entries
        if len(data) == 1:
            return
        shrunk, leaves = self._shrunk(network.network_id, node_entries, link_entries,
                                      measured_now)
        try:
            for path, entry in shrunk:
                self.store.replace_state(path, json.dumps(
                    {"ietf-network:networks": {"network": [
                        {"network-id": network.network_id, **entry}]}}))
            self.store.merge_state(json.dumps({"ietf-network:networks": {"network": [data]}}))
        except Exception as exc:  # one bad round must not stop telemetry
            # the leaves are not recorded as published: the next round compares with what
            # <operational> still holds, and removes a leaf no longer measured then
            log.error("network state publish failed", error=str(exc))
            return
        self._published.update(leaves)
        self._announce(network.network_id, links)

    def _shrunk(self, network_id: str, nodes: list[dict[str, Any]],
                links: list[dict[str, Any]], measured: set[tuple[str, str]]
                ) -> tuple[list[tuple[str, dict[str, Any]]],
                           dict[tuple[str, str], frozenset[str]]]:
        """(state path, the entry to put there whole) of each node or link measured this
        round without a leaf it had: a device stopped reporting it (the link left its
        configuration when a service moved away), so its old value, beside this round's
        last-updated, would pass for a measurement. One not measured at all keeps its
        values with their old last-updated (and turns stale). Also the leaves each
        measured entry will have once written, recorded only if the write succeeds."""
        out = []
        leaves_now: dict[tuple[str, str], frozenset[str]] = {}
        base = f"/ietf-network:networks/network[network-id={quote(network_id)}]"
        for kind, entries, key, container, member in (
                ("node", nodes, "node-id", f"{TOPO}:quantum-node", "node"),
                ("link", links, "link-id", f"{TOPO}:quantum-link",
                 "ietf-network-topology:link")):
            for entry in entries:
                if (kind, entry[key]) not in measured:
                    continue
                leaves = frozenset(entry[container]["state"])
                before = self._published.get((kind, entry[key]), leaves)
                leaves_now[(kind, entry[key])] = leaves
                if before - leaves:
                    path = (f"{base}/{member}[{key}={quote(entry[key])}]/{container}/state")
                    out.append((path, {member: [entry]}))
        return out, leaves_now

    def _announce(self, network_id: str, links: dict[str, dict[str, Any]]) -> None:
        """sdqn-topology link-state-change for each link whose oper-status changed."""
        for link_id, st in sorted(links.items()):
            status = st.get("oper-status")
            if status is None or self._link_status.get(link_id) == status:
                continue
            self._link_status[link_id] = status
            if self.notify is None:
                continue
            body = {"network-id": network_id, "link-id": link_id, "oper-status": status}
            try:
                self.notify(etree.fromstring(self.store.schema.notification_xml(
                    {f"{TOPO}:link-state-change": body})))
            except Exception as exc:   # a consumer's failure must not stop telemetry
                log.error("link-state-change notification failed", error=str(exc))
