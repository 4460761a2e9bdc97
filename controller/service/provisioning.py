"""Pre-provisioned devices into service: reached in the background, configured, planned.

A device the last commit kept out as ``unreachable`` (controller/service/admin_state.py)
is tried again and again, with exponential backoff and full jitter, without holding up
any commit. Once its session opens, one re-expansion (a server change of running's
expansion, as the self-healer makes) brings every device reached in that round into
service: the expansion no longer excludes it and pushes it its whole intended
configuration, in the same transaction as whatever the plan now places on it, so later
plans may use it. The re-expansion moves no live service by itself: whatever keeps live
services in place in any expansion keeps them here too.

Alarms: an unlocked device the controller cannot reach is ``device-unreachable`` (major),
raised once an attempt failed and cleared when it is in service, locked, or no longer in
the topology. A locked device raises nothing and clears the one it had: the operator
asked the controller to leave it alone.

The devices waiting are written to a small file, so a restarted controller keeps them
out of its first expansion rather than planning services on a device it never reached.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from controller.datastore.nmda import NmdaStore
from controller.errors import NetconfError
from controller.periodic import PeriodicTask
from controller.service.alarms import AlarmKey, AlarmManager, Severity
from controller.service.expansion import Expansion, QnumExpander
from southbound.model import ConnectionState, Exclusion, SyncState
from southbound.pool import Backoff, SessionPool

log = structlog.get_logger(__name__)

UNREACHABLE_ALARM = "sdqn-alarms:device-unreachable"


class ProvisioningRecord:
    """The devices waiting to be reached, kept across restarts (one JSON file, replaced
    atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> set[str]:
        try:
            raw = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return set()         # none yet, or a torn write: the next commit rewrites it
        return {str(node) for node in raw.get("unreachable", [])}

    def write(self, nodes: set[str]) -> None:
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w") as fh:
            json.dump({"unreachable": sorted(nodes)}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


class ProvisioningWatch:
    def __init__(self, store: NmdaStore, expander: QnumExpander, pool: SessionPool, *,
                 alarms: AlarmManager | None = None,
                 node_resource: Callable[[str], str] = lambda node: node,
                 record: ProvisioningRecord | None = None, interval_s: float = 1.0,
                 retry_cap_s: float = 10.0) -> None:
        self.store = store
        self.expander = expander
        self.pool = pool
        self.alarms = alarms
        self.node_resource = node_resource
        self.record = record
        self.retry_cap_s = retry_cap_s
        #: devices brought into service, in order (tests, logs)
        self.joined: list[str] = []
        self._lock = threading.Lock()
        self._backoff: dict[str, Backoff] = {}
        self._retry_at: dict[str, float] = {}
        self._alarmed: set[str] = set()
        self._recorded: set[str] | None = None
        self._loop = PeriodicTask("provisioning", self.run_once, interval_s)
        pool.listeners.append(self._on_state)

    @property
    def waiting(self) -> list[str]:
        """Devices out of service until the controller reaches them."""
        return sorted(node for node, why in self.expander.committed.excluded.items()
                      if why is Exclusion.UNREACHABLE)

    # -- life cycle ----------------------------------------------------------------------
    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop(timeout=10)

    def trigger(self) -> None:
        self._loop.trigger()

    # -- inputs --------------------------------------------------------------------------
    def on_adopted(self, committed: Expansion) -> None:
        """A commit (or re-expansion) succeeded: alarms and the record follow its
        exclusions, and a device it left waiting is tried at once."""
        waiting = {n for n, why in committed.excluded.items() if why is Exclusion.UNREACHABLE}
        locked = {n for n, why in committed.excluded.items() if why is Exclusion.LOCKED}
        managed = {ep.node_id for ep in committed.endpoints}
        with self._lock:
            for node in list(self._backoff):
                if node not in waiting:
                    self._backoff.pop(node)
                    self._retry_at.pop(node, None)
        for node in sorted(locked):
            self._clear(node, f"{node} locked: the controller opens no session to it")
        with self._lock:
            alarmed = set(self._alarmed)
        for node in sorted(alarmed - waiting - locked):
            self._clear(node, f"{node} in service" if node in managed
                        else f"{node} no longer in the topology")
        for node in sorted(waiting):
            error = self.pool.state(node)[2] if node in self.pool.inventory_ids else None
            if error is not None:
                self._raise(node, error)
        if self.record is not None and waiting != self._recorded:
            try:
                self.record.write(waiting)
                self._recorded = set(waiting)
            except OSError as exc:
                log.error("devices waiting to be reached not recorded", error=str(exc))
        if waiting:
            self._loop.trigger()

    def _on_state(self, node: str, conn: ConnectionState, _sync: SyncState,
                  _error: str | None) -> None:
        """Someone opened the session of a waiting device (a probe that answered late):
        bring it in now rather than at its next retry."""
        if conn is ConnectionState.CONNECTED and \
                self.expander.committed.excluded.get(node) is Exclusion.UNREACHABLE:
            with self._lock:
                self._retry_at.pop(node, None)
            self._loop.trigger()

    # -- the round -------------------------------------------------------------------------
    def run_once(self) -> list[str]:
        """Try every waiting device whose retry is due; bring those that answer into
        service with one re-expansion. Returns them."""
        reached: list[str] = []
        for node in self.waiting:
            now = time.monotonic()
            with self._lock:
                if now < self._retry_at.get(node, 0.0):
                    continue
            error = self.pool.connect(node)
            if error is None:
                reached.append(node)
            else:
                self._retry(node)
                self._raise(node, error)
        if not reached:
            return []
        try:
            with self.store.sessions.server_change(
                    f"{', '.join(reached)} reached: intended configuration pushed, "
                    "in service"):
                self.store.reexpand()
        except NetconfError as exc:
            why = "; ".join(e.message or "" for e in exc.errors)
            log.warning("device reached but not brought into service", devices=reached,
                        error=why)
            for node in reached:
                self._retry(node)
                self._raise(node, f"it answers, but its configuration was refused: {why}")
            return []
        joined = [n for n in reached if n in self.expander.committed.in_service]
        self.joined.extend(joined)
        log.info("pre-provisioned devices in service", devices=joined)
        return joined

    # -- plumbing --------------------------------------------------------------------------
    def _retry(self, node: str) -> None:
        with self._lock:
            backoff = self._backoff.setdefault(node, Backoff(base_s=0.5,
                                                             cap_s=self.retry_cap_s))
            self._retry_at[node] = time.monotonic() + backoff.next_delay()

    def _key(self, node: str) -> AlarmKey:
        return AlarmKey(self.node_resource(node), UNREACHABLE_ALARM)

    def _raise(self, node: str, error: str) -> None:
        if self.alarms is None:
            return
        with self._lock:
            self._alarmed.add(node)
        self.alarms.raise_alarm(
            self._key(node), Severity.MAJOR,
            f"no management session to {node} since it was added or unlocked ({error}): "
            "no service is placed on it; its intended configuration is pushed when it "
            "answers")

    def _clear(self, node: str, why: str) -> None:
        with self._lock:
            self._alarmed.discard(node)
        if self.alarms is not None:
            self.alarms.clear_alarm(self._key(node), why)
