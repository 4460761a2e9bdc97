"""The demo's slicing file commits with its requests in one validated edit: each request
it names gains its slice, and an entry naming no request of the services file is refused
by validation (its mandatory leaves are missing) instead of being dropped; nothing is
committed then (RFC 6241 §7.2: an edit that fails validation changes nothing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller.app.intent import load_intent, with_slicing
from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.schema import Schema
from controller.errors import NetconfError
from controller.paths import CONFIG_DIR
from controller.settings import PRODUCT_MODULES

SERVICES = CONFIG_DIR / "services" / "demo.json"
SLICING = CONFIG_DIR / "services" / "demo-slices.json"


def _store() -> NmdaStore:
    store = NmdaStore(Schema(list(PRODUCT_MODULES)))
    store.edit_json(Datastore.RUNNING,
                    json.loads((CONFIG_DIR / "topologies" / "metro.json").read_text()))
    return store


def test_demo_slicing_commits_with_the_requests() -> None:
    store = _store()
    load_intent(store, None, SERVICES, SLICING)
    running = json.loads(store.get(Datastore.RUNNING))
    slices = {r["name"]: r.get("sdqn-slices:slice") for r in
              running["sdqn-services:entanglement-services"]["request"]}
    assert slices == {"qkd-alice-bob": "qkd-metro", "dqc-charlie-dave": "research-dqc",
                      "dqs-alice-dave": "research-dqc", "teleport-bob-charlie": None}
    tenants = {s["name"]: s["tenant"] for s in running["sdqn-slices:slicing"]["slice"]}
    assert tenants == {"qkd-metro": "qkd-operator", "research-dqc": "research-lab"}


def test_slicing_naming_an_unknown_request_is_refused(tmp_path: Path) -> None:
    slicing = json.loads(SLICING.read_text())
    slicing["sdqn-services:entanglement-services"]["request"].append(
        {"name": "nobody", "sdqn-slices:slice": "qkd-metro"})
    merged = with_slicing(json.loads(SERVICES.read_text()), slicing)
    assert {"name": "nobody", "sdqn-slices:slice": "qkd-metro"} in \
        merged["sdqn-services:entanglement-services"]["request"]
    bad = tmp_path / "slicing.json"
    bad.write_text(json.dumps(slicing))
    store = _store()
    before = store.get(Datastore.RUNNING)
    with pytest.raises(NetconfError):
        load_intent(store, None, SERVICES, bad)
    assert store.get(Datastore.RUNNING) == before
