"""Revertive self-healing on the emulated metro network (real NETCONF devices): off by
default a re-routed service stays on its backup path after the repair; on, it moves back
after the hold-off, make-before-break, and no other service's configuration changes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from controller.datastore.nmda import Datastore, NmdaStore
from controller.service.heal import HealReport
from controller.service.render import service_parts
from simulators.faults import FaultKind, FaultRequest
from tests.controller.service.conftest import World, advance, metro_world, started
from tests.controller.service.test_heal import path

QKD = "qkd-alice-bob"
ORIGINAL = ["alice", "r1", "r2", "bob"]
BACKUP = ["alice", "r1", "qr1", "r2", "bob"]


@pytest.fixture
def world() -> Iterator[World]:
    with metro_world() as w:
        yield started(w)


def revertive(store: NmdaStore, **settings: Any) -> None:
    store.edit_json(Datastore.RUNNING, {"sdqn-controller:controller": {"optimiser": {
        "revertive": settings}}})


def fibre(world: World, link: str, *, clear: bool = False, poll: bool = False
          ) -> HealReport:
    """Cut or repair `link`; `poll`: a telemetry round reports it (a fibre no service
    uses has no generation entry to notify, only its ports see it)."""
    _store, manager, net, clock = world
    done = len(manager.healer.reports)
    net.faults.apply(FaultRequest(kind=FaultKind.FIBRE_CUT, target=link, clear=clear))
    advance(net, clock, 1.0, step=1.0)
    if poll:
        manager.telemetry.poll_once()
    rounds = manager.healer.wait_rounds(done, 30)
    assert manager.healer.wait_idle(30)
    assert len(rounds) == 1
    return rounds[0]


def waiting(store: NmdaStore) -> dict[str, dict[str, Any]]:
    """optimiser/revertive/service in <operational>, by service."""
    data = json.loads(store.get(Datastore.OPERATIONAL,
                                xpath="/sdqn-controller:controller/optimiser/revertive")
                      or "{}")
    entries = (data.get("sdqn-controller:controller", {}).get("optimiser", {})
               .get("revertive", {}).get("service", []))
    return {e["name"]: e for e in entries}


def parts(world: World, services: list[str]) -> dict[tuple[str, str], str]:
    """Each service's part of every device's running configuration."""
    _store, _manager, net, _clock = world
    docs = {n: json.loads(d.store.get(Datastore.RUNNING) or "{}")
            for n, d in net.devices.items()}
    return {(name, node): service_parts(doc, name) for name in services
            for node, doc in docs.items()}


def test_non_revertive_by_default_a_rerouted_service_stays_after_the_repair(
        world: World) -> None:
    store, manager, _net, _clock = world
    assert path(store, QKD) == ORIGINAL
    report = fibre(world, "r1-r2")
    assert report.rerouted == [QKD] and path(store, QKD) == BACKUP
    report = fibre(world, "r1-r2", clear=True)
    assert report.error is None and report.touched_unaffected == []
    assert path(store, QKD) == BACKUP                 # non-revertive: it stays
    assert manager.healer.revertive.entries() == {} and waiting(store) == {}
    assert manager.healer.revertive.next_due() is None     # no hold-off runs
    assert manager.healer.revert_now() == []
    assert path(store, QKD) == BACKUP


def test_revertive_moves_back_after_the_hold_off_make_before_break(world: World) -> None:
    store, manager, net, clock = world
    revertive(store, **{"enabled": True, "hold-off-time": "2"})
    assert path(store, QKD) == ORIGINAL
    others = [n for n in ("dqc-charlie-dave", "teleport-bob-charlie")]
    report = fibre(world, "r1-r2")
    assert report.rerouted == [QKD] and path(store, QKD) == BACKUP
    entry = waiting(store)[QKD]
    assert entry["state"] == "waiting-for-repair" and entry["original-path"] == ORIGINAL
    assert "r1-r2" in entry["reason"]

    untouched = parts(world, others)
    done = len(manager.healer.reports)
    released = len(manager.releases)
    report = fibre(world, "r1-r2", clear=True)         # repaired: the hold-off starts
    assert report.touched_unaffected == [] and path(store, QKD) == BACKUP
    entry = waiting(store)[QKD]
    assert entry["state"] == "holding-off" and "revert-time" in entry

    rounds = manager.healer.wait_rounds(done + 1, 30)   # the hold-off's end wakes the healer
    assert [r.reverted for r in rounds] == [[QKD]], rounds
    revert = rounds[0]
    assert revert.error is None and revert.touched_unaffected == []
    assert path(store, QKD) == ORIGINAL and waiting(store) == {}
    expansion = manager.expander.committed
    assert expansion.moving == [QKD] and expansion.bridges     # make ...
    deadline = time.monotonic() + 60
    while len(manager.releases) == released and time.monotonic() < deadline:
        advance(net, clock, 30, step=30)
        time.sleep(0.3)
    release = manager.releases[-1]                            # ... before break
    assert release.ok and set(release.devices) == set(expansion.bridges)
    assert manager.bridging == {}
    assert parts(world, others) == untouched            # nobody else was touched


def test_a_failure_on_the_original_path_during_the_hold_off_stops_it(world: World) -> None:
    store, manager, _net, _clock = world
    revertive(store, **{"enabled": True, "hold-off-time": "600"})
    fibre(world, "r1-r2")
    fibre(world, "r1-r2", clear=True)
    assert waiting(store)[QKD]["state"] == "holding-off"
    fibre(world, "r1-r2", poll=True)                   # flaps: back to waiting
    entry = waiting(store)[QKD]
    assert entry["state"] == "waiting-for-repair" and "revert-time" not in entry
    assert manager.healer.revertive.next_due() is None
    revertive(store, enabled=False)                    # turning it off forgets them
    fibre(world, "r1-r2", clear=True, poll=True)
    assert waiting(store) == {} and path(store, QKD) == BACKUP
