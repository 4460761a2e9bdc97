"""WakeableSSHSession against a real NETCONF-over-SSH server (the `netconf` package's)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest
from lxml import etree
from netconf import server as ncserver

from southbound.transport import WakeableSSHSession, connect


class _Methods(ncserver.NetconfMethods):  # type: ignore[misc]
    def rpc_get(self, session: object, rpc: object, filter_or_none: object) -> etree._Element:
        data = etree.Element("data")
        etree.SubElement(data, "answer").text = "42"
        return data


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    key = tmp_path_factory.mktemp("hostkey") / "key"
    paramiko.RSAKey.generate(2048).write_private_key_file(str(key))
    srv = ncserver.NetconfSSHServer(
        server_ctl=ncserver.SSHUserPassController(username="u", password="p"),
        server_methods=_Methods(), port=0, host_key=str(key))
    yield int(srv.port)
    srv.close()


def test_rpcs_are_not_held_back_by_a_poll_timer(server: int) -> None:
    manager = connect(host="127.0.0.1", port=server, username="u", password="p")
    try:
        assert isinstance(manager._session, WakeableSSHSession)
        start = time.perf_counter()
        for _ in range(50):
            reply = manager.get()
            assert "<answer>42</answer>" in reply.xml
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


def test_server_going_away_is_reported(tmp_path: Path) -> None:
    key = tmp_path / "key"
    paramiko.RSAKey.generate(2048).write_private_key_file(str(key))
    srv = ncserver.NetconfSSHServer(
        server_ctl=ncserver.SSHUserPassController(username="u", password="p"),
        server_methods=_Methods(), port=0, host_key=str(key))
    manager = connect(host="127.0.0.1", port=srv.port, username="u", password="p", timeout=3)
    manager.get()
    srv.close()
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
