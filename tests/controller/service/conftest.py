"""The emulated metro network configured by a real service layer: the set-up the service
tests share (real NETCONF devices on localhost, simulated time on a manual clock)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.schema import Schema
from controller.paths import CONFIG_DIR
from controller.service.alarms import AlarmManager
from controller.service.heal import HealReport
from controller.service.manager import ServiceManager
from controller.settings import PRODUCT_MODULES
from simulators.clock import ManualClock
from simulators.devices.world import Topology
from simulators.faults import FaultKind, FaultRequest
from simulators.launcher import DEFAULT_TOPOLOGY, Network, SchemaCache

World = tuple[NmdaStore, ServiceManager, Network, ManualClock]


def advance(network: Network, clock: ManualClock, seconds: float, step: float = 5.0) -> None:
    """Move simulated time in ticks of at most `step` seconds."""
    remaining = seconds
    while remaining > 1e-9:
        dt = min(step, remaining)
        clock.advance(dt)
        network.ticker.tick_once()
        remaining -= dt


@contextmanager
def metro_world(*, prepare: Callable[[Network], None] | None = None,
                services: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
                extra_modules: Sequence[str] = (),
                topology: Callable[[dict[str, Any]], None] | None = None) -> Iterator[World]:
    """Devices started, topology (with the emulators' ports) and demo requests committed.

    `prepare` runs on the started network before any commit; `services` may filter the
    demo requests; `extra_modules` join the product's in the store's schema (for a
    northbound served from it); `topology` may edit the topology before its commit."""
    clock = ManualClock()
    net = Network(Topology.load(DEFAULT_TOPOLOGY), clock=clock, seed=11,
                  use_topology_ports=False, tick=3600, schemas=SchemaCache())
    net.start(control=False)
    store = NmdaStore(Schema([*PRODUCT_MODULES, *extra_modules]))
    manager = ServiceManager(store, time_limit_s=5, device_timeout_s=10)
    try:
        if prepare is not None:
            prepare(net)
        ports = {d["node-id"]: d["port"] for d in net.inventory()["devices"]}
        metro = json.loads((CONFIG_DIR / "topologies" / "metro.json").read_text())
        for node in metro["ietf-network:networks"]["network"][0]["node"]:
            node["sdqn-topology:quantum-node"]["management"]["port"] = ports[node["node-id"]]
        if topology is not None:
            topology(metro)
        store.edit_json(Datastore.RUNNING, metro)
        demo = json.loads((CONFIG_DIR / "services" / "demo.json").read_text())
        if services is not None:
            requests = demo["sdqn-services:entanglement-services"]["request"]
            requests[:] = services(requests)
        store.edit_json(Datastore.RUNNING, demo)
        yield store, manager, net, clock
    finally:
        manager.close()
        net.stop()


@pytest.fixture(scope="module")
def schema() -> Schema:
    """The product's YANG modules (loading them costs about a second: once per module)."""
    return Schema(list(PRODUCT_MODULES))


@pytest.fixture
def alarms(schema: Schema) -> AlarmManager:
    """An alarm manager over an empty store."""
    return AlarmManager(NmdaStore(schema))


def started(world: World) -> World:
    """The service loops running, every device's notification stream subscribed, and
    the emulated lasers warm and APCs calibrated (400 simulated seconds)."""
    _store, manager, net, clock = world
    manager.start()
    deadline = time.monotonic() + 30
    while len(manager.events.subscribed) < len(net.devices) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(manager.events.subscribed) == len(net.devices)
    advance(net, clock, 400)
    return world


def cut_fibre(world: World, link: str, *, clear: bool = False) -> HealReport:
    """Cut (or repair) a fibre through the emulators and wait for the one healing round
    the devices' notifications trigger."""
    _store, manager, net, clock = world
    done = len(manager.healer.reports)
    net.faults.apply(FaultRequest(kind=FaultKind.FIBRE_CUT, target=link, clear=clear))
    advance(net, clock, 1.0, step=1.0)
    rounds = manager.healer.wait_rounds(done, 30)
    assert manager.healer.wait_idle(30)
    assert len(rounds) == 1, "exactly one healing round per event"
    return rounds[0]


@pytest.fixture
def world() -> Iterator[World]:
    with metro_world() as w:
        yield w
