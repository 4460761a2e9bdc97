"""The shared adapter conformance suite: the NETCONF adapter against the NETCONF emulator of
every device kind (southbound.kinds), each on a real SSH server on localhost."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.netconf import NetconfAdapter
from controller.datastore.nmda import NmdaStore
from controller.datastore.schema import Schema
from controller.datastore.tree import Forest
from simulators.clock import ManualClock
from simulators.devices import MODELS
from simulators.devices.runtime import SimDevice, netconf_factory
from simulators.devices.world import Topology, World
from simulators.faults import default_oob_edit
from simulators.launcher import DEFAULT_TOPOLOGY, SchemaCache
from southbound.conformance import AdapterConformance, ConformanceTarget, Feature
from southbound.kinds import DEVICE_KINDS
from southbound.model import DeviceEndpoint

pytestmark = pytest.mark.timeout(120)

Json = dict[str, Any]
PASSWORD = "secret"
#: Every action the emulators implement: (action data tree, output leaves).
ACTIONS = {"apc": ('<apc xmlns="urn:sdqn:sdqn-apc"><calibrate><force>true</force></calibrate>'
                   "</apc>", frozenset({"result", "expected-duration"}))}


@pytest.fixture(scope="module")
def metro() -> Topology:
    return Topology.load(DEFAULT_TOPOLOGY)


@pytest.fixture(scope="module")
def schemas() -> SchemaCache:
    return SchemaCache()


def merged(base: Json, patch: Json) -> Json:
    """NETCONF merge of RFC 7951 containers and leaves (what a craft edit touches)."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def as_xml(schema: Schema, doc: Json, *, complete: bool = True) -> str:
    """RFC 7951 JSON as the XML a NETCONF server returns (libyang's canonical values)."""
    forest = Forest.parse(schema, json.dumps(doc), "json", validate=complete)
    try:
        return forest.print("xml")
    finally:
        forest.free()


class TestNetconfAdapterConformance(AdapterConformance):
    @pytest.fixture(params=sorted(DEVICE_KINDS))
    def conformance_target(self, request: pytest.FixtureRequest, metro: Topology,
                           schemas: SchemaCache) -> Iterator[ConformanceTarget]:
        kind = DEVICE_KINDS[request.param]
        node = next(n for n in metro.nodes.values() if n.kind == kind.name)
        model = MODELS[kind.name](node, World(metro), ManualClock(), seed=5)
        schema = schemas.get(kind.module)
        device = SimDevice(model, NmdaStore(schema),
                           server_factory=netconf_factory({"admin": PASSWORD}))
        device.start()
        factory = model.factory_config()
        patch = default_oob_edit(device)
        action, output = ACTIONS.get(kind.name, (None, frozenset()))
        features = {Feature.MERGE, Feature.NOTIFICATIONS, Feature.AUTHENTICATION}
        try:
            yield ConformanceTarget(
                adapter=lambda endpoint: NetconfAdapter(endpoint, timeout=5),
                endpoint=DeviceEndpoint.model_validate({
                    "node-id": node.node_id, "port": device.port, "password": PASSWORD,
                    "kind": kind.name, "modules": kind.diff_modules}),
                config=as_xml(schema, factory),
                patch=as_xml(schema, patch, complete=False),
                patched=as_xml(schema, merged(factory, patch)),
                invalid=(f'<{kind.top} xmlns="{kind.namespace}"><node-id>{node.node_id}'
                         "</node-id><no-such-leaf>1</no-such-leaf></" + kind.top + ">"),
                features=frozenset(features | ({Feature.ACTIONS} if action else set())),
                action=action, action_output=output,
                notify=lambda: device.edit_out_of_band(default_oob_edit(device)))
        finally:
            device.stop()
