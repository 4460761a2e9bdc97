"""Crash-safe persistence of datastores: SQLite in WAL mode, snapshot + journal.

Each datastore change is one SQLite transaction appending its journal ops (see apply.py);
SQLite's atomic commit means a process killed at any instant leaves either the old or the
new content, never a torn one. A snapshot (full RFC 7951 JSON) is rewritten every
`snapshot_every` journal entries so that start-up replay stays short.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from controller.datastore.apply import JournalOp

log = structlog.get_logger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshot (ds TEXT PRIMARY KEY, seq INTEGER NOT NULL,
                                     content TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS journal (ds TEXT NOT NULL, seq INTEGER NOT NULL, ops TEXT NOT NULL,
                                    PRIMARY KEY (ds, seq));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass
class Stored:
    """What was persisted for one datastore."""

    snapshot: str | None
    journal: list[list[JournalOp]]
    seq: int


class Persistence:
    """One SQLite file holding every persistent datastore."""

    def __init__(self, path: Path, *, snapshot_every: int = 256, synchronous: str = "FULL"
                 ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.snapshot_every = snapshot_every
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.executescript(_SCHEMA)
        self._seq: dict[str, int] = {}
        self._since_snapshot: dict[str, int] = {}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def load(self, ds: str) -> Stored:
        with self._lock:
            row = self._db.execute("SELECT seq, content FROM snapshot WHERE ds=?",
                                   (ds,)).fetchone()
            base_seq, content = (row[0], row[1]) if row else (0, None)
            rows = self._db.execute("SELECT seq, ops FROM journal WHERE ds=? AND seq>? "
                                    "ORDER BY seq", (ds, base_seq)).fetchall()
        journal: list[list[JournalOp]] = [
            [(op[0], op[1], op[2]) for op in json.loads(ops)] for _, ops in rows]
        seq = rows[-1][0] if rows else base_seq
        self._seq[ds] = seq
        self._since_snapshot[ds] = len(rows)
        return Stored(snapshot=content, journal=journal, seq=seq)

    def append(self, changes: Mapping[str, Sequence[JournalOp]],
               meta: Mapping[str, str | None] | None = None) -> None:
        """Persist several datastores' changes (and meta keys) as one atomic transaction."""
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                for ds, ops in changes.items():
                    if not ops:
                        continue
                    seq = self._seq.get(ds, 0) + 1
                    cur.execute("INSERT INTO journal (ds, seq, ops) VALUES (?, ?, ?)",
                                (ds, seq, json.dumps(list(ops))))
                    self._seq[ds] = seq
                    self._since_snapshot[ds] = self._since_snapshot.get(ds, 0) + 1
                for key, value in (meta or {}).items():
                    if value is None:
                        cur.execute("DELETE FROM meta WHERE key=?", (key,))
                    else:
                        cur.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                    (key, value))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    def needs_snapshot(self, ds: str) -> bool:
        return self._since_snapshot.get(ds, 0) >= self.snapshot_every

    def snapshot(self, ds: str, content: str) -> None:
        """Replace the snapshot and drop the journal it covers, atomically."""
        with self._lock:
            seq = self._seq.get(ds, 0)
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.execute("INSERT OR REPLACE INTO snapshot (ds, seq, content) VALUES (?, ?, ?)",
                            (ds, seq, content))
                cur.execute("DELETE FROM journal WHERE ds=? AND seq<=?", (ds, seq))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            self._since_snapshot[ds] = 0
        log.debug("datastore snapshot written", datastore=ds, seq=seq)

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])
