"""`sdqn bench faults` runs as a user would run it and reports what happened (no timing
checked: the bench prints, tests check that it measures)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from controller.bench.faults import SCENARIOS, crosses
from controller.paths import REPO_ROOT

LINKS = {"r1-r2": ("r1", "r2"), "r2-bob": ("r2", "bob")}


def test_a_path_crosses_a_link_only_where_its_ends_are_adjacent() -> None:
    assert crosses(["alice", "r1", "r2", "bob"], "r1-r2", LINKS)
    assert not crosses(["alice", "r1", "qr1", "r2", "bob"], "r1-r2", LINKS)
    assert crosses(["alice", "r1", "qr1", "r2", "bob"], "qr1", LINKS)


def test_every_scenario_names_a_fault_the_emulators_know() -> None:
    from simulators.faults import FaultRequest

    for sc in SCENARIOS:
        FaultRequest.model_validate(sc.fault)
        if sc.clear is not None:
            assert FaultRequest.model_validate(sc.clear).clear


@pytest.mark.timeout(300)
def test_one_episode_through_the_daemon_is_detected_and_cleared() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "controller.cli", "bench", "faults", "--kind",
         "out-of-band edit", "--repeats", "1", "--samples", "0"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=280, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    [row] = [line for line in run.stdout.splitlines() if "out-of-band edit" in line]
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[1] == "1/1" and cells[3] == "1/1" and cells[4] == "1/1", row
    assert cells[7] == "0", row                             # no spurious alarm
