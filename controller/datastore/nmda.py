"""The NMDA datastores (RFC 8342) of the controller, as one thread-safe object.

running, candidate, startup and intended are config forests; operational is composed on
read from intended (origin `intended`) and the state the controller learned (origin
`learned`/`system`). Every change runs as a transaction over one or more forests, through the commit
pipeline (controller/datastore/pipeline.py: validate running → expand → validate intended
→ prepare participants → durable write → confirm participants → publish), and any
failure on the way rolls every forest back through its undo log, so datastores are never
left half-changed.

A confirmed commit (RFC 6241 §8.4) still pending when the process stopped is reverted at
the next start (§8.4.1): here, at construction, unless the owner defers it to
`revert_left_pending()` so that the revert runs through the expander and participants it
attaches first (the controller's service layer re-expands intended and pushes the devices
back in the same transaction). `confirm_listeners` hear each step of a confirmed commit
(the NETCONF server turns them into RFC 6470 notifications).

Locking discipline (the one place it is written down): the store has one re-entrant
lock. Every public method takes it, so each is atomic and thread-safe on its own. A
caller whose several calls must see and change one consistent state (a NACM check and
the edit it allows, a version check and the write it guards, a delete and merge of one
state subtree) wraps them in `with store.atomic():`. Nothing may block on another
thread that needs the store while holding it, except the commit pipeline's own
participant phases, which is why device sessions publish their state through a queue
(controller/service/device_states.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import structlog
from lxml import etree

from controller.datastore.apply import (
    Changes,
    EditApplier,
    JournalOp,
    replay,
    validate_changes,
    validate_forest,
)
from controller.datastore.editnode import EditNode, Operation
from controller.datastore.editparse import SchemaIndex, parse_json_config, parse_xml_config
from controller.datastore.locks import SYSTEM_SESSION, LockTable
from controller.datastore.persistence import Persistence
from controller.datastore.pipeline import (
    ChangeListener,
    CommitPipeline,
    Expanded,
    Expander,
    IdentityExpander,
    Participant,
)
from controller.datastore.published import PublishedCopies
from controller.datastore.readers import compose_operational, datastore_diff, merge_into, select
from controller.datastore.schema import Schema
from controller.datastore.sessions import ChangedBy, SessionDirectory
from controller.datastore.snapshots import SnapshotWriter
from controller.datastore.tree import NULL, Forest, UndoLog, WithDefaults
from controller.datastore.txn import (
    CONFIG_DATASTORES,
    PERSISTENT,
    WRITABLE,
    Datastore,
    Transaction,
)
from controller.errors import ErrorTag, ErrorType, NetconfError, RpcError
from controller.xmlutil import parse_xml

__all__ = ["CONFIG_DATASTORES", "PERSISTENT", "WRITABLE", "ChangeListener", "ChangedBy",
           "ConfirmEvent", "ConfirmListener", "Datastore", "EditResult", "ErrorOption",
           "Expanded", "Expander", "IdentityExpander", "NmdaStore", "Participant",
           "SessionDirectory", "TestOption",
           "Transaction"]

log = structlog.get_logger(__name__)

DEFAULT_CONFIRM_TIMEOUT_S = 600  # RFC 6241 §8.4.5.1
MAX_CONFIRM_TIMEOUT_S = 4294967295  # RFC 6241 §8.4.5.1: confirm-timeout is a uint32
CONFIRM_RETRY_S = 10.0  # a revert on timeout that failed (a device refused) is retried
_CONFIRM_META = "confirmed-commit-rollback"




class ErrorOption(StrEnum):
    STOP_ON_ERROR = "stop-on-error"
    CONTINUE_ON_ERROR = "continue-on-error"
    ROLLBACK_ON_ERROR = "rollback-on-error"


class TestOption(StrEnum):
    __test__ = False  # not a pytest test class
    TEST_THEN_SET = "test-then-set"
    SET = "set"
    TEST_ONLY = "test-only"




@dataclass(frozen=True)
class ConfirmEvent:
    """A step of a confirmed commit of running, as RFC 6470 `netconf-confirmed-commit`
    names them: start, extend, complete, cancel (cancel-commit or the owner's session
    ended) or timeout (the confirm-timeout expired, or a restart found it pending)."""

    event: str
    session_id: int
    timeout_s: float | None = None


#: listener(event) — called under the store's lock: it must not block
ConfirmListener = Callable[[ConfirmEvent], None]


@dataclass
class _PendingConfirm:
    session_id: int
    persist: str | None
    rollback_content: str
    deadline: float
    timer: threading.Timer | None = None


@dataclass
class EditResult:
    ops: list[JournalOp] = field(default_factory=list)
    errors: list[RpcError] = field(default_factory=list)


class NmdaStore:
    """All datastores of one controller; every public method is atomic and thread-safe."""

    def __init__(self, schema: Schema, *, persistence: Persistence | None = None,
                 expander: Expander | None = None, boot_from_startup: bool = False,
                 defer_restart_revert: bool = False) -> None:
        """`defer_restart_revert`: a confirmed commit found pending in `persistence` is
        not reverted here but by `revert_left_pending()`, once the caller has attached
        the expander and participants the revert must run through (the service layer:
        intended expanded again, devices pushed back)."""
        self.schema = schema
        self.index = SchemaIndex(schema)
        self.persistence = persistence
        self.pipeline = CommitPipeline(persistence, expander)
        self._lock = threading.RLock()   # see the module docstring; use atomic()
        self.locks = LockTable()
        self.sessions = SessionDirectory()   # who each session id is (RFC 6470 changed-by)
        self.listeners: list[ChangeListener] = []
        self.confirm_listeners: list[ConfirmListener] = []
        #: called (under the store's lock, so they must only note it and return) each
        #: time <operational> may have changed: learned state or running (RFC 8641
        #: on-change subscriptions wake on it and read the published copy later)
        self.operational_watchers: list[Callable[[], None]] = []
        self._forests: dict[Datastore, Forest] = {ds: Forest(schema) for ds in CONFIG_DATASTORES}
        self.state = Forest(schema)  # learned/system state for operational
        self.published = PublishedCopies(schema)   # what readers read (published.py)
        self._snapshots = (SnapshotWriter(persistence, self.published)
                           if persistence is not None else None)
        self.versions: dict[Datastore, int] = dict.fromkeys(Datastore, 0)
        self.modified: dict[Datastore, float] = dict.fromkeys(Datastore, time.time())
        self._candidate_base = 0
        self._candidate_ops: list[JournalOp] = []
        self.candidate_dirty = False
        self._pending: _PendingConfirm | None = None
        self._left_pending: str | None = None   # rollback content of a deferred revert
        self._closed = False
        if persistence is not None:
            self._load(boot_from_startup, defer_restart_revert)

    # ------------------------------------------------------------------------------------
    # access

    def atomic(self) -> threading.RLock:
        """The store's one lock, for a caller whose several calls must be one step (the
        locking discipline is in the module docstring)."""
        return self._lock

    @property
    def expander(self) -> Expander:
        return self.pipeline.expander

    @expander.setter
    def expander(self, expander: Expander) -> None:
        self.pipeline.expander = expander

    @property
    def participants(self) -> list[Participant]:
        """Commit pipeline participants (phases 4 and 6), in prepare order."""
        return self.pipeline.participants

    def forest(self, ds: Datastore) -> Forest:
        return self._forests[ds]

    def get(self, ds: Datastore, *, xpath: str | None = None, fmt: str = "json",
            with_defaults: WithDefaults = WithDefaults.EXPLICIT, with_origin: bool = False
            ) -> str:
        """Serialised content of a datastore (optionally only what `xpath` selects)."""
        view = self.view(ds, xpath=xpath, with_origin=with_origin)
        try:
            if with_defaults is not WithDefaults.EXPLICIT:
                # unvalidated copies lack them (RFC 6243)
                view.add_implicit_defaults(config_only=ds is not Datastore.OPERATIONAL)
            return view.print(fmt, with_defaults=with_defaults)
        finally:
            view.free()

    def view(self, ds: Datastore, *, xpath: str | None = None, with_origin: bool = False
             ) -> Forest:
        """A private copy of (part of) a datastore; the caller frees it.

        Outside the store's lock it is cut from the published copies: what was last
        committed, without waiting for a change in progress or for other readers. A
        caller holding the lock (inside `atomic()` or a transaction) sees the live
        datastore, its own changes included."""
        if self._lock._is_owned():  # type: ignore[attr-defined]  # RLock's own test
            return self._cut(self.forest, self.state, ds, xpath, with_origin)
        with self.published.reading() as copies:
            return self._cut(copies.forest, copies.state, ds, xpath, with_origin)

    @staticmethod
    def _cut(forests: Callable[[Datastore], Forest], state: Forest, ds: Datastore,
             xpath: str | None, with_origin: bool) -> Forest:
        if ds is Datastore.OPERATIONAL:
            return compose_operational(forests(Datastore.INTENDED), state, xpath=xpath,
                                       with_origin=with_origin)
        return select(forests(ds), xpath)

    def diff(self, source: Datastore, target: Datastore) -> list[dict[str, Any]]:
        """What would change if `target` became `source` (one entry per changed node)."""
        with self._lock:
            a, b = self.view(target), self.view(source)
            try:
                return datastore_diff(a, b)
            finally:
                a.free()
                b.free()

    # ------------------------------------------------------------------------------------
    # edits (RFC 6241 §7.2 edit-config, RFC 8526 §3.2 edit-data)

    def parse_xml(self, config: etree._Element) -> list[EditNode]:
        return parse_xml_config(self.index, config)

    def parse_json(self, data: Mapping[str, Any]) -> list[EditNode]:
        return parse_json_config(self.index, data)

    def edit(self, ds: Datastore, nodes: Sequence[EditNode], *,
             default_operation: Operation = Operation.MERGE,
             error_option: ErrorOption = ErrorOption.STOP_ON_ERROR,
             test_option: TestOption = TestOption.TEST_THEN_SET,
             session_id: int = SYSTEM_SESSION,
             inspect: Callable[[Forest], None] | None = None) -> EditResult:
        """Apply an edit atomically.

        stop-on-error and rollback-on-error both leave the datastore untouched on any
        error (RFC 6241 §7.2 allows it for stop-on-error). continue-on-error applies the
        nodes that succeed, reports the others, but still refuses to store content that
        fails validation: running is never invalid.

        Running and startup are validated as a whole at the end of every edit (RFC 7950
        §8.3.3; RFC 6241 §8.2 :writable-running). The candidate gets only the syntax
        checks done while the edit is parsed and applied (unknown node, key presence,
        type, range, pattern: RFC 6241 §7.2); its constraints (must, leafref
        require-instance, mandatory, min/max-elements, unique) wait for <validate> and
        <commit> (RFC 7950 §8.3.3), so an engineer may add a node after one that refers
        to it. test-option `test-only` on the candidate is the explicit question "would
        this candidate be valid?", so it validates the result whole and applies nothing.

        `inspect`, with test-only, sees the edited and validated forest before it is put
        back (the impact of an edit, previewed without a candidate: nothing is stored,
        published or heard by a listener, and the lock is held throughout).
        """
        if ds not in WRITABLE:
            raise NetconfError.of(ErrorTag.INVALID_VALUE, f"datastore {ds} is not writable",
                                  type=ErrorType.PROTOCOL)
        with self._lock:
            self.locks.check_write(ds, session_id)
            txn = Transaction(self.forest)
            applier = EditApplier(self.forest(ds), txn.undo(ds), txn.record(ds),
                                  continue_on_error=error_option is ErrorOption.CONTINUE_ON_ERROR)
            try:
                applier.apply(nodes, default_operation)
                if ds is Datastore.CANDIDATE:
                    if test_option is TestOption.TEST_ONLY:
                        self._validate_whole(self.forest(ds))
                else:
                    errors = validate_changes(self.forest(ds), txn.changes[ds])
                    if errors:
                        raise NetconfError(errors)
                if test_option is TestOption.TEST_ONLY:
                    if inspect is not None:
                        inspect(self.forest(ds))
                    txn.rollback()
                    return EditResult(errors=applier.errors)
                if applier.errors and not txn.changes[ds]:
                    raise NetconfError(applier.errors)
                ops = txn.seal(ds)
                self._finish(ds, txn, ops, session_id)
            except BaseException:
                txn.rollback()
                raise
            return EditResult(ops=ops, errors=applier.errors)

    def edit_xml(self, ds: Datastore, config: etree._Element | str, **kwargs: Any) -> EditResult:
        element = parse_xml(config) if isinstance(config, str) else config
        return self.edit(ds, self.parse_xml(element), **kwargs)

    def edit_json(self, ds: Datastore, data: Mapping[str, Any], **kwargs: Any) -> EditResult:
        return self.edit(ds, self.parse_json(data), **kwargs)

    # ------------------------------------------------------------------------------------
    # whole-datastore operations

    def copy(self, target: Datastore, *, source: Datastore | None = None,
             content: str | None = None, fmt: str = "json",
             session_id: int = SYSTEM_SESSION) -> None:
        """copy-config (RFC 6241 §7.3): replace target with source datastore or content."""
        if target not in WRITABLE:
            raise NetconfError.of(ErrorTag.INVALID_VALUE, f"cannot copy to {target}",
                                  type=ErrorType.PROTOCOL)
        with self._lock:
            self.locks.check_write(target, session_id)
            if source is not None:
                if source is target:
                    return
                payload = self.get(source, fmt="json")
            else:
                # Syntax always; constraints now for running and startup, at <validate>
                # or <commit> for the candidate (RFC 7950 §8.3.3).
                parsed = Forest.parse(self.schema, content or "", fmt,
                                      validate=target is not Datastore.CANDIDATE)
                payload = parsed.print("json")
                parsed.free()
            self._reset(target, payload, session_id)

    def delete(self, target: Datastore, *, session_id: int = SYSTEM_SESSION) -> None:
        """delete-config (RFC 6241 §7.4): ietf-netconf's target is startup (or a url,
        not supported) only. Running cannot be deleted; the candidate is not a target
        either (discard-changes, or copy-config of empty content, empties it)."""
        if target is not Datastore.STARTUP:
            raise NetconfError.of(ErrorTag.OPERATION_NOT_SUPPORTED,
                                  f"{target} cannot be deleted: delete-config's target is "
                                  "startup", type=ErrorType.PROTOCOL,
                                  info=[("bad-element", target.value)])
        with self._lock:
            self.locks.check_write(target, session_id)
            self._reset(target, "{}", session_id)

    def validate(self, ds: Datastore | None = None, *, content: str | None = None,
                 fmt: str = "json") -> None:
        """validate (RFC 6241 §8.6.4.1) of a datastore or of inline content."""
        with self._lock:
            if content is not None:
                Forest.parse(self.schema, content, fmt).free()
                return
            target = ds or Datastore.CANDIDATE
            if target is Datastore.OPERATIONAL:
                raise NetconfError.of(ErrorTag.INVALID_VALUE, "operational is not validated "
                                      "as configuration", type=ErrorType.PROTOCOL)
            self._validate_whole(self.forest(target))

    def _validate_whole(self, forest: Forest) -> None:
        """Every constraint of every module, each violation reported with its error-path
        and RFC 7950 §15 error-app-tag; the content stays as it was."""
        errors = validate_forest(forest, forest.top_modules() | set(self.schema.trees))
        if errors:
            raise NetconfError(errors)

    # ------------------------------------------------------------------------------------
    # candidate (RFC 6241 §8.3) and confirmed commit (§8.4)

    def commit(self, *, session_id: int = SYSTEM_SESSION, confirmed: bool = False,
               confirm_timeout: float = DEFAULT_CONFIRM_TIMEOUT_S, persist: str | None = None,
               persist_id: str | None = None) -> list[JournalOp]:
        if confirmed and not 0 < confirm_timeout <= MAX_CONFIRM_TIMEOUT_S:
            # Checked before anything changes: a timer of more than uint32 seconds
            # would fail (OverflowError) in the revert thread, after the commit.
            raise NetconfError.of(ErrorTag.INVALID_VALUE,
                                  f"confirm-timeout must be > 0 and <= {MAX_CONFIRM_TIMEOUT_S}",
                                  type=ErrorType.PROTOCOL,
                                  info=[("bad-element", "confirm-timeout")])
        with self._lock:
            self.locks.check_write(Datastore.RUNNING, session_id)
            self.locks.check_write(Datastore.CANDIDATE, session_id)
            pending = self._pending
            if pending is not None:
                self._check_follow_up(pending, session_id, persist_id)
            elif persist_id is not None:
                raise NetconfError.of(ErrorTag.INVALID_VALUE,
                                      "no confirmed commit is pending for this persist-id",
                                      type=ErrorType.PROTOCOL, info=[("bad-element",
                                                                      "persist-id")])
            rollback_content = (self.forest(Datastore.RUNNING).print("json")
                                if confirmed and pending is None else None)
            meta: dict[str, str | None] = {}
            if confirmed:
                meta[_CONFIRM_META] = (rollback_content if rollback_content is not None
                                       else pending.rollback_content if pending else None)
            elif pending is not None:
                meta[_CONFIRM_META] = None
            ops = self._commit_candidate(session_id, meta)
            if confirmed:
                self._arm_confirm(session_id, persist, confirm_timeout,
                                  rollback_content if pending is None
                                  else pending.rollback_content)
                self._confirm_event("start" if pending is None else "extend", session_id,
                                    confirm_timeout)
            elif pending is not None:
                self._disarm_confirm()
                log.info("confirmed commit confirmed", session=session_id)
                self._confirm_event("complete", session_id)
            return ops

    def cancel_commit(self, *, session_id: int = SYSTEM_SESSION,
                      persist_id: str | None = None) -> None:
        """cancel-commit (RFC 6241 §8.4.4.1): revert a pending confirmed commit now."""
        with self._lock:
            pending = self._pending
            if pending is None:
                raise NetconfError.of(ErrorTag.OPERATION_FAILED,
                                      "no confirmed commit is pending", type=ErrorType.PROTOCOL)
            self._check_follow_up(pending, session_id, persist_id)
            self._revert_confirmed("cancel-commit", by=session_id)
            self._confirm_event("cancel", session_id)

    def discard_changes(self, *, session_id: int = SYSTEM_SESSION) -> None:
        """discard-changes (RFC 6241 §8.3.4.2): candidate := running."""
        with self._lock:
            self.locks.check_write(Datastore.CANDIDATE, session_id)
            self._resync_candidate()

    def reexpand(self, *, session_id: int = SYSTEM_SESSION) -> None:
        """Run the expansion (and commit hooks) again with running unchanged: after the
        network changed under the controller (a fibre cut), or to rebuild intended."""
        with self._lock:
            txn = Transaction(self.forest)
            try:
                self._finish(Datastore.RUNNING, txn, [], session_id)
            except BaseException:
                txn.rollback()
                raise

    def lock_datastore(self, ds: Datastore, session_id: int) -> None:
        if ds not in WRITABLE:
            raise NetconfError.of(ErrorTag.INVALID_VALUE, f"{ds} cannot be locked",
                                  type=ErrorType.PROTOCOL)
        with self._lock:
            pending = self._pending
            if ds is Datastore.RUNNING and pending is not None and pending.persist is None \
                    and pending.session_id != session_id:
                # RFC 6241 §7.5: no lock on running while another session's confirmed
                # commit is outstanding.
                raise NetconfError(RpcError(
                    tag=ErrorTag.LOCK_DENIED, type=ErrorType.PROTOCOL,
                    message="a confirmed commit of another session is pending",
                    info=(("session-id", str(pending.session_id)),)))
            if ds is Datastore.CANDIDATE and self.candidate_dirty \
                    and self.locks.holder(ds) is None:
                # RFC 6241 §7.5: no lock on a candidate with uncommitted changes (when a
                # session holds the lock, the refusal below names it).
                raise NetconfError(RpcError(
                    tag=ErrorTag.LOCK_DENIED, type=ErrorType.PROTOCOL,
                    message="candidate has uncommitted changes; commit or discard first",
                    info=(("session-id", "0"),)))
            self.locks.lock(ds, session_id)

    def unlock_datastore(self, ds: Datastore, session_id: int) -> None:
        with self._lock:
            self.locks.unlock(ds, session_id)
            if ds is Datastore.CANDIDATE and self.candidate_dirty:
                # RFC 6241 §8.3.5.2: unlocking a modified candidate discards its changes.
                self._resync_candidate()

    def session_closed(self, session_id: int) -> None:
        """Release the session's locks; revert its un-persisted confirmed commit (§8.4.1)."""
        with self._lock:
            released = self.locks.release_session(session_id)
            if Datastore.CANDIDATE in released and self.candidate_dirty:
                self._resync_candidate()
            pending = self._pending
            if pending is not None and pending.persist is None \
                    and pending.session_id == session_id:
                self._revert_confirmed("session terminated")
                self._confirm_event("cancel", session_id)

    def close(self) -> None:
        """Stop the store's timers and close its persistence. A confirmed commit still
        pending stays recorded, so the next start reverts it (RFC 6241 §8.4.1); its timer
        must not fire against a closed database meanwhile."""
        with self._lock:
            self._closed = True
            if self._pending is not None and self._pending.timer is not None:
                self._pending.timer.cancel()
            if self._snapshots is not None:
                self._snapshots.close()
            if self.persistence is not None:
                self.persistence.close()

    @property
    def revert_due(self) -> bool:
        """A restart found a confirmed commit pending and `revert_left_pending()` has not
        reverted it yet (only with `defer_restart_revert`)."""
        return self._left_pending is not None

    def revert_left_pending(self) -> bool:
        """RFC 6241 §8.4.1: revert the confirmed commit a restart found pending, through
        the whole commit pipeline with whatever expander and participants are attached
        now. True when it did; on an error nothing changed and it is still due."""
        with self._lock:
            rollback = self._left_pending
            if rollback is None:
                return False
            self._reset(Datastore.RUNNING, rollback, SYSTEM_SESSION, {_CONFIRM_META: None})
            self._left_pending = None
            self._resync_candidate()
            log.warning("reverted the confirmed commit a restart left pending")
            self._confirm_event("timeout", SYSTEM_SESSION)
            return True

    @property
    def confirm_pending(self) -> bool:
        with self._lock:  # a revert in progress has cleared it, but not yet published
            return self._pending is not None

    @property
    def confirm_owner(self) -> int | None:
        """Session whose confirmed commit is pending (None: none, or persisted)."""
        pending = self._pending
        return None if pending is None or pending.persist is not None else pending.session_id

    # ------------------------------------------------------------------------------------
    # operational state (written by the controller's sync loops)

    def merge_state(self, content: str, fmt: str = "json") -> None:
        """Merge learned state (config false nodes, with their keys) into operational."""
        with self._lock:
            self._update_state(None, content, fmt)

    def replace_state(self, path: str, content: str, fmt: str = "json") -> None:
        """Replace the learned subtree at `path` with `content` in one step: readers never
        see it half replaced, and what `content` no longer holds is gone (a merge alone
        would keep it)."""
        with self._lock:
            self._update_state(path, content, fmt)

    def delete_state(self, path: str) -> bool:
        with self._lock:
            if self.state.find(path) == NULL:
                return False
            self._update_state(path, None, "json")
            return True

    def _update_state(self, delete: str | None, content: str | None, fmt: str) -> None:
        parsed = (Forest.parse(self.schema, content, fmt, config_only=False, validate=False)
                  if content is not None else None)
        node = self.state.find(delete) if delete is not None else NULL
        if node != NULL:
            undo = UndoLog(self.state)
            undo.remove(node)
            undo.release()
        self.published.update_state(delete=delete, merge=parsed)
        if parsed is not None:
            merge_into(self.state, parsed)
        self._bump(Datastore.OPERATIONAL)

    # ------------------------------------------------------------------------------------
    # internals

    def _bump(self, ds: Datastore) -> None:
        self.versions[ds] += 1
        self.modified[ds] = time.time()
        if ds is Datastore.OPERATIONAL:
            for watcher in self.operational_watchers:
                watcher()

    def _finish(self, ds: Datastore, txn: Transaction, ops: list[JournalOp], session_id: int,
                meta: Mapping[str, str | None] | None = None) -> None:
        """Phases 2–7 of one sealed change to `ds` (the operation did phase 1)."""
        txn.changed_by = self.sessions.changed_by(session_id)
        txn.note = self.sessions.note()
        expanded = self.pipeline.run(ds, txn, ops, meta)
        self._publish(ds, txn, ops, session_id, expanded)

    def _publish(self, ds: Datastore, txn: Transaction, ops: list[JournalOp],
                 session_id: int, expanded: Expanded | None) -> None:
        """Phase 7: the change is durable; make it visible."""
        txn.release()
        for changed, changed_ops in txn.ops.items():
            self.published.apply(changed, changed_ops, self.forest(changed),
                                 self._journal_seq(changed))
            if changed_ops or changed is ds:
                self._bump(changed)
        if ds is Datastore.RUNNING:
            self._bump(Datastore.OPERATIONAL)
            self._follow_running(ops)
        elif ds is Datastore.CANDIDATE:
            if not self.candidate_dirty:
                self._candidate_base = self.versions[Datastore.RUNNING]
            self.candidate_dirty = True
            self._candidate_ops.extend(ops)
        self._maybe_snapshot()
        if expanded is not None:
            self.expander.adopt(expanded)
        for listener in self.listeners:
            for changed, changed_ops in txn.ops.items():
                if changed_ops:
                    listener(changed, changed_ops, session_id)

    def _follow_running(self, ops: Sequence[JournalOp]) -> None:
        """An unmodified candidate tracks running (RFC 6241 §8.3)."""
        if self.candidate_dirty or not ops:
            return
        undo = UndoLog(self.forest(Datastore.CANDIDATE))
        try:
            replay(self.forest(Datastore.CANDIDATE), ops, undo, Changes())
        except NetconfError:
            undo.rollback()
            self._resync_candidate()
            return
        undo.release()
        self.published.apply(Datastore.CANDIDATE, ops, self.forest(Datastore.CANDIDATE))
        self._candidate_base = self.versions[Datastore.RUNNING]

    def _resync_candidate(self) -> None:
        old = self._forests[Datastore.CANDIDATE]
        self._forests[Datastore.CANDIDATE] = self.forest(Datastore.RUNNING).dup()
        old.free()
        self.published.replace(Datastore.CANDIDATE, self._forests[Datastore.CANDIDATE])
        self.candidate_dirty = False
        self._candidate_ops = []
        self._candidate_base = self.versions[Datastore.RUNNING]
        self._bump(Datastore.CANDIDATE)

    def _reset(self, target: Datastore, payload: str, session_id: int,
               meta: Mapping[str, str | None] | None = None) -> list[JournalOp]:
        txn = Transaction(self.forest)
        try:
            replay(self.forest(target), [("reset", None, payload)], txn.undo(target),
                   txn.record(target))
            if target is not Datastore.CANDIDATE:
                errors = validate_forest(self.forest(target), txn.changes[target].top_modules)
                if errors:
                    raise NetconfError(errors)
            ops = txn.seal(target)
            if target is Datastore.CANDIDATE:
                self.candidate_dirty = False  # a reset replaces the candidate's history
                self._candidate_ops = []
            self._finish(target, txn, ops, session_id, meta)
            return ops
        except BaseException:
            txn.rollback()
            raise

    def _commit_candidate(self, session_id: int, meta: Mapping[str, str | None]
                          ) -> list[JournalOp]:
        if not self.candidate_dirty:
            if meta and self.persistence is not None:
                self.persistence.append({}, meta)
            return []
        if self._candidate_base == self.versions[Datastore.RUNNING]:
            txn = Transaction(self.forest)
            try:
                running = self.forest(Datastore.RUNNING)
                replay(running, self._candidate_ops, txn.undo(Datastore.RUNNING),
                       txn.record(Datastore.RUNNING))
                errors = validate_changes(running, txn.changes[Datastore.RUNNING])
                if errors:
                    raise NetconfError(errors)
                ops = txn.seal(Datastore.RUNNING)
                self._finish(Datastore.RUNNING, txn, ops, session_id, meta)
            except BaseException:
                txn.rollback()
                raise
        else:
            # running moved under a modified candidate: candidate wins whole (RFC 6241 §8.3.4.1).
            ops = self._reset(Datastore.RUNNING, self.forest(Datastore.CANDIDATE).print("json"),
                              session_id, meta)
        self.candidate_dirty = False
        self._candidate_ops = []
        self._candidate_base = self.versions[Datastore.RUNNING]
        return ops

    def _check_follow_up(self, pending: _PendingConfirm, session_id: int,
                         persist_id: str | None) -> None:
        if pending.persist is not None:
            if persist_id != pending.persist:
                raise NetconfError.of(ErrorTag.INVALID_VALUE,
                                      "persist-id does not match the pending confirmed commit",
                                      type=ErrorType.PROTOCOL,
                                      info=[("bad-element", "persist-id")])
        elif session_id != pending.session_id and session_id != SYSTEM_SESSION:
            raise NetconfError.of(ErrorTag.IN_USE,
                                  f"a confirmed commit of session {pending.session_id} is "
                                  "pending", type=ErrorType.PROTOCOL,
                                  info=[("session-id", str(pending.session_id))])

    def _arm_confirm(self, session_id: int, persist: str | None, timeout: float,
                     rollback_content: str | None) -> None:
        self._disarm_confirm()
        assert rollback_content is not None
        pending = _PendingConfirm(session_id=session_id, persist=persist,
                                  rollback_content=rollback_content,
                                  deadline=time.monotonic() + timeout)
        timer = threading.Timer(timeout, self._on_confirm_timeout, args=(pending,))
        timer.daemon = True
        pending.timer = timer
        self._pending = pending
        timer.start()
        log.info("confirmed commit pending", session=session_id, timeout_s=timeout,
                 persist=persist is not None)

    def _disarm_confirm(self) -> None:
        if self._pending is not None and self._pending.timer is not None:
            self._pending.timer.cancel()
        self._pending = None

    def _on_confirm_timeout(self, pending: _PendingConfirm) -> None:
        with self._lock:
            if self._pending is not pending or self._closed:
                return
            try:
                self._revert_confirmed("confirm-timeout expired")
            except Exception as exc:  # a timer thread has no caller to tell: say it
                log.error("reverting an expired confirmed commit failed",
                          session=pending.session_id, error=str(exc),
                          retry_s=CONFIRM_RETRY_S if isinstance(exc, NetconfError) else None)
                if not isinstance(exc, NetconfError):   # not a refusal: nothing to retry
                    return
                timer = threading.Timer(CONFIRM_RETRY_S, self._on_confirm_timeout,
                                        args=(pending,))
                timer.daemon = True
                pending.timer = timer
                timer.start()
                return
            self._confirm_event("timeout", pending.session_id)

    def _revert_confirmed(self, reason: str, *, by: int = SYSTEM_SESSION) -> None:
        """Running back to before the confirmed commit, attributed to `by`: the session
        that cancelled it, or the server (timeout, session end) saying why."""
        pending = self._pending
        assert pending is not None
        self._disarm_confirm()
        try:
            with self.sessions.server_change(f"confirmed commit reverted: {reason}"):
                self._reset(Datastore.RUNNING, pending.rollback_content, by,
                            {_CONFIRM_META: None})
        except BaseException:
            self._pending = pending     # not reverted: still pending
            raise
        self._resync_candidate()
        log.warning("confirmed commit reverted", reason=reason, session=pending.session_id)

    def _confirm_event(self, event: str, session_id: int,
                       timeout_s: float | None = None) -> None:
        note = ConfirmEvent(event, session_id, timeout_s)
        for listener in self.confirm_listeners:
            try:
                listener(note)
            except Exception:  # a listener's failure must not undo a decided step
                log.exception("confirm listener failed", confirm_event=event)

    def _journal_seq(self, ds: Datastore) -> int | None:
        if self.persistence is None or ds not in PERSISTENT:
            return None
        return self.persistence.journal_seq(ds.value)

    def _maybe_snapshot(self) -> None:
        """Wake the snapshot writer when a snapshot is due (snapshots.py: never on the
        commit path)."""
        if self._snapshots is not None and self._snapshots.due():
            self._snapshots.request()

    def _load(self, boot_from_startup: bool, defer_restart_revert: bool) -> None:
        assert self.persistence is not None
        for ds in PERSISTENT:
            stored = self.persistence.load(ds.value)
            forest = (Forest.parse(self.schema, stored.snapshot, validate=False)
                      if stored.snapshot else Forest(self.schema))
            for ops in stored.journal:
                undo = UndoLog(forest)
                replay(forest, ops, undo, Changes())
                undo.release()
            self._forests[ds].free()
            self._forests[ds] = forest
            errors = validate_forest(forest, forest.top_modules() | set(self.schema.trees))
            if errors:
                raise NetconfError([RpcError(tag=e.tag, path=e.path,
                                             message=f"stored {ds} is invalid: {e.message}")
                                    for e in errors])
            self.published.replace(ds, forest, stored.seq)   # with validation's defaults
        rollback = self.persistence.get_meta(_CONFIRM_META)
        if rollback is not None and defer_restart_revert:
            log.warning("a confirmed commit was left pending by a restart: revert due")
            self._left_pending = rollback
        elif rollback is not None:
            # RFC 6241 §8.4.1: a restart before confirmation restores the previous config.
            log.warning("reverting a confirmed commit left pending by a restart")
            with self.sessions.server_change("confirmed commit reverted: restart"):
                self._reset(Datastore.RUNNING, rollback, SYSTEM_SESSION,
                            {_CONFIRM_META: None})
        elif boot_from_startup and self.forest(Datastore.STARTUP).first != NULL:
            # RFC 6241 §8.7: a (cold) boot loads running from startup.
            self._reset(Datastore.RUNNING, self.forest(Datastore.STARTUP).print("json"),
                        SYSTEM_SESSION)
        if self.forest(Datastore.INTENDED).first == NULL \
                and self.forest(Datastore.RUNNING).first != NULL:
            # intended lost or never stored: expand it again from running.
            self._reset(Datastore.RUNNING, self.forest(Datastore.RUNNING).print("json"),
                        SYSTEM_SESSION)
        self._resync_candidate()
