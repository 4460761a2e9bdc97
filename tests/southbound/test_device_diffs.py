"""What a past change of running did to each device: network commits record the running
commit they carry out and each device's modules; `DeviceDiffs` reads them back as
schema-aware leaf changes, the same shape as a dry-run's impact."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.netconf import NetconfAdapter
from southbound.commit import NetworkCommit
from southbound.device_diffs import WHOLE, DeviceDiffs
from southbound.history import CommitHistory
from southbound.model import DeviceChange
from southbound.pool import SessionPool
from tests.southbound.conftest import Device, apc_config


@pytest.fixture
def two(make_device: Callable[[str], Device]) -> list[Device]:
    return [make_device(f"apc-{i}") for i in range(2)]


def push(committer: NetworkCommit, devices: list[Device], interval: int,
         running_commit: str | None) -> str:
    result = committer.apply([DeviceChange(node_id=d.node_id,
                                           config_xml=apc_config(d.node_id, interval))
                              for d in devices], running_commit=running_commit)
    assert result.success, result
    assert result.running_commit == running_commit
    return result.commit_id


def test_a_running_commit_lists_each_device_leaf_change(two: list[Device],
                                                        tmp_path: Path) -> None:
    pool = SessionPool([d.endpoint for d in two], adapters={"netconf": NetconfAdapter})
    history = CommitHistory(tmp_path / "history.sqlite")
    try:
        committer = NetworkCommit(pool, history=history)
        first = push(committer, two, 1200, "r-first")
        second = push(committer, two[:1], 900, "r-second")
        push(committer, two, 600, None)      # a push of no running change: listed nowhere
        assert [r.commit_id for r in history.of_running("r-second")] == [second]
        assert history.get(first) is not None
        assert history.get(first).modules == {"apc-0": ["sdqn-apc"],  # type: ignore[union-attr]
                                              "apc-1": ["sdqn-apc"]}
        diffs = DeviceDiffs(history)
        entries = diffs("r-second")
        assert entries == [{
            "node-id": "apc-0", "network-commit": second, "network-label": "",
            "change": [{"operation": "replace",
                        "path": "/sdqn-apc:apc/calibration-interval",
                        "value": json.dumps("900.0"), "previous": json.dumps("1200.0")}]}]
        assert [e["node-id"] for e in diffs("r-first")] == ["apc-0", "apc-1"]
        assert all(e["network-commit"] == first for e in diffs("r-first"))
        assert diffs("never-pushed") == []
    finally:
        pool.close()
        history.close()


def test_a_device_without_modules_is_compared_whole_as_text(tmp_path: Path) -> None:
    history = CommitHistory(tmp_path / "h.sqlite")
    try:
        history.record("c-1", "vendor box", True, {"box": "<a>1</a>"}, {"box": "<a>2</a>"},
                       running_commit="r-1", modules={"box": []})
        history.record("c-2", "same", True, {"box": "<a>2</a>"}, {"box": "<a>2</a>"},
                       running_commit="r-2", modules={"box": []})
        assert DeviceDiffs(history)("r-1") == [{
            "node-id": "box", "network-commit": "c-1", "network-label": "vendor box",
            "change": [{"operation": "replace", "path": WHOLE,
                        "value": json.dumps("<a>2</a>"),
                        "previous": json.dumps("<a>1</a>")}]}]
        assert DeviceDiffs(history)("r-2") == []     # nothing changed on the device
    finally:
        history.close()


def test_a_configuration_its_modules_do_not_parse_is_shown_as_text(tmp_path: Path) -> None:
    history = CommitHistory(tmp_path / "h.sqlite")
    try:
        history.record("c-1", None, True, {"apc-0": "<nonsense/>"},
                       {"apc-0": apc_config("apc-0", 900)}, running_commit="r-1",
                       modules={"apc-0": ["sdqn-apc"]})
        (entry,) = DeviceDiffs(history)("r-1")
        assert entry["change"][0]["path"] == WHOLE
        assert json.loads(entry["change"][0]["previous"]) == "<nonsense/>"
    finally:
        history.close()


def test_a_history_written_before_running_commits_were_recorded_opens(tmp_path: Path
                                                                      ) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE commits (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE "
               "NOT NULL, label TEXT, ts REAL NOT NULL, success INTEGER NOT NULL, before "
               "TEXT NOT NULL, after TEXT NOT NULL, user TEXT)")
    db.execute("INSERT INTO commits (id, label, ts, success, before, after) "
               "VALUES ('c-old', 'old', 1.0, 1, '{}', '{}')")
    db.commit()
    db.close()
    history = CommitHistory(path)
    try:
        old = history.get("c-old")
        assert old is not None and old.running_commit is None and old.modules == {}
        history.record("c-new", None, True, {}, {}, running_commit="r-1")
        assert [r.commit_id for r in history.of_running("r-1")] == ["c-new"]
    finally:
        history.close()
