"""The history store's samples on disk, so that a restart — after a crash, exactly when
an operator wants to look back — keeps the retained window (controller/service/
history_store.py keeps them in memory for its queries; this is their durable copy).

SQLite in WAL mode, one row per sample in insertion order (`seq`), written in batches:
the recorder's round becomes one transaction (`HistoryStore.batch`), not one per sample.
The same bounds as in memory: rows older than the retention and beyond the sample cap are
deleted with each batch. `horizon` (the oldest instant whose state is fully known) is kept
with them. A process killed mid-batch loses at most that round's samples: SQLite's
transaction keeps the file whole. What was never recorded is not invented: while the
controller was down nothing was sampled, so a past instant in that gap shows the last
samples before it, each with its own sampled and measured-at times.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import structlog

from controller.datastore.walfile import open_wal

log = structlog.get_logger(__name__)

#: time, kind, resource, series, event, values
Row = tuple[float, str, str, str, str, dict[str, Any]]


class SampleJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        # WAL with synchronous NORMAL: durable up to the last checkpoint
        self._db = open_wal(path, synchronous="NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS samples (seq INTEGER PRIMARY KEY "
                         "AUTOINCREMENT, t REAL NOT NULL, kind TEXT NOT NULL, resource TEXT "
                         "NOT NULL, series TEXT NOT NULL, event TEXT NOT NULL, "
                         "vals TEXT NOT NULL)")
        self._db.execute("CREATE INDEX IF NOT EXISTS samples_t ON samples (t)")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, "
                         "value TEXT NOT NULL)")

    def write(self, rows: Iterable[Row], *, cutoff: float, max_rows: int,
              horizon: float) -> None:
        """Append `rows`, drop what the bounds drop, keep `horizon`; one transaction."""
        encoded = [(t, kind, resource, series, event, json.dumps(values))
                   for t, kind, resource, series, event, values in rows]
        with self._lock:
            try:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT INTO samples (t, kind, resource, series, event, "
                                     "vals) VALUES (?, ?, ?, ?, ?, ?)", encoded)
                self._db.execute("DELETE FROM samples WHERE t < ?", (cutoff,))
                self._db.execute("DELETE FROM samples WHERE seq <= (SELECT MAX(seq) FROM "
                                 "samples) - ?", (max_rows,))
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('horizon', ?)",
                                 (repr(horizon),))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:   # a full disk must not stop the recorder
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                log.warning("history samples not written to disk", path=str(self.path),
                            error=str(exc), samples=len(encoded))

    def read(self, since: float) -> tuple[float | None, Iterator[Row]]:
        """The stored horizon and the rows at or after `since`, oldest first."""
        with self._lock:
            found = self._db.execute("SELECT value FROM meta WHERE key='horizon'").fetchone()
            rows = self._db.execute("SELECT t, kind, resource, series, event, vals FROM "
                                    "samples WHERE t >= ? ORDER BY seq", (since,)).fetchall()
        horizon = float(found[0]) if found is not None else None
        return horizon, ((t, kind, resource, series, event, json.loads(vals))
                         for t, kind, resource, series, event, vals in rows)

    def close(self) -> None:
        with self._lock:
            self._db.close()
