"""The history's samples on disk: a new store (a restarted controller) starts from the
retained samples with the same window; the journal keeps the same bounds as memory; a
recorder round is one transaction."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from controller.service.history_journal import SampleJournal
from controller.service.history_store import HistoryStore
from tests.controller.service.test_history_store import Clock


def rows_on_disk(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT COUNT(*) FROM samples").fetchone()[0])
    finally:
        db.close()


def fill(store: HistoryStore, clock: Clock, n: int) -> None:
    for i in range(n):
        clock.t += 1
        store.add("link", "L1", {"measured-fidelity": str(0.9 + i / 1000)})
        store.add("alarm", "L1", {"perceived-severity": "major", "is-cleared": i % 2 == 1},
                  event="cleared" if i % 2 else "raised", series="L1|cut|")


def test_a_restart_keeps_the_window_and_every_sample(tmp_path: Path) -> None:
    path, clock = tmp_path / "h.sqlite", Clock()
    first = HistoryStore(clock=clock, journal=SampleJournal(path))
    fill(first, clock, 10)
    with first.batch():
        first.add("service", "S1", {"oper-state": "up"})
        first.add("node", "r1", {"oper-status": "up", "network-id": "metro"})
    window = first.window()
    before = [s.members() for s in first.query(*window)]
    snap = first.snapshot(window[1])
    first.close()

    clock.t += 5         # the controller was down for five seconds
    again = HistoryStore(clock=clock, journal=SampleJournal(path))
    assert again.window()[0] == window[0]           # the same oldest known instant
    assert [s.members() for s in again.query(window[0], window[1])] == before
    restored = again.snapshot(window[1])
    assert (restored.links, restored.nodes, restored.services, restored.alarms) == (
        snap.links, snap.nodes, snap.services, snap.alarms)
    again.close()


def test_the_disk_keeps_the_same_bounds_as_memory(tmp_path: Path) -> None:
    path, clock = tmp_path / "h.sqlite", Clock()
    store = HistoryStore(retention_s=100, max_samples=8, clock=clock,
                         journal=SampleJournal(path))
    fill(store, clock, 10)                       # 20 samples: only the newest 8 kept
    assert len(store) == 8 and rows_on_disk(path) == 8
    clock.t += 1000                               # all of them older than the retention
    with store.batch():
        store.add("link", "L2", {"oper-status": "up"})
    assert rows_on_disk(path) == 1
    store.close()
    assert len(HistoryStore(retention_s=100, clock=clock,
                            journal=SampleJournal(path))) == 1


def test_a_batch_is_one_transaction(tmp_path: Path) -> None:
    path, clock = tmp_path / "h.sqlite", Clock()
    store = HistoryStore(clock=clock, journal=SampleJournal(path))
    with store.batch():
        fill(store, clock, 3)
        assert rows_on_disk(path) == 0           # nothing written before the round ends
    assert rows_on_disk(path) == 6
    store.add("link", "L1", {"oper-status": "down"})   # outside a batch: at once
    assert rows_on_disk(path) == 7
    store.close()
