"""Slice partitions in the rendered device configurations (controller.service.render,
controller.service.partitions): dedicated slices get disjoint registers and their fibre
time shares on the devices, their members are placed in them, shared slices get none."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from controller.paths import CONFIG_DIR
from controller.service.partitions import (
    LINK_TIME_SHARE,
    MEMORY_REGISTERS,
    OwnedResource,
    owned_resources,
)
from controller.service.render import RenderError, device_config_xml, render_devices
from qnum.io import Network, load_requests, load_topology
from qnum.plan import Plan, Problem
from qnum.slices import Isolation, Slice, Slicing
from qnum.solver import SolverOptions, solve

REP, END = "sdqn-repeater:repeater", "sdqn-end-node:end-node"


@pytest.fixture(scope="module")
def metro() -> Network:
    return load_topology(CONFIG_DIR / "topologies" / "metro.json")


@pytest.fixture(scope="module")
def plan(metro: Network) -> Plan:
    """qkd-alice-bob over r1, r2 (3 slots on bob); teleport-bob-charlie over r2 (3 on
    bob); dqc-charlie-dave over r2, r3."""
    requests = load_requests(CONFIG_DIR / "services" / "demo.json", metro)
    return solve(Problem.build(metro, requests), SolverOptions(time_limit_s=5))


@pytest.fixture(scope="module")
def kinds(metro: Network) -> dict[str, str]:
    return {n: node.kind.value for n, node in metro.nodes.items()}


def slicing(gold_bob: int = 4, silver_share: float = 0.3) -> Slicing:
    return Slicing((
        Slice("silver", "t2", isolation=Isolation.DEDICATED,
              reserved_memory={"r2": 3, "bob": 3}, reserved_share={"r2-bob": silver_share},
              requests=("teleport-bob-charlie",)),
        Slice("gold", "t1", isolation=Isolation.DEDICATED,
              reserved_memory={"r2": 4, "bob": gold_bob}, reserved_share={"r2-bob": 0.5},
              requests=("qkd-alice-bob",)),
        Slice("research", "t3", requests=("dqc-charlie-dave",)),
    ))


def test_admitted_scenario(plan: Plan) -> None:
    assert sorted(a.request.name for a in plan.admitted) == [
        "dqc-charlie-dave", "qkd-alice-bob", "teleport-bob-charlie"]


def test_dedicated_slices_get_disjoint_registers_packed_by_name(
        metro: Network, plan: Plan, kinds: dict[str, str]) -> None:
    docs = render_devices(metro, plan, kinds=kinds, slicing=slicing())
    r2, bob = docs["r2"][REP], docs["bob"][END]
    # gold before silver, from register 0; a slice keeps max(reserved, its members' slots)
    assert r2["slice-partition"] == [
        {"slice": "gold", "register": [0, 1, 2, 3],
         "link-share": [{"link-id": "r2-bob", "time-share": "0.5"}]},
        {"slice": "silver", "register": [4, 5, 6],
         "link-share": [{"link-id": "r2-bob", "time-share": "0.3"}]}]
    assert [p["register"] for p in bob["slice-partition"]] == [[0, 1, 2, 3], [4, 5, 6]]
    # members are placed in their partition; the shared slice's request is not
    flows = {f["flow-id"]: f for f in r2["flow"]}
    assert flows["qkd-alice-bob"]["slice"] == "gold"
    assert flows["teleport-bob-charlie"]["slice"] == "silver"
    assert "slice" not in flows["dqc-charlie-dave"]
    endpoints = {e["name"]: e for e in bob["application-endpoint"]}
    assert endpoints["qkd-alice-bob"]["slice"] == "gold"
    assert endpoints["qkd-alice-bob"]["attached-link"] == "r2-bob"
    # a device no dedicated slice reserves on has no partition; the shared slice none at all
    assert "slice-partition" not in docs["r3"][REP]
    assert "slice-partition" not in docs["dave"][END]
    assert all(p["slice"] != "research" for d in docs.values() for body in d.values()
               for p in body.get("slice-partition", []))
    for doc in docs.values():        # every must of the device models holds
        device_config_xml(doc)


def test_without_slicing_nothing_changes(metro: Network, plan: Plan,
                                         kinds: dict[str, str]) -> None:
    assert render_devices(metro, plan, kinds=kinds, slicing=Slicing()) == render_devices(
        metro, plan, kinds=kinds)


def test_partitions_are_deterministic(metro: Network, plan: Plan,
                                      kinds: dict[str, str]) -> None:
    again = Slicing(tuple(reversed(slicing().slices)))
    assert json.dumps(render_devices(metro, plan, kinds=kinds, slicing=slicing())) == \
        json.dumps(render_devices(metro, plan, kinds=kinds, slicing=again))


@pytest.mark.parametrize(("sl", "named"), [
    (slicing(gold_bob=8), ("slice silver", "device bob")),            # 8 + 3 + 0 > 10
    (slicing(silver_share=0.6), ("gold, silver", "device bob", "r2-bob")),   # 1.1 of r2-bob
])
def test_a_member_outside_its_partition_is_a_render_error(
        metro: Network, plan: Plan, kinds: dict[str, str], sl: Slicing,
        named: tuple[str, ...]) -> None:
    with pytest.raises(RenderError) as info:
        render_devices(metro, plan, kinds=kinds, slicing=sl)
    for text in named:
        assert text in str(info.value)


def test_owned_resources_read_the_rendered_partitions(
        metro: Network, plan: Plan, kinds: dict[str, str]) -> None:
    docs: dict[str, Any] = render_devices(metro, plan, kinds=kinds, slicing=slicing())
    owned = owned_resources({n: json.dumps(d) for n, d in docs.items()})
    assert sorted(owned) == ["gold", "silver"]
    assert owned["gold"] == [
        OwnedResource("bob", MEMORY_REGISTERS, Decimal(4), (0, 1, 2, 3)),
        OwnedResource("bob", LINK_TIME_SHARE, Decimal("0.5"), link="r2-bob"),
        OwnedResource("r2", MEMORY_REGISTERS, Decimal(4), (0, 1, 2, 3)),
        OwnedResource("r2", LINK_TIME_SHARE, Decimal("0.5"), link="r2-bob")]
