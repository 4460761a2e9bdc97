"""sdqn-slices: the slice fixture is valid instance data against the metro topology, and
what the module itself constrains (leafrefs, musts, ranges) is rejected by libyang."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import libyang
import pytest

from tests.yang.conftest import CONFIG_DIR, INSTANCE_DIR, load_json, validate

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def doc() -> Doc:
    return {**load_json(CONFIG_DIR / "topologies" / "metro.json"),
            **load_json(INSTANCE_DIR / "sdqn-slices.json")}


def _slice(d: Doc, name: str) -> Doc:
    entry: Doc = next(s for s in d["sdqn-slices:slicing"]["slice"] if s["name"] == name)
    return entry


def test_slices_fixture_is_valid(ctx: libyang.Context, doc: Doc) -> None:
    validate(ctx, doc)


MUTATIONS: dict[str, tuple[Callable[[Doc], None], str]] = {
    "unknown-reserved-node": (
        lambda d: _slice(d, "qkd-gold")["reservation"]["node"].append(
            {"node-id": "eve", "memory-qubits": 1}), "leafref"),
    "unknown-reserved-link": (
        lambda d: _slice(d, "backup")["reservation"]["link"].append(
            {"link-id": "alice-bob", "time-share": "0.1"}), "leafref"),
    "unknown-tenant": (lambda d: _slice(d, "research").update({"tenant": "mallory"}),
                       "leafref"),
    "unknown-slice": (
        lambda d: d["sdqn-services:entanglement-services"]["request"][3].update(
            {"sdqn-slices:slice": "gold"}), "leafref"),
    "node-reservation-on-shared-slice": (
        lambda d: _slice(d, "research").update(
            {"reservation": {"node": [{"node-id": "r3", "memory-qubits": 2}]}}),
        "Only a dedicated slice reserves node memory"),
    "link-reservation-on-shared-slice": (
        lambda d: _slice(d, "research").update(
            {"reservation": {"link": [{"link-id": "r3-dave", "time-share": "0.2"}]}}),
        "Only a dedicated slice reserves link time share"),
    "borrowing-on-shared-slice": (lambda d: _slice(d, "research").update({"borrowing": True}),
                                  "borrowing applies to dedicated slices only"),
    "time-share-above-one": (
        lambda d: _slice(d, "backup")["reservation"]["link"][0].update({"time-share": "1.5"}),
        "range"),
    "time-share-zero": (
        lambda d: _slice(d, "backup")["reservation"]["link"][0].update({"time-share": "0"}),
        "range"),
    "no-memory-qubits": (
        lambda d: _slice(d, "backup")["reservation"]["node"][0].update({"memory-qubits": 0}),
        "range"),
    "slice-without-tenant": (lambda d: _slice(d, "research").pop("tenant"), "Mandatory"),
    "unknown-objective": (lambda d: d["sdqn-slices:slicing"].update({"objective": "max-min"}),
                          "Invalid enumeration"),
}


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_invalid_slicing_is_rejected(ctx: libyang.Context, doc: Doc, case: str) -> None:
    mutate, message = MUTATIONS[case]
    bad = copy.deepcopy(doc)
    mutate(bad)
    with pytest.raises(libyang.LibyangError, match=message):
        validate(ctx, bad)
