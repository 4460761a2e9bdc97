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

from controller.datastore.history import RunningHistory
from controller.datastore.nmda import Datastore
from controller.datastore.persistence import DEFAULT_KEEP
from controller.datastore.schema import Schema
from controller.paths import REPO_ROOT
from tests.controller.datastore.conftest import reopen

ROUNDS = 8


def write_until_killed(db: Path, rng: random.Random) -> list[int]:
    """Run the writer on `db`, SIGKILL it at a random instant; the edits it acknowledged."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
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
    return [int(first)] + [int(x) for x in tail if x.isdigit()]


@pytest.mark.slow
def test_kill_mid_write_never_tears(schema: Schema, tmp_path: Path) -> None:
    db = tmp_path / "crash.sqlite"
    rng = random.Random(20261122)
    acknowledged = -1
    for _ in range(ROUNDS):
        printed = write_until_killed(db, rng)
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


@pytest.mark.slow
def test_kill_mid_write_keeps_the_history_on_running(schema: Schema, tmp_path: Path) -> None:
    """The history row is written in the change's own transaction: after any kill, the
    newest record's `after` is running, its `before` is running without that change, and
    there is one record per change that stayed (up to the newest kept)."""
    db = tmp_path / "crash.sqlite"
    rng = random.Random(20261206)
    for _ in range(ROUNDS // 2):
        write_until_killed(db, rng)
        store = reopen(schema, db)
        history = RunningHistory(store)
        running = store.get(Datastore.RUNNING)
        last = len(json.loads(running)["sdqn-test:device"]) - 1
        records = history.log.recent(DEFAULT_KEEP + 1)
        assert len(records) == min(last + 1, DEFAULT_KEEP)
        newest = records[0]
        assert newest.after == running == history.running()
        before = json.loads(newest.before)
        assert [d["name"] for d in before.get("sdqn-test:device", [])] == [
            f"d{i}" for i in range(last)]
        if last > 0:
            assert before["sdqn-test:system"]["hostname"] == f"h{last - 1}"
        history.close()
        store.close()
