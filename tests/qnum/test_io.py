"""RFC 7951 loaders: the fixture parses to the expected model; each bad leaf names its path."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from qnum.io import (
    AppClass,
    DeviceKind,
    Heralding,
    InputError,
    Objective,
    SwitchingMode,
    load_requests,
    load_topology,
    parse_requests,
    parse_settings,
    parse_topology,
    requests_to_json,
    topology_to_json,
)

DATA = Path(__file__).parent / "data"


@pytest.fixture()
def topo() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / "metro.json").read_text())
    return data


@pytest.fixture()
def reqs() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / "requests.json").read_text())
    return data


def _net(data: dict[str, Any]) -> dict[str, Any]:
    net: dict[str, Any] = data["ietf-network:networks"]["network"][0]
    return net


def _node(data: dict[str, Any], ident: str) -> dict[str, Any]:
    node = next(n for n in _net(data)["node"] if n["node-id"] == ident)
    q: dict[str, Any] = node["sdqn-topology:quantum-node"]
    return q


def _link(data: dict[str, Any], ident: str) -> dict[str, Any]:
    link = next(lk for lk in _net(data)["ietf-network-topology:link"] if lk["link-id"] == ident)
    q: dict[str, Any] = link["sdqn-topology:quantum-link"]
    return q


def test_fixture_parses_to_model() -> None:
    net = load_topology(DATA / "metro.json")
    assert net.network_id == "fixture-metro"
    assert len(net.nodes) == 8 and len(net.links) == 8
    alice = net.nodes["alice"]
    assert alice.kind is DeviceKind.END_NODE and alice.memory_qubits == 10
    assert alice.coherence_time_s == 1.0 and alice.memory_efficiency == 0.9
    roadm = net.nodes["roadm1"]
    assert roadm.kind is DeviceKind.Q_ROADM and not roadm.is_memory_node
    assert roadm.roadm is not None and roadm.roadm.wavelength_channels == 2
    assert roadm.roadm.switching_mode is SwitchingMode.CIRCUIT
    link = net.links["alice-roadm1"]
    assert (link.a, link.b, link.length_km) == ("alice", "roadm1", 20.0)
    assert link.heralding is Heralding.MIDPOINT_SOURCE and link.compensator == "apc-1"
    assert [lk.link_id for lk in net.links_between("roadm1", "alice")] == ["alice-roadm1"]
    requests = load_requests(DATA / "requests.json", net)
    assert [r.name for r in requests] == ["qkd-alice-bob", "dqc-carol-bob", "tele-dave-carol"]
    dqc = requests[1]
    assert dqc.application is AppClass.DQC and dqc.weight == 2.0
    assert dqc.utility_params.threshold_fidelity == 0.9
    assert dqc.utility_params.steepness == 50.0 and dqc.enabled


def test_defaults_apply_to_absent_leaves(topo: dict[str, Any]) -> None:
    q = _link(topo, "r1-r2")
    for leaf in ("attenuation", "detector-efficiency", "multiplexing-modes", "link-fidelity"):
        del q[leaf]
    link = parse_topology(topo).links["r1-r2"]
    assert (link.attenuation_db_per_km, link.detector_efficiency) == (0.2, 0.9)
    assert (link.modes, link.link_fidelity) == (1, 0.97)


@pytest.mark.parametrize(
    ("mutate", "path_part", "message_part"),
    [
        (lambda d: _link(d, "r1-r2").update({"fibre-length": "-3"}), "fibre-length", "outside"),
        (lambda d: _link(d, "r1-r2").update({"fibre-length": "NaN"}), "fibre-length", "finite"),
        (lambda d: _link(d, "r1-r2").update({"fibre-length": 25.0}), "fibre-length", "string"),
        (lambda d: _link(d, "r1-r2").update({"source-rate": "-1"}), "source-rate", "outside"),
        (lambda d: _link(d, "r1-r2").update({"link-fidelity": "1.2"}), "link-fidelity", "outside"),
        (lambda d: _link(d, "r1-r2").update({"multiplexing-modes": 0}), "multiplexing", "outside"),
        (lambda d: _link(d, "r1-r2").update({"heralding-scheme": "x"}), "heralding", "one of"),
        (lambda d: _link(d, "r1-r2").pop("fibre-length"), "link-id='r1-r2'", "fibre-length"),
        (lambda d: _node(d, "r1").update({"coherence-time": "0"}), "coherence-time", "outside"),
        (lambda d: _node(d, "r1").update({"coherence-time": "inf"}), "coherence-time", "finite"),
        (lambda d: _node(d, "r1").update({"memory-qubits": -2}), "memory-qubits", "outside"),
        (lambda d: _node(d, "r1").update({"device-kind": "repeater"}), "device-kind", "sdqn-types"),
        (lambda d: _node(d, "r1").update({"device-kind": "sdqn-types:x"}), "device-kind", "one of"),
        (
            lambda d: _node(d, "r1").update({"swap-success-probability": "1.5"}),
            "swap-success-probability",
            "outside",
        ),
        (lambda d: _node(d, "roadm1").pop("q-roadm"), "node-id='roadm1'", "q-roadm"),
        (
            lambda d: _net(d)["ietf-network-topology:link"][0]["source"].update(
                {"source-node": "zed"}
            ),
            "source-node",
            "unknown node 'zed'",
        ),
        (
            lambda d: _net(d)["ietf-network-topology:link"][0]["destination"].update(
                {"dest-node": "alice"}
            ),
            "link-id='alice-r1'",
            "itself",
        ),
        (lambda d: _net(d)["node"].append(_net(d)["node"][0]), "node[8]", "duplicate"),
        (lambda d: _net(d).update({"network-types": {}}), "/ietf-network:networks", "no network"),
    ],
)
def test_topology_errors_name_the_leaf(
    topo: dict[str, Any], mutate: Any, path_part: str, message_part: str
) -> None:
    mutate(topo)
    with pytest.raises(InputError) as err:
        parse_topology(topo)
    assert path_part in err.value.path or path_part in err.value.message
    assert message_part in err.value.message


@pytest.mark.parametrize(
    ("leaf", "value", "message_part"),
    [
        ("source-node", "zed", "unknown node"),
        ("destination-node", "alice", "both 'alice'"),
        ("min-fidelity", "1.01", "outside"),
        ("demanded-rate", "0", "outside"),
        ("demanded-rate", "nan", "finite"),
        ("weight", "-1", "outside"),
        ("priority", 300, "outside"),
        ("application", "sdqn-types:voip", "one of"),
        ("admin-state", 1, "non-empty string"),
        ("utility", {"steepness": "-1"}, "greater than 0"),
        ("utility", {"colour": "1"}, "Extra inputs"),
    ],
)
def test_request_errors(reqs: dict[str, Any], leaf: str, value: Any, message_part: str) -> None:
    net = load_topology(DATA / "metro.json")
    bad = copy.deepcopy(reqs)
    bad["sdqn-services:entanglement-services"]["request"][0][leaf] = value
    with pytest.raises(InputError) as err:
        parse_requests(bad, net)
    assert "name='qkd-alice-bob'" in str(err.value)
    assert message_part in err.value.message


def test_invalid_json_file(tmp_path: Path) -> None:
    bad = tmp_path / "t.json"
    bad.write_text('{"ietf-network:networks": ')
    with pytest.raises(InputError, match="invalid JSON at line 1"):
        load_topology(bad)


def test_settings() -> None:
    data = {
        "sdqn-controller:controller": {
            "optimiser": {"time-limit": "2.5", "objective": "proportional-fair"}
        }
    }
    settings = parse_settings(data)
    assert settings.time_limit_s == 2.5 and settings.objective is Objective.PROPORTIONAL_FAIR
    assert parse_settings({}).time_limit_s == 10.0
    with pytest.raises(InputError, match="time-limit"):
        parse_settings({"sdqn-controller:controller": {"optimiser": {"time-limit": "0"}}})


def test_writers_round_trip() -> None:
    net = load_topology(DATA / "metro.json")
    assert parse_topology(topology_to_json(net)) == net
    requests = load_requests(DATA / "requests.json", net)
    assert parse_requests(requests_to_json(requests), net) == requests


def test_writers_produce_instance_data_the_yang_models_accept() -> None:
    from dataclasses import replace

    from controller.datastore.nmda import Datastore, NmdaStore
    from controller.datastore.schema import Schema
    from controller.settings import PRODUCT_MODULES
    from qnum.utility import UtilityParams

    net = load_topology(DATA / "metro.json")
    assert any(n.roadm and n.roadm.header_processing_time_s < 1e-4   # repr: "1e-06"
               for n in net.nodes.values())
    requests = load_requests(DATA / "requests.json", net)
    requests[0] = replace(requests[0], utility_params=UtilityParams(
        threshold_fidelity=0.9, steepness=20.0))
    store = NmdaStore(Schema(list(PRODUCT_MODULES)))
    store.edit_json(Datastore.RUNNING, topology_to_json(net))   # raises if the YANG refuses
    store.edit_json(Datastore.RUNNING, requests_to_json(requests))
    assert parse_requests(requests_to_json(requests), net) == requests


def test_optimiser_space_and_gap_settings() -> None:
    data = {"sdqn-controller:controller": {"optimiser": {
        "relative-gap-limit": "0.001", "max-route-hops": 8}}}
    settings = parse_settings(data)
    assert settings.relative_gap == 0.001 and settings.max_route_hops == 8
    assert parse_settings({}).max_route_hops == 5 and parse_settings({}).relative_gap == 0.01
    with pytest.raises(InputError, match="max-route-hops"):
        parse_settings({"sdqn-controller:controller": {"optimiser": {"max-route-hops": 0}}})
    with pytest.raises(InputError, match="relative-gap-limit"):
        parse_settings({"sdqn-controller:controller": {"optimiser": {
            "relative-gap-limit": "1.5"}}})
