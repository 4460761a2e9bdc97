"""Many servers in one process (one per emulated device): independent stores, unique
session ids, one accept thread each, nothing shared that could leak between them."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.schema import Schema
from controller.netconf.client import RawNetconfClient
from controller.netconf.server import NetconfServer
from tests.controller.netconf.conftest import NC, NW

COUNT = 20


def test_servers_coexist(schema: Schema, tmp_path: Path) -> None:
    threads_before = threading.active_count()
    servers = []
    try:
        for i in range(COUNT):
            store = NmdaStore(schema)
            store.edit_json(Datastore.RUNNING, {"ietf-network:networks": {"network": [
                {"network-id": f"dev{i}"}]}})
            server = NetconfServer(store, users={"admin": "admin"}, nacm=False,
                                   host_key=tmp_path / "key", name=f"dev{i}")
            server.start()
            servers.append(server)
        assert threading.active_count() - threads_before == COUNT  # accept threads only
        assert len({s.port for s in servers}) == COUNT
        clients = [RawNetconfClient("127.0.0.1", s.port, "admin", "admin") for s in servers]
        assert len({c.session_id for c in clients}) == COUNT
        for i, client in enumerate(clients):
            reply = client.rpc(f'<get-config xmlns="{NC}"><source><running/></source>'
                               "</get-config>")
            assert [e.text for e in reply.iter(f"{{{NW}}}network-id")] == [f"dev{i}"]
            client.close()
    finally:
        for server in servers:
            server.stop()
    deadline = time.monotonic() + 5  # client transports wind down asynchronously
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert threading.active_count() <= threads_before
