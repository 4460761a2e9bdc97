"""Slice partitions on the device modules: disjoint registers inside register-count, fibre
shares summing to at most 1, flows and endpoints within their partition; each refusal
carries its error-app-tag (RFC 7950 §7.5.4.2), which the NETCONF error reports
(RFC 6241 Appendix A)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from controller.datastore.schema import Schema
from controller.datastore.tree import Forest
from controller.errors import NetconfError
from tests.yang.conftest import INSTANCE_DIR

Doc = dict[str, Any]
CONFIG_FALSE = ("state", "occupancy", "stored-pairs", "status", "measured-coherence-time",
                "coherence-last-measured", "fibre-port")


def _config(value: Any) -> Any:
    """The instance document without its config-false parts."""
    if isinstance(value, dict):
        return {k: _config(v) for k, v in value.items() if k not in CONFIG_FALSE}
    if isinstance(value, list):
        return [_config(v) for v in value]
    return value


@pytest.fixture(scope="module")
def schemas() -> dict[str, Schema]:
    return {m: Schema(["sdqn-types", m]) for m in ("sdqn-repeater", "sdqn-end-node")}


def _doc(module: str) -> Doc:
    doc: Doc = _config(json.loads((INSTANCE_DIR / f"{module}.json").read_text()))
    return doc


def _top(doc: Doc) -> Doc:
    (top,) = doc.values()
    assert isinstance(top, dict)
    return top


def _check(schema: Schema, doc: Doc) -> None:
    Forest.parse(schema, json.dumps(doc), "json").free()


def _repeater() -> Doc:
    """20 registers: gold owns 0..7 and half of alice-r1, the first flow is gold's."""
    doc = _doc("sdqn-repeater")
    top = _top(doc)
    top["slice-partition"] = [{"slice": "gold", "register": list(range(8)),
                               "link-share": [{"link-id": "alice-r1", "time-share": "0.5"}]}]
    top["flow"][0]["slice"] = "gold"
    return doc


def _end_node() -> Doc:
    """10 registers: gold owns 0..5 and 0.5 of alice-r1; dqc-1 (6 slots) is gold's."""
    doc = _doc("sdqn-end-node")
    top = _top(doc)
    top["slice-partition"] = [{"slice": "gold", "register": list(range(6)),
                               "link-share": [{"link-id": "alice-r1", "time-share": "0.5"}]}]
    endpoint = top["application-endpoint"][0]
    endpoint.update({"slice": "gold", "attached-link": "alice-r1", "time-share": "0.4"})
    return doc


def test_partitioned_devices_are_valid(schemas: dict[str, Schema]) -> None:
    _check(schemas["sdqn-repeater"], _repeater())
    _check(schemas["sdqn-end-node"], _end_node())


Mutation = Callable[[Doc], object]

REPEATER: dict[str, tuple[Mutation, str]] = {
    "overlap": (lambda t: t["slice-partition"].append({"slice": "silver", "register": [7, 8]}),
                "register-overlap"),
    "beyond-register-count": (
        lambda t: t["slice-partition"].append({"slice": "silver", "register": [20]}),
        "register-out-of-range"),
    "fibre-oversubscribed": (lambda t: t["slice-partition"].append(
        {"slice": "silver", "register": [9],
         "link-share": [{"link-id": "alice-r1", "time-share": "0.6"}]}),
        "link-share-oversubscribed"),
    "unknown-partition": (lambda t: t["flow"][0].update({"slice": "bronze"}),
                          "unknown-slice-partition"),
    "flow-beyond-partition": (lambda t: t["slice-partition"][0].update({"register": [0, 1]}),
                              "partition-exhausted"),
    "unpartitioned-flow-takes-partition": (
        lambda t: t["slice-partition"][0].update({"register": list(range(17))}),
        "unpartitioned-registers-exhausted"),
}

END_NODE: dict[str, tuple[Mutation, str]] = {
    "overlap": (lambda t: t["slice-partition"].append({"slice": "silver", "register": [5]}),
                "register-overlap"),
    "endpoint-beyond-partition": (
        lambda t: t["slice-partition"][0].update({"register": [0, 1, 2]}),
        "partition-exhausted"),
    "endpoint-share-above-partition": (
        lambda t: t["application-endpoint"][0].update({"time-share": "0.6"}),
        "time-share-exceeds-partition"),
    "unpartitioned-endpoint-takes-partition": (
        lambda t: t["slice-partition"][0].update({"register": list(range(9))}),
        "unpartitioned-registers-exhausted"),
}


def _refused(schema: Schema, doc: Doc, app_tag: str) -> None:
    with pytest.raises(NetconfError) as info:
        _check(schema, doc)
    assert app_tag in [e.app_tag for e in info.value.errors]


@pytest.mark.parametrize("case", sorted(REPEATER))
def test_repeater_partition_violations_are_refused(schemas: dict[str, Schema],
                                                   case: str) -> None:
    mutate, app_tag = REPEATER[case]
    doc = copy.deepcopy(_repeater())
    mutate(_top(doc))
    _refused(schemas["sdqn-repeater"], doc, app_tag)


@pytest.mark.parametrize("case", sorted(END_NODE))
def test_end_node_partition_violations_are_refused(schemas: dict[str, Schema],
                                                   case: str) -> None:
    mutate, app_tag = END_NODE[case]
    doc = copy.deepcopy(_end_node())
    mutate(_top(doc))
    _refused(schemas["sdqn-end-node"], doc, app_tag)



def test_relay_flow_outside_partitions_cannot_take_partition_registers(
        schemas: dict[str, Schema]) -> None:
    doc = _end_node()
    top = _top(doc)
    top["relay"] = {"link-generation": {"link": [
        {"link-id": "a-x", "neighbour": "alice", "attempt-rate": "1000"},
        {"link-id": "x-b", "neighbour": "bob", "attempt-rate": "1000"}]},
        "flow": [{"flow-id": "f", "memory-slots": 2, "neighbour-links": ["a-x", "x-b"]}]}
    _check(schemas["sdqn-end-node"], doc)       # 6 gold + 2 (teleport-1) + 2 <= 10
    top["slice-partition"][0]["register"] = list(range(7))   # 2 + 2 > 3 left
    _refused(schemas["sdqn-end-node"], doc, "unpartitioned-registers-exhausted")
