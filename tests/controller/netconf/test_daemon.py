"""`sdqn controller run` as a real process, driven by netconf-console2 (a third-party
client): hello, edits, NACM, persistence and host key across a restart, clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.paths import CONFIG_DIR, REPO_ROOT

BIN = Path(sys.executable).parent
LAB_NODE = ('<networks xmlns="urn:ietf:params:xml:ns:yang:ietf-network"><network>'
            "<network-id>lab</network-id><node><node-id>n1</node-id></node></network>"
            "</networks>")


def _config(tmp: Path) -> Path:
    path = tmp / "config" / "controller.json"
    path.parent.mkdir()
    path.write_text(json.dumps({
        "datastore": {"data_dir": str(tmp / "var"), "synchronous": "NORMAL"},
        "netconf": {"port": 0, "nacm_file": str(CONFIG_DIR / "nacm.json"),
                    "auth": {"users": [{"name": "admin", "password": "admin"},
                                       {"name": "operator", "password": "operator"}]}},
    }))
    return path


class Daemon:
    def __init__(self, config: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [str(BIN / "sdqn"), "controller", "run", "--config", str(config),
             "--log-level", "warning"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, cwd=REPO_ROOT, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # bounded by the pytest timeout below
        assert line.startswith("netconf listening on"), (line, self._stderr())
        self.port = int(line.rsplit(":", 1)[1])

    def _stderr(self) -> str:
        if self.proc.poll() is None:
            return ""
        return self.proc.stderr.read() if self.proc.stderr else ""

    def console(self, *args: str, user: str = "admin") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "netconf-console2"), "--host", "127.0.0.1", "--port", str(self.port),
             "-u", user, "-p", user, "-r", "10", *args],
            capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return _config(tmp_path)


@pytest.fixture
def daemon(config: Path) -> Iterator[Daemon]:
    proc = Daemon(config)
    yield proc
    if proc.proc.poll() is None:
        proc.stop()


@pytest.mark.timeout(120)
def test_daemon_with_netconf_console2(daemon: Daemon, config: Path, tmp_path: Path) -> None:
    hello = daemon.console("--hello")
    assert hello.returncode == 0, hello.stderr
    assert "urn:ietf:params:netconf:capability:yang-library:1.1" in hello.stdout
    assert "urn:ietf:params:netconf:capability:candidate:1.0" in hello.stdout

    edit = tmp_path / "edit.xml"
    edit.write_text(LAB_NODE)
    result = daemon.console("--edit-config", str(edit))
    assert result.returncode == 0 and "<ok " in result.stdout, result.stdout + result.stderr

    running = daemon.console("--get-config")
    assert "<network-id>lab</network-id>" in running.stdout
    assert "<nacm" in running.stdout  # seeded from config/nacm.json at first start

    denied = daemon.console("--edit-config", str(edit), user="operator")
    assert "access-denied" in denied.stdout
    as_operator = daemon.console("--get-config", user="operator")
    assert "<network-id>lab</network-id>" in as_operator.stdout
    assert "<nacm" not in as_operator.stdout

    schema = daemon.console("--get-schema", "ietf-netconf-acm")
    assert "module ietf-netconf-acm" in schema.stdout

    host_key = (tmp_path / "var" / "ssh_host_ecdsa_key").read_bytes()
    assert daemon.stop() == 0

    again = Daemon(config)
    try:
        running = again.console("--get-config")
        assert "<network-id>lab</network-id>" in running.stdout  # persisted
        assert (tmp_path / "var" / "ssh_host_ecdsa_key").read_bytes() == host_key
    finally:
        assert again.stop() == 0
