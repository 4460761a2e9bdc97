"""Brute-force protection: per (user, address) lockout with doubling back-off on SSH, an
audit line per failure and lockout, and the authentication-failures alarm (RFC 8632)
raised on lockout and cleared when it expires."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import paramiko
import pytest
from ncclient import manager
from structlog.testing import capture_logs

from controller.app.authalarm import ALARM_TYPE, lockout_key, raise_lockout_alarms
from controller.datastore.nmda import NmdaStore
from controller.netconf.authguard import AuthGuard, LockoutSettings
from controller.netconf.server import NetconfServer
from controller.service.alarms import AlarmManager
from controller.settings import AuthSettings, NetconfUser


def _wait(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def _login(port: int, password: str, source: str = "127.0.0.1") -> manager.Manager:
    """ncclient over a socket bound to `source` (127.0.0.0/8 is all loopback)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10,
                                    source_address=(source, 0))
    return manager.connect(host="127.0.0.1", port=port, username="admin", password=password,
                           sock=sock, hostkey_verify=False, look_for_keys=False,
                           allow_agent=False, timeout=10)


def _refused(port: int, password: str, source: str = "127.0.0.1") -> bool:
    try:
        _login(port, password, source).close_session()
    except Exception as exc:  # ncclient wraps paramiko's AuthenticationException
        return "uthentication" in str(exc) or isinstance(exc, paramiko.AuthenticationException)
    return False


def test_guard_counts_per_user_and_address_and_doubles() -> None:
    now = [100.0]
    events: list[tuple[str, str, str, str]] = []
    guard = AuthGuard(LockoutSettings(max_failures=3, backoff_s=30, backoff_max_s=50),
                      on_lockout=lambda u, p, i: events.append(("lock", u, p, i)),
                      on_release=lambda u, p, i: events.append(("release", u, p, i)),
                      clock=lambda: now[0])
    try:
        with capture_logs() as logs:
            for _ in range(3):
                assert not guard.locked("admin", "10.0.0.1", "ssh")
                guard.failure("admin", "10.0.0.1", "ssh")
        assert guard.locked("admin", "10.0.0.1", "ssh")
        assert not guard.locked("admin", "10.0.0.2", "ssh")      # other address
        assert not guard.locked("operator", "10.0.0.1", "ssh")   # other user
        assert [e["event"] for e in logs] == ["authentication failed"] * 3 + [
            "authentication locked out"]
        assert logs[-1]["user"] == "admin" and logs[-1]["peer"] == "10.0.0.1"
        assert logs[-1]["interface"] == "ssh" and logs[-1]["lockout_s"] == 30
        assert events == [("lock", "admin", "10.0.0.1", "ssh")]
        now[0] += 31
        assert not guard.locked("admin", "10.0.0.1", "ssh")
        with capture_logs() as logs:
            guard.failure("admin", "10.0.0.1", "restconf")       # one more: locked again
        assert logs[-1]["event"] == "authentication locked out"
        assert logs[-1]["lockout_s"] == 50                       # 60, capped at 50
        now[0] += 51
        guard.success("admin", "10.0.0.1")                       # success forgets it all
        for _ in range(2):
            guard.failure("admin", "10.0.0.1", "grpc")
        assert not guard.locked("admin", "10.0.0.1", "grpc")
    finally:
        guard.close()


def test_spraying_user_names_locks_the_address_and_costs_no_threads() -> None:
    """One guess each for many user names adds up per address: the address is locked for
    every user, other addresses are not, and no thread is started per lockout."""
    import threading

    guard = AuthGuard(LockoutSettings(max_failures=3, max_address_failures=10,
                                      backoff_s=30))
    try:
        before = threading.active_count()
        with capture_logs() as logs:
            for n in range(10):
                guard.failure(f"user{n}", "10.0.0.9", "restconf")
        assert guard.locked("admin", "10.0.0.9", "ssh")          # any user, that address
        assert not guard.locked("admin", "10.0.0.1", "ssh")
        locks = [e for e in logs if e["event"] == "authentication locked out"]
        assert [(e["user"], e["peer"]) for e in locks] == [("*", "10.0.0.9")]
        for n in range(200):                                      # 200 pairs locked
            for _ in range(3):
                guard.failure(f"other{n}", f"10.1.{n}.1", "ssh")
        assert threading.active_count() <= before + 1             # the one sweeper
    finally:
        guard.close()


