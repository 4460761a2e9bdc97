"""A process killed at any instant leaves the old or the new datastore, never a torn one."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from controller.datastore.nmda import Datastore
from controller.datastore.schema import Schema
from controller.paths import REPO_ROOT
from tests.controller.datastore.conftest import reopen

ROUNDS = 8


@pytest.mark.slow
def test_kill_mid_write_never_tears(schema: Schema, tmp_path: Path) -> None:
    db = tmp_path / "crash.sqlite"
    rng = random.Random(20261122)
    acknowledged = -1
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    for _ in range(ROUNDS):
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.controller.datastore.crash_writer", str(db)],
            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True)
        assert child.stdout is not None
        first = child.stdout.readline()  # wait until it is writing
        assert first.strip().isdigit(), "the writer did not start"
        time.sleep(rng.uniform(0.01, 0.25))
        child.send_signal(signal.SIGKILL)
        tail = child.stdout.read().split()
        child.wait(timeout=10)
        printed = [int(first)] + [int(x) for x in tail if x.isdigit()]
        acknowledged = max(acknowledged, *printed)

        store = reopen(schema, db)
        data = json.loads(store.get(Datastore.RUNNING))
        devices = [d["name"] for d in data["sdqn-test:device"]]
        last = len(devices) - 1
        assert devices == [f"d{i}" for i in range(last + 1)]
        assert data["sdqn-test:system"]["hostname"] == f"h{last}", "hostname and devices torn"
        # Durable: everything acknowledged before the kill is there (at most one more).
        assert last in (acknowledged, acknowledged + 1)
        assert json.loads(store.get(Datastore.INTENDED)) == data
        store.validate(Datastore.RUNNING)
        assert store.persistence is not None
        store.persistence.close()
        acknowledged = last
    assert acknowledged > ROUNDS, "the writer made too little progress to test anything"
