"""Crash-safe persistence of datastores: SQLite in WAL mode, snapshot + journal.

Each datastore change is one SQLite transaction appending its journal ops (see apply.py);
SQLite's atomic commit means a process killed at any instant leaves either the old or the
new content, never a torn one. A snapshot (full RFC 7951 JSON) is rewritten every
`snapshot_every` journal entries so that start-up replay stays short.

The commit history lives in the same file (table `history`): a change of running writes
its history row — who, why, and the change as forward and inverse journal ops — in the
same transaction as its journal entry, and drops the rows beyond the newest `keep` there
too. One commit is one transaction and one fsync, and a killed process can never leave a
history that disagrees with running.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from controller.datastore.apply import JournalOp
from controller.datastore.walfile import open_wal

log = structlog.get_logger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshot (ds TEXT PRIMARY KEY, seq INTEGER NOT NULL,
                                     content TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS journal (ds TEXT NOT NULL, seq INTEGER NOT NULL, ops TEXT NOT NULL,
                                    PRIMARY KEY (ds, seq));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS history (seq INTEGER PRIMARY KEY AUTOINCREMENT,
                                    id TEXT UNIQUE NOT NULL, label TEXT NOT NULL,
                                    user TEXT NOT NULL, ts REAL NOT NULL, kind TEXT NOT NULL,
                                    source_host TEXT NOT NULL DEFAULT '',
                                    comment TEXT NOT NULL DEFAULT '',
                                    forward TEXT NOT NULL, inverse TEXT NOT NULL);
"""

#: history rows kept unless told otherwise (the newest; older ones are dropped)
DEFAULT_KEEP = 200


@dataclass(frozen=True)
class HistoryRow:
    """One change of running as the commit history stores it: who made it, what they
    said about it, and the change itself as journal ops that redo it (`forward`) and
    undo it (`inverse`). `seq` is 0 until stored."""

    commit_id: str
    label: str
    user: str
    timestamp: float
    kind: str
    source_host: str = ""
    comment: str = ""
    forward: tuple[JournalOp, ...] = ()
    inverse: tuple[JournalOp, ...] = ()
    seq: int = 0


_HISTORY_FIELDS = "seq, id, label, user, ts, kind, source_host, comment"


@dataclass
class Stored:
    """What was persisted for one datastore."""

    snapshot: str | None
    journal: list[list[JournalOp]]
    seq: int


