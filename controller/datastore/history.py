"""Every change of <running>, so that a rollback can put running back as it was before
any of them (like `rollback N` on a router), and a diff can show what any of them
changed, whichever northbound made it. The newest `keep` records are kept.

A record holds the change, not running: its journal ops forward and inverse, written by
the commit pipeline in the change's own durable transaction (controller/datastore/
commitlog.py). Running right after record k is running now with the inverse ops of every
newer record replayed, newest first; right before it, one replay more. That costs a copy
of running when someone asks (show-commit, diff-commits, rollback-to), instead of a
print of running on every change.

Each record names its author (RFC 6470 §2.1 changed-by, resolved through the store's
session directory): the user and the host the change came from, or "server" with what
the server was doing (self-healing, a confirmed-commit revert) as the label. What the
author said about the change (a commit's label and comment, or that it is a rollback)
comes from the `ChangeNote` the northbound set while making it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from controller.datastore.apply import Changes, JournalOp, replay
from controller.datastore.commitlog import CommitLog, Record, unknown_commit
from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.persistence import HistoryRow
from controller.datastore.tree import Forest, UndoLog

__all__ = ["CommitLog", "Record", "RunningHistory", "unknown_commit"]


class RunningHistory:
    """The commit history of one store, as every northbound reads it.

    A store with persistence records every change of running from its first start, in
    its own SQLite file; a store without records from when a `RunningHistory` attaches
    `log` (default: a new one in memory) until it closes. `last` is the record of the
    change made inside `recording()`: it is set by a store listener, which runs inside the
    store's lock in the thread that made the change."""

    def __init__(self, store: NmdaStore, log: CommitLog | None = None) -> None:
        self.store = store
        self.last: Record | None = None
        with store.atomic():
            pipeline = store.pipeline
            self._attached = pipeline.history is None
            if pipeline.history is None:
                pipeline.history = log if log is not None else CommitLog()
            self.log: CommitLog = pipeline.history
            self.log.reader = self
            store.listeners.append(self._on_change)

    def close(self) -> None:
        with self.store.atomic():
            if self._on_change in self.store.listeners:
                self.store.listeners.remove(self._on_change)
            if self._attached and self.store.pipeline.history is self.log:
                self.store.pipeline.history = None
                self.log.close()

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Hold the store lock; `last` is then the record of the change made inside this
        block, or None when running did not change."""
        with self.store.atomic():
            self.last = None
            yield

    def running(self) -> str:
        """Running now (RFC 7951 JSON), printed when asked: the last committed running
        (the store's published copy, read without its lock), or, for a caller holding
        the lock (`recording`), running as it is."""
        return self.store.get(Datastore.RUNNING)

    # -- rebuilding a record's sides (commitlog.Reader) ------------------------------------

    def sides(self, record: Record) -> tuple[str, str]:
        """Running right before and right after `record`. The records and the copy of
        running they start from are taken together under the store's lock (no change
        may slip between them); the replay on that private copy and the prints run after
        it, so that writers wait for a copy, not for a rebuild."""
        with self.store.atomic():
            rows = self.log.since(record.seq)
            if not rows or rows[-1].seq != record.seq:
                raise unknown_commit(record.commit_id)     # dropped beyond `keep` meanwhile
            own, newer = rows[-1], rows[:-1]
            after, before = _whole(own.forward), _whole(own.inverse)
            if after is not None and before is not None:
                return before, after
            base, todo = (after, []) if after is not None else _start(newer)
            forest = (Forest.parse(self.store.schema, base, validate=False)
                      if base is not None
                      else self.store.forest(Datastore.RUNNING).dup())
        try:
            for ops in todo:
                _replay(forest, ops)
            if after is None:
                after = forest.print("json")
            if before is None:
                _replay(forest, own.inverse)
                before = forest.print("json")
        finally:
            forest.free()
        return before, after

    def _on_change(self, ds: Datastore, _ops: Sequence[JournalOp], _session_id: int) -> None:
        if ds is Datastore.RUNNING:
            self.last = self.log.last_added


def _start(newer: Sequence[HistoryRow]) -> tuple[str | None, list[Sequence[JournalOp]]]:
    """Where rebuilding running right after the change older than `newer` (newest
    first) starts: the oldest whole document among their inverses (None: running now),
    and the inverses older than it, to replay in order."""
    base: str | None = None
    todo: list[Sequence[JournalOp]] = []
    for row in newer:
        whole = _whole(row.inverse)
        if whole is not None:     # everything newer is moot
            base, todo = whole, []
        else:
            todo.append(row.inverse)
    return base, todo


def _whole(ops: Sequence[JournalOp]) -> str | None:
    """The document of ops that replace the whole datastore, else None."""
    if len(ops) == 1 and ops[0][0] == "reset":
        return ops[0][2] or "{}"
    return None


def _replay(forest: Forest, ops: Sequence[JournalOp]) -> None:
    undo = UndoLog(forest)
    replay(forest, ops, undo, Changes())
    undo.release()
