"""The datastores (RFC 8342 §5) and the transaction record of one change to them.

A `Transaction` collects, per forest it touches, the undo log (to roll back) and the
change record (which top-level trees changed, for scoped validation); `seal` freezes the
journal ops that persistence stores and listeners receive.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from controller.datastore.apply import Changes, JournalOp, journal_ops, refresh
from controller.datastore.sessions import ChangedBy
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
    the change (set by the store before the commit pipeline runs, so that participants
    can record it)."""

    def __init__(self, forests: Callable[[Datastore], Forest]) -> None:
        self.forest = forests
        self.changed_by: ChangedBy | None = None
        self.undos: dict[Datastore, UndoLog] = {}
        self.changes: dict[Datastore, Changes] = {}
        self.ops: dict[Datastore, list[JournalOp]] = {}

    def undo(self, ds: Datastore) -> UndoLog:
        if ds not in self.undos:
            self.undos[ds] = UndoLog(self.forest(ds))
            self.changes[ds] = Changes()
        return self.undos[ds]

    def record(self, ds: Datastore) -> Changes:
        self.undo(ds)
        return self.changes[ds]

    def seal(self, ds: Datastore) -> list[JournalOp]:
        """Freeze the journal ops of `ds` (before release)."""
        ops = journal_ops(self.forest(ds), self.changes[ds], self.undos[ds])
        self.ops[ds] = ops
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
