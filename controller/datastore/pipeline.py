"""The commit pipeline: one change of running, end to end, in named phases.

A reader follows a commit of running top to bottom in `CommitPipeline.run`:

1. **validate running** — by the operation that made the change (`NmdaStore.edit`,
   `commit`, `copy`), before it seals the change into journal ops.
2. **expand** — `Expander.expand`: running → intended, RFC 8342 §5.1.4 "template
   expansion" (the identity here; the Q-NUM expansion in controller/service/expansion.py).
3. **validate intended** — the whole expanded content, when the expander derived it.
4. **prepare participants** — `Participant.prepare`: whatever must change with the
   datastores gets ready without becoming final (the devices hold a pending confirmed
   commit, RFC 6241 §8.4; controller/service/device_push.py).
5. **durable write** — one SQLite transaction for every datastore the change touched,
   with the change's commit-history record (controller/datastore/commitlog.py) when it
   changed running: one fsync per commit, and a history that always matches running.
6. **confirm participants** — `Participant.confirm`: final. A crash between 5 and 6 is
   recovered by confirming, a crash before 5 by cancelling (southbound/inflight.py).
7. **publish** — `NmdaStore._publish`: versions, the candidate follows running,
   snapshots, the expander adopts its expansion, listeners (NETCONF notifications, SSE,
   <operational>).

An exception in phases 2–5 aborts the participants already prepared and propagates; the
store then rolls every forest back from its undo log, so datastores and devices change
together or not at all. The pipeline always runs under the store's one lock
(`NmdaStore.atomic`).

Phase 6 can still fail: a device that stops answering cannot be made to confirm. The
participant then puts itself back (every device runs its configuration from before) and
raises; the pipeline compensates the participants that had confirmed, and writes the
datastores' content from before the change as a second durable transaction (the
compensating write), then the change fails like any other. Why not write after the
confirm instead: the durable write is the commit point recovery relies on — a crash
after it confirms the devices, before it cancels them (southbound/inflight.py) — and a
confirm that follows the durable write keeps that rule with no window in which devices
run a change the datastores never recorded. A crash between the two writes is recovered
like a crash after phase 5 (the devices end up running what the first write says).
The compensating write also removes the change's history record, in the same
transaction: the change failed, so the history never shows it (every record's inverse
ops must lead from running as it is to running as it was).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from controller.datastore.apply import JournalOp, replay, validate_forest
from controller.datastore.commitlog import CommitLog, Record
from controller.datastore.persistence import Persistence
from controller.datastore.txn import PERSISTENT, Datastore, Transaction
from controller.errors import ErrorTag, NetconfError

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Expanded:
    """What phase 2 produced. `derived`: intended holds more than running, so phase 3
    validates it as a whole. `detail`: the expander's own record of its decision (the
    Q-NUM plan and device documents), opaque to the engine, handed to the participants
    and, once committed, back to the expander."""

    derived: bool
    detail: object | None = None


class Expander(Protocol):
    """Turns running into intended (RFC 8342 §5.1.4 "template expansion")."""

    def expand(self, txn: Transaction, running_ops: Sequence[JournalOp]) -> Expanded: ...

    def adopt(self, expanded: Expanded) -> None:
        """The transaction committed: `expanded` is now what intended says."""


class IdentityExpander:
    """intended = running. Intended is then valid by construction (same content, same
    schema), so phase 3 does not re-validate it."""

    def expand(self, txn: Transaction, running_ops: Sequence[JournalOp]) -> Expanded:
        replay(txn.forest(Datastore.INTENDED), running_ops, txn.undo(Datastore.INTENDED),
               txn.record(Datastore.INTENDED))
        return Expanded(derived=False)

    def adopt(self, expanded: Expanded) -> None:
        pass


class Participant(Protocol):
    """Something outside the datastores that changes with them, in two phases."""

    def prepare(self, txn: Transaction, expanded: Expanded) -> Any:
        """Phase 4: get ready, or raise (NetconfError naming what refused). The value
        returned (None: nothing to do) comes back to `confirm` or `abort`."""

    def confirm(self, prepared: Any) -> None:
        """Phase 6: the change is durable; make it final. If it cannot, put back what
        `prepare` changed and raise NetconfError naming what refused: the change then
        fails as a whole (module docstring). Any other exception is a bug: it is logged
        and the change stands."""

    def abort(self, prepared: Any) -> None:
        """Phases 4–5 failed after this participant prepared: undo it."""

    def compensate(self, prepared: Any) -> None:
        """Phase 6 failed in another participant after this one confirmed: put back what
        this one made final."""


#: listener(datastore, its journal ops, session id) — called in phase 7.
ChangeListener = Callable[[Datastore, Sequence[JournalOp], int], None]


class CommitPipeline:
    """Phases 2–6 of a change (module docstring); the store runs 1 and 7 around it."""

    def __init__(self, persistence: Persistence | None,
                 expander: Expander | None = None) -> None:
        self.persistence = persistence
        self.expander: Expander = expander or IdentityExpander()
        self.participants: list[Participant] = []
        #: where phase 5 records each change of running. With persistence, always (a
        #: change the history missed would make every older record rebuild wrongly);
        #: without, from when a commit history attaches one (history.py).
        self.history: CommitLog | None = (CommitLog(persistence) if persistence is not None
                                          else None)

    def run(self, ds: Datastore, txn: Transaction, ops: list[JournalOp],
            meta: Mapping[str, str | None] | None = None) -> Expanded | None:
        """Carry one sealed change of `ds` to durable (and, for running, to every
        participant). Returns the expansion of a running change."""
        if ds is not Datastore.RUNNING:
            self.durable_write(ds, txn, meta)
            return None
        expanded = self.expand(txn, ops)
        self.validate_intended(txn, expanded)
        prepared = self.prepare(txn, expanded)
        meta_before = self.meta_before(meta)
        try:
            recorded = self.durable_write(ds, txn, meta)
        except BaseException:
            self.abort(prepared)
            raise
        try:
            self.confirm(prepared)
        except NetconfError:
            self.compensating_write(txn, meta_before, recorded)
            raise
        return expanded

    # -- the phases ------------------------------------------------------------------------
    def expand(self, txn: Transaction, ops: list[JournalOp]) -> Expanded:
        expanded = self.expander.expand(txn, ops)
        if Datastore.INTENDED in txn.undos:
            txn.seal(Datastore.INTENDED)
        return expanded

    @staticmethod
    def validate_intended(txn: Transaction, expanded: Expanded) -> None:
        changes = txn.changes.get(Datastore.INTENDED)
        if not expanded.derived or not changes:
            return
        errors = validate_forest(txn.forest(Datastore.INTENDED), changes.top_modules)
        if errors:
            raise NetconfError(errors)

    def prepare(self, txn: Transaction, expanded: Expanded
                ) -> list[tuple[Participant, Any]]:
        prepared: list[tuple[Participant, Any]] = []
        try:
            for participant in self.participants:
                token = participant.prepare(txn, expanded)
                if token is not None:
                    prepared.append((participant, token))
        except BaseException:
            self.abort(prepared)
            raise
        return prepared

    def durable_write(self, ds: Datastore, txn: Transaction,
                      meta: Mapping[str, str | None] | None) -> Record | None:
        """Every persistent datastore the change touched, the meta keys and the history
        record of a change of running, in one SQLite transaction: a process killed at any
        instant leaves all or none. Returns that record (None: running did not change,
        or no history is kept)."""
        persisted = {d.value: txn.ops.get(d, []) for d in PERSISTENT if d in txn.ops}
        row = self.history.row_of(txn) if self.history is not None else None
        seq = 0
        if self.persistence is not None and (any(persisted.values()) or meta):
            stored = row if self.history is not None and self.history.persistence else None
            try:
                seq = self.persistence.append(persisted, meta, history=stored)
            except Exception as exc:  # disk full, I/O error: nothing may change
                raise NetconfError.of(ErrorTag.OPERATION_FAILED,
                                      f"could not persist {ds}: {exc}") from exc
        if row is None or self.history is None:
            return None
        return self.history.added(row, seq)

    @classmethod
    def confirm(cls, prepared: list[tuple[Participant, Any]]) -> None:
        for index, (participant, token) in enumerate(prepared):
            try:
                participant.confirm(token)
            except NetconfError:   # it put itself back: so do the others
                cls.compensate(prepared[:index])
                cls.abort(prepared[index + 1:])
                raise
            except Exception as exc:  # a bug, not a refusal: the change stands
                log.error("participant failed to confirm a durable change",
                          participant=type(participant).__name__, error=str(exc))

    @staticmethod
    def compensate(confirmed: list[tuple[Participant, Any]]) -> None:
        for participant, token in reversed(confirmed):
            try:
                participant.compensate(token)
            except Exception as exc:  # best effort: the refusal is what the caller sees
                log.error("participant failed to compensate", participant=type(participant)
                          .__name__, error=str(exc))

    def meta_before(self, meta: Mapping[str, str | None] | None) -> dict[str, str | None]:
        """The stored values of the meta keys a change is about to write."""
        if self.persistence is None or not meta:
            return {}
        return {key: self.persistence.get_meta(key) for key in meta}

    def compensating_write(self, txn: Transaction, meta_before: Mapping[str, str | None],
                           recorded: Record | None = None) -> None:
        """Phase 6 failed after phase 5: roll the forests back and make that durable, as
        one more SQLite transaction holding each touched datastore's whole content from
        before the change (a journal reset), the meta keys' old values and the removal of
        the change's history record (`recorded`)."""
        txn.rollback()
        try:
            if self.persistence is None:
                return
            persisted = {d.value: [("reset", None, txn.forest(d).print("json"))]
                         for d in PERSISTENT if txn.ops.get(d)}
            stored = recorded.seq if recorded is not None and self.history is not None \
                and self.history.persistence else None
            try:
                self.persistence.append(persisted, meta_before, forget=stored)
            except Exception as exc:  # the disk says "after"; restart recovery follows it
                log.critical("could not write the datastores back after a failed confirm",
                             error=str(exc))
            else:
                log.warning("change undone after its confirm failed",
                            datastores=sorted(persisted))
        finally:
            if recorded is not None and self.history is not None:
                self.history.forget(recorded.seq)

    @staticmethod
    def abort(prepared: list[tuple[Participant, Any]]) -> None:
        for participant, token in reversed(prepared):
            try:
                participant.abort(token)
            except Exception as exc:  # best effort: the original error matters more
                log.error("participant failed to abort", participant=type(participant)
                          .__name__, error=str(exc))
