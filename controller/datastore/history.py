"""Every change of <running>, with running before and after it, so that a rollback can
put running back as it was before any of them (like `rollback N` on a router), and a
diff can show what any of them changed, whichever northbound made it. Stored in SQLite
beside the datastores; the newest `keep` records are kept.

Each record names its author (RFC 6470 §2.1 changed-by, resolved through the store's
session directory): the user and the host the change came from, or "server" with what
the server was doing (self-healing, a confirmed-commit revert) as the label. What the
author said about the change (a commit's label and comment, or that it is a rollback)
comes from the `ChangeNote` the northbound set while making it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from controller.datastore.apply import JournalOp
from controller.datastore.nmda import Datastore, NmdaStore
from controller.errors import ErrorTag, NetconfError


@dataclass(frozen=True)
class Record:
    commit_id: str
    seq: int
    label: str
    user: str
    timestamp: float
    kind: str           # commit | rollback | edit (any other change of running)
    before: str         # running (RFC 7951 JSON) before the commit
    after: str
    source_host: str = ""   # where the user's session came from, if known
    comment: str = ""       # why, in the author's words

    @property
    def time(self) -> str:
        """The timestamp as yang:date-and-time (RFC 3339, UTC)."""
        return (datetime.fromtimestamp(self.timestamp, UTC)
                .isoformat(timespec="microseconds").replace("+00:00", "Z"))


def unknown_commit(commit_id: str) -> NetconfError:
    """RFC 6241 Appendix A data-missing: the history holds no such change (never made,
    or older than the records kept)."""
    return NetconfError.of(ErrorTag.DATA_MISSING, f"no commit {commit_id!r} in the history")


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
                         "before TEXT NOT NULL, after TEXT NOT NULL, "
                         "source_host TEXT NOT NULL DEFAULT '', "
                         "comment TEXT NOT NULL DEFAULT '')")
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(commits)")}
        # A history written by an older version lacks the columns added since.
        for column in ("source_host", "comment"):
            if column not in columns:
                self._db.execute(f"ALTER TABLE commits ADD COLUMN {column} TEXT NOT NULL "
                                 "DEFAULT ''")
        self.keep = keep
        self._lock = threading.Lock()

    def record(self, *, label: str, user: str, kind: str, before: str, after: str,
               source_host: str = "", comment: str = "") -> Record:
        commit_id = uuid.uuid4().hex[:12]
        now = time.time()
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO commits (id, label, user, ts, kind, before, after, source_host, "
                "comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (commit_id, label, user, now, kind, before, after, source_host, comment))
            seq = int(cur.lastrowid or 0)
            self._db.execute("DELETE FROM commits WHERE seq <= ?", (seq - self.keep,))
        return Record(commit_id, seq, label, user, now, kind, before, after, source_host,
                      comment)

    def get(self, commit_id: str) -> Record | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM commits WHERE id = ?",
                                   (commit_id,)).fetchone()
        return None if row is None else Record(*row)

    def require(self, commit_id: str) -> Record:
        """The record of `commit_id`, or the error that names it."""
        found = self.get(commit_id)
        if found is None:
            raise unknown_commit(commit_id)
        return found

    def recent(self, limit: int) -> list[Record]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM commits ORDER BY seq DESC "
                                    "LIMIT ?", (limit,)).fetchall()
        return [Record(*row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


_COLUMNS = "id, seq, label, user, ts, kind, before, after, source_host, comment"


class RunningHistory:
    """Store listener that records each committed change of <running> in a `CommitLog`.

    Listeners run inside the store's transaction lock, in the thread that made the
    change, so the note the northbound set in that thread (`SessionDirectory.noted`) is
    the note of exactly that change, and a caller holding the lock (`recording`) finds
    the record of its own change in `last`."""

    def __init__(self, store: NmdaStore, log: CommitLog) -> None:
        self.store = store
        self.log = log
        self.last: Record | None = None
        with store.atomic():
            self._running = store.forest(Datastore.RUNNING).print("json")
            store.listeners.append(self._on_change)

    def close(self) -> None:
        if self._on_change in self.store.listeners:
            self.store.listeners.remove(self._on_change)
        self.log.close()

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Hold the store lock; `last` is then the record of the change made inside this
        block, or None when running did not change."""
        with self.store.atomic():
            self.last = None
            yield

    def running(self) -> str:
        """Running now (RFC 7951 JSON): the `after` of the newest change."""
        with self.store.atomic():
            return self._running

    def _on_change(self, ds: Datastore, _ops: Sequence[JournalOp], session_id: int) -> None:
        if ds is not Datastore.RUNNING:
            return
        after = self.store.forest(Datastore.RUNNING).print("json")
        who = self.store.sessions.changed_by(session_id)
        note = self.store.sessions.note()
        kind, label, comment = ((note.kind, note.label, note.comment) if note is not None
                                else ("edit", who.reason or "", ""))
        self.last = self.log.record(label=label, user=who.user, kind=kind,
                                    before=self._running, after=after,
                                    source_host=who.source_host or "", comment=comment)
        self._running = after
