"""The service layer of the daemon: one object that ties intent to devices.

Installs the Q-NUM expander into the store, pushes the devices whose configuration the
expansion changed (all-or-nothing, inside the datastore transaction), and publishes the
committed plan and the device sessions' state into <operational>.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import structlog

from controller.datastore.apply import JournalOp
from controller.datastore.nmda import Datastore, NmdaStore, Transaction
from controller.service.expansion import QnumExpander
from controller.service.publish import publish_plan
from controller.service.telemetry import TelemetryLoop
from southbound.adapter import DeviceAdapter
from southbound.commit import NetworkCommit
from southbound.history import CommitHistory
from southbound.hook import DevicePushHook
from southbound.model import DeviceChange
from southbound.pool import SessionPool
from southbound.state import publish_device_states

log = structlog.get_logger(__name__)


class ServiceManager:
    def __init__(self, store: NmdaStore, *, username: str = "admin",
                 password: str | None = "admin", history_path: Path | None = None,
                 confirm_timeout_s: float = 120.0, device_timeout_s: float = 10.0,
                 time_limit_s: float | None = None,
                 adapters: dict[str, type[DeviceAdapter]] | None = None) -> None:
        self.store = store
        self.expander = QnumExpander(username=username, password=password,
                                     time_limit_s=time_limit_s)
        self.expander.load_committed(store)
        self.pool = SessionPool([], adapters=adapters, timeout=device_timeout_s)
        self.history = CommitHistory(history_path) if history_path is not None else None
        self.committer = NetworkCommit(self.pool, history=self.history,
                                       confirm_timeout_s=confirm_timeout_s)
        self.hook = DevicePushHook(self.committer, self._device_changes)
        with store.lock:
            store.expander = self.expander
            store.commit_hooks.append(self.hook)
            store.listeners.append(self._on_change)
        self.states = publish_device_states(self.pool, store)
        self.telemetry = TelemetryLoop(store, self.pool, lambda: self.expander.committed.plan)

    def close(self) -> None:
        self.telemetry.stop()
        self.pool.close()
        self.states.flush()
        self.states.close()
        if self.history is not None:
            self.history.close()

    def _device_changes(self, _store: NmdaStore, _txn: Transaction) -> Sequence[DeviceChange]:
        pending = self.expander.pending
        if pending is None:
            return []
        self.pool.update(pending.endpoints)
        managed = set(self.pool.node_ids)
        return [change for change in pending.changes if change.node_id in managed]

    def _on_change(self, ds: Datastore, _ops: Sequence[JournalOp], _session: int) -> None:
        if ds is not Datastore.INTENDED:
            return
        committed = self.expander.commit_pending()
        if committed is not None and committed.plan is not None:
            publish_plan(self.store, committed.plan)
