"""Fixtures: one store (metro topology, demo services, default NACM rules) served by a
NETCONF server and a RESTCONF server that share its core (accounts, NACM), on free
localhost ports; httpx clients per user; everything stopped after each test."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.datastore.nmda import NmdaStore
from controller.datastore.schema import Schema
from controller.netconf.server import NetconfServer
from controller.paths import CONFIG_DIR, REPO_ROOT
from controller.restconf import RESTCONF_MODULES
from controller.restconf.access import DataAccess
from controller.restconf.events import EventHub
from controller.restconf.server import RestconfServer
from controller.settings import PRODUCT_MODULES
from tests.controller.netconf.conftest import AUTH, LIMITS, make_store

REQUEST = "/restconf/data/sdqn-services:entanglement-services/request={}"
JSON = "application/yang-data+json"
XML = "application/yang-data+xml"


@pytest.fixture(scope="session")
def schema() -> Schema:
    return Schema([*PRODUCT_MODULES, *RESTCONF_MODULES])


@pytest.fixture
def store(schema: Schema) -> NmdaStore:
    return make_store(schema)


@pytest.fixture
def netconf(store: NmdaStore, tmp_path: Path) -> Iterator[NetconfServer]:
    srv = NetconfServer(store, users=AUTH, host_key=tmp_path / "host_key", limits=LIMITS,
                        name="restconf-test")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def access(store: NmdaStore, netconf: NetconfServer) -> Iterator[DataAccess]:
    acc = DataAccess(store, users=AUTH, core=netconf.core)
    yield acc
    acc.close()


@pytest.fixture
def hub(store: NmdaStore) -> Iterator[EventHub]:
    events = EventHub(store, poll_s=0.02)
    yield events
    events.stop()


@pytest.fixture
def restconf(access: DataAccess, hub: EventHub) -> Iterator[RestconfServer]:
    srv = RestconfServer(access, hub=hub, max_body=64 * 1024, sse_heartbeat_s=0.2)
    srv.start()
    yield srv
    srv.stop()


Client = Callable[..., httpx.Client]


@pytest.fixture
def client(restconf: RestconfServer) -> Iterator[Client]:
    clients: list[httpx.Client] = []

    def _client(user: str = "admin", password: str | None = None) -> httpx.Client:
        c = httpx.Client(base_url=restconf.url, timeout=10,
                         auth=(user, password if password is not None else user))
        clients.append(c)
        return c

    yield _client
    for c in clients:
        with contextlib.suppress(Exception):
            c.close()


@pytest.fixture
def admin(client: Client) -> httpx.Client:
    return client("admin")


class Daemon:
    """`sdqn controller run` as a process with a test config (NETCONF on a free port,
    no service layer, users admin/operator) plus `sections`; `lines` are the
    "<server> listening on" lines it printed, NETCONF's first."""

    def __init__(self, tmp_path: Path, sections: dict[str, Any], count: int) -> None:
        config = tmp_path / "config" / "controller.json"
        config.parent.mkdir()
        config.write_text(json.dumps({
            "datastore": {"data_dir": str(tmp_path / "var"), "synchronous": "NORMAL"},
            "netconf": {"port": 0, "nacm_file": str(CONFIG_DIR / "nacm.json"),
                        "auth": {"users": [{"name": n, "password": n}
                                           for n in ("admin", "operator")]}},
            "service": {"enabled": False}, **sections}))
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "sdqn"), "controller", "run", "--config",
             str(config), "--log-level", "warning"], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert self.proc.stdout is not None
        self.lines = [self.proc.stdout.readline() for _ in range(count)]
        assert self.lines[0].startswith("netconf listening on"), self.lines

    def address(self, server: str) -> str:
        line = next(x for x in self.lines if x.startswith(f"{server} listening on"))
        return line.split()[-1]

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
