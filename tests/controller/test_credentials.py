"""No usable default secret: the shipped config names no account, a first start
generates credentials into a 0600 file and shows them once, a well-known credential in
the configuration is a start-up warning, device passwords come from a 0600 keystore, and
everything the daemon creates is private (data directory 0700, files 0600)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from ncclient import manager
from pydantic import SecretStr
from structlog.testing import capture_logs

from controller.app.credentials import (
    GeneratedCredentials,
    ensure_credentials,
    use_demo_credentials,
    warn_default_credentials,
)
from controller.app.keystore import Keystore, KeystoreCredential, device_login
from controller.netconf.ssh import Authenticator, hash_password
from controller.paths import CONFIG_DIR, REPO_ROOT
from controller.settings import ControllerSettings, GrpcToken, NetconfUser


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_shipped_config_has_no_secrets() -> None:
    shipped = json.loads((CONFIG_DIR / "controller.json").read_text())
    assert shipped["netconf"]["auth"]["users"] == []
    assert shipped["grpc"]["tokens"] == []
    assert "device_password" not in shipped["service"]


def test_first_start_generates_private_credentials_once(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    settings = ControllerSettings()
    settings.datastore.data_dir = tmp_path / "data"
    path = ensure_credentials(settings)
    assert path == tmp_path / "data" / "credentials.json" and _mode(path) == 0o600
    saved = GeneratedCredentials.model_validate_json(path.read_text())
    assert {u.name for u in saved.users} == {"admin", "operator"}
    passwords = {u.password for u in saved.users}
    assert None not in passwords and not passwords & {"admin", "operator"}
    shown = capsys.readouterr().err
    assert str(path) in shown and all(p in shown for p in passwords if p)
    assert [u.name for u in settings.netconf.auth.users] == ["admin", "operator"]
    assert all(u.password is None and u.password_hash for u in settings.netconf.auth.users)
    assert settings.grpc.tokens
    again = ControllerSettings()
    again.datastore.data_dir = tmp_path / "data"
    assert ensure_credentials(again) == path
    assert GeneratedCredentials.model_validate_json(path.read_text()) == saved  # kept
    admin = next(u for u in saved.users if u.name == "admin")
    assert admin.password and Authenticator(again.netconf.auth).check_password(
        "admin", admin.password)
    assert capsys.readouterr().err == ""                       # shown once only
    assert not warn_default_credentials(again)


def test_configured_accounts_are_kept_and_defaults_warned(tmp_path: Path) -> None:
    settings = ControllerSettings()
    settings.datastore.data_dir = tmp_path
    use_demo_credentials(settings)
    assert ensure_credentials(settings) is None and not (tmp_path / "credentials.json").exists()
    settings.netconf.auth.users.append(
        NetconfUser(name="ops", password_hash=hash_password("operator", iterations=1000)))
    settings.grpc.tokens.append(GrpcToken(user="x", token_hash=hash_password(
        "long-random", iterations=1000)))
    with capture_logs() as logs:
        found = warn_default_credentials(settings)
    assert found == ["user admin", "user operator", "user ops", "grpc token of admin",
                     "grpc token of operator", "service.device_password"]
    assert [e["log_level"] for e in logs] == ["warning"] * 6


def test_device_credentials_from_the_keystore(tmp_path: Path) -> None:
    settings = ControllerSettings()
    settings.datastore.data_dir = tmp_path
    store = Keystore(credentials=[KeystoreCredential(name="devices", username="netops",
                                                     password=SecretStr("dev-s3cret"))])
    (tmp_path / "keystore.json").write_text(store.dump())
    os.chmod(tmp_path / "keystore.json", 0o600)
    settings.service.device_credentials = "devices"
    assert device_login(settings) == ("netops", "dev-s3cret")
    assert "dev-s3cret" not in repr(Keystore.load(tmp_path / "keystore.json"))
    settings.service.device_credentials = "missing"
    with pytest.raises(KeyError):
        device_login(settings)
    settings.service.device_credentials = None
    settings.service.device_password = "plain"
    with capture_logs() as logs:
        assert device_login(settings) == ("admin", "plain")
    assert "plain text" in logs[0]["event"]


@pytest.mark.timeout(120)
def test_daemon_first_start_is_private(tmp_path: Path) -> None:
    """A real `sdqn controller run` with the shipped config's (empty) accounts."""
    settings = ControllerSettings.load()
    settings.datastore.data_dir = tmp_path / "data"
    settings.netconf.port = 0
    settings.restconf.enabled = settings.grpc.enabled = settings.service.enabled = False
    config = tmp_path / "controller.json"
    config.write_text(settings.model_dump_json())
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller.cli", "controller", "run", "--config",
         str(config), "--log-level", "warning"], cwd=REPO_ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("netconf listening on"), line
        port = int(line.rsplit(":", 1)[1])
        data = tmp_path / "data"
        saved = GeneratedCredentials.model_validate_json(
            (data / "credentials.json").read_text())
        admin = next(u for u in saved.users if u.name == "admin")
        assert admin.password
        mgr = manager.connect(host="127.0.0.1", port=port, username="admin",
                              password=admin.password, hostkey_verify=False,
                              look_for_keys=False, allow_agent=False, timeout=10)
        assert mgr.get_config("running").ok
        mgr.close_session()
        assert _mode(data) == 0o700
        created = [p for p in data.rglob("*") if p.is_file()]
        assert {"credentials.json", "sdqn-datastores.sqlite", "ssh_host_ecdsa_key"} <= {
            p.name for p in created}
        assert {p.name: _mode(p) for p in created} == {p.name: 0o600 for p in created}
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert "generated credentials" in err and str(data / "credentials.json") in err
