"""Last-modified times per resource (RFC 8040 §3.4.1.1, §3.5.1) from the store's journal.

The store keeps one modification time per datastore; a resource's own time is that of
the newest change whose journal path lies inside the resource, or above it (a parent
replaced or deleted). The store's change listener gives those paths; a change the
listener never saw (the datastore's version moved without one: a state update, a
candidate following running, a discard) counts as touching everything, so a time is
never earlier than the resource's real last change (RFC 7232 §2.2.1 allows later).
Only the last `capacity` changes per datastore are kept; older ones fold into a
baseline time.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from controller.datastore.apply import JournalOp
from controller.datastore.nmda import Datastore, NmdaStore

DEFAULT_CAPACITY = 2048


@dataclass(frozen=True)
class _Change:
    at: float
    paths: tuple[str, ...] | None    # None: the whole datastore


def overlaps(changed: str, resource: str) -> bool:
    """Whether a change at `changed` may alter the subtree at `resource` (both libyang
    data paths; "/" is the datastore)."""
    if resource == "/" or changed == resource:
        return True
    return any(a.startswith(b) and a[len(b)] in "/["
               for a, b in ((changed, resource), (resource, changed)) if len(a) > len(b))


class ResourceClock:
    def __init__(self, store: NmdaStore, capacity: int = DEFAULT_CAPACITY) -> None:
        self.store = store
        self.capacity = capacity
        self._lock = threading.Lock()
        self._log: dict[Datastore, deque[_Change]] = {ds: deque() for ds in Datastore}
        self._baseline = dict(store.modified)
        self._seen = dict(store.versions)
        store.listeners.append(self._on_change)

    def close(self) -> None:
        if self._on_change in self.store.listeners:
            self.store.listeners.remove(self._on_change)

    def _on_change(self, ds: Datastore, ops: Sequence[JournalOp], _session: int) -> None:
        paths: tuple[str, ...] | None = tuple(path for _, path, _ in ops if path)
        if any(kind == "reset" or not path for kind, path, _ in ops):
            paths = None
        with self._lock:
            self._append(ds, _Change(self.store.modified[ds], paths))
            self._seen[ds] = self.store.versions[ds]

    def _append(self, ds: Datastore, change: _Change) -> None:
        log = self._log[ds]
        if len(log) >= self.capacity:
            dropped = log.popleft()
            self._baseline[ds] = max(self._baseline[ds], dropped.at)
        log.append(change)

    def modified(self, ds: Datastore, path: str) -> float:
        """When the resource at `path` (a libyang data path, "/" for the datastore) of
        `ds` last changed."""
        if ds is Datastore.CANDIDATE:
            # an unmodified candidate follows running without a change of its own
            return max(self._one(Datastore.CANDIDATE, path), self._one(Datastore.RUNNING, path))
        return self._one(ds, path)

    def _one(self, ds: Datastore, path: str) -> float:
        with self._lock:
            if self.store.versions[ds] != self._seen[ds]:
                self._append(ds, _Change(self.store.modified[ds], None))
                self._seen[ds] = self.store.versions[ds]
            for change in reversed(self._log[ds]):
                if change.paths is None or any(overlaps(p, path) for p in change.paths):
                    return change.at
            return self._baseline[ds]
