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
5. **durable write** — one SQLite transaction for every datastore the change touched.
6. **confirm participants** — `Participant.confirm`: final. A crash between 5 and 6 is
   recovered by confirming, a crash before 5 by cancelling (southbound/inflight.py).
7. **publish** — `NmdaStore._publish`: versions, the candidate follows running,
   snapshots, the expander adopts its expansion, listeners (NETCONF notifications, SSE,
   <operational>).

An exception in phases 2–5 aborts the participants already prepared and propagates; the
store then rolls every forest back from its undo log, so datastores and devices change
together or not at all. The pipeline always runs under the store's one lock
(`NmdaStore.atomic`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from controller.datastore.apply import JournalOp, replay, validate_forest
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
        """Phase 6: the change is durable; make it final. Must not raise: a failure here
        is the participant's to reconcile (the commit is decided)."""

    def abort(self, prepared: Any) -> None:
        """Phases 4–5 failed after this participant prepared: undo it."""


#: listener(datastore, its journal ops, session id) — called in phase 7.
ChangeListener = Callable[[Datastore, Sequence[JournalOp], int], None]


class CommitPipeline:
    """Phases 2–6 of a change (module docstring); the store runs 1 and 7 around it."""

    def __init__(self, persistence: Persistence | None,
                 expander: Expander | None = None) -> None:
        self.persistence = persistence
        self.expander: Expander = expander or IdentityExpander()
        self.participants: list[Participant] = []

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
        try:
            self.durable_write(ds, txn, meta)
        except BaseException:
            self.abort(prepared)
            raise
        self.confirm(prepared)
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
                      meta: Mapping[str, str | None] | None) -> None:
        """Every persistent datastore the change touched, and the meta keys, in one
        SQLite transaction: a process killed at any instant leaves all or none."""
        persisted = {d.value: txn.ops.get(d, []) for d in PERSISTENT if d in txn.ops}
        if self.persistence is None or not (any(persisted.values()) or meta):
            return
        try:
            self.persistence.append(persisted, meta)
        except Exception as exc:  # disk full, I/O error: nothing may change
            raise NetconfError.of(ErrorTag.OPERATION_FAILED,
                                  f"could not persist {ds}: {exc}") from exc

    @staticmethod
    def confirm(prepared: list[tuple[Participant, Any]]) -> None:
        for participant, token in prepared:
            try:
                participant.confirm(token)
            except Exception as exc:  # decided: the participant reconciles later
                log.error("participant failed to confirm a durable change",
                          participant=type(participant).__name__, error=str(exc))

    @staticmethod
    def abort(prepared: list[tuple[Participant, Any]]) -> None:
        for participant, token in reversed(prepared):
            try:
                participant.abort(token)
            except Exception as exc:  # best effort: the original error matters more
                log.error("participant failed to abort", participant=type(participant)
                          .__name__, error=str(exc))
