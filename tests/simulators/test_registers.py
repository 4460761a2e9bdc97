"""Slice partitions in the emulated memory (simulators.devices.registers): a flow stores
pair halves only in its partition's registers, whatever else is free."""

from __future__ import annotations

from typing import Any

from simulators.devices.registers import allocate, pools

CONFIG: dict[str, Any] = {
    "memory": {"register-count": 10},
    "slice-partition": [{"slice": "gold", "register": [0, 1, 2, 3]},
                        {"slice": "silver", "register": [4, 5]}],
}
FLOWS = [{"flow-id": "g", "slice": "gold"}, {"flow-id": "s", "slice": "silver"},
         {"flow-id": "plain"}]


def halves(flow: str, n: int) -> list[dict[str, Any]]:
    return [{"flow-id": flow, "link-id": "x"} for _ in range(n)]


def test_pools_split_the_registers() -> None:
    assert pools(CONFIG) == {"gold": [0, 1, 2, 3], "silver": [4, 5], None: [6, 7, 8, 9]}


def test_a_flow_cannot_exceed_its_partition_while_other_registers_are_free() -> None:
    held = allocate(CONFIG, FLOWS, halves("s", 5))      # silver owns 2; 8 others are free
    assert [p["register"] for p in held.pairs] == [4, 5]
    assert all(p["slice"] == "silver" for p in held.pairs)
    assert held.refused == {"s": 3}


def test_unpartitioned_flows_use_only_unreserved_registers() -> None:
    held = allocate(CONFIG, FLOWS, halves("plain", 6) + halves("g", 1))
    assert sorted(p["register"] for p in held.pairs if p["flow-id"] == "plain") == [6, 7, 8, 9]
    assert "slice" not in next(p for p in held.pairs if p["flow-id"] == "plain")
    assert [p["register"] for p in held.pairs if p["flow-id"] == "g"] == [0]
    assert held.refused == {"plain": 2}


def test_without_partitions_halves_are_numbered_in_order() -> None:
    held = allocate({"memory": {"register-count": 2}}, [{"flow-id": "a"}], halves("a", 2))
    assert [p["register"] for p in held.pairs] == [0, 1]
