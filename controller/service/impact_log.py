"""The impact each change of running had when it was committed, kept by its commit-history
id, so that show-commit can say later what a past change did to the services (added,
moved with make-before-break or a hard switch, rejected ...) as its dry-run would have.

The expansion computes that impact for every commit anyway (controller/service/impact.py,
against the expansion committed before it); keeping it costs one small row per change.
With a path the rows live in SQLite beside the other history files and survive restarts;
without, in memory. The newest `keep` are kept, like the commit history's records.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from controller.datastore.walfile import open_wal

DEFAULT_KEEP = 1000


class ImpactLog:
    def __init__(self, path: Path | None = None, *, keep: int = DEFAULT_KEEP) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._memory: OrderedDict[str, str] = OrderedDict()
        self._db: sqlite3.Connection | None = None
        if path is not None:
            self._db = open_wal(path)
            self._db.execute("CREATE TABLE IF NOT EXISTS impacts (seq INTEGER PRIMARY KEY "
                             "AUTOINCREMENT, running_commit TEXT UNIQUE NOT NULL, "
                             "ts REAL NOT NULL, impact TEXT NOT NULL)")

    def record(self, running_commit: str, impact: dict[str, Any]) -> None:
        """The `impact` container (RFC 7951 members) of one change of running."""
        text = json.dumps(impact)
        with self._lock:
            if self._db is None:
                self._memory[running_commit] = text
                while len(self._memory) > self.keep:
                    self._memory.popitem(last=False)
                return
            self._db.execute("INSERT OR REPLACE INTO impacts (running_commit, ts, impact) "
                             "VALUES (?, ?, ?)", (running_commit, time.time(), text))
            self._db.execute("DELETE FROM impacts WHERE seq <= (SELECT MAX(seq) FROM "
                             "impacts) - ?", (self.keep,))

    def get(self, running_commit: str) -> dict[str, Any] | None:
        with self._lock:
            if self._db is None:
                text = self._memory.get(running_commit)
            else:
                row = self._db.execute("SELECT impact FROM impacts WHERE running_commit=?",
                                       (running_commit,)).fetchone()
                text = None if row is None else row[0]
        if text is None:
            return None
        found: dict[str, Any] = json.loads(text)
        return found

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
