"""A list whose key is a leafref (sdqn-slices reservations key on a topology node-id): a
dangling key is refused naming the key leaf, and nothing changes.  Validation detaches a
failing node to find further errors; a key cannot be re-inserted alone, so its entry is
detached instead."""

from __future__ import annotations

import json

import pytest

from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.schema import Schema
from controller.errors import ErrorTag, NetconfError
from controller.paths import CONFIG_DIR
from controller.settings import PRODUCT_MODULES

SLICING = {"sdqn-slices:slicing": {
    "tenant": [{"name": "t"}],
    "slice": [{"name": "s", "tenant": "t", "isolation": "dedicated",
               "reservation": {"node": [{"node-id": "alice", "memory-qubits": 2}]}}]}}


def test_dangling_leafref_key_is_refused_and_nothing_changes() -> None:
    store = NmdaStore(Schema(list(PRODUCT_MODULES)))
    store.edit_json(Datastore.RUNNING,
                    json.loads((CONFIG_DIR / "topologies" / "metro.json").read_text()))
    store.edit_json(Datastore.RUNNING, SLICING)
    before = store.get(Datastore.RUNNING)
    bad = json.loads(json.dumps(SLICING))
    bad["sdqn-slices:slicing"]["slice"][0]["reservation"]["node"].append(
        {"node-id": "eve", "memory-qubits": 1})
    with pytest.raises(NetconfError) as refused:
        store.edit_json(Datastore.RUNNING, bad)
    error = refused.value.first
    assert error.tag is ErrorTag.DATA_MISSING
    assert error.path == ("/sdqn-slices:slicing/slice[name='s']/reservation"
                          "/node[node-id='eve']/node-id")
    assert "eve" in error.message
    assert store.get(Datastore.RUNNING) == before
