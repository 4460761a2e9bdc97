"""Keeping devices and the controller in agreement (out-of-band change handling).

`check_sync` compares a device's running config with what the controller intends for it
(libyang diff with the device's schema). An out-of-band change is then handled by the
device's policy: `revert` pushes the intended config back (sync-to), `import` hands the
device's config to the controller (sync-from), which adopts it as intended. Either way
the listener is told, so the controller can raise an alarm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import structlog

from controller.periodic import PeriodicTask
from southbound.adapter import AdapterError
from southbound.commit import NetworkCommit
from southbound.diff import ConfigDiffer
from southbound.model import CommitResult, DeviceChange, SyncState
from southbound.pool import SessionPool

log = structlog.get_logger(__name__)


class SyncPolicy(StrEnum):
    REVERT = "revert"
    IMPORT = "import"


@dataclass
class SyncReport:
    node_id: str
    state: SyncState
    diff: list[dict[str, Any]] = field(default_factory=list)
    readable: str = ""
    device_config: str | None = None
    error: str | None = None


IntendedProvider = Callable[[str], str | None]   # node → intended config XML (None: unmanaged)
PolicyProvider = Callable[[str], SyncPolicy]
Importer = Callable[[str, str], None]            # node, device config XML
OutOfSyncListener = Callable[[SyncReport, SyncPolicy, CommitResult | None], None]


class SyncManager:
    def __init__(self, pool: SessionPool, committer: NetworkCommit, *,
                 intended: IntendedProvider, policy: PolicyProvider, importer: Importer,
                 differ: ConfigDiffer | None = None) -> None:
        self.pool = pool
        self.committer = committer
        self.intended = intended
        self.policy = policy
        self.importer = importer
        self.differ = differ or committer.differ
        self.listeners: list[OutOfSyncListener] = []
        self._loop = PeriodicTask("southbound-sync", self.run_once, None)

    def compare_config(self, node_id: str) -> SyncReport:
        """Diff from the device's running config to the controller's intended config."""
        want = self.intended(node_id)
        if want is None:
            return SyncReport(node_id=node_id, state=SyncState.UNKNOWN, error="unmanaged")
        endpoint = self.pool.endpoint(node_id)
        try:
            with self.pool.session(node_id) as adapter:
                have = adapter.get_config("running")
        except AdapterError as exc:
            return SyncReport(node_id=node_id, state=SyncState.UNKNOWN, error=str(exc))
        diff = self.differ.diff(have, want, endpoint.modules)
        state = SyncState.IN_SYNC if not diff else SyncState.OUT_OF_SYNC
        return SyncReport(node_id=node_id, state=state, diff=diff,
                          readable=self.differ.readable(diff), device_config=have)

    def check_sync(self, node_id: str) -> SyncReport:
        report = self.compare_config(node_id)
        if report.state is not SyncState.UNKNOWN:
            self.pool.set_sync(node_id, report.state)
        return report

    def sync_to(self, node_id: str) -> CommitResult:
        """Revert the device to the controller's intended config."""
        want = self.intended(node_id)
        if want is None:
            raise ValueError(f"{node_id} has no intended configuration")
        result = self.committer.apply([DeviceChange(node_id=node_id, config_xml=want)],
                                      label=f"sync-to {node_id}")
        if result.success:
            self.pool.set_sync(node_id, SyncState.IN_SYNC)
        return result

    def sync_from(self, node_id: str) -> str:
        """Adopt the device's running config as the controller's intent for it."""
        with self.pool.session(node_id) as adapter:
            have = adapter.get_config("running")
        self.importer(node_id, have)
        self.pool.set_sync(node_id, SyncState.IN_SYNC)
        return have

    def reconcile(self, node_id: str) -> SyncReport:
        """check-sync, then apply the device's policy when it is out of sync."""
        report = self.check_sync(node_id)
        if report.state is not SyncState.OUT_OF_SYNC:
            return report
        policy = self.policy(node_id)
        result: CommitResult | None = None
        if policy is SyncPolicy.REVERT:
            result = self.sync_to(node_id)
        else:
            self.importer(node_id, report.device_config or "")
            self.pool.set_sync(node_id, SyncState.IN_SYNC)
        log.warning("out-of-band change", device=node_id, policy=policy.value,
                    changes=len(report.diff))
        for listener in self.listeners:
            listener(report, policy, result)
        return report

    def run_once(self) -> list[SyncReport]:
        return [self.reconcile(node) for node in self.pool.node_ids]

    def start(self, interval_s: float) -> None:
        """Reconcile every device every `interval_s` seconds in the background (first
        round one interval after start)."""
        self._loop.interval_s = interval_s
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop(timeout=5)
