"""`sdqn controller run` serves RESTCONF beside NETCONF on the same store and accounts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from controller.paths import CONFIG_DIR, REPO_ROOT

BIN = Path(sys.executable).parent


def test_daemon_serves_restconf(tmp_path: Path) -> None:
    config = tmp_path / "config" / "controller.json"
    config.parent.mkdir()
    config.write_text(json.dumps({
        "datastore": {"data_dir": str(tmp_path / "var"), "synchronous": "NORMAL"},
        "netconf": {"port": 0, "nacm_file": str(CONFIG_DIR / "nacm.json"),
                    "auth": {"users": [{"name": "admin", "password": "admin"},
                                       {"name": "operator", "password": "operator"}]}},
        "service": {"enabled": False},
        "restconf": {"port": 0},
        "grpc": {"enabled": False},
    }))
    proc = subprocess.Popen([str(BIN / "sdqn"), "controller", "run", "--config", str(config),
                             "--log-level", "warning"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("netconf listening on")
        line = proc.stdout.readline()
        assert line.startswith("restconf listening on"), line
        url = f"http://127.0.0.1:{int(line.rsplit(':', 1)[1])}"
        with httpx.Client(base_url=url, timeout=10) as client:
            network = {"ietf-network:network": [{"network-id": "lab"}]}
            created = client.post("/restconf/data/ietf-network:networks", auth=("admin", "admin"),
                                  content=json.dumps(network),
                                  headers={"Content-Type": "application/yang-data+json"})
            assert created.status_code == 201, created.text
            denied = client.delete("/restconf/data/ietf-network:networks/network=lab",
                                   auth=("operator", "operator"))
            assert denied.status_code == 403   # the seeded NACM rules apply
            got = client.get("/restconf/data/ietf-network:networks/network=lab",
                             auth=("operator", "operator"))
            assert got.json() == {"ietf-network:network": [{"network-id": "lab"}]}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
