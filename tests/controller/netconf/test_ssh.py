"""SSH: public-key and hashed-password logins, and a host key generated once and kept."""

from __future__ import annotations

import stat
from pathlib import Path

import paramiko
import pytest
from ncclient import manager

from controller.datastore.nmda import NmdaStore
from controller.netconf.server import NetconfServer
from controller.netconf.ssh import hash_password, load_host_key, verify_password_hash
from controller.settings import AuthSettings, NetconfUser


def test_password_hashes() -> None:
    encoded = hash_password("s3cret", iterations=1000)
    assert verify_password_hash("s3cret", encoded)
    assert not verify_password_hash("other", encoded)
    assert not verify_password_hash("s3cret", "md5$1$x$y")


def test_host_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "host_key"
    first = load_host_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_host_key(path).asbytes() == first.asbytes()


def test_public_key_and_hashed_password_login(store: NmdaStore, tmp_path: Path) -> None:
    key = paramiko.ECDSAKey.generate()
    key_file = tmp_path / "id_ecdsa"
    key.write_private_key_file(str(key_file))
    auth = AuthSettings(users=[
        NetconfUser(name="admin", authorized_keys=[f"{key.get_name()} {key.get_base64()} t"]),
        NetconfUser(name="operator", password_hash=hash_password("op", iterations=1000)),
    ])
    host_key = tmp_path / "host_key"
    seen: list[bytes] = []
    for _ in range(2):  # a restarted server presents the same host key
        with NetconfServer(store, users=auth, host_key=host_key) as srv:
            mgr = manager.connect(host="127.0.0.1", port=srv.port, username="admin",
                                  key_filename=str(key_file), hostkey_verify=False,
                                  look_for_keys=False, allow_agent=False, timeout=10)
            seen.append(mgr._session._transport.get_remote_server_key().asbytes())
            assert mgr.get_config("running").ok
            mgr.close_session()
            mgr = manager.connect(host="127.0.0.1", port=srv.port, username="operator",
                                  password="op", hostkey_verify=False, look_for_keys=False,
                                  allow_agent=False, timeout=10)
            assert mgr.get_config("running").ok
            mgr.close_session()
            with pytest.raises(Exception, match=r"[Aa]uthentication"):
                manager.connect(host="127.0.0.1", port=srv.port, username="admin",
                                password="admin", hostkey_verify=False, look_for_keys=False,
                                allow_agent=False, timeout=10)
    assert seen[0] == seen[1]
