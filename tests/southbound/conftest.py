"""Emulated devices for southbound tests: real NETCONF-over-SSH servers on localhost,
each with its own NMDA store of the sdqn-apc model."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.schema import Schema
from southbound.model import DeviceEndpoint

APC_NS = "urn:sdqn:sdqn-apc"


def apc_config(node: str, interval: int = 3600, bases: tuple[str, ...] = ("rectilinear",
                                                                          "diagonal")) -> str:
    leaves = "".join(f"<target-bases>{b}</target-bases>" for b in bases)
    return (f'<apc xmlns="{APC_NS}"><node-id>{node}</node-id><link-id>l-{node}</link-id>'
            f"<calibration-interval>{interval}</calibration-interval>{leaves}</apc>")


@dataclass
class Device:
    node_id: str
    store: NmdaStore
    server: object
    endpoint: DeviceEndpoint

    def running_interval(self) -> int | None:
        import json

        data = json.loads(self.store.get(Datastore.RUNNING) or "{}")
        apc = data.get("sdqn-apc:apc")
        return None if apc is None else int(float(apc.get("calibration-interval", 3600)))


@pytest.fixture(scope="session")
def apc_schema() -> Schema:
    return Schema(["sdqn-apc"])


@pytest.fixture
def make_device(apc_schema: Schema, tmp_path: Path) -> Iterator[Callable[[str], Device]]:
    from controller.netconf.server import NetconfServer

    servers: list[NetconfServer] = []

    def make(node_id: str, port: int = 0) -> Device:
        store = NmdaStore(apc_schema)
        server = NetconfServer(store, host="127.0.0.1", port=port, users={"admin": "admin"},
                               host_key=tmp_path / "host_key", nacm=False, name=node_id)
        server.start()
        servers.append(server)
        endpoint = DeviceEndpoint.model_validate({
            "node-id": node_id, "port": server.port, "username": "admin",
            "password": "admin", "modules": ("sdqn-apc",)})
        return Device(node_id, store, server, endpoint)

    yield make
    for server in servers:
        server.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SilentServer:
    """Accepts TCP connections and never speaks: an unresponsive device."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = int(self.sock.getsockname()[1])
        self.conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()
