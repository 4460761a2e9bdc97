"""The device-kind table (southbound.kinds) is complete: every kind has a YANG module that
loads, a renderer and an emulator, and nothing else needs to name the kind."""

from __future__ import annotations

import re

import pytest

from controller.datastore.schema import Schema
from controller.service.render import RENDERERS, renders
from qnum.io import DeviceKind
from simulators.devices import MODELS, DeviceModel
from southbound.kinds import (
    DEVICE_KINDS,
    TYPES_MODULE,
    DeviceKindSpec,
    kind_of_module,
    kind_spec,
)

KINDS = sorted(DEVICE_KINDS)


@pytest.fixture(scope="module")
def types_yang() -> str:
    return str(Schema([TYPES_MODULE]).ctx.get_module(TYPES_MODULE).print_mem("yang"))


@pytest.mark.parametrize("name", KINDS)
def test_kind_has_a_yang_module_that_loads(name: str) -> None:
    spec = DEVICE_KINDS[name]
    module = Schema(list(spec.diff_modules)).ctx.get_module(spec.module)
    assert module.implemented()
    assert f'namespace "{spec.namespace}";' in str(module.print_mem("yang"))
    assert spec.top in {node.name() for node in module.children()}


@pytest.mark.parametrize("name", KINDS)
def test_kind_is_a_device_kind_identity(name: str, types_yang: str) -> None:
    """The topology names kinds by sdqn-types identity; the optimiser parses the same."""
    identity = re.search(rf"identity {re.escape(name)} {{\s*base device-kind;", types_yang)
    assert identity is not None, f"sdqn-types has no device-kind identity {name}"
    assert DeviceKind(name).value == name


@pytest.mark.parametrize("name", KINDS)
def test_kind_has_a_renderer_and_an_emulator(name: str) -> None:
    spec = DEVICE_KINDS[name]
    assert name in RENDERERS
    model = MODELS[name]
    assert issubclass(model, DeviceModel)
    assert (model.spec, model.module, model.top) == (spec, spec.module, spec.top)


def test_registries_hold_only_table_kinds() -> None:
    assert set(RENDERERS) == set(DEVICE_KINDS) == set(MODELS)


def test_lookups() -> None:
    apc = DEVICE_KINDS["apc"]
    assert kind_spec("apc") is apc and kind_of_module("sdqn-apc") is apc
    assert kind_spec("source") is None and kind_of_module("sdqn-topology") is None
    assert apc.qname == "sdqn-apc:apc" and apc.namespace == "urn:sdqn:sdqn-apc"
    assert apc.diff_modules == ("sdqn-types", "sdqn-apc")
    assert all(isinstance(k, DeviceKindSpec) for k in DEVICE_KINDS.values())


def test_registering_outside_the_table_is_refused() -> None:
    with pytest.raises(ValueError, match="not a device kind"):
        renders("teleporter")
    with pytest.raises(ValueError, match="has a renderer already"):
        renders("apc")(RENDERERS["apc"])
    with pytest.raises(TypeError, match="not a device kind"):
        type("Teleporter", (DeviceModel,), {"kind": "teleporter"})
    with pytest.raises(TypeError, match="emulates 'apc' already"):
        type("SecondApc", (DeviceModel,), {"kind": "apc"})


def test_capabilities_match_the_device_model_and_its_emulator() -> None:
    """What the renderer may ask of a kind is what its YANG accepts and its emulator has."""
    spec = DEVICE_KINDS["end-node"]
    caps = spec.capabilities
    module = Schema(list(spec.diff_modules)).ctx.get_module(spec.module)
    yang = str(module.print_mem("yang"))
    rounds = re.search(r'leaf purification-rounds \{\s*type uint8 \{\s*range "0\.\.(\d+)"', yang)
    assert rounds is not None and int(rounds.group(1)) == caps.max_purification_rounds > 0
    assert set(caps.purification_protocols) == {"bbpssw", "dejmps"}
    from simulators.clock import ManualClock
    from simulators.devices.world import Topology, World
    from simulators.launcher import DEFAULT_TOPOLOGY

    topology = Topology.load(DEFAULT_TOPOLOGY)
    model = MODELS["end-node"](topology.nodes["alice"], World(topology), ManualClock())
    factory = model.factory_config()["sdqn-end-node:end-node"]["detector"]
    assert tuple(d["detector-id"] for d in factory) == caps.detectors == ("d1", "d2")
    assert all(not DEVICE_KINDS[k].capabilities.detectors for k in KINDS if k != "end-node")
