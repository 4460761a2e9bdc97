"""Commit history of network-wide transactions (ids, labels, who asked for each, and the
per-device configuration before and after).

A network commit that carries out a change of the controller's <running> records that
change's commit-history id (`running_commit`), and each device's YANG modules: the
controller's show-commit can then list, for any retained change of running, what it did
to each device, diffed by the device's own schema (southbound/device_diffs.py)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from controller.datastore.walfile import open_wal


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
    running_commit: str | None = None
    modules: dict[str, list[str]] = field(default_factory=dict)


class CommitHistory:
    def __init__(self, path: Path) -> None:
        self._db = open_wal(path)
        self._db.execute("CREATE TABLE IF NOT EXISTS commits (seq INTEGER PRIMARY KEY "
                         "AUTOINCREMENT, id TEXT UNIQUE NOT NULL, label TEXT, ts REAL NOT NULL,"
                         " success INTEGER NOT NULL, before TEXT NOT NULL, after TEXT NOT NULL,"
                         " user TEXT)")
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(commits)")}
        # a history written before users, running changes or modules were recorded
        for column in ("user", "running_commit", "modules"):
            if column not in columns:
                self._db.execute(f"ALTER TABLE commits ADD COLUMN {column} TEXT")
        self._db.execute("CREATE INDEX IF NOT EXISTS commits_running ON commits "
                         "(running_commit)")
        self._lock = threading.Lock()

    def record(self, commit_id: str, label: str | None, success: bool,
               before: dict[str, str], after: dict[str, str], *,
               user: str | None = None, running_commit: str | None = None,
               modules: dict[str, list[str]] | None = None) -> None:
        with self._lock:
            self._db.execute("INSERT INTO commits (id, label, ts, success, before, after, "
                             "user, running_commit, modules) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (commit_id, label, time.time(), int(success), json.dumps(before),
                              json.dumps(after), user, running_commit,
                              json.dumps(modules or {})))

    def of_running(self, running_commit: str) -> list[CommitRecord]:
        """The network commits that carried out one change of running, oldest first."""
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM commits WHERE running_commit=? "
                                    "ORDER BY seq", (running_commit,)).fetchall()
        return [self._record(row) for row in rows]

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
    def _record(row: tuple[str, int, str | None, float, int, str, str, str | None,
                           str | None, str | None]) -> CommitRecord:
        return CommitRecord(commit_id=row[0], seq=row[1], label=row[2], timestamp=row[3],
                            user=row[7], success=bool(row[4]), before=json.loads(row[5]),
                            after=json.loads(row[6]), running_commit=row[8],
                            modules=json.loads(row[9]) if row[9] else {})


_COLUMNS = "id, seq, label, ts, success, before, after, user, running_commit, modules"
