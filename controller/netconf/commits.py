"""The commit history as the sdqn-controller rpcs define it, for every northbound.

list-commits, show-commit, diff-commits and rollback-to mean the same over NETCONF,
RESTCONF and gRPC; each northbound only translates their input and output (XML, RFC 7951
JSON, protobuf). What a caller sees of running's content follows its NACM read access
(RFC 8341 §3.4.5): both sides of a diff are pruned before they are compared, so a
change of a node the user may not read is not shown, neither is its value. A rollback
is a replacement of running that each northbound makes for its caller, with the write
checks of a copy-config.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from controller.datastore.history import Record, RunningHistory
from controller.datastore.jsondiff import json_diff
from controller.datastore.sessions import ChangeNote
from controller.netconf.core import ServerCore
from controller.netconf.impact_counts import service_counts

MODULE = "sdqn-controller"
NAMESPACE = "urn:sdqn:sdqn-controller"
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000      # sdqn-controller list-commits limit range


class CommitHistory:
    def __init__(self, history: RunningHistory, core: ServerCore) -> None:
        self.history = history
        self.core = core

    def list_commits(self, limit: int = DEFAULT_LIMIT) -> list[Record]:
        """The newest `limit` records, newest first."""
        return self.history.log.recent(max(1, min(limit, MAX_LIMIT)))

    def show_commit(self, user: str, commit_id: str) -> tuple[Record, list[dict[str, Any]]]:
        """A record and what it changed, as `user` may see it."""
        record = self.history.log.require(commit_id)
        return record, self.diff(user, record.before, record.after)

    def device_changes(self, user: str, commit_id: str) -> list[dict[str, Any]]:
        """What the change did to each device (show-commit `device`), only of the devices
        whose entry in /sdqn-controller:controller/devices `user` may read (RFC 8341
        §3.4.5: a device's configuration is derived from running, so it is shown to whom
        its intended entry is). Empty when this process pushes to no devices."""
        details = self.core.commit_details
        if details is None:
            return []
        entries = details.devices(self.history.log.require(commit_id).commit_id)
        readable = self._readable_keys(user, _DEVICES, {e["node-id"] for e in entries})
        return [e for e in entries if e["node-id"] in readable]

    def impact(self, user: str, commit_id: str) -> dict[str, Any] | None:
        """The impact the change had when it was committed (show-commit `impact`), its
        services and devices pruned to what `user` may read; None when not kept (a change
        made before impacts were kept, or by a process that pushes to no devices)."""
        details = self.core.commit_details
        found = (details.impact(self.history.log.require(commit_id).commit_id)
                 if details is not None else None)
        if found is None:
            return None
        services = self._readable_keys(user, _REQUESTS,
                                       {s["name"] for s in found.get("service", [])})
        devices = self._readable_keys(user, _DEVICES,
                                      {d["node-id"] for d in found.get("device", [])})
        shown = [s for s in found.get("service", []) if s["name"] in services]
        nodes = [d for d in found.get("device", []) if d["node-id"] in devices]
        pruned = {**found, "service": shown, "device": nodes,
                  "totals": _recounted(found.get("totals", {}), found, shown, nodes)}
        return {k: v for k, v in pruned.items() if v != []}   # RFC 7951: no empty lists

    def _readable_keys(self, user: str, where: _ListPath, keys: set[str]) -> set[str]:
        """The `keys` of list `where` whose entry `user` may read (RFC 8341 §3.4.5),
        decided by pruning a copy of those entries with the user's read rules."""
        access = self.core.access(user)
        if access is None or access.unrestricted or not keys:
            return keys
        kept = where.entries(access.readable(self.core.store.schema,
                                             json.dumps(where.document(keys))))
        return {entry[where.key] for entry in kept}

    def diff_commits(self, user: str, from_id: str, to_id: str | None
                     ) -> list[dict[str, Any]]:
        """Running right after `from_id` → right after `to_id` (None: running now)."""
        older = self.history.log.require(from_id)
        newer = self.history.running() if to_id is None else \
            self.history.log.require(to_id).after
        return self.diff(user, older.after, newer)

    def diff(self, user: str, old: str, new: str) -> list[dict[str, Any]]:
        return json_diff(self._readable(user, old), self._readable(user, new))

    def _readable(self, user: str, content: str) -> dict[str, Any]:
        """`content` (running as RFC 7951 JSON) without what `user` may not read."""
        access = self.core.access(user)
        if access is None or access.unrestricted:
            doc: dict[str, Any] = json.loads(content)
            return doc
        return access.readable(self.core.store.schema, content)

    def rollback_to(self, commit_id: str, replace: Callable[[str], None], *,
                    label: str = "", comment: str = "") -> Record | None:
        """Running as it was right before `commit_id`, through `replace` (the caller's
        NACM-checked replacement of running with RFC 7951 JSON). Returns the record of
        the rollback, None when running already was that content. An unknown id raises
        before anything is touched."""
        note = ChangeNote("rollback", label or f"rollback to before {commit_id}", comment)
        record = self.history.log.require(commit_id)
        with self.history.recording(), self.core.store.sessions.noted(note):
            if json.loads(self.history.running()) == json.loads(record.before):
                return None     # a replacement would record a change that changes nothing
            replace(record.before)
            return self.history.last


@dataclass(frozen=True)
class _ListPath:
    """A list of running by the containers above it (RFC 7951 member names) and its key."""

    containers: tuple[str, ...]
    name: str
    key: str

    def document(self, keys: set[str]) -> dict[str, Any]:
        doc: dict[str, Any] = {self.name: [{self.key: k} for k in sorted(keys)]}
        for container in reversed(self.containers):
            doc = {container: doc}
        return doc

    def entries(self, doc: dict[str, Any]) -> list[dict[str, Any]]:
        for container in self.containers:
            doc = doc.get(container, {})
        found: list[dict[str, Any]] = doc.get(self.name, [])
        return found


_DEVICES = _ListPath((f"{MODULE}:controller", "devices"), "device", "node-id")
_REQUESTS = _ListPath(("sdqn-services:entanglement-services",), "request", "name")


def device_members(entry: dict[str, Any]) -> dict[str, Any]:
    """A device entry as the members of show-commit's `device` list (empty lists and
    labels left out, RFC 7951 §5.4)."""
    members = {"node-id": entry["node-id"], "network-commit": entry["network-commit"]}
    if entry.get("network-label"):
        members["network-label"] = entry["network-label"]
    members["change"] = entry["change"]
    return members


def record_members(record: Record) -> dict[str, Any]:
    """A record as the members of sdqn-controller's commit-record grouping."""
    members: dict[str, Any] = {"id": record.commit_id, "seq": str(record.seq),
                               "label": record.label}
    if record.comment:
        members["comment"] = record.comment
    members["user"] = record.user
    if record.source_host:
        members["source-host"] = record.source_host
    members["timestamp"] = record.time
    members["kind"] = record.kind
    return members


def _recounted(totals: dict[str, Any], found: dict[str, Any], services: list[dict[str, Any]],
               devices: list[dict[str, Any]]) -> dict[str, Any]:
    """The totals as the caller may see them: when pruning hid a service or a device, the
    counts are those of the entries shown (a count of hidden entries would tell what the
    caller may not read); the predicted utilities stay the network's."""
    out = dict(totals)
    if len(services) != len(found.get("service", [])):
        out.update(service_counts(services))
    if len(devices) != len(found.get("device", [])):
        out["devices"] = len(devices)
    return out
