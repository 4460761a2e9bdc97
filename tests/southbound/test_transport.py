"""WakeableSSHSession against a real NETCONF-over-SSH server.

The peer is the product's own server core (the one every emulated device runs), written
independently of ncclient; `test_stock_mode_is_plain_ncclient` shows stock ncclient
talking to the same server, so the fast session is held to a peer that speaks what
ncclient expects (RFC 6242 framing, base:1.1 chunks after the hello).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.schema import Schema
from controller.netconf import NETCONF_MODULES
from controller.netconf.server import NetconfServer
from southbound.transport import WakeableSSHSession, connect
from tests.southbound.conftest import apc_config

ANSWER = "<node-id>answer-42</node-id>"


@pytest.fixture(scope="module")
def peer_schema() -> Schema:
    return Schema(["sdqn-apc", *NETCONF_MODULES])


def start_peer(schema: Schema, host_key: Path) -> NetconfServer:
    """A device whose <get> reply carries ANSWER."""
    store = NmdaStore(schema)
    store.edit_xml(Datastore.RUNNING, f"<config>{apc_config('answer-42')}</config>")
    srv = NetconfServer(store, users={"u": "p"}, host_key=host_key, nacm=False, name="peer")
    srv.start()
    return srv


@pytest.fixture(scope="module")
def server(peer_schema: Schema, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    srv = start_peer(peer_schema, tmp_path_factory.mktemp("hostkey") / "key")
    yield int(srv.port)
    srv.stop()


def test_rpcs_are_not_held_back_by_a_poll_timer(server: int) -> None:
    manager = connect(host="127.0.0.1", port=server, username="u", password="p")
    try:
        assert isinstance(manager._session, WakeableSSHSession)
        start = time.perf_counter()
        for _ in range(50):
            reply = manager.get()
            assert ANSWER in reply.xml
        elapsed = time.perf_counter() - start
    finally:
        manager.close_session()
    # Stock ncclient waits up to TICK = 0.1 s per RPC: 50 RPCs would take ~5 s.
    assert elapsed < 2.5, f"50 RPCs took {elapsed:.2f} s"


def test_concurrent_requests_on_one_session(server: int) -> None:
    import concurrent.futures

    manager = connect(host="127.0.0.1", port=server, username="u", password="p")
    try:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            replies = list(pool.map(lambda _: manager.get().ok, range(40)))
        assert all(replies)
    finally:
        manager.close_session()


def test_close_ends_the_session_thread(server: int) -> None:
    manager = connect(host="127.0.0.1", port=server, username="u", password="p")
    session = manager._session
    manager.close_session()
    session.join(timeout=5)
    assert not session.is_alive()
    assert not manager.connected


def test_server_going_away_is_reported(peer_schema: Schema, tmp_path: Path) -> None:
    srv = start_peer(peer_schema, tmp_path / "key")
    manager = connect(host="127.0.0.1", port=srv.port, username="u", password="p", timeout=3)
    manager.get()
    srv.stop()
    manager._session.close()
    manager._session.join(timeout=5)
    assert not manager.connected


def test_stock_mode_is_plain_ncclient(server: int) -> None:
    manager = connect(host="127.0.0.1", port=server, username="u", password="p", fast=False)
    try:
        assert not isinstance(manager._session, WakeableSSHSession)
        assert manager.get().ok
    finally:
        manager.close_session()
