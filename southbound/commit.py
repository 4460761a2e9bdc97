"""Network-wide, all-or-nothing configuration commits.

Every device is changed in three phases, each run on all devices in parallel:

  prepare  lock candidate → remember running → stage config (a replace overwrites the
           whole candidate; a merge discards what was staged first) → validate
  commit   <commit><confirmed/><persist>TXID</persist> (RFC 6241 §8.4): active, but it
           reverts by itself after `confirm_timeout_s` unless confirmed — on any session
  confirm  <commit><persist-id>TXID</persist-id>: final

A failure in prepare discards everything staged. A failure in commit cancels the
confirmed commits already made (<cancel-commit> with the persist-id). If the controller
dies between commit and confirm, the devices revert by themselves when the timeout
expires (or start-up recovery settles them at once, southbound/inflight.py).

A failure in confirm never leaves the network split. The device gets a second chance
on a fresh session: confirm again, or — when its pending commit is gone (it reverted,
or restarted) — push its configuration again. If that fails too, every device is put
back: the ones that confirmed get their remembered configuration, the failed one has its
pending commit cancelled (a confirm it still runs later then finds nothing to confirm)
or, if it confirmed after all, gets its old configuration too. The commit then fails,
naming the device. Putting back is the only way to one state: the device that does not
answer cannot be made to take the new configuration, and every other can take the old.

A device whose rpc times out is never left locked: the adapter drops that session
(adapters/netconf: the device releases its locks with the session, RFC 6241 §7.5) and
the pool reconnects it for the next use.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import structlog

from southbound.adapter import AdapterError, DeviceAdapter
from southbound.diff import ConfigDiffer
from southbound.history import CommitHistory
from southbound.inflight import InflightRecord
from southbound.model import CommitResult, DeviceChange, DeviceOutcome, SyncState
from southbound.pool import SessionPool

log = structlog.get_logger(__name__)

Step = Callable[[DeviceAdapter, DeviceChange], None]


class NetworkCommit:
    def __init__(self, pool: SessionPool, *, history: CommitHistory | None = None,
                 differ: ConfigDiffer | None = None, confirm_timeout_s: float = 120.0,
                 workers: int = 32, inflight: InflightRecord | None = None) -> None:
        self.pool = pool
        self.inflight = inflight
        #: fault injection for crash tests: seconds to wait between the durable write and
        #: the confirm phase
        self.pause_before_confirm_s = 0.0
        self.history = history
        self.differ = differ or ConfigDiffer()
        self.confirm_timeout_s = confirm_timeout_s
        self.workers = workers

    # -- public --------------------------------------------------------------------------
    def apply(self, changes: Sequence[DeviceChange], *, label: str | None = None,
              dry_run: bool = False, user: str | None = None,
              running_commit: str | None = None) -> CommitResult:
        """Push every change or none. `dry_run` returns per-device diffs, changes nothing.

        Prepare and confirm at once: a device that fails to confirm has every device put
        back to its configuration before the commit (compensation).
        """
        staged = self.prepare(changes, label=label, dry_run=dry_run, user=user,
                              running_commit=running_commit)
        return staged.confirm() if staged.ready else staged.result

    def prepare(self, changes: Sequence[DeviceChange], *, label: str | None = None,
                dry_run: bool = False, user: str | None = None,
                running_commit: str | None = None) -> StagedCommit:
        """Phases prepare and commit on every device: when the returned commit is
        `ready`, every device runs its new configuration under a pending confirmed
        commit (it reverts by itself unless confirmed). Otherwise nothing changed and
        `result` says why. The caller must `confirm` or `cancel` a ready commit."""
        staged = StagedCommit(self, changes, label=label, dry_run=dry_run, user=user,
                              running_commit=running_commit)
        staged.run_prepare()
        return staged

    def rollback(self, commit_id: str, *, label: str | None = None,
                 user: str | None = None) -> CommitResult:
        """Put every device the commit touched back to its configuration before it."""
        if self.history is None:
            raise ValueError("no commit history configured")
        record = self.history.get(commit_id)
        if record is None:
            raise KeyError(f"unknown commit {commit_id!r}")
        changes = [DeviceChange(node_id=n, config_xml=xml, replace=True)
                   for n, xml in sorted(record.before.items())]
        return self.apply(changes, label=label or f"rollback of {commit_id}", user=user)

    # -- phases ----------------------------------------------------------------------------
    def _prepare(self, adapter: DeviceAdapter, change: DeviceChange, before: dict[str, str],
                 locked: set[str]) -> None:
        before[change.node_id] = adapter.prepare_change(
            change.config_xml, replace=change.replace,
            locked=lambda: locked.add(change.node_id))

    def _commit(self, adapter: DeviceAdapter, change: DeviceChange, commit_id: str,
                committed: set[str]) -> None:
        adapter.commit(confirm_timeout=self.confirm_timeout_s, persist=commit_id)
        committed.add(change.node_id)

    @staticmethod
    def _confirm(adapter: DeviceAdapter, commit_id: str, confirmed: set[str]) -> None:
        adapter.confirm(persist_id=commit_id)
        confirmed.add(adapter.endpoint.node_id)

    def _dry_run(self, result: CommitResult, adapters: dict[str, DeviceAdapter],
                 by_node: dict[str, DeviceChange], before: dict[str, str],
                 locked: set[str]) -> None:
        def one(adapter: DeviceAdapter, change: DeviceChange) -> None:
            staged = adapter.get_config("candidate")
            outcome = result.devices[change.node_id]
            outcome.status = "dry-run"
            modules = adapter.endpoint.modules
            if modules:
                outcome.diff = self.differ.diff(before[change.node_id], staged, modules)
                outcome.diff_xml = self.differ.readable(outcome.diff)
            adapter.discard()

        errors = self._run(sorted(by_node), adapters, by_node, one)
        self._unlock(adapters, locked)
        for node, exc in errors.items():
            result.devices[node].error = str(exc)

    def _end_inflight(self) -> None:
        if self.inflight is not None:
            self.inflight.end()

    # -- recovery ----------------------------------------------------------------------------
    def _undo_prepare(self, adapters: dict[str, DeviceAdapter], nodes: Iterable[str]) -> None:
        def one(node: str) -> None:
            adapter = adapters[node]
            self._best_effort(node, "discard", adapter.discard)
            self._best_effort(node, "unlock", adapter.unlock)

        self._parallel(sorted(nodes), one)

    def _cancel(self, adapters: dict[str, DeviceAdapter], nodes: Iterable[str],
                commit_id: str) -> None:
        self._parallel(sorted(nodes), lambda n: self._best_effort(
            n, "cancel-commit", lambda: adapters[n].cancel_commit(persist_id=commit_id)))

    def _unlock(self, adapters: dict[str, DeviceAdapter], nodes: Iterable[str]) -> None:
        self._parallel(sorted(nodes),
                       lambda n: self._best_effort(n, "unlock", adapters[n].unlock))

    def _compensate(self, result: CommitResult, adapters: dict[str, DeviceAdapter],
                    confirmed: set[str], before: dict[str, str]) -> None:
        """Devices that confirmed before another failed: push their old config back."""
        failed: list[str] = []

        def one(node: str) -> None:
            try:
                adapters[node].replace_running(before[node])
            except AdapterError as exc:
                failed.append(node)
                result.devices[node].error = f"not put back: {exc}"
                self.pool.set_sync(node, SyncState.OUT_OF_SYNC)

        self._parallel(sorted(confirmed), one)
        self._mark(result, set(result.devices) - set(failed), "rolled-back")
        for node in failed:
            result.devices[node].status = "failed"

    # -- plumbing ----------------------------------------------------------------------------
    def _preconnect(self, nodes: Sequence[str]) -> dict[str, AdapterError]:
        """Connect every device not connected yet, in parallel; the ones that fail."""
        errors: dict[str, AdapterError] = {}

        def one(node: str) -> None:
            try:
                with self.pool.session(node):
                    pass
            except AdapterError as exc:
                errors[node] = exc

        pending = [n for n in nodes if self.pool.state(n)[0].value != "connected"]
        self._parallel(pending, one)
        return errors

    def _run(self, nodes: Sequence[str], adapters: dict[str, DeviceAdapter],
             by_node: dict[str, DeviceChange], step: Step) -> dict[str, AdapterError]:
        errors: dict[str, AdapterError] = {}

        def one(node: str) -> None:
            try:
                step(adapters[node], by_node[node])
            except AdapterError as exc:
                errors[node] = exc
            except Exception as exc:  # a plugin bug must not leave devices half-done
                errors[node] = AdapterError(f"{type(exc).__name__}: {exc}", node_id=node)

        self._parallel(nodes, one)
        return errors

    def _parallel(self, nodes: Sequence[str], fn: Callable[[str], None]) -> None:
        if len(nodes) == 1:
            fn(nodes[0])
            return
        with ThreadPoolExecutor(max_workers=min(self.workers, max(1, len(nodes)))) as pool:
            list(pool.map(fn, nodes))

    @staticmethod
    def _best_effort(node: str, what: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:
            log.warning("recovery step failed", device=node, step=what, error=str(exc))

    def _modules(self, nodes: Iterable[str]) -> dict[str, list[str]]:
        """The YANG modules of each device, kept with its before and after so that the
        history can diff them by schema later, whatever the inventory then holds."""
        out: dict[str, list[str]] = {}
        for node in nodes:
            try:
                out[node] = list(self.pool.endpoint(node).modules)
            except AdapterError:     # left the inventory meanwhile
                out[node] = []
        return out

    @staticmethod
    def _fail(result: CommitResult, phase: str, errors: dict[str, AdapterError]) -> None:
        result.phase_failed = phase
        for node, exc in errors.items():
            outcome = result.devices.get(node)
            if outcome is not None:
                outcome.status = "failed"
                outcome.error = str(exc)

    @staticmethod
    def _mark(result: CommitResult, nodes: set[str], status: str) -> None:
        for node in nodes:
            if result.devices[node].status != "failed":
                result.devices[node].status = status

    def _finish(self, result: CommitResult, start: float, before: dict[str, str],
                after: dict[str, str]) -> CommitResult:
        result.duration_s = time.perf_counter() - start
        if self.history is not None and not result.dry_run and result.success:
            self.history.record(result.commit_id, result.label, True, before, after,
                                user=result.user, running_commit=result.running_commit,
                                modules=self._modules(after))
        log.info("network commit", commit=result.commit_id, success=result.success,
                 devices=len(result.devices), phase_failed=result.phase_failed,
                 seconds=round(result.duration_s, 3))
        return result


class StagedCommit:
    """One network commit between its prepare and its confirm (or cancel).

    Holds the device sessions (in node order, so concurrent commits cannot deadlock) and
    what each phase did, so a failure undoes exactly that: a failed prepare discards
    what was staged; a failed commit cancels the confirmed commits already made; a
    cancel after a successful prepare (the controller's durable write failed) cancels
    every pending confirmed commit; a failed confirm puts every device back.

    A session dropped on the way (an rpc timed out) is `lost`: it no longer holds the
    device's candidate lock (the device released it with the session), so what follows
    on that device runs on a fresh session and takes the lock itself when it needs it.
    """

    def __init__(self, committer: NetworkCommit, changes: Sequence[DeviceChange], *,
                 label: str | None, dry_run: bool, user: str | None = None,
                 running_commit: str | None = None) -> None:
        self.committer = committer
        self.commit_id = f"c-{uuid.uuid4().hex[:12]}"
        self.start = time.perf_counter()
        self.result = CommitResult(commit_id=self.commit_id, label=label, user=user,
                                   running_commit=running_commit, success=False,
                                   dry_run=dry_run)
        self.nodes = sorted({c.node_id for c in changes})
        if len(self.nodes) != len(changes):
            raise ValueError("one change per device")
        self.by_node = {c.node_id: c for c in changes}
        self.result.devices = {n: DeviceOutcome(node_id=n, status="untouched")
                               for n in self.nodes}
        self.adapters: dict[str, DeviceAdapter] = {}
        self.before: dict[str, str] = {}
        self.locked: set[str] = set()
        self.committed: set[str] = set()
        self.lost: set[str] = set()
        self.ready = False
        self._sessions = ExitStack()

    # -- phase 1 and 2 ---------------------------------------------------------------------
    def run_prepare(self) -> None:
        c, result = self.committer, self.result
        if not self.nodes:
            result.success = True
            return
        unreachable = c._preconnect(self.nodes)
        if unreachable:
            c._fail(result, "prepare", unreachable)
            self._end({})
            return
        try:
            for node in self.nodes:
                self.adapters[node] = self._sessions.enter_context(c.pool.session(node))
        except AdapterError as exc:
            c._fail(result, "prepare", {exc.node_id or self.nodes[0]: exc})
            self._end({})
            return
        errors = self._timed("prepare", lambda a, ch: c._prepare(a, ch, self.before,
                                                                  self.locked))
        if errors:
            c._fail(result, "prepare", errors)
            c._undo_prepare(self.adapters, self._holding())
            self._end({})
            return
        if result.dry_run:
            c._dry_run(result, self.adapters, self.by_node, self.before, self.locked)
            result.success = True
            self._end({})
            return
        if c.inflight is not None:
            c.inflight.begin(self.commit_id, self.nodes)
        errors = self._timed("commit", lambda a, ch: c._commit(a, ch, self.commit_id,
                                                                self.committed))
        if errors:
            c._fail(result, "commit", errors)
            c._cancel(self.adapters, self.committed, self.commit_id)
            holding = self._holding()
            self._cancel_unanswered(set(errors) - self.committed - holding)
            c._undo_prepare(self.adapters, holding - self.committed)
            c._unlock(self.adapters, holding & self.committed)
            c._mark(result, self.committed | (self.locked - self.committed), "rolled-back")
            c._end_inflight()
            self._end({})
            return
        self.ready = True

    # -- phase 3 ---------------------------------------------------------------------------
    def confirm(self) -> CommitResult:
        """Make every device's change final, or put every device back (module docstring):
        `result.success` says which. Never a split network, whatever a device does."""
        self._take()
        c, result = self.committer, self.result
        if c.pause_before_confirm_s:   # the window a crash test kills us in
            time.sleep(c.pause_before_confirm_s)
        confirmed: set[str] = set()
        started = time.perf_counter()
        errors = self._run(lambda a, _ch: c._confirm(a, self.commit_id, confirmed))
        for node in sorted(errors):
            if self._second_chance(node):
                confirmed.add(node)
                del errors[node]
        if errors:
            c._fail(result, "confirm", errors)
            log.warning("confirm failed: putting every device back", devices=sorted(errors))
            c._compensate(result, self.adapters, confirmed - self.lost, self.before)
            c._parallel(sorted(set(errors) | (confirmed & self.lost)), self._put_back)
            c._unlock(self.adapters, self._holding())
            c._end_inflight()
            return self._end({})
        c._unlock(self.adapters, self._holding())
        result.phase_s["confirm"] = time.perf_counter() - started
        c._end_inflight()
        c._mark(result, set(self.nodes), "committed")
        for node in self.nodes:  # devices now run exactly what we pushed
            c.pool.set_sync(node, SyncState.IN_SYNC)
        result.success = True
        return self._end({n: self.by_node[n].config_xml for n in self.nodes})

    def cancel(self) -> CommitResult:
        """Revert a ready commit on every device (RFC 6241 §8.4.4.1 cancel-commit)."""
        self._take()
        c = self.committer
        c._cancel(self.adapters, self.committed, self.commit_id)
        c._unlock(self.adapters, self._holding())
        c._end_inflight()
        c._mark(self.result, self.committed, "rolled-back")
        self.result.phase_failed = "cancelled"
        return self._end({})

    # -- a device that did not answer --------------------------------------------------------
    def _second_chance(self, node: str) -> bool:
        """A device failed to confirm: confirm again (on a fresh session if the first was
        dropped); if its pending commit is gone (it reverted, or restarted), push its
        configuration again."""
        try:
            adapter = self._fresh(node)
            try:
                adapter.confirm(persist_id=self.commit_id)
            except AdapterError as exc:
                if not adapter.connected:
                    raise
                log.info("confirm: pending commit gone, pushing again", device=node,
                         error=str(exc))
                self._replace(node, self.by_node[node].config_xml)
        except AdapterError as exc:
            log.warning("confirm failed twice", device=node, error=str(exc))
            return False
        log.info("confirmed on the second attempt", device=node)
        return True

    def _put_back(self, node: str) -> None:
        """After a failed confirm: cancel the device's pending commit; if there is none
        (it confirmed late after all, or was pushed again), give it its old configuration.
        A confirm it still runs later then finds nothing to confirm."""
        c, outcome = self.committer, self.result.devices[node]
        try:
            adapter = self._fresh(node)
            try:
                adapter.cancel_commit(persist_id=self.commit_id)
            except AdapterError as exc:
                if not adapter.connected:
                    raise
                log.info("put back: no pending commit, pushing the old configuration",
                         device=node, error=str(exc))
                self._replace(node, self.before[node])
            if outcome.status != "failed":
                outcome.status = "rolled-back"
        except AdapterError as exc:
            outcome.status = "failed"
            outcome.error = f"{outcome.error or 'confirmed'}; not put back: {exc}"
            c.pool.set_sync(node, SyncState.OUT_OF_SYNC)
            log.error("device left out of sync after a failed confirm", device=node,
                      error=str(exc))

    def _cancel_unanswered(self, nodes: set[str]) -> None:
        """Devices whose confirmed commit got no answer (their session was dropped) may
        have applied it: cancel it by persist-id on a fresh session. A device that applies
        it even later reverts by itself at the confirm timeout; until then check-sync
        sees it (its sync state is unknown)."""
        def one(node: str) -> None:
            self.committer.pool.set_sync(node, SyncState.UNKNOWN)
            try:
                self._fresh(node).cancel_commit(persist_id=self.commit_id)
            except AdapterError as exc:
                log.info("no pending commit to cancel", device=node, error=str(exc))

        self.committer._parallel(sorted(nodes), one)

    def _fresh(self, node: str) -> DeviceAdapter:
        """The device's adapter, connected again if its session was dropped."""
        if not self.adapters[node].connected:
            self.lost.add(node)
        return self.committer.pool.revive(node)

    def _replace(self, node: str, config_xml: str) -> None:
        """Make the device run `config_xml` now. A fresh session takes the candidate lock
        for it (the prepare session's lock went with that session)."""
        adapter = self.adapters[node]
        if node not in self.lost:
            adapter.replace_running(config_xml)   # under the lock taken in prepare
            return
        adapter.lock()
        try:
            adapter.discard()
            adapter.replace_running(config_xml)
        finally:
            if adapter.connected:
                adapter.unlock()

    def _holding(self) -> set[str]:
        """Devices whose candidate lock this commit still holds: locked in prepare, on a
        session that was not dropped since."""
        self.lost |= {n for n in self.locked if not self.adapters[n].connected}
        return self.locked - self.lost

    # -- plumbing ----------------------------------------------------------------------------
    def _take(self) -> None:
        if not self.ready:
            raise RuntimeError(f"commit {self.commit_id} is not waiting for confirm")
        self.ready = False

    def _run(self, step: Step) -> dict[str, AdapterError]:
        return self.committer._run(self.nodes, self.adapters, self.by_node, step)

    def _timed(self, phase: str, step: Step) -> dict[str, AdapterError]:
        started = time.perf_counter()
        try:
            return self._run(step)
        finally:
            self.result.phase_s[phase] = time.perf_counter() - started

    def _end(self, after: dict[str, str]) -> CommitResult:
        self._sessions.close()
        return self.committer._finish(self.result, self.start, self.before, after)
