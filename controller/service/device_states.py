"""Mirror the session pool's device states into the controller's <operational>.

Stored under sdqn-controller:controller/southbound/device (config false, origin learned),
so engineers see connection and sync state next to everything else over NETCONF/RESTCONF,
and why a device is out of service (plan-exclusion: locked, or not reached yet).

State changes happen on device worker threads, often while a datastore transaction holds
the store lock and waits for those very workers (a commit pushing devices); writing from
the callback would deadlock. Changes are queued and written by one publisher thread.
"""

from __future__ import annotations

import json
import queue
import threading
from datetime import UTC, datetime

import structlog

from controller.datastore.nmda import NmdaStore
from southbound.model import ConnectionState, Exclusion, SyncState
from southbound.pool import SessionPool

log = structlog.get_logger(__name__)

_Event = tuple[str, str, ConnectionState, SyncState, str | None, Exclusion | None, str]


class DeviceStatePublisher:
    def __init__(self, pool: SessionPool, store: NmdaStore) -> None:
        self.pool = pool
        self.store = store
        self._queue: queue.Queue[_Event | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="southbound-state-publisher")
        self._thread.start()
        for node in pool.inventory_ids:
            self.on_change(node, *pool.state(node))
        pool.listeners.append(self.on_change)

    def on_change(self, node_id: str, conn: ConnectionState, sync: SyncState,
                  error: str | None) -> None:
        try:
            adapter = self.pool.endpoint(node_id).adapter
        except Exception:  # the device left the inventory meanwhile
            adapter = ""
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._queue.put((node_id, adapter, conn, sync, error, self.pool.exclusion(node_id),
                         stamp))

    def flush(self) -> None:
        """Wait until every queued change is in the store (tests, orderly shutdown)."""
        self._queue.join()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            try:
                if event is None:
                    return
                self._write(*event)
            except Exception as exc:  # one bad write must not stop publishing
                log.error("device state publish failed", error=str(exc))
            finally:
                self._queue.task_done()

    def _write(self, node_id: str, adapter: str, conn: ConnectionState, sync: SyncState,
               error: str | None, exclusion: Exclusion | None, stamp: str) -> None:
        entry: dict[str, object] = {"node-id": node_id, "adapter": adapter,
                                    "connection-state": conn.value, "sync-state": sync.value,
                                    "last-change": stamp}
        if error:
            entry["last-error"] = error
        if exclusion is not None:
            entry["plan-exclusion"] = exclusion.value
        self.store.replace_state(
            f"/sdqn-controller:controller/southbound/device[node-id='{node_id}']",
            json.dumps({"sdqn-controller:controller": {"southbound": {"device": [entry]}}}))


def publish_device_states(pool: SessionPool, store: NmdaStore) -> DeviceStatePublisher:
    """Write every device's state now and after every change (asynchronously)."""
    return DeviceStatePublisher(pool, store)
