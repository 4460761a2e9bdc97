"""Committed copies of the datastores, which readers read without the store's lock.

A change edits the live forests in place and may hold the store's lock for seconds (a
Q-NUM expansion, a network-wide device push). A reader must neither wait for that nor
see it half done, and readers must not wait for each other. So each datastore has a
second forest holding exactly what was last committed: the store's publish step (the
last phase of every change, after the durable write) replays the change's journal ops
onto it, which costs what the change costs, never a copy of the tree. Readers share it
under a reader-writer lock; the publish step takes the lock exclusively only for the
microseconds of that replay.

A replay that fails (it never should: the same ops already applied to the live forest)
is logged and the copy is rebuilt from the live forest, so the two cannot drift apart.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import structlog

from controller.datastore import ly
from controller.datastore.apply import Changes, JournalOp, replay
from controller.datastore.ly import lib
from controller.datastore.readers import merge_into
from controller.datastore.schema import Schema
from controller.datastore.tree import NULL, Forest, UndoLog, parent_path
from controller.datastore.txn import CONFIG_DATASTORES, Datastore
from controller.errors import NetconfError

log = structlog.get_logger(__name__)


class ReadWriteLock:
    """Many readers or one writer. A waiting writer holds back new readers, so a steady
    stream of reads cannot starve the publish step (and with it every commit). Not
    re-entrant: a reader must not take it again while it holds it."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            while self._writing or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if self._readers == 0:
                    self._cond.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            while self._writing or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


class PublishedCopies:
    """The committed content of every config datastore and of the learned state."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._lock = ReadWriteLock()
        self._forests: dict[Datastore, Forest] = {ds: Forest(schema)
                                                  for ds in CONFIG_DATASTORES}
        self._state = Forest(schema)
        #: the journal entry each persistent copy's content is right after
        self._seq: dict[Datastore, int] = {}

    @contextmanager
    def reading(self) -> Iterator[PublishedCopies]:
        """Hold the copies still while the caller selects from them (with `forest` and
        `state`); the caller copies what it needs out before the block ends."""
        with self._lock.reading():
            yield self

    def forest(self, ds: Datastore) -> Forest:
        return self._forests[ds]

    @property
    def state(self) -> Forest:
        return self._state

    def seq(self, ds: Datastore) -> int | None:
        """The journal sequence number `ds`'s copy corresponds to (None: not recorded,
        the datastore is not persisted)."""
        return self._seq.get(ds)

    # -- the publish step (the store holds its own lock while it calls these) ---------------

    def apply(self, ds: Datastore, ops: Sequence[JournalOp], live: Forest,
              seq: int | None = None) -> None:
        """Replay a committed change of `ds`; `live` is the store's forest after it and
        `seq` the journal entry that made it durable (persistent datastores)."""
        if not ops:
            return
        with self._lock.writing():
            if seq is not None:
                self._seq[ds] = seq
            copy = self._forests[ds]
            undo = UndoLog(copy)
            try:
                replay(copy, ops, undo, Changes())
            except NetconfError as exc:
                undo.rollback()
                log.error("published copy diverged; rebuilt from the live datastore",
                          datastore=ds.value, error=str(exc))
                self._replace(ds, live)
                return
            undo.release()
            _add_defaults(copy, ops)

    def replace(self, ds: Datastore, live: Forest, seq: int | None = None) -> None:
        """The whole of `ds` changed (a start-up load, a candidate reset to running)."""
        with self._lock.writing():
            if seq is not None:
                self._seq[ds] = seq
            self._replace(ds, live)

    def _replace(self, ds: Datastore, live: Forest) -> None:
        old = self._forests[ds]
        self._forests[ds] = live.dup()
        old.free()

    def update_state(self, *, delete: str | None = None, merge: Forest | None = None
                     ) -> None:
        """Delete the learned subtree at `delete`, then merge `merge` (the caller's private
        parse, left untouched), as one step for readers."""
        addition = merge.dup() if merge is not None else None
        with self._lock.writing():
            node = self._state.find(delete) if delete is not None else NULL
            if node != NULL:
                undo = UndoLog(self._state)
                undo.remove(node)
                undo.release()
            if addition is not None:
                merge_into(self._state, addition)


def _add_defaults(forest: Forest, ops: Sequence[JournalOp]) -> None:
    """Give replayed content the default nodes validation gave the live forest, so that
    a filter or XPath predicate on a default value selects the same nodes in both. Only
    what the ops wrote is visited: a written subtree, the parent of a deleted node."""
    for kind, path, _payload in ops:
        if kind == "reset":
            forest.add_implicit_defaults(config_only=True)
        elif kind == "replace" and path is not None:
            node = forest.find(path)
            if node != NULL:
                ly.new_implicit_tree(node)
        elif kind == "delete" and path is not None:
            above = parent_path(path)
            parent = forest.find(above) if above is not None else NULL
            if parent != NULL:
                ly.new_implicit_tree(parent)
            else:
                module = path.lstrip("/").split(":", 1)[0]
                _rc, forest.first = ly.new_implicit_module(
                    forest.first, forest.schema.module_cdata(module))
    if forest.first != NULL:
        forest.first = lib.lyd_first_sibling(forest.first)

