"""`sdqn bench attack` runs end to end with tiny counts and reports every row (no timing
checked: the bench prints figures, the test checks that it measures)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from controller.paths import REPO_ROOT


@pytest.mark.timeout(300)
def test_a_tiny_attack_run_reports_every_row() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "controller.cli", "bench", "attack", "--seconds", "1",
         "--slowloris", "4", "--raw-tcp", "3", "--sessions", "2", "--logins", "12"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=280, check=False,
        env={**os.environ, "COLUMNS": "250"})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = run.stdout
    assert "targets: admin always in" in out
    for label in ("baseline", "(a) slowloris", "(b) 3 raw TCP", "(c) 2 operator",
                  "(d) 12 wrong logins"):
        assert label in out, out
    rows = [line for line in out.splitlines() if line.startswith("│ ") and " ms" not in line]
    assert sum("ok (" in line or "FAILED (" in line for line in rows) >= 5, out
    assert "ACCEPTED" not in out, out      # no wrong password or token was let in
