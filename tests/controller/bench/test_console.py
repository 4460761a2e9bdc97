"""`sdqn bench console` at tiny size: a generated 12-device network with 3 services, one
repetition, no peer row; the table has a measured row (figures are not asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from controller.console.site import STATIC
from controller.paths import REPO_ROOT

pytest.importorskip("playwright.sync_api")


def test_bench_console_tiny() -> None:
    if not Path("/usr/bin/chromium").exists():
        pytest.fail("the console bench needs Debian's chromium (make system-deps)")
    if not (STATIC / "vendor" / "cytoscape.esm.min.js").exists():
        pytest.fail("the console's vendor files are missing: run make console-assets")
    done = subprocess.run(
        [sys.executable, "-m", "controller.cli", "bench", "console", "--devices", "14",
         "--services", "3", "--repeats", "1", "--no-peer"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "event→screen median" in done.stdout, done.stdout
    row = next(line for line in done.stdout.splitlines() if "generated 14" in line)
    cells = [c.strip() for c in row.split("│") if c.strip()]
    assert cells[4] == "1" and cells[-1] == "0", row   # one load measured, none failed
