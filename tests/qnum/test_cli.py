"""`sdqn solve` end to end through the real `sdqn` Typer app (and `bench qnum` wiring)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from controller.cli import app

DATA = Path(__file__).parent / "data"
ARGS = ["solve", "--topology", str(DATA / "metro.json"), "--requests", str(DATA / "requests.json")]
runner = CliRunner()


def test_table_output() -> None:
    result = runner.invoke(app, ARGS, env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    for name in ("qkd-alice-bob", "dqc-carol-bob", "tele-dave-carol"):
        assert name in result.stdout
    assert "status optimal" in result.stdout and "baselines" in result.stdout


def test_json_output_is_rfc7951_style() -> None:
    result = runner.invoke(app, [*ARGS, "--json", "--time-limit", "5", "--schedule"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    plan = body["sdqn-qnum:plan"]
    assert plan["status"] == "optimal" and isinstance(plan["objective"], str)
    assert float(plan["bound"]) >= float(plan["objective"]) and float(plan["gap"]) < 1e-6
    by_name = {r["name"]: r for r in plan["request"]}
    qkd = by_name["qkd-alice-bob"]
    assert qkd["admission"] == "admitted" and qkd["path"][0] == "alice"
    assert isinstance(qkd["purification-rounds"], int)
    for leaf in ("predicted-rate", "predicted-fidelity", "utility", "share"):
        assert isinstance(qkd[leaf], str) and float(qkd[leaf]) > 0
    assert {b["method"] for b in plan["baseline"]} == {
        "shortest-path", "fidelity-greedy", "sequential-greedy"
    }  # fmt: skip
    assert "alice" in body["sdqn-qnum:schedule"]["devices"]


def test_rejected_request_reason_in_json(tmp_path: Path) -> None:
    reqs = json.loads((DATA / "requests.json").read_text())
    reqs["sdqn-services:entanglement-services"]["request"][0]["min-fidelity"] = "1.0"
    path = tmp_path / "r.json"
    path.write_text(json.dumps(reqs))
    argv = ["solve", "--topology", str(DATA / "metro.json"), "--requests", str(path), "--json"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    entry = json.loads(result.stdout)["sdqn-qnum:plan"]["request"][0]
    assert entry["admission"] == "rejected" and "unreachable" in entry["rejection-reason"]


def test_bad_input_exits_2_with_the_leaf_path(tmp_path: Path) -> None:
    topo = json.loads((DATA / "metro.json").read_text())
    link = topo["ietf-network:networks"]["network"][0]["ietf-network-topology:link"][0]
    link["sdqn-topology:quantum-link"]["fibre-length"] = "NaN"
    path = tmp_path / "t.json"
    path.write_text(json.dumps(topo))
    result = runner.invoke(app, ["solve", "--topology", str(path), "--requests", ARGS[4]])
    assert result.exit_code == 2
    assert "link-id='alice-r1'" in result.stderr and "fibre-length" in result.stderr
    missing = runner.invoke(
        app, ["solve", "--topology", "/nonexistent.json", "--requests", ARGS[4]]
    )
    assert missing.exit_code == 2 and "nonexistent" in missing.stderr
    bad_limit = runner.invoke(app, [*ARGS, "--time-limit", "0"])
    assert bad_limit.exit_code == 2 and "time-limit" in bad_limit.stderr


def test_bench_is_registered() -> None:
    result = runner.invoke(app, ["bench", "qnum", "--help"], env={"COLUMNS": "160"})
    assert result.exit_code == 0 and "--seeds" in result.stdout
