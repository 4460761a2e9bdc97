"""Feeds the history store from what the controller publishes, without a call in any
publisher: it watches <operational> (the store's operational watchers fire on every
learned-state change and every change of running) and, on its own thread, reads the
published links, nodes, services and alarms and records what changed since the last round,
and the commit log's new records as commit events.

Per link: oper-status and the qcNOC metrics the network-state publisher writes
(sdqn-topology quantum-link state), with `measured-at` (its last-updated); per node: what
the publisher writes into sdqn-topology quantum-node state (the device's oper-status, which
the console colours nodes by, whether it is stable and when either last changed, the memory
qubits in use, stale) with `measured-at`, and its configured device-kind, so a node removed
since still says what it was; per service:
admission, oper-state and its reason, predicted vs measured rate and fidelity; per alarm
(RFC 8632 alarm-list entry): raised (new, or active again after a clearance), changed
(severity or text of an active alarm) and cleared events, with the root-cause resources.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import structlog

from controller.datastore.commitlog import Record
from controller.datastore.nmda import Datastore, NmdaStore
from controller.periodic import PeriodicTask
from controller.service.history_store import HistoryStore

log = structlog.get_logger(__name__)

LINK_LEAVES = ("oper-status", "measured-fidelity", "qber", "generation-rate", "loss",
               "polarisation-drift-rate", "decoherence-time", "stale")
NODE_LEAVES = ("oper-status", "stable", "last-change", "memory-in-use", "stale")
SERVICE_LEAVES = ("admission", "oper-state", "oper-state-reason", "predicted-rate",
                  "predicted-fidelity", "measured-rate", "measured-fidelity",
                  "measured-qber", "stale")
ALARM_LEAVES = ("alarm-type-id", "alarm-type-qualifier", "perceived-severity", "alarm-text")

CommitSource = Callable[[], Sequence[Record]]
#: seconds between two samples of a value measured again unchanged (see HistoryRecorder)
DEFAULT_HEARTBEAT_S = 10.0


def _pick(state: Mapping[str, Any], leaves: Iterable[str]) -> dict[str, Any]:
    out = {key: state[key] for key in leaves if key in state}
    if "last-updated" in state:
        out["measured-at"] = state["last-updated"]
    return out


def _topology_states(doc: Mapping[str, Any], entries: str, key: str, container: str,
                     leaves: Iterable[str], config: Iterable[str] = ()
                     ) -> dict[str, dict[str, Any]]:
    """id → recorded values of the links or nodes of <operational>'s ietf-network:networks
    that the network-state publisher has measured (an entry without a `state` container
    has no sample, so a past view shows it unknown rather than guessed). `network-id`
    rides along for NACM (history_api checks the entry in its network)."""
    out: dict[str, dict[str, Any]] = {}
    for network in doc.get("ietf-network:networks", {}).get("network", []):
        for entry in network.get(entries, []):
            quantum = entry.get(container, {})
            state = quantum.get("state")
            if state:
                out[entry[key]] = {"network-id": network["network-id"],
                                   **{k: quantum[k] for k in config if k in quantum},
                                   **_pick(state, leaves)}
    return out


def link_states(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """link-id → its recorded values."""
    return _topology_states(doc, "ietf-network-topology:link", "link-id",
                            "sdqn-topology:quantum-link", LINK_LEAVES)


def node_states(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """node-id → its recorded values, with the configured device-kind."""
    return _topology_states(doc, "node", "node-id", "sdqn-topology:quantum-node",
                            NODE_LEAVES, config=("device-kind",))


def service_states(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for request in doc.get("sdqn-services:entanglement-services", {}).get("request", []):
        state = request.get("state")
        if state:
            out[request["name"]] = _pick(state, SERVICE_LEAVES)
    return out


def alarm_states(doc: Mapping[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(resource, type, qualifier) → values and whether it is cleared."""
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    alarms = doc.get("ietf-alarms:alarms", {}).get("alarm-list", {}).get("alarm", [])
    for entry in alarms:
        key = (entry["resource"], entry["alarm-type-id"], entry.get("alarm-type-qualifier", ""))
        values = {k: entry[k] for k in ALARM_LEAVES if k in entry}
        if entry.get("root-cause-resource"):
            values["root-cause-resource"] = list(entry["root-cause-resource"])
        values["is-cleared"] = bool(entry.get("is-cleared", False))
        out[key] = values
    return out


