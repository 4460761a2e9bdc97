"""Commit history of network-wide transactions (ids, labels, who asked for each, and the
per-device configuration before and after)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CommitRecord:
    commit_id: str
    seq: int
    label: str | None
    timestamp: float
    user: str | None
    success: bool
    before: dict[str, str]
    after: dict[str, str]


class CommitHistory:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS commits (seq INTEGER PRIMARY KEY "
                         "AUTOINCREMENT, id TEXT UNIQUE NOT NULL, label TEXT, ts REAL NOT NULL,"
                         " success INTEGER NOT NULL, before TEXT NOT NULL, after TEXT NOT NULL,"
                         " user TEXT)")
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(commits)")}
        if "user" not in columns:   # a history written before users were recorded
            self._db.execute("ALTER TABLE commits ADD COLUMN user TEXT")
        self._lock = threading.Lock()

    def record(self, commit_id: str, label: str | None, success: bool,
               before: dict[str, str], after: dict[str, str], *,
               user: str | None = None) -> None:
        with self._lock:
            self._db.execute("INSERT INTO commits (id, label, ts, success, before, after, user)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (commit_id, label, time.time(), int(success), json.dumps(before),
                              json.dumps(after), user))

    def list(self, limit: int = 50) -> list[CommitRecord]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM commits ORDER BY seq DESC "
                                    "LIMIT ?", (limit,)).fetchall()
        return [self._record(row) for row in rows]

    def get(self, commit_id: str) -> CommitRecord | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM commits WHERE id=?",
                                   (commit_id,)).fetchone()
        return None if row is None else self._record(row)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @staticmethod
    def _record(row: tuple[str, int, str | None, float, int, str, str, str | None]
                ) -> CommitRecord:
        return CommitRecord(commit_id=row[0], seq=row[1], label=row[2], timestamp=row[3],
                            user=row[7], success=bool(row[4]), before=json.loads(row[5]),
                            after=json.loads(row[6]))


_COLUMNS = "id, seq, label, ts, success, before, after, user"
