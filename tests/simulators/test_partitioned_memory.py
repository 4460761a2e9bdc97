"""An emulated repeater under slice partitions: however many halves a flow's links herald,
they are stored only in its partition's registers while the other slice's stay free."""

from __future__ import annotations

import pytest

from simulators.devices.repeater import Repeater
from simulators.devices.world import Topology
from tests.simulators.test_devices import Plant

LINKS = {"link": [{"link-id": "alice-r1", "neighbour": "alice", "attempt-rate": "10000000"},
                  {"link-id": "r1-r2", "neighbour": "r2", "attempt-rate": "50000000"}]}


@pytest.fixture
def plant(metro: Topology) -> Plant:
    return Plant(metro)


def test_a_flow_stays_in_its_partition_under_load(plant: Plant) -> None:
    r1: Repeater = plant["r1"]
    # The flow asks for 12 slots but its slice owns 2 registers (a device-side bound: the
    # model's must refuses such a configuration, the emulator holds it even so).
    plant.configure("r1", **{
        "link-generation": LINKS,
        "slice-partition": [{"slice": "gold", "register": [0, 1]},
                            {"slice": "silver", "register": [2, 3, 4, 5]}],
        "flow": [{"flow-id": "g", "slice": "gold", "memory-slots": 12,
                  "neighbour-links": ["alice-r1", "r1-r2"]}]})
    seen: set[int] = set()
    for _ in range(30):
        plant.run(1)
        pairs = r1.state_body(plant.clock.now())["stored-pairs"]["pair"]
        assert len(pairs) <= 2
        assert all(p["register"] in (0, 1) and p["slice"] == "gold" for p in pairs)
        assert r1.flows["g"].stored == len(pairs)
        seen |= {p["register"] for p in pairs}
    assert seen                        # the flow did store halves: in gold's registers only
