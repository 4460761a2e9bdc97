"""`sdqn bench change` runs as a user would run it and reports what happened (no timing
checked: the bench prints, tests check that it measures)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from lxml import etree

from controller.bench.change import members
from controller.paths import REPO_ROOT


def test_an_impact_reply_reads_as_its_yang_lists() -> None:
    ns = "urn:sdqn:sdqn-controller"
    impact = etree.fromstring(
        f'<impact xmlns="{ns}"><service><name>a</name><change>moved</change></service>'
        "<device><node-id>r1</node-id><change><path>/x</path></change>"
        "<change><path>/y</path></change></device><totals><moved>1</moved></totals>"
        "</impact>")
    assert members(impact) == {
        "service": [{"name": "a", "change": "moved"}],
        "device": [{"node-id": "r1", "change": [{"path": "/x"}, {"path": "/y"}]}],
        "totals": {"moved": "1"}}


@pytest.mark.timeout(400)
def test_a_short_run_through_the_daemon_moves_no_untouched_service() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "controller.cli", "bench", "change", "--devices", "100",
         "--offered", "20", "--changes", "10", "--policy", "pinned"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=380, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    [row] = [line for line in run.stdout.splitlines() if line.startswith("│ pinned")]
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert int(cells[1]) > 0, row                      # live services exist
    assert cells[2] == "0" and cells[3] == "0", row    # none moved, not even by optimise
    assert cells[6].startswith("10/10"), row           # every dry-run said what happened
