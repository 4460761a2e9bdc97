"""Self-healing touches nothing it need not: every device's running configuration, read
over NETCONF before and after a fibre cut, is byte-identical on each device that carries
no service the cut hit; on a device shared with a re-routed service, every other
service's part of the configuration (q-ROADM cross-connects and port numbers, repeater
flows, an APC's settings) is unchanged.

Real emulators over real NETCONF (the metro world of conftest.py), simulated time on a
manual clock."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator

import pytest

from controller.datastore.nmda import Datastore
from controller.service.render import service_parts
from simulators.faults import FaultKind, FaultRequest
from tests.controller.service.conftest import World, advance, metro_world, started


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with metro_world() as w:
        yield started(w)


def running_over_netconf(world: World) -> dict[str, str]:
    """Every managed device's running configuration as its NETCONF <get-config> returns
    it (the controller's own sessions)."""
    _store, manager, _net, _clock = world
    out: dict[str, str] = {}
    for node in sorted(manager.pool.node_ids):
        with manager.pool.session(node, wait_s=10) as adapter:
            out[node] = adapter.get_config()
    return out


def running_json(world: World) -> dict[str, dict[str, object]]:
    _store, _manager, net, _clock = world
    return {n: json.loads(d.store.get(Datastore.RUNNING) or "{}")
            for n, d in net.devices.items()}


def cut(world: World, link: str, *, clear: bool = False) -> None:
    _store, manager, net, clock = world
    done = len(manager.healer.reports)
    net.faults.apply(FaultRequest(kind=FaultKind.FIBRE_CUT, target=link, clear=clear))
    advance(net, clock, 1.0, step=1.0)
    manager.healer.wait_rounds(done, 30)
    assert manager.healer.wait_idle(30)


def devices_of(world: World) -> dict[str, set[str]]:
    """Admitted service → the devices serving it: its route's nodes and the APCs
    compensating its fibres."""
    _store, manager, _net, _clock = world
    plan, network = manager.expander.committed.plan, manager.expander.committed.network
    assert plan is not None and network is not None
    out: dict[str, set[str]] = {}
    for a in plan.admitted:
        assert a.candidate is not None
        route = a.candidate.route
        out[a.request.name] = {*route.nodes, *(c for lk in route.links
                                               if (c := network.links[lk].compensator))}
    return out


def assert_only_moved_changed(world: World, event: str, moved: set[str],
                               xml_before: dict[str, str],
                               json_before: dict[str, dict[str, object]],
                               serving_before: dict[str, set[str]],
                               watching: Collection[str] = ()) -> None:
    """Devices no service in `moved` used before or uses now (nor `watching`: devices
    that watched a repaired fibre drop the generation entries kept for it): byte-identical
    over NETCONF; on the others every other service's part is identical."""
    xml_after, json_after = running_over_netconf(world), running_json(world)
    serving_after = devices_of(world)
    may_change = set(watching) | {d for name in moved for d in (
        *serving_before.get(name, ()), *serving_after.get(name, ()))}
    changed = {n for n in xml_before if xml_before[n] != xml_after[n]}
    assert changed <= may_change, f"{event}: {sorted(changed - may_change)} changed"
    for name, devices in serving_before.items():
        if name in moved:
            continue
        for node in sorted(devices & may_change):
            assert service_parts(json_after[node], name) == \
                service_parts(json_before[node], name), f"{event}: {name}'s part on {node}"


@pytest.mark.parametrize("link", ["r1-r2", "r2-r3", "qr1-r2", "alice-r1", "r3-dave"])
def test_a_cut_and_its_repair_leave_every_unaffected_service_byte_identical(
        world: World, link: str) -> None:
    """Core cuts re-route (onto paths sharing q-ROADM, repeaters, end nodes and APCs with
    the other services), access cuts drop their service; the repair brings dropped
    services back and moves nothing else."""
    _store, manager, _net, _clock = world
    before = running_over_netconf(world), running_json(world), devices_of(world)
    done = len(manager.healer.reports)
    cut(world, link)
    report = manager.healer.reports[done]
    assert report.error is None and report.affected, report
    assert report.touched_unaffected == [] and report.touched_parts == []
    assert_only_moved_changed(world, f"cut of {link}", set(report.affected), *before)

    before = running_over_netconf(world), running_json(world), devices_of(world)
    watchers = {node for node, _entry in manager.expander.health.watch}
    done = len(manager.healer.reports)
    cut(world, link, clear=True)
    report = manager.healer.reports[done]
    assert report.error is None and report.touched_unaffected == []
    assert report.touched_parts == []
    assert_only_moved_changed(world, f"repair of {link}", set(report.restored), *before,
                              watching=watchers)
