"""The records of the commit history: every change of running, the newest `keep` of them.

A record stores who made a change and why, and the change itself as journal ops, forward
and inverse (controller/datastore/txn.py seals both), never running's whole content: a
one-leaf change costs a one-leaf record. Running right before or after a record is
rebuilt when someone asks (`Record.before` / `.after`, through the history's reader,
controller/datastore/history.py).

With persistence the records live in the datastores' SQLite file and are written by the
commit pipeline inside the change's one durable transaction (persistence.py); without it
(tests, a store that keeps nothing) they live in memory, with the same API.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import structlog

from controller.datastore.locks import SYSTEM_SESSION
from controller.datastore.persistence import DEFAULT_KEEP, HistoryRow, Persistence
from controller.datastore.sessions import ChangedBy
from controller.datastore.txn import Datastore, Transaction
from controller.errors import ErrorTag, NetconfError

log = structlog.get_logger(__name__)


class Reader(Protocol):
    """Rebuilds running right before and right after a record."""

    def sides(self, record: Record) -> tuple[str, str]: ...


@dataclass(frozen=True)
class Record:
    """One change of running as the commit-history rpcs show it. `before` and `after`
    (running as RFC 7951 JSON right before / after the change) are rebuilt on first use
    and then kept: what running was at a past instant never changes."""

    commit_id: str
    seq: int
    label: str
    user: str
    timestamp: float
    kind: str           # commit | rollback | edit (any other change of running)
    source_host: str = ""   # where the user's session came from, if known
    comment: str = ""       # why, in the author's words
    reader: Reader | None = field(default=None, compare=False, repr=False)
    _sides: list[tuple[str, str]] = field(default_factory=list, compare=False, repr=False)

    @property
    def before(self) -> str:
        return self.sides()[0]

    @property
    def after(self) -> str:
        return self.sides()[1]

    def sides(self) -> tuple[str, str]:
        """(before, after), rebuilt once."""
        if not self._sides:
            if self.reader is None:
                raise RuntimeError("no history reader is attached to rebuild this record")
            self._sides.append(self.reader.sides(self))
        return self._sides[0]

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
    """The newest `keep` records, in `persistence` (which then sets `keep`) or in memory.

    Written only by the commit pipeline, under the store's lock (`row_of`, then `added`
    once the row is durable, or `forget` when the change was undone); read from any
    thread."""

    def __init__(self, persistence: Persistence | None = None, keep: int = DEFAULT_KEEP
                 ) -> None:
        self.persistence = persistence
        self.keep = persistence.keep if persistence is not None else keep
        self.reader: Reader | None = None
        #: the record of the newest change written (None after it was undone)
        self.last_added: Record | None = None
        self._rows: deque[HistoryRow] = deque(maxlen=self.keep)
        self._next_seq = 1
        self._lock = threading.Lock()

    # -- written by the commit pipeline ----------------------------------------------------

    @staticmethod
    def row_of(txn: Transaction) -> HistoryRow | None:
        """The record of `txn`'s change of running (None: running did not change): the
        author from `txn.changed_by`, what they said from `txn.note` (no note: an edit,
        labelled with the server's reason when the server made it)."""
        forward = txn.ops.get(Datastore.RUNNING)
        if not forward:
            return None
        who = txn.changed_by or ChangedBy(SYSTEM_SESSION)
        note = txn.note
        kind, label, comment = ((note.kind, note.label, note.comment) if note is not None
                                else ("edit", who.reason or "", ""))
        return HistoryRow(commit_id=txn.commit_id, label=label, user=who.user,
                          timestamp=time.time(), kind=kind,
                          source_host=who.source_host or "", comment=comment,
                          forward=tuple(forward),
                          inverse=tuple(txn.inverse.get(Datastore.RUNNING, ())))

    def added(self, row: HistoryRow, seq: int) -> Record:
        """`row` is stored: as `seq` in the persistence, or now in memory."""
        if self.persistence is None:
            with self._lock:
                seq = self._next_seq
                self._next_seq += 1
                self._rows.append(replace(row, seq=seq))
        record = self._record(replace(row, seq=seq))
        self.last_added = record
        return record

    def forget(self, seq: int) -> None:
        """The change recorded as `seq` was undone (its row is gone from the persistence
        already, in the transaction that undid it)."""
        if self.persistence is None:
            with self._lock:
                kept = [row for row in self._rows if row.seq != seq]
                self._rows.clear()
                self._rows.extend(kept)
        if self.last_added is not None and self.last_added.seq == seq:
            self.last_added = None

    # -- read ------------------------------------------------------------------------------

    def recent(self, limit: int) -> list[Record]:
        """The newest `limit` records, newest first."""
        if self.persistence is not None:
            rows = self.persistence.history_recent(limit)
        else:
            with self._lock:
                rows = list(self._rows)[::-1][:limit]
        return [self._record(row) for row in rows]

    def get(self, commit_id: str) -> Record | None:
        if self.persistence is not None:
            row = self.persistence.history_get(commit_id)
        else:
            with self._lock:
                row = next((r for r in self._rows if r.commit_id == commit_id), None)
        return None if row is None else self._record(row)

    def require(self, commit_id: str) -> Record:
        """The record of `commit_id`, or the error that names it."""
        found = self.get(commit_id)
        if found is None:
            raise unknown_commit(commit_id)
        return found

    def since(self, seq: int) -> list[HistoryRow]:
        """The rows from `seq` on, newest first, with their ops."""
        if self.persistence is not None:
            return self.persistence.history_since(seq)
        with self._lock:
            return [row for row in reversed(self._rows) if row.seq >= seq]

    def close(self) -> None:
        """Forget what is kept in memory (a persistence is closed by its store)."""
        with self._lock:
            self._rows.clear()

    def _record(self, row: HistoryRow) -> Record:
        return Record(row.commit_id, row.seq, row.label, row.user, row.timestamp, row.kind,
                      row.source_host, row.comment, self.reader)


# -- the history file of earlier versions ----------------------------------------------------

def import_old_history(persistence: Persistence, path: Path) -> int:
    """Move the records of an earlier version's history file (`path`: a SQLite file of
    whole before/after documents) into `persistence`, once, then rename the file aside
    (`<name>.migrated`). Each record becomes a whole-document change: forward
    ("reset", after), inverse ("reset", before), so its before and after read back as
    stored. Returns how many records were imported."""
    if not path.exists():
        return 0
    try:
        rows = _old_rows(path)
    except sqlite3.DatabaseError as exc:   # not ours, or damaged: keep it, start without
        aside = path.with_name(path.name + ".unreadable")
        path.replace(aside)
        log.warning("commit history of an earlier version unreadable, not imported",
                    error=str(exc), moved_to=str(aside))
        return 0
    imported = persistence.history_import([
        HistoryRow(commit_id=commit_id, label=label, user=user, timestamp=ts, kind=kind,
                   source_host=source_host, comment=comment,
                   forward=(("reset", None, after),), inverse=(("reset", None, before),),
                   seq=seq)
        for seq, commit_id, label, user, ts, kind, before, after, source_host, comment
        in rows])
    aside = path.with_name(path.name + ".migrated")
    path.replace(aside)
    log.info("commit history of an earlier version imported", records=imported,
             moved_to=str(aside))
    return imported


def _old_rows(path: Path) -> list[tuple[Any, ...]]:
    """The records of an earlier version's file, oldest first (the first layout lacks
    source_host and comment)."""
    db = sqlite3.connect(str(path))   # read-write: it rolls back a hot journal first
    try:
        columns = {row[1] for row in db.execute("PRAGMA table_info(commits)")}
        if not columns:
            return []
        optional = [c if c in columns else "''" for c in ("source_host", "comment")]
        return list(db.execute(f"SELECT seq, id, label, user, ts, kind, before, after, "
                               f"{optional[0]}, {optional[1]} FROM commits ORDER BY seq"))
    finally:
        db.close()