def test_ssh_lockout_refuses_the_right_password_from_that_address_only(
        store: NmdaStore, tmp_path: Path) -> None:
    auth = AuthSettings(users=[NetconfUser(name="admin", password="s3cret")],
                        lockout=LockoutSettings(max_failures=3, backoff_s=0.5))
    alarms = AlarmManager(store)
    with NetconfServer(store, users=auth, host_key=tmp_path / "host_key") as srv:
        assert srv.guard is not None
        raise_lockout_alarms(srv.guard, alarms)
        key = lockout_key("admin", "127.0.0.2")
        with capture_logs() as logs:
            for _ in range(3):
                assert _refused(srv.port, "guess", source="127.0.0.2")
            assert _refused(srv.port, "s3cret", source="127.0.0.2")   # locked out
        failed = [e for e in logs if e["event"] == "authentication failed"]
        assert len(failed) == 4 and failed[-1]["reason"] == "locked out"
        assert all(e["peer"] == "127.0.0.2" and e["interface"] == "ssh" for e in failed)
        assert [e["user"] for e in logs if e["event"] == "authentication locked out"] == [
            "admin"]
        alarm = alarms.get(key)
        assert alarm is not None and not alarm.cleared
        assert alarm.key.type_id == ALARM_TYPE
        # the operator at another address is not affected
        mgr = _login(srv.port, "s3cret", source="127.0.0.1")
        assert mgr.get_config("running").ok
        mgr.close_session()
        # the lockout expires: the alarm clears and the right password works again
        assert _wait(lambda: (a := alarms.get(key)) is not None and a.cleared)
        mgr = _login(srv.port, "s3cret", source="127.0.0.2")
        assert mgr.get_config("running").ok
        mgr.close_session()


def test_refused_public_keys_count_once_per_connection(store: NmdaStore,
                                                        tmp_path: Path) -> None:
    allowed, other = paramiko.ECDSAKey.generate(), paramiko.ECDSAKey.generate()
    key_file = tmp_path / "other"
    other.write_private_key_file(str(key_file))
    auth = AuthSettings(users=[NetconfUser(
        name="admin", authorized_keys=[f"{allowed.get_name()} {allowed.get_base64()}"])],
        lockout=LockoutSettings(max_failures=2, backoff_s=60))
    with NetconfServer(store, users=auth, host_key=tmp_path / "host_key") as srv:
        assert srv.guard is not None
        for _ in range(2):
            with pytest.raises(Exception, match="uthentication"):
                manager.connect(host="127.0.0.1", port=srv.port, username="admin",
                                key_filename=str(key_file), hostkey_verify=False,
                                look_for_keys=False, allow_agent=False, timeout=10)
        assert srv.guard.locked("admin", "127.0.0.1", "ssh")


def test_unknown_users_cost_a_kdf_run_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from controller.netconf import ssh

    calls: list[str] = []
    real = ssh.verify_password_hash

    def spy(password: str, encoded: str) -> bool:
        calls.append(encoded)
        return real(password, encoded)

    monkeypatch.setattr(ssh, "verify_password_hash", spy)
    auth = ssh.Authenticator(AuthSettings(users=[NetconfUser(
        name="admin", password_hash=ssh.hash_password("x", iterations=1000))]))
    assert not auth.check_password("nobody", "guess")
    assert len(calls) == 1 and calls[0].startswith("pbkdf2_sha256$")