class HistoryRecorder:
    def __init__(self, store: NmdaStore, history: HistoryStore, *,
                 commits: CommitSource | None = None,
                 heartbeat_s: float = DEFAULT_HEARTBEAT_S) -> None:
        self.store = store
        self.history = history
        self.commits = commits
        #: a link, node or service whose values stay the same but for their measured-at
        #: (measured again, nothing changed) is sampled again only this often: the samples
        #: say how fresh the value was without one per telemetry round each (the cap on
        #: retained samples would otherwise shorten the window with every device)
        self.heartbeat_s = heartbeat_s
        self._recorded: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self._links: dict[str, dict[str, Any]] = {}
        self._nodes: dict[str, dict[str, Any]] = {}
        self._services: dict[str, dict[str, Any]] = {}
        self._alarms: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._last_seq: int | None = None
        self._task = PeriodicTask("history-recorder", self.record_once, None)

    def start(self) -> None:
        """Record now, then on every operational change (coalesced: changes during a
        round make one more round)."""
        self._seen_commits()
        self.store.operational_watchers.append(self._task.trigger)
        self._task.start()
        self._task.trigger()

    def stop(self) -> None:
        if self._task.trigger in self.store.operational_watchers:
            self.store.operational_watchers.remove(self._task.trigger)
        self._task.stop(timeout=10)

    def _read(self, module: str, xpath: str) -> dict[str, Any]:
        if module not in self.store.schema.module_names:
            return {}
        text = self.store.get(Datastore.OPERATIONAL, xpath=xpath)
        doc: dict[str, Any] = json.loads(text) if text.strip() else {}
        return doc

    def record_once(self) -> None:
        """One round: what changed since the last, written to disk as one batch."""
        with self.history.batch():
            self._record_round()

    def _record_round(self) -> None:
        networks = self._read("ietf-network", "/ietf-network:networks")
        self._record_series("link", link_states(networks), self._links)
        self._record_series("node", node_states(networks), self._nodes)
        self._record_series("service", service_states(
            self._read("sdqn-services", "/sdqn-services:entanglement-services")),
            self._services)
        self._record_alarms(alarm_states(self._read("ietf-alarms", "/ietf-alarms:alarms")))
        self._record_commits()

    def _record_series(self, kind: str, now: dict[str, dict[str, Any]],
                       last: dict[str, dict[str, Any]]) -> None:
        clock = self.history.clock()
        for name, values in now.items():
            if last.get(name) == values:
                continue
            what = {k: v for k, v in values.items() if k != "measured-at"}
            before = self._recorded.get((kind, name))
            if before is None or before[1] != what or clock - before[0] >= self.heartbeat_s:
                self.history.add(kind, name, values)
                self._recorded[(kind, name)] = (clock, what)
        for name in set(last) - set(now):
            self.history.add(kind, name, {"removed": True})
            self._recorded.pop((kind, name), None)
        last.clear()
        last.update(now)

    def _record_alarms(self, now: dict[tuple[str, str, str], dict[str, Any]]) -> None:
        for key, values in now.items():
            old = self._alarms.get(key)
            cleared = values["is-cleared"]
            was_active = old is not None and not old["is-cleared"]
            if cleared and was_active:
                event = "cleared"
            elif not cleared and not was_active:
                event = "raised"
            elif not cleared and old != values:
                event = "changed"
            else:
                continue
            self.history.add("alarm", key[0], values, event=event, series="|".join(key))
        for key in set(self._alarms) - set(now):
            if not self._alarms[key]["is-cleared"]:   # purged while active
                self.history.add("alarm", key[0], {**self._alarms[key], "is-cleared": True},
                                 event="cleared", series="|".join(key))
        self._alarms = now

    def _seen_commits(self) -> None:
        """Commits made before the recorder started are not events of its window."""
        if self.commits is not None:
            records = self.commits()
            self._last_seq = max((r.seq for r in records), default=0)

    def _record_commits(self) -> None:
        if self.commits is None:
            return
        if self._last_seq is None:
            self._seen_commits()
            return
        for record in sorted(self.commits(), key=lambda r: r.seq):
            if record.seq <= self._last_seq:
                continue
            self._last_seq = record.seq
            values: dict[str, Any] = {"commit-id": record.commit_id, "user": record.user,
                                      "summary": record.label, "commit-kind": record.kind}
            if record.comment:
                values["comment"] = record.comment
            self.history.add("commit", record.commit_id, values, event="commit",
                             at=record.timestamp)
