"""Datastore snapshots written off the commit path.

Start-up replays each persistent datastore's journal from its last snapshot, so a
snapshot is due every `snapshot_every` journal entries. Printing a 1,000-node running
takes tens of milliseconds: done inside the commit that crossed the threshold it would
make every 256th commit that much slower, for work no commit needs. So the commit only
wakes this writer, which prints the published copy (what the last publish made visible,
read like any reader does, never under the store's lock) together with the journal
sequence number that copy corresponds to, and stores both in one SQLite transaction that
drops the journal entries the snapshot covers.
"""

from __future__ import annotations

import threading

import structlog

from controller.datastore.persistence import Persistence
from controller.datastore.published import PublishedCopies
from controller.datastore.txn import PERSISTENT

log = structlog.get_logger(__name__)


class SnapshotWriter:
    def __init__(self, persistence: Persistence, published: PublishedCopies) -> None:
        self.persistence = persistence
        self.published = published
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def due(self) -> bool:
        return any(self.persistence.needs_snapshot(ds.value) for ds in PERSISTENT)

    def request(self) -> None:
        """A snapshot may be due: write it soon, in the writer's own thread."""
        with self._lock:
            if self._stopped:
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="datastore-snapshots")
                self._thread.start()
        self._wake.set()

    def write_due(self) -> None:
        """Write every snapshot that is due, from the published copies."""
        for ds in PERSISTENT:
            if not self.persistence.needs_snapshot(ds.value):
                continue
            with self.published.reading() as copies:
                seq = copies.seq(ds)
                content = copies.forest(ds).print("json") if seq is not None else ""
            if seq is not None:
                self.persistence.snapshot(ds.value, content, seq)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopped:
                return
            try:
                self.write_due()
            except Exception as exc:  # the journal still holds everything: retry later
                log.error("writing a datastore snapshot failed", error=str(exc))

    def close(self) -> None:
        """Stop the writer (before the persistence it writes to is closed)."""
        with self._lock:
            self._stopped = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(30)
