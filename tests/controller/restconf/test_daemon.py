"""`sdqn controller run` serves RESTCONF beside NETCONF on the same store and accounts."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.controller.restconf.conftest import Daemon


def test_daemon_serves_restconf(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, {"restconf": {"port": 0}, "grpc": {"enabled": False}}, 2)
    try:
        url = f"http://{daemon.address('restconf')}"
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
        assert daemon.stop() == 0
    finally:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
