"""What one change of the controller's <running> did to each device, read back later.

The network commits that carried out a change of running record its commit-history id
with each device's configuration right before (read from the device in the prepare
phase) and what was pushed (southbound/history.py). Both sides are diffed by the
device's own YANG modules, as RFC 7951 documents, so a past commit's per-device changes
read exactly like a dry-run's impact (same paths, same value texts). A device that
declared no modules cannot be parsed by schema: its change is shown whole, as text, and
says so.
"""

from __future__ import annotations

import json
from typing import Any

import structlog

from controller.datastore.jsondiff import change_members, json_diff
from controller.errors import NetconfError
from southbound.diff import ConfigDiffer
from southbound.history import CommitHistory, CommitRecord

log = structlog.get_logger(__name__)

#: the path of a change that compares a whole configuration as text
WHOLE = "/"


class DeviceDiffs:
    """running commit id → one entry per device per network commit that carried it out
    (sdqn-controller show-commit output `device`)."""

    def __init__(self, history: CommitHistory, differ: ConfigDiffer | None = None) -> None:
        self.history = history
        self.differ = differ or ConfigDiffer()

    def __call__(self, running_commit: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for record in self.history.of_running(running_commit):
            for node in sorted(set(record.before) | set(record.after)):
                changes = self.changes(record, node)
                if changes:
                    out.append({"node-id": node, "network-commit": record.commit_id,
                                "network-label": record.label or "", "change": changes})
        return out

    def changes(self, record: CommitRecord, node: str) -> list[dict[str, Any]]:
        """The change entries (sdqn-controller change members) of one device."""
        before, after = record.before.get(node, ""), record.after.get(node, "")
        if before == after:
            return []
        modules = record.modules.get(node, [])
        if modules:
            try:
                old = self.differ.document(before, modules) if before else {}
                new = self.differ.document(after, modules) if after else {}
                return [change_members(c) for c in json_diff(old, new)]
            except NetconfError as exc:    # a configuration its modules do not parse
                log.warning("device configuration not parsed by its schema; "
                            "shown as text", device=node, commit=record.commit_id,
                            error=str(exc))
        whole: dict[str, Any] = {"operation": "replace", "path": WHOLE}
        if after:
            whole["value"] = json.dumps(after)
        if before:
            whole["previous"] = json.dumps(before)
        return [whole]
