"""The bounded history store: retention, the sample cap, range queries and snapshots; the
recorder's link, node, service, alarm and commit samples."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from controller.datastore.history import CommitLog, RunningHistory
from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.schema import Schema
from controller.service.alarms import AlarmKey, AlarmManager, Severity, link_resource
from controller.service.history_recorder import HistoryRecorder
from controller.service.history_store import HistoryStore, OutOfWindow, iso, parse_time


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_range_query_returns_samples_in_range_oldest_first() -> None:
    clock = Clock()
    store = HistoryStore(clock=clock)
    for i in range(10):
        clock.t += 1
        store.add("link", "L1", {"measured-fidelity": str(0.9 + i / 100)})
        store.add("service", "S1", {"oper-state": "up"})
    got = store.query(1_000_003.0, 1_000_005.0, kinds=["link"])
    assert [s.time for s in got] == [1_000_003.0, 1_000_004.0, 1_000_005.0]
    assert all(s.kind == "link" and s.resource == "L1" for s in got)
    assert len(store.query(1_000_003.0, 1_000_005.0)) == 6
    assert store.query(1_000_003.0, 1_000_005.0, resource="S1")[0].kind == "service"


def test_retention_drops_old_samples_and_moves_the_window() -> None:
    clock = Clock()
    store = HistoryStore(retention_s=60, clock=clock)
    store.add("link", "L1", {"oper-status": "sdqn-types:up"})
    clock.t += 30
    store.add("link", "L1", {"oper-status": "sdqn-types:down"})
    clock.t += 40      # the first sample is now 70 s old
    start, end = store.window()
    assert (start, end) == (clock.t - 60, clock.t)
    assert len(store) == 1
    with pytest.raises(OutOfWindow) as bad:
        store.check_range(clock.t - 100, None)
    assert bad.value.leaf == "start"
    with pytest.raises(OutOfWindow) as bad:
        store.check_time(clock.t - 100)
    assert bad.value.leaf == "time" and "retained window" in str(bad.value)


def test_start_after_end_names_start() -> None:
    clock = Clock()
    store = HistoryStore(clock=clock)
    clock.t += 10
    with pytest.raises(OutOfWindow) as bad:
        store.check_range(clock.t - 1, clock.t - 5)
    assert bad.value.leaf == "start"


def test_sample_cap_evicts_the_oldest_and_narrows_the_window() -> None:
    clock = Clock()
    store = HistoryStore(max_samples=100, clock=clock)
    for i in range(250):
        clock.t += 1
        store.add("link", f"L{i % 3}", {"n": i})
    assert len(store) == 100
    start, _ = store.window()
    assert start == 1_000_150.0        # the newest evicted sample's time
    got = store.query(start, clock.t)
    assert [s.values["n"] for s in got] == list(range(150, 250))


def test_snapshot_is_the_last_sample_at_or_before_t() -> None:
    clock = Clock()
    store = HistoryStore(clock=clock)
    clock.t += 1
    store.add("link", "L1", {"oper-status": "sdqn-types:up"})
    store.add("service", "S1", {"oper-state": "up"})
    store.add("node", "r1", {"oper-status": "sdqn-types:up"})
    clock.t += 10
    cut = clock.t
    store.add("link", "L1", {"oper-status": "sdqn-types:down"})
    store.add("node", "r1", {"oper-status": "sdqn-types:down"})
    store.add("alarm", "L1res", {"alarm-type-id": "sdqn-alarms:fibre-cut"}, event="raised",
              series="L1res|fibre-cut|")
    store.add("alarm", "L1res", {"alarm-type-id": "sdqn-alarms:los"}, event="raised",
              series="L1res|los|")
    store.add("service", "S1", {"oper-state": "down"})
    clock.t += 10
    store.add("alarm", "L1res", {"alarm-type-id": "sdqn-alarms:los"}, event="cleared",
              series="L1res|los|")
    before = store.snapshot(cut - 1)
    assert before.links["L1"].values["oper-status"] == "sdqn-types:up"
    assert before.services["S1"].values["oper-state"] == "up"
    assert before.nodes["r1"].values["oper-status"] == "sdqn-types:up"
    assert before.alarms == []
    after = store.snapshot(cut)
    assert after.links["L1"].values["oper-status"] == "sdqn-types:down"
    assert after.nodes["r1"].values["oper-status"] == "sdqn-types:down"
    assert [a.values["alarm-type-id"] for a in after.alarms] == [
        "sdqn-alarms:fibre-cut", "sdqn-alarms:los"]
    later = store.snapshot(clock.t)
    assert [a.values["alarm-type-id"] for a in later.alarms] == ["sdqn-alarms:fibre-cut"]
    assert store.snapshot(0.0).links == {} and store.snapshot(0.0).nodes == {}


def test_a_clock_stepped_back_keeps_each_series_ordered() -> None:
    clock = Clock()
    store = HistoryStore(clock=clock)
    store.add("link", "L1", {"n": 1})
    clock.t -= 5
    store.add("link", "L1", {"n": 2})
    assert [s.values["n"] for s in store.query(0, 2e9)] == [1, 2]


def test_concurrent_writers_and_readers() -> None:
    store = HistoryStore(max_samples=5000)

    def write(name: str) -> None:
        for i in range(2000):
            store.add("link", name, {"n": i})

    def read() -> None:
        for _ in range(200):
            start, end = store.window()
            store.query(start, end)
            store.snapshot(end)

    threads = [threading.Thread(target=write, args=(f"L{i}",)) for i in range(4)]
    threads.append(threading.Thread(target=read))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store) == 5000
    start, end = store.window()
    assert len(store.query(start, end)) == 5000


def test_times_round_trip() -> None:
    assert parse_time(iso(1_700_000_000.25)) == 1_700_000_000.25
    with pytest.raises(ValueError):
        parse_time("2026-01-01T00:00:00")


# -- the recorder on its own thread, woken by operational changes -------------------------

def _wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_recorder_follows_alarms_and_commits(alarms: AlarmManager) -> None:
    store = alarms.store
    commits = RunningHistory(store, CommitLog(None))
    history = HistoryStore()
    recorder = HistoryRecorder(store, history, commits=lambda: commits.log.recent(100))
    recorder.start()
    try:
        key = AlarmKey(link_resource("metro", "alice-r1"), "sdqn-alarms:fibre-cut")
        alarms.raise_alarm(key, Severity.CRITICAL, "no light", root_causes=(key.resource,))

        def events() -> list[str]:
            return [s.event for s in history.query(0, 2e9, kinds=["alarm"])]

        assert _wait_for(lambda: events() == ["raised"])
        alarms.clear_alarm(key)
        assert _wait_for(lambda: events() == ["raised", "cleared"])
        raised = history.query(0, 2e9, kinds=["alarm"])[0]
        assert raised.resource == key.resource
        assert raised.values["root-cause-resource"] == [key.resource]
        store.edit_json(Datastore.RUNNING, {"sdqn-services:entanglement-services": {}})
        store.edit_json(Datastore.RUNNING, {"ietf-network:networks": {"network": [
            {"network-id": "metro"}]}})
        assert _wait_for(lambda: len(history.query(0, 2e9, kinds=["commit"])) >= 1)
        commit = history.query(0, 2e9, kinds=["commit"])[-1]
        assert commit.event == "commit" and commit.values["commit-id"] == commit.resource
    finally:
        recorder.stop()
        commits.close()
    assert store.operational_watchers == []


# -- node samples, recorded from <operational> round by round ------------------------------

NODE_STATE = ("/ietf-network:networks/network[network-id='metro']/node[node-id='r1']"
              "/sdqn-topology:quantum-node/state")


def _publish_node(store: NmdaStore, **state: Any) -> None:
    """What the network-state publisher merges for a node (controller/service/netstate)."""
    store.merge_state(json.dumps({"ietf-network:networks": {"network": [
        {"network-id": "metro", "node": [
            {"node-id": "r1", "sdqn-topology:quantum-node": {"state": state}}]}]}}))


def test_recorder_samples_a_node_when_its_state_changes(schema: Schema) -> None:
    store = NmdaStore(schema)
    store.edit_json(Datastore.RUNNING, {"ietf-network:networks": {"network": [
        {"network-id": "metro",
         "network-types": {"sdqn-topology:quantum-network": {}},
         "node": [{"node-id": "r1", "sdqn-topology:quantum-node": {
             "device-kind": "sdqn-types:repeater"}},
                  {"node-id": "r2", "sdqn-topology:quantum-node": {
                      "device-kind": "sdqn-types:repeater"}}]}]}})
    clock = Clock()
    history = HistoryStore(clock=clock)
    recorder = HistoryRecorder(store, history)
    recorder.record_once()
    assert history.query(0, 2e9, kinds=["node"]) == []   # never measured: no sample
    _publish_node(store, **{"oper-status": "sdqn-types:up", "stable": True,
                            "memory-in-use": 2, "last-updated": "2026-12-07T10:00:00Z",
                            "stale": False})
    clock.t += 1
    recorder.record_once()
    clock.t += 1
    recorder.record_once()                                # unchanged: no second sample
    [up] = history.query(0, 2e9, kinds=["node"])
    assert up.resource == "r1"
    values = dict(up.values)
    assert parse_time(values.pop("measured-at")) == parse_time("2026-12-07T10:00:00Z")
    assert values == {"network-id": "metro", "device-kind": "sdqn-types:repeater",
                      "oper-status": "sdqn-types:up", "stable": True, "memory-in-use": 2,
                      "stale": False}
    clock.t += 10
    cut = clock.t
    _publish_node(store, **{"oper-status": "sdqn-types:down",
                            "last-updated": "2026-12-07T10:00:10Z"})
    recorder.record_once()
    assert [s.values["oper-status"] for s in history.query(0, 2e9, kinds=["node"])] == [
        "sdqn-types:up", "sdqn-types:down"]
    assert history.snapshot(cut - 1).nodes["r1"].values["oper-status"] == "sdqn-types:up"
    assert history.snapshot(cut).nodes["r1"].values["oper-status"] == "sdqn-types:down"
    assert "r2" not in history.snapshot(cut).nodes
    clock.t += 1
    assert store.delete_state(NODE_STATE)
    recorder.record_once()
    assert history.query(0, 2e9, kinds=["node"])[-1].values == {"removed": True}


@pytest.mark.parametrize("fraction", [0.1234564, 0.1234566, 0.9999996])
def test_a_samples_printed_time_asked_back_finds_that_sample(fraction: float) -> None:
    """Times are printed to the microsecond (yang:date-and-time): a snapshot at the time
    get-history printed for a sample includes it, whichever way the instant rounds."""
    clock = Clock(1_000_000.0 + fraction)
    store = HistoryStore(clock=clock)
    sample = store.add("link", "L1", {"oper-status": "up"})
    asked = parse_time(iso(sample.time))
    assert store.snapshot(asked).links == {"L1": sample}
    assert store.query(asked, asked) == [sample]


def test_a_value_measured_again_unchanged_is_sampled_once_per_heartbeat(
        schema: Schema) -> None:
    """Telemetry re-measures every round: only measured-at moves. One sample per
    heartbeat says how fresh the value was; a changed value is sampled at once."""
    store = NmdaStore(schema)
    store.edit_json(Datastore.RUNNING, {"ietf-network:networks": {"network": [
        {"network-id": "metro", "network-types": {"sdqn-topology:quantum-network": {}},
         "node": [{"node-id": "r1", "sdqn-topology:quantum-node": {
             "device-kind": "sdqn-types:repeater"}}]}]}})
    clock = Clock()
    history = HistoryStore(clock=clock)
    recorder = HistoryRecorder(store, history, heartbeat_s=10)
    for second in range(25):                        # one telemetry round a second
        clock.t += 1
        status = "sdqn-types:up" if second < 22 else "sdqn-types:down"
        _publish_node(store, **{"oper-status": status,
                                "last-updated": iso(clock.t), "stale": False})
        recorder.record_once()
    samples = history.query(0, 2e9, kinds=["node"])
    offsets = [round(s.time - 1_000_000.0) for s in samples]
    assert offsets == [1, 11, 21, 23], offsets     # every 10 s, then the change at once
    assert [s.values["oper-status"] for s in samples][-1] == "sdqn-types:down"
