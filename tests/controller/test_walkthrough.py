"""README's walkthrough, command by command, as subprocesses: `sdqn sim run` writes an
inventory, `sdqn controller run --inventory --services` manages those emulators, and
netconf-console2, RESTCONF (httpx, as curl) and the `sdqn` CLI (gRPC) read the result.

Free ports and a tmp data directory instead of the README's defaults; every process is
stopped whatever happens.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from controller.app.credentials import use_demo_credentials
from controller.paths import CONFIG_DIR, REPO_ROOT
from controller.settings import ControllerSettings

BIN = Path(sys.executable).parent
SDQN = [sys.executable, "-m", "controller.cli"]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}


@contextmanager
def process(argv: list[str], log: Path, **kwargs: object) -> Iterator[subprocess.Popen[str]]:
    """`argv` running (stderr into `log`) until the block ends, then SIGTERM, then kill."""
    with log.open("w") as stderr:
        proc = subprocess.Popen(argv, cwd=REPO_ROOT, env=ENV, text=True, stderr=stderr,
                                **kwargs)  # type: ignore[call-overload]
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()


def controller_config(tmp_path: Path) -> Path:
    """The shipped config with every server on a free port and the data in tmp_path."""
    settings = ControllerSettings.load()
    use_demo_credentials(settings)  # the shipped config has no accounts
    settings.datastore.data_dir = tmp_path / "data"
    settings.datastore.synchronous = "NORMAL"
    settings.netconf.port = settings.restconf.port = settings.grpc.port = 0
    settings.service.telemetry_interval_s = 0.5
    path = tmp_path / "controller.json"
    path.write_text(settings.model_dump_json())
    return path


def wait_for(path: Path, proc: subprocess.Popen[str], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"`sdqn sim run` wrote no inventory:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


@pytest.mark.timeout(240)
def test_walkthrough(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.json"
    with ExitStack() as stack:
        # 1. The emulators (bounded: they stop by themselves if the test is killed).
        sim_log = tmp_path / "sim.log"
        sim = stack.enter_context(process(
            [*SDQN, "sim", "run", "--any-port", "--inventory", str(inventory),
             "--time-factor", "60", "--duration", "200"], sim_log,
            stdout=subprocess.DEVNULL))
        wait_for(inventory, sim, sim_log, 60)

        # 2. The controller, managing them, with the demo's service requests.
        daemon_log = tmp_path / "daemon.log"
        daemon = stack.enter_context(process(
            [*SDQN, "controller", "run", "--config", str(controller_config(tmp_path)),
             "--inventory", str(inventory),
             "--services", str(CONFIG_DIR / "services" / "demo.json")], daemon_log,
            stdout=subprocess.PIPE))
        assert daemon.stdout is not None
        lines = [daemon.stdout.readline() for _ in range(3)]
        listening = {line.split()[0]: line.split()[-1] for line in lines if line}
        assert set(listening) == {"netconf", "restconf", "grpc"}, \
            f"{lines}\n{daemon_log.read_text()[-3000:]}"
        netconf_port = listening["netconf"].rsplit(":", 1)[1]

        # 3a. netconf-console2: the controller holds a session to every emulated device.
        get = subprocess.run(
            [str(BIN / "netconf-console2"), "--host", "127.0.0.1", "--port", netconf_port,
             "-u", "admin", "-p", "admin", "--ns", "c=urn:sdqn:sdqn-controller", "--get",
             "-x", "/c:controller/c:southbound/c:device[c:node-id='r1']"],
            capture_output=True, text=True, timeout=60, check=False)
        assert get.returncode == 0, get.stderr
        assert "<node-id>r1</node-id>" in get.stdout
        assert "<connection-state>connected</connection-state>" in get.stdout

        # 3b. RESTCONF (what the README does with curl).
        response = httpx.get(
            f"http://{listening['restconf']}/restconf/data/sdqn-services:"
            "entanglement-services/request=qkd-alice-bob/state?fields=admission;path",
            auth=("admin", "admin"), headers={"Accept": "application/yang-data+json"},
            timeout=30)
        assert response.status_code == 200, response.text
        state = response.json()["sdqn-services:state"]
        assert state["admission"] == "admitted"
        assert state["path"][0] == "alice" and state["path"][-1] == "bob"

        # 3c. The sdqn CLI over gRPC.
        cli = subprocess.run(
            [*SDQN, "request", "list", "--json", "--target", listening["grpc"],
             "--token", "admin"], cwd=REPO_ROOT, env=ENV, capture_output=True, text=True,
            timeout=60, check=False)
        assert cli.returncode == 0, cli.stdout + cli.stderr
        admission = {s["request"]["name"]: s["state"]["admission"]
                     for s in json.loads(cli.stdout)["requests"]}
        assert admission == {"qkd-alice-bob": "admitted", "dqc-charlie-dave": "admitted",
                             "dqs-alice-dave": "rejected",
                             "teleport-bob-charlie": "admitted"}
        assert daemon.poll() is None and sim.poll() is None
