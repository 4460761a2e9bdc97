"""A daemon started on an inventory it cannot use stops at once with a message naming
the inventory and what is wrong, never a traceback (the drills' emulator control channel
is read with the rest of the inventory)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from controller.paths import CONFIG_DIR, REPO_ROOT
from tests.controller.e2e import write_config

METRO = CONFIG_DIR / "topologies" / "metro.json"
DEVICE = {"node-id": "alice", "kind": "end-node", "address": "127.0.0.1", "port": 1,
          "username": "admin", "password": "admin"}


@pytest.mark.parametrize("inventory, says", [
    ({"devices": [DEVICE], "topology": str(METRO),
      "control": {"address": "127.0.0.1", "port": 1}}, "token"),
    ({"devices": [DEVICE], "topology": str(METRO),
      "control": {"address": "127.0.0.1", "port": "not-a-port", "token": "t"}},
     "not-a-port"),
    ({"devices": [DEVICE], "topology": "/nonexistent/topology.json"}, "/nonexistent"),
], ids=["control-without-token", "control-port-not-a-number", "missing-topology-file"])
def test_a_bad_inventory_stops_the_daemon_with_a_message(
        tmp_path: Path, inventory: dict[str, object], says: str) -> None:
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(inventory))
    done = subprocess.run(
        [sys.executable, "-m", "controller.cli", "controller", "run", "--config",
         str(write_config(tmp_path, "inventory")), "--inventory", str(path)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "cannot load the inventory" in output and says in output, output
    assert "Traceback" not in output, output
