"""The node leaves of sdqn-topology mean what the physics uses: decoherence-model, a
bsm-fidelity mapped to its depolarising factor, initial-fidelity as the memory write and
multimode-capacity capping a link's modes; bad values are refused naming the leaf."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from qnum.candidates import build_graph, build_route, node_params
from qnum.instances import small_network
from qnum.io import DeviceKind, InputError, parse_topology, topology_to_json

DATA = Path(__file__).parent / "data"


def _topo() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / "metro.json").read_text())
    return data


def _node(data: dict[str, Any], ident: str) -> dict[str, Any]:
    net = data["ietf-network:networks"]["network"][0]
    node = next(n for n in net["node"] if n["node-id"] == ident)
    q: dict[str, Any] = node["sdqn-topology:quantum-node"]
    return q


def test_new_leaves_are_parsed_and_written_back() -> None:
    data = _topo()
    _node(data, "r1").update({"decoherence-model": "dephasing", "multimode-capacity": 8})
    net = parse_topology(data)
    r1 = net.nodes["r1"]
    assert r1.decoherence_model == "dephasing" and r1.multimode_capacity == 8
    assert net.nodes["alice"].decoherence_model == "depolarising"   # the default
    assert net.nodes["alice"].multimode_capacity is None            # absent: no limit
    assert parse_topology(topology_to_json(net)) == net


@pytest.mark.parametrize(
    ("leaf", "value", "message_part"),
    [
        ("decoherence-model", "amplitude-damping", "one of"),
        ("bsm-fidelity", "0.25", "outside"),
        ("bsm-fidelity", "1.01", "outside"),
        ("initial-fidelity", "0.2", "outside"),
        ("multimode-capacity", 0, "outside"),
    ],
)
def test_bad_values_are_refused_naming_the_leaf(leaf: str, value: Any, message_part: str) -> None:
    data = _topo()
    _node(data, "r1")[leaf] = value
    with pytest.raises(InputError) as err:
        parse_topology(data)
    assert leaf in err.value.path
    assert message_part in err.value.message


def test_node_params_map_fidelities_to_depolarising_factors() -> None:
    net = small_network([("A", "R", 10.0)])
    node = replace(net.nodes["R"], bsm_fidelity=0.97, initial_fidelity=0.99,
                   decoherence_model="dephasing")
    params = node_params(node)
    assert params.bsm_lambda == pytest.approx((4 * 0.97 - 1) / 3)   # 0.96, not 0.97
    assert params.write_werner == pytest.approx((4 * 0.99 - 1) / 3)
    assert params.decoherence_model == "dephasing"


@pytest.mark.parametrize(("caps", "expected"), [((None, None), 16), ((4, None), 4),
                                                 ((8, 2), 2), ((32, 64), 16)])
def test_multimode_capacity_caps_the_links_modes(
    caps: tuple[int | None, int | None], expected: int
) -> None:
    net = small_network([("A", "B", 10.0)], kinds={"A": DeviceKind.END_NODE,
                                                   "B": DeviceKind.END_NODE}, modes=16)
    nodes = {n: replace(net.nodes[n], multimode_capacity=c)
             for n, c in zip(("A", "B"), caps, strict=True)}
    net = replace(net, nodes=nodes)
    route = build_route(net, build_graph(net), ["A", "B"])
    assert route is not None
    assert route.segments[0].params.modes == expected
