"""Mirror the session pool's device states into the controller's <operational>.

Stored under sdqn-controller:controller/southbound/device (config false, origin learned),
so engineers see connection and sync state next to everything else over NETCONF/RESTCONF.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from controller.datastore.nmda import NmdaStore
from southbound.model import ConnectionState, SyncState
from southbound.pool import SessionPool


def publish_device_states(pool: SessionPool, store: NmdaStore) -> None:
    """Write every device's state now and after every change."""

    def write(node_id: str, conn: ConnectionState, sync: SyncState, error: str | None) -> None:
        entry: dict[str, object] = {
            "node-id": node_id, "adapter": pool.endpoint(node_id).adapter,
            "connection-state": conn.value, "sync-state": sync.value,
            "last-change": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        path = f"/sdqn-controller:controller/southbound/device[node-id='{node_id}']"
        store.delete_state(path)  # last-error disappears when the error clears
        if error:
            entry["last-error"] = error
        store.merge_state(json.dumps({"sdqn-controller:controller": {
            "southbound": {"device": [entry]}}}))

    for node in pool.node_ids:
        conn, sync, error = pool.state(node)
        write(node, conn, sync, error)
    pool.listeners.append(write)