class Persistence:
    """One SQLite file holding every persistent datastore."""

    def __init__(self, path: Path, *, snapshot_every: int = 256, synchronous: str = "FULL",
                 keep: int = DEFAULT_KEEP) -> None:
        """`keep`: how many history rows (changes of running) are kept."""
        self.path = path
        self.snapshot_every = snapshot_every
        self.keep = keep
        self._lock = threading.Lock()
        self._db = open_wal(path, synchronous=synchronous)
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
               meta: Mapping[str, str | None] | None = None, *,
               history: HistoryRow | None = None, forget: int | None = None) -> int:
        """Persist several datastores' changes (and meta keys) as one atomic transaction,
        with the history row of a change of running (and the trim to `keep` rows), or
        the removal of the row `forget` names (a change undone after it was written).
        Returns the stored history row's seq (0: none)."""
        seq_written = 0
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
                if history is not None:
                    seq_written = self._insert_history(cur, history, None)
                    cur.execute("DELETE FROM history WHERE seq <= ?",
                                (seq_written - self.keep,))
                if forget is not None:
                    cur.execute("DELETE FROM history WHERE seq = ?", (forget,))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return seq_written

    @staticmethod
    def _insert_history(cur: sqlite3.Cursor, row: HistoryRow, seq: int | None) -> int:
        """Insert `row` as `seq` (None: the next one)."""
        cur.execute("INSERT INTO history (seq, id, label, user, ts, kind, source_host, "
                    "comment, forward, inverse) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (seq, row.commit_id, row.label, row.user, row.timestamp,
                     row.kind, row.source_host, row.comment, json.dumps(row.forward),
                     json.dumps(row.inverse)))
        return int(cur.lastrowid or 0)

    # -- the commit history ----------------------------------------------------------------

    def history_recent(self, limit: int) -> list[HistoryRow]:
        """The newest `limit` rows, newest first, without their ops."""
        with self._lock:
            rows = self._db.execute(f"SELECT {_HISTORY_FIELDS} FROM history ORDER BY seq "
                                    "DESC LIMIT ?", (limit,)).fetchall()
        return [_history_row(row) for row in rows]

    def history_get(self, commit_id: str) -> HistoryRow | None:
        """The row of `commit_id`, without its ops."""
        with self._lock:
            row = self._db.execute(f"SELECT {_HISTORY_FIELDS} FROM history WHERE id = ?",
                                   (commit_id,)).fetchone()
        return None if row is None else _history_row(row)

    def history_since(self, seq: int) -> list[HistoryRow]:
        """The rows from `seq` on, newest first, with their ops."""
        with self._lock:
            rows = self._db.execute(f"SELECT {_HISTORY_FIELDS}, forward, inverse FROM history "
                                    "WHERE seq >= ? ORDER BY seq DESC", (seq,)).fetchall()
        return [_history_row(row[:8], row[8], row[9]) for row in rows]

    def history_import(self, rows: Sequence[HistoryRow]) -> int:
        """Add rows older than every stored one (a history kept elsewhere before), in one
        transaction, keeping their order and, where they fit below the stored rows, their
        seq; rows whose id is stored already are skipped. Returns how many were added."""
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                known = {r[0] for r in cur.execute("SELECT id FROM history")}
                fresh = sorted((r for r in rows if r.commit_id not in known),
                               key=lambda r: r.seq)
                lowest = cur.execute("SELECT MIN(seq) FROM history").fetchone()[0]
                shift = 0
                if fresh and lowest is not None and fresh[-1].seq >= lowest:
                    shift = lowest - 1 - fresh[-1].seq
                for row in fresh:
                    self._insert_history(cur, row, row.seq + shift)
                newest = cur.execute("SELECT MAX(seq) FROM history").fetchone()[0] or 0
                cur.execute("DELETE FROM history WHERE seq <= ?", (newest - self.keep,))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return len(fresh)

    def needs_snapshot(self, ds: str) -> bool:
        return self._since_snapshot.get(ds, 0) >= self.snapshot_every

    def journal_seq(self, ds: str) -> int:
        """The sequence number of the newest journal entry of `ds`."""
        return self._seq.get(ds, 0)

    def snapshot(self, ds: str, content: str, seq: int | None = None) -> None:
        """Store `content` as `ds` right after journal entry `seq` (default: the newest)
        and drop the journal entries it covers, atomically. A snapshot older than the
        stored one is ignored."""
        with self._lock:
            newest = self._seq.get(ds, 0)
            seq = newest if seq is None else min(seq, newest)
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                row = cur.execute("SELECT seq FROM snapshot WHERE ds=?", (ds,)).fetchone()
                if row is not None and row[0] >= seq:
                    cur.execute("ROLLBACK")
                    return
                cur.execute("INSERT OR REPLACE INTO snapshot (ds, seq, content) VALUES (?, ?, ?)",
                            (ds, seq, content))
                cur.execute("DELETE FROM journal WHERE ds=? AND seq<=?", (ds, seq))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            self._since_snapshot[ds] = newest - seq
        log.debug("datastore snapshot written", datastore=ds, seq=seq)

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])


def _ops(text: str) -> tuple[JournalOp, ...]:
    return tuple((op[0], op[1], op[2]) for op in json.loads(text))


def _history_row(row: Sequence[Any], forward: str | None = None,
                 inverse: str | None = None) -> HistoryRow:
    seq, commit_id, label, user, ts, kind, source_host, comment = row
    return HistoryRow(commit_id=commit_id, label=label, user=user, timestamp=ts, kind=kind,
                      source_host=source_host, comment=comment,
                      forward=_ops(forward) if forward is not None else (),
                      inverse=_ops(inverse) if inverse is not None else (), seq=seq)
