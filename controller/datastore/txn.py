"""The datastores (RFC 8342 §5) and the transaction record of one change to them.

A `Transaction` collects, per forest it touches, the undo log (to roll back) and the
change record (which top-level trees changed, for scoped validation); `seal` freezes the
journal ops that persistence stores and listeners receive, and for running also their
inverse (from the undo log, before it is released), which the commit history keeps.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from enum import StrEnum

from controller.datastore.apply import Changes, JournalOp, journal_ops, refresh
from controller.datastore.sessions import ChangedBy, ChangeNote
from controller.datastore.tree import Forest, UndoLog


class Datastore(StrEnum):
    RUNNING = "running"
    CANDIDATE = "candidate"
    STARTUP = "startup"
    INTENDED = "intended"
    OPERATIONAL = "operational"


CONFIG_DATASTORES = (Datastore.RUNNING, Datastore.CANDIDATE, Datastore.STARTUP,
                     Datastore.INTENDED)
WRITABLE = (Datastore.RUNNING, Datastore.CANDIDATE, Datastore.STARTUP)
PERSISTENT = (Datastore.RUNNING, Datastore.STARTUP, Datastore.INTENDED)


class Transaction:
    """Undo logs and change records of the forests one operation touches, and who made
    the change and what they said about it (set by the store before the commit pipeline
    runs, so that participants and the commit history can record it)."""

    def __init__(self, forests: Callable[[Datastore], Forest]) -> None:
        self.forest = forests
        #: the id of this change's commit-history record, when it changes running: known
        #: from the start so that participants (the devices' network commit) can name
        #: the running change they are part of, before the record is written
        self.commit_id = uuid.uuid4().hex[:12]
        self.changed_by: ChangedBy | None = None
        self.note: ChangeNote | None = None
        self.undos: dict[Datastore, UndoLog] = {}
        self.changes: dict[Datastore, Changes] = {}
        self.ops: dict[Datastore, list[JournalOp]] = {}
        self.inverse: dict[Datastore, list[JournalOp]] = {}

    def undo(self, ds: Datastore) -> UndoLog:
        if ds not in self.undos:
            # running's log tracks paths: its inverse is generated at seal
            self.undos[ds] = UndoLog(self.forest(ds), track_paths=ds is Datastore.RUNNING)
            self.changes[ds] = Changes()
        return self.undos[ds]

    def record(self, ds: Datastore) -> Changes:
        self.undo(ds)
        return self.changes[ds]

    def seal(self, ds: Datastore) -> list[JournalOp]:
        """Freeze the journal ops of `ds` (before release); for running also the ops
        that undo them (`inverse`), while what the change removed is still alive."""
        ops = journal_ops(self.forest(ds), self.changes[ds], self.undos[ds])
        self.ops[ds] = ops
        if ds is Datastore.RUNNING:
            self.inverse[ds] = self.undos[ds].inverse() if ops else []
        return ops

    def rollback(self) -> None:
        for undo in reversed(list(self.undos.values())):
            undo.rollback()
        for ds, changes in self.changes.items():
            if changes:
                refresh(self.forest(ds), changes.top_modules)

    def release(self) -> None:
        for undo in self.undos.values():
            undo.release()
