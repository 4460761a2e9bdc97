"""Slices read from RFC 7951 JSON: the fixture parses to the expected Slicing; every bad
input is an InputError naming the offending leaf (and by how much where it is a sum)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from qnum.io import InputError, parse_topology
from qnum.slices import Isolation, Slice, SliceObjective, SliceSlo, Slicing
from qnum.slices_io import check_slicing, parse_slicing

ROOT = Path(__file__).resolve().parents[2]
SLICES = ROOT / "tests" / "yang" / "instances" / "sdqn-slices.json"
METRO = ROOT / "config" / "topologies" / "metro.json"

Doc = dict[str, Any]


@pytest.fixture()
def doc() -> Doc:
    data: Doc = {**json.loads(METRO.read_text()), **json.loads(SLICES.read_text())}
    return data


def _slice(doc: Doc, name: str) -> Doc:
    entry: Doc = next(s for s in doc["sdqn-slices:slicing"]["slice"] if s["name"] == name)
    return entry


def _request(doc: Doc, name: str) -> Doc:
    entry: Doc = next(r for r in doc["sdqn-services:entanglement-services"]["request"]
                      if r["name"] == name)
    return entry


def _check(doc: Doc) -> Slicing:
    slicing = parse_slicing(doc)
    check_slicing(slicing, parse_topology(doc), doc)
    return slicing


def test_fixture_parses_to_the_expected_slicing(doc: Doc) -> None:
    assert _check(doc) == Slicing(
        objective=SliceObjective.PROPORTIONAL_FAIRNESS,
        slices=(
            Slice(name="qkd-gold", tenant="qkd-operator", priority=10, weight=2.0,
                  slo=SliceSlo(guaranteed_rate_hz=50.0, min_fidelity=0.9, availability=0.999),
                  isolation=Isolation.DEDICATED,
                  reserved_memory={"alice": 4, "r1": 8, "bob": 4},
                  reserved_share={"alice-r1": 0.5, "r1-r2": 0.7, "r2-bob": 0.5},
                  borrowing=True, max_requests=2, max_rate_hz=200.0,
                  requests=("qkd-alice-bob",)),
            Slice(name="backup", tenant="qkd-operator", isolation=Isolation.DEDICATED,
                  reserved_memory={"r1": 12}, reserved_share={"r1-r2": 0.3}),
            Slice(name="research", tenant="research",
                  slo=SliceSlo(aggregate_rate_hz=10.0, max_latency_s=0.5), max_requests=3,
                  requests=("dqc-charlie-dave", "dqs-alice-dave")),
        ))


def test_membership_and_defaults(doc: Doc) -> None:
    slicing = parse_slicing(doc)
    assert slicing.slice_of("dqs-alice-dave") is slicing.slices[2]
    assert slicing.slice_of("teleport-bob-charlie") is None
    assert parse_slicing(json.loads(METRO.read_text())) == Slicing()
    bare = copy.deepcopy(doc)
    bare["sdqn-slices:slicing"] = {}
    for req in bare["sdqn-services:entanglement-services"]["request"]:
        req.pop("sdqn-slices:slice", None)
    assert parse_slicing(bare) == Slicing(objective=SliceObjective.WEIGHTED_SUM)


def test_full_memory_and_time_exactly_reserved_is_accepted(doc: Doc) -> None:
    # r1 has 20 qubits (8 + 12 reserved) and r1-r2 0.7 + 0.3 = 1 exactly in decimal64.
    _check(doc)


SLICING = "/sdqn-slices:slicing"
GOLD = f"{SLICING}/slice[name='qkd-gold']"
BACKUP = f"{SLICING}/slice[name='backup']"
RESEARCH = f"{SLICING}/slice[name='research']"
REQ = "/sdqn-services:entanglement-services/request"


def _set_node(doc: Doc, slice_name: str, node: str, qubits: int) -> None:
    for entry in _slice(doc, slice_name)["reservation"]["node"]:
        if entry["node-id"] == node:
            entry["memory-qubits"] = qubits


def _set_link(doc: Doc, slice_name: str, link: str, share: object) -> None:
    for entry in _slice(doc, slice_name)["reservation"]["link"]:
        if entry["link-id"] == link:
            entry["time-share"] = share


CASES: dict[str, tuple[Any, str, str]] = {
    "unknown-reserved-node": (
        lambda d: _slice(d, "qkd-gold")["reservation"]["node"].append(
            {"node-id": "eve", "memory-qubits": 1}),
        f"{GOLD}/reservation/node[node-id='eve']/node-id", "unknown node 'eve'"),
    "unknown-reserved-link": (
        lambda d: _slice(d, "backup")["reservation"]["link"].append(
            {"link-id": "alice-bob", "time-share": "0.1"}),
        f"{BACKUP}/reservation/link[link-id='alice-bob']/link-id", "unknown link 'alice-bob'"),
    "memory-over-subscribed": (
        lambda d: _set_node(d, "backup", "r1", 15),
        f"{BACKUP}/reservation/node[node-id='r1']/memory-qubits",
        "node 'r1' total 23 memory qubits (qkd-gold: 8, backup: 15), 3 more than its "
        "memory-qubits 20"),
    "time-over-subscribed": (
        lambda d: _set_link(d, "backup", "r1-r2", "0.300001"),
        f"{BACKUP}/reservation/link[link-id='r1-r2']/time-share",
        "link 'r1-r2' total 1.000001 (qkd-gold: 0.7, backup: 0.300001), 0.000001 more than 1"),
    "too-many-requests": (
        lambda d: _slice(d, "research")["quota"].update({"max-requests": 1}),
        f"{REQ}[name='dqs-alice-dave']/sdqn-slices:slice",
        "request 'dqs-alice-dave' is beyond the quota of slice 'research': 2 requests, "
        "max-requests 1"),
    "rate-over-quota": (
        lambda d: _request(d, "qkd-alice-bob").update({"demanded-rate": "200.5"}),
        f"{REQ}[name='qkd-alice-bob']/sdqn-slices:slice",
        "demanded rates total 200.5 pairs/s, 0.5 more than max-rate 200.0"),
    "reservation-on-shared-slice": (
        lambda d: _slice(d, "research").update(
            {"reservation": {"node": [{"node-id": "r3", "memory-qubits": 2}]}}),
        f"{RESEARCH}/reservation/node", "only a dedicated slice reserves"),
    "borrowing-on-shared-slice": (
        lambda d: _slice(d, "research").update({"borrowing": True}),
        f"{RESEARCH}/borrowing", "dedicated slices only"),
    "unknown-tenant": (
        lambda d: _slice(d, "research").update({"tenant": "mallory"}),
        f"{RESEARCH}/tenant", "unknown tenant 'mallory'"),
    "unknown-slice": (
        lambda d: _request(d, "teleport-bob-charlie").update({"sdqn-slices:slice": "gold"}),
        f"{REQ}[name='teleport-bob-charlie']/sdqn-slices:slice", "unknown slice 'gold'"),
    "time-share-zero": (
        lambda d: _set_link(d, "backup", "r1-r2", "0"),
        f"{BACKUP}/reservation/link[link-id='r1-r2']/time-share", "outside"),
    "time-share-not-a-string": (
        lambda d: _set_link(d, "backup", "r1-r2", 0.3),
        f"{BACKUP}/reservation/link[link-id='r1-r2']/time-share", "JSON string"),
    "no-memory-qubits": (
        lambda d: _slice(d, "backup")["reservation"]["node"][0].update({"memory-qubits": 0}),
        f"{BACKUP}/reservation/node[node-id='r1']/memory-qubits", "outside"),
    "unknown-objective": (
        lambda d: d["sdqn-slices:slicing"].update({"objective": "max-min"}),
        f"{SLICING}/objective", "not one of"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_names_the_leaf(doc: Doc, case: str) -> None:
    mutate, path, message = CASES[case]
    mutate(doc)
    with pytest.raises(InputError) as info:
        _check(doc)
    assert info.value.path == path
    assert message in info.value.message
