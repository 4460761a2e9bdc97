"""Rollbacks leave the forest exactly usable: lookups, validation, no duplicate nodes."""

from __future__ import annotations

import json

import pytest

from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.schema import Schema
from controller.errors import NetconfError
from controller.paths import CONFIG_DIR
from controller.settings import PRODUCT_MODULES

ALICE = ("/ietf-network:networks/network[network-id='metro']/node[node-id='alice']/"
         "sdqn-topology:quantum-node")


@pytest.fixture(scope="module")
def product_schema() -> Schema:
    return Schema(list(PRODUCT_MODULES))


def test_refused_delete_under_when_container_is_fully_undone(product_schema: Schema) -> None:
    store = NmdaStore(product_schema)
    store.edit_json(Datastore.RUNNING,
                    json.loads((CONFIG_DIR / "topologies" / "metro.json").read_text()))
    before = store.get(Datastore.RUNNING)
    with pytest.raises(NetconfError) as info:
        store.edit_json(Datastore.RUNNING, {"ietf-network:networks": {"network": [{
            "network-id": "metro", "node": [{"node-id": "alice", "sdqn-topology:quantum-node": {
                "@coherence-time": {"ietf-netconf:operation": "delete"},
                "coherence-time": "1"}}]}]}})
    # exactly the real error: detaching the failing container for the next pass must not
    # add "mandatory device-kind missing" (an implicit empty twin of the container)
    assert [e.message for e in info.value.errors] == [
        "A node with memory qubits needs a coherence-time."]
    assert store.get(Datastore.RUNNING) == before
    found = json.loads(store.get(Datastore.RUNNING, xpath=f"{ALICE}/coherence-time"))
    assert found["ietf-network:networks"]["network"][0]["node"][0][
        "sdqn-topology:quantum-node"] == {"coherence-time": "1.5"}
    store.validate(Datastore.RUNNING)
    node = {"node-id": "alice", "sdqn-topology:quantum-node": {"coherence-time": "2"}}
    store.edit_json(Datastore.RUNNING, {"ietf-network:networks": {"network": [{
        "network-id": "metro", "node": [node]}]}})
