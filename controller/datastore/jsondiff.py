"""Leaf-level differences of two RFC 7951 JSON documents, without a schema.

What-if shows how a device's configuration would change, the commit history what a
change of running did; both compare plain documents (a device's rendered configuration
has no schema loaded here, and a history record is text).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any


def json_diff(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """Leaf-level differences of two RFC 7951 documents. List entries are matched by a
    key member (see `_key_member`), so a reordered list is not a change."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[dict[str, Any]] = []
        for key in sorted(set(old) | set(new)):
            out.extend(json_diff(old.get(key), new.get(key), f"{path}/{key}"))
        return out
    if isinstance(old, list) and isinstance(new, list) \
            and all(isinstance(e, dict) and e for e in [*old, *new]):
        key = _key_member([*old, *new], len(old), len(new))
        if key is not None:
            return json_diff(_keyed(old, key), _keyed(new, key), path)
    if old == new:
        return []
    if old is None:
        return [{"operation": "create", "path": path, "value": new, "previous": None}]
    if new is None:
        return [{"operation": "delete", "path": path, "value": None, "previous": old}]
    return [{"operation": "replace", "path": path, "value": new, "previous": old}]


_PREFERRED_KEYS = ("name", "node-id", "id")


def _key_member(entries: Sequence[dict[str, Any]], n_old: int, n_new: int) -> str | None:
    """A member every entry has, with a scalar value unique within each list: the YANG
    key in practice (the documents carry no schema). Preferred: name, *-id."""
    common = set.intersection(*(set(e) for e in entries))
    usable = []
    for member in common:
        values = [e[member] for e in entries]
        if any(isinstance(v, dict | list) for v in values):
            continue
        old, new = values[:n_old], values[n_old:n_old + n_new]
        if len(set(map(str, old))) == len(old) and len(set(map(str, new))) == len(new):
            usable.append(member)
    if not usable:
        return None
    return min(usable, key=lambda m: (m not in _PREFERRED_KEYS, not m.endswith("-id"), m))


def _keyed(entries: Sequence[dict[str, Any]], key: str) -> dict[str, Any]:
    return {f"[{key}={entry[key]}]": entry for entry in entries}


def change_members(change: Mapping[str, Any]) -> dict[str, Any]:
    """A `json_diff` entry as the members of a YANG change entry (sdqn-controller's
    change-list and impact device changes): values and previous values as RFC 7951 JSON
    text, absent when there is none."""
    members = {"operation": change["operation"], "path": change["path"]}
    for name in ("value", "previous"):
        if change[name] is not None:
            members[name] = json.dumps(change[name], sort_keys=True)
    return members
