"""Slices on the emulated metro network (real NETCONF devices, real service layer): a
guaranteed slice reads compliant with its measurement time; an access cut that makes its
guarantee impossible suspends it and raises slice-sla-violation on the slice with the
fibre-cut as root cause (RFC 8632 §3.2); the repair clears it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.datastore.nmda import Datastore, NmdaStore
from controller.service.alarms import AlarmKey
from controller.service.slice_publish import SLA_ALARM, slice_resource
from tests.controller.service.conftest import World, advance, cut_fibre, metro_world, started

FIXTURE = Path(__file__).resolve().parents[2] / "yang" / "instances" / "sdqn-slices.json"


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    # qkd-gold reserves a time share on alice-r1, the fibre the test cuts: the healing
    # solve must ignore a reservation on a failed fibre
    doc = json.loads(FIXTURE.read_text())
    with metro_world() as w:
        w[0].edit_json(Datastore.RUNNING, doc)
        yield started(w)


def slice_state(store: NmdaStore, name: str) -> dict[str, Any]:
    data = json.loads(store.get(Datastore.OPERATIONAL, xpath="/sdqn-slices:slicing"))
    entry = next(s for s in data["sdqn-slices:slicing"]["slice"] if s["name"] == name)
    state: dict[str, Any] = entry.get("state", {})
    return state


def measured(world: World, seconds: float = 5.0) -> None:
    _store, manager, net, clock = world
    for _ in range(3):
        advance(net, clock, seconds)
        manager.telemetry.poll_once()


def test_guaranteed_slice_is_compliant_then_alarmed_by_a_cut_and_cleared(
        world: World) -> None:
    store, manager, _net, _clock = world
    measured(world)
    gold = slice_state(store, "qkd-gold")
    slos = {s["objective"]: s for s in gold["slo"]}
    assert set(slos) == {"guaranteed-rate", "min-fidelity"}
    assert slos["guaranteed-rate"]["compliant"] is True, gold
    assert float(slos["guaranteed-rate"]["measured"]) >= 50.0 * 0.9
    assert "measured-at" in slos["guaranteed-rate"]
    assert gold["guarantee"] == {"suspended": False}
    assert {n["node-id"] for n in gold["fragmentation"]["node"]} == {"alice", "r1", "bob"}
    key = AlarmKey(slice_resource("qkd-gold"), SLA_ALARM)
    assert manager.alarms.get(key) is None

    report = cut_fibre(world, "alice-r1")        # alice's only access: 50 pairs/s impossible
    assert report.dropped == ["qkd-alice-bob"]
    gold = slice_state(store, "qkd-gold")
    assert gold["guarantee"]["suspended"] is True and "qkd-gold" in gold["guarantee"]["reason"]
    alarm = manager.alarms.get(key)
    assert alarm is not None and not alarm.cleared
    assert any("link-id='alice-r1'" in r for r in alarm.root_causes), alarm.root_causes

    cut_fibre(world, "alice-r1", clear=True)
    gold = slice_state(store, "qkd-gold")
    assert gold["guarantee"] == {"suspended": False}
    alarm = manager.alarms.get(key)
    assert alarm is not None and alarm.cleared
    for _ in range(10):             # the restored service settles and is measured again
        measured(world, 30.0)
        rate = {s["objective"]: s for s in slice_state(store, "qkd-gold")["slo"]}[
            "guaranteed-rate"]
        if "compliant" in rate:
            break
    assert rate.get("compliant") is True, rate
    cleared = manager.alarms.get(key)
    assert cleared is not None and cleared.cleared
