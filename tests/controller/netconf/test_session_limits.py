"""Connection and session limits over real SSH: raw TCP floods, slow logins, a user at
its session limit and a full server never lock out a recovery user (admin)."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest
from ncclient import manager

from controller.datastore.nmda import NmdaStore
from controller.netconf.admission import SessionLimits
from controller.netconf.client import RawNetconfClient
from controller.netconf.core import Limits
from controller.netconf.server import NetconfServer
from tests.controller.netconf.conftest import AUTH, NC

GET_CONFIG = f'<get-config xmlns="{NC}"><source><running/></source></get-config>'


def make_server(store: NmdaStore, tmp_path: Path, **limits: object) -> NetconfServer:
    max_sessions = int(str(limits.pop("max_sessions", 64)))
    return NetconfServer(store, users=AUTH, host_key=tmp_path / "k", name="limits",
                         limits=Limits(hello_timeout=5.0, send_timeout=5.0,
                                       max_sessions=max_sessions,
                                       sessions=SessionLimits.model_validate(limits)))


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()


def login(srv: NetconfServer, user: str) -> RawNetconfClient:
    return RawNetconfClient("127.0.0.1", srv.port, user, user, timeout=10)


def admin_works(srv: NetconfServer) -> bool:
    mgr = manager.connect(host="127.0.0.1", port=srv.port, username="admin",
                          password="admin", hostkey_verify=False, look_for_keys=False,
                          allow_agent=False, timeout=10)
    try:
        return bool(mgr.get_config("running").ok)
    finally:
        mgr.close_session()


def test_raw_tcp_flood_does_not_lock_out(store: NmdaStore, tmp_path: Path,
                                         sockets: list[socket.socket]) -> None:
    """70 idle TCP connections (more than both pre-auth pools): the oldest give way, a
    newcomer can log in at once."""
    with make_server(store, tmp_path, max_startups=20, max_startups_per_address=10) as srv:
        for _ in range(70):
            sockets.append(socket.create_connection(("127.0.0.1", srv.port), timeout=5))
        deadline = time.monotonic() + 10
        while srv.admission.unauthenticated > 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert srv.admission.unauthenticated <= 10
        assert admin_works(srv)
        operator = login(srv, "operator")
        assert operator.rpc(GET_CONFIG).find(f"{{{NC}}}data") is not None
        operator.close()
        assert srv.admission.refused["pre-auth pool full"] >= 60
        assert srv.session_thread_deaths == 0


def test_unauthenticated_connection_times_out(store: NmdaStore, tmp_path: Path,
                                              sockets: list[socket.socket]) -> None:
    with make_server(store, tmp_path, auth_timeout=0.5) as srv:
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        sockets.append(sock)
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(4096):  # the SSH banner, then EOF
                received += chunk
        assert received.startswith(b"SSH-2.0-")
        assert admin_works(srv)


def test_per_user_limit_and_recovery_reserve(store: NmdaStore, tmp_path: Path) -> None:
    clients: list[RawNetconfClient] = []
    with make_server(store, tmp_path, max_sessions=5, recovery_reserve=1,
                     user_sessions={"operator": 2}, max_sessions_per_user=3) as srv:
        try:
            clients += [login(srv, "operator"), login(srv, "operator")]
            with pytest.raises(paramiko.SSHException):
                login(srv, "operator")  # operator is at its own limit
            clients += [login(srv, "writer"), login(srv, "writer")]
            with pytest.raises(paramiko.SSHException):
                login(srv, "nobody")  # only the recovery reserve is left
            clients.append(login(srv, "admin"))  # admin uses the reserve
            assert clients[-1].rpc(GET_CONFIG).find(f"{{{NC}}}data") is not None
            with pytest.raises(paramiko.SSHException):
                login(srv, "admin")  # max_sessions holds for everybody
            for client in clients[:2]:
                assert client.rpc(GET_CONFIG).find(f"{{{NC}}}data") is not None
            assert srv.admission.refused["session limit reached"] == 2
            assert srv.admission.refused["user operator has 2 sessions"] == 1
        finally:
            for client in clients:
                client.close()
        deadline = time.monotonic() + 5
        while srv.admission.sessions and time.monotonic() < deadline:
            time.sleep(0.02)
        assert srv.admission.sessions == 0
        login(srv, "operator").close()  # freed slots are usable again


def test_per_address_limit_spares_recovery_users(store: NmdaStore, tmp_path: Path) -> None:
    clients: list[RawNetconfClient] = []
    with make_server(store, tmp_path, max_sessions_per_address=2) as srv:
        try:
            clients += [login(srv, "operator"), login(srv, "writer")]
            with pytest.raises(paramiko.SSHException):
                login(srv, "nobody")
            clients.append(login(srv, "admin"))
            assert clients[-1].rpc(GET_CONFIG).find(f"{{{NC}}}data") is not None
        finally:
            for client in clients:
                client.close()
