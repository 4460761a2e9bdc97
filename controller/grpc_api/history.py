"""Commits made through the gRPC API, with running before and after each one, so that
`Rollback` can put running back as it was (like `rollback N` on a router). Stored in
SQLite beside the datastores; the newest `keep` records are kept."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Record:
    commit_id: str
    seq: int
    label: str
    user: str
    timestamp: float
    kind: str           # commit | rollback
    before: str         # running (RFC 7951 JSON) before the commit
    after: str


class CommitLog:
    def __init__(self, path: Path | None, keep: int = 200) -> None:
        """`path` None: in memory (tests, a daemon without a data directory)."""
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path) if path else ":memory:",
                                   check_same_thread=False, isolation_level=None)
        self._db.execute("CREATE TABLE IF NOT EXISTS commits (seq INTEGER PRIMARY KEY "
                         "AUTOINCREMENT, id TEXT UNIQUE NOT NULL, label TEXT NOT NULL, "
                         "user TEXT NOT NULL, ts REAL NOT NULL, kind TEXT NOT NULL, "
                         "before TEXT NOT NULL, after TEXT NOT NULL)")
        self.keep = keep
        self._lock = threading.Lock()

    def record(self, *, label: str, user: str, kind: str, before: str, after: str) -> Record:
        commit_id = uuid.uuid4().hex[:12]
        now = time.time()
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO commits (id, label, user, ts, kind, before, after) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", (commit_id, label, user, now, kind, before, after))
            seq = int(cur.lastrowid or 0)
            self._db.execute("DELETE FROM commits WHERE seq <= ?", (seq - self.keep,))
        return Record(commit_id, seq, label, user, now, kind, before, after)

    def get(self, commit_id: str) -> Record | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM commits WHERE id = ?",
                                   (commit_id,)).fetchone()
        return None if row is None else Record(*row)

    def recent(self, limit: int) -> list[Record]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM commits ORDER BY seq DESC "
                                    "LIMIT ?", (limit,)).fetchall()
        return [Record(*row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


_COLUMNS = "id, seq, label, user, ts, kind, before, after"
