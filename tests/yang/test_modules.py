"""The product's YANG modules lint cleanly, compile in libyang and yanglint, and the shipped
configuration files are valid instance data that honour the data-model contract.

Negative cases prove the constraints are real: each mutation of a valid document must be
rejected with the constraint's own message, so a dropped `must` or range makes a test fail.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import libyang
import networkx as nx
import pytest

from southbound.kinds import DEVICE_KINDS
from tests.yang.conftest import (
    CONFIG_DIR,
    IETF_DIR,
    INSTANCE_DIR,
    MODULES,
    ROOT,
    YANG_DIR,
    load_json,
    module_files,
    validate,
)

PYANG = ROOT / ".venv" / "bin" / "pyang"
YANGLINT = shutil.which("yanglint")
METRO = CONFIG_DIR / "topologies" / "metro.json"
DEMO = CONFIG_DIR / "services" / "demo.json"

# Warnings pyang --lint may print that are accepted (explained in yang/README.md).
ACCEPTED_LINT_WARNINGS: tuple[str, ...] = ()
# Initial revision of each module: the first set, and those added later.
FIRST_REVISION = "2026-11-22"
LATER_MODULES = {"sdqn-alarms": "2026-11-23", "sdqn-slices": "2026-12-06",
                 "sdqn-drills": "2026-12-06",
                 "sdqn-history": "2026-12-06"}
#: Later revisions of a module, newest first (each adds to its first revision).
REVISIONS = {name: ["2026-12-06"] for name in
             ("sdqn-types", "sdqn-services", "sdqn-topology", "sdqn-controller",
              "sdqn-end-node", "sdqn-qroadm", "sdqn-alarms", "sdqn-device-common",
              "sdqn-repeater")}

Doc = dict[str, Any]


def test_every_expected_module_is_present() -> None:
    assert {
        "sdqn-types", "sdqn-topology", "sdqn-services", "sdqn-controller",
        "sdqn-device-common", "sdqn-repeater", "sdqn-apc", "sdqn-qroadm", "sdqn-end-node",
        "sdqn-alarms",
    } <= set(MODULES)


@pytest.mark.parametrize("path", module_files(), ids=lambda p: p.stem)
def test_pyang_lint_clean(path: Path) -> None:
    result = subprocess.run(
        [str(PYANG), "--lint", "-p", str(IETF_DIR), "-p", str(YANG_DIR), str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    lines = [ln for ln in (result.stdout + result.stderr).splitlines() if ln.strip()]
    errors = [ln for ln in lines if ": error:" in ln]
    unexpected = [ln for ln in lines if not any(w in ln for w in ACCEPTED_LINT_WARNINGS)]
    assert not errors, "\n".join(errors)
    assert not unexpected, "\n".join(unexpected)
    assert result.returncode == 0


@pytest.mark.skipif(YANGLINT is None, reason="yanglint (libyang2-tools) not installed")
@pytest.mark.parametrize("path", module_files(), ids=lambda p: p.stem)
def test_yanglint_compiles(path: Path) -> None:
    assert YANGLINT is not None
    result = subprocess.run(
        [YANGLINT, "-p", str(IETF_DIR), "-p", str(YANG_DIR), str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert not result.stderr.strip(), result.stderr


@pytest.mark.parametrize("name", MODULES)
def test_module_loads_in_libyang(ctx: libyang.Context, name: str) -> None:
    module = ctx.get_module(name)
    assert module.name() == name
    assert module.implemented()
    assert [r.date() for r in module.revisions()] == [
        *REVISIONS.get(name, []), LATER_MODULES.get(name, FIRST_REVISION)]


@pytest.mark.parametrize("path", module_files(), ids=lambda p: p.stem)
def test_module_header_follows_project_convention(path: Path) -> None:
    """Namespace urn:sdqn:<module>, sdqn- prefix, YANG 1.1 (descriptions are lint's job)."""
    text = path.read_text()
    assert f'namespace "urn:sdqn:{path.stem}";' in text
    assert re.search(r"^  prefix sdqn-[a-z-]+;$", text, re.MULTILINE)
    assert "yang-version 1.1;" in text
    revision = f"revision {LATER_MODULES.get(path.stem, FIRST_REVISION)}"
    for keyword in ("organization", "contact", "description", revision):
        assert re.search(rf"^  {keyword}\b", text, re.MULTILINE), keyword


# --- shipped configuration --------------------------------------------------------------


@pytest.fixture(scope="module")
def metro() -> Doc:
    return load_json(METRO)


@pytest.fixture(scope="module")
def demo() -> Doc:
    return load_json(DEMO)


def test_metro_topology_is_valid(ctx: libyang.Context, metro: Doc) -> None:
    validate(ctx, metro)


def test_demo_services_are_valid_against_metro(
    ctx: libyang.Context, metro: Doc, demo: Doc
) -> None:
    validate(ctx, {**metro, **demo})


def test_demo_services_need_the_topology(ctx: libyang.Context, demo: Doc) -> None:
    with pytest.raises(libyang.LibyangError, match="leafref"):
        validate(ctx, demo)


@pytest.mark.skipif(YANGLINT is None, reason="yanglint (libyang2-tools) not installed")
def test_yanglint_validates_config_files() -> None:
    assert YANGLINT is not None
    schemas = [
        str(YANG_DIR / f"{m}.yang") for m in ("sdqn-types", "sdqn-topology", "sdqn-services")
    ]
    result = subprocess.run(
        [YANGLINT, "-m", "-e", "-t", "config", "-p", str(IETF_DIR), "-p", str(YANG_DIR),
         *schemas, str(METRO), str(DEMO)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def _network(doc: Doc) -> Doc:
    network: Doc = doc["ietf-network:networks"]["network"][0]
    return network


def _qnodes(doc: Doc) -> dict[str, Doc]:
    return {n["node-id"]: n["sdqn-topology:quantum-node"] for n in _network(doc)["node"]}


def _links(doc: Doc) -> list[Doc]:
    links: list[Doc] = _network(doc)["ietf-network-topology:link"]
    return links


def _kind(qnode: Doc) -> str:
    return str(qnode["device-kind"]).split(":")[1]


def test_metro_has_the_contract_inventory(metro: Doc) -> None:
    assert _network(metro)["network-id"] == "metro"
    kinds: dict[str, list[str]] = {}
    for nid, q in _qnodes(metro).items():
        kinds.setdefault(_kind(q), []).append(nid)
    assert sorted(kinds["end-node"]) == ["alice", "bob", "charlie", "dave"]
    assert len(kinds["repeater"]) >= 3
    assert len(kinds["q-roadm"]) == 1
    assert kinds["apc"]


def test_metro_long_fibres_are_compensated_by_apcs(metro: Doc) -> None:
    qnodes = _qnodes(metro)
    long_links = [
        lk for lk in _links(metro)
        if Decimal(lk["sdqn-topology:quantum-link"]["fibre-length"]) >= 20
    ]
    assert long_links
    for lk in long_links:
        comp = lk["sdqn-topology:quantum-link"].get("compensator")
        assert comp is not None, lk["link-id"]
        assert _kind(qnodes[comp]) == "apc"
    used = {lk["sdqn-topology:quantum-link"].get("compensator") for lk in _links(metro)}
    assert {n for n, q in qnodes.items() if _kind(q) == "apc"} <= used


def test_metro_management_endpoints(metro: Doc) -> None:
    mgmt = [q["management"] for q in _qnodes(metro).values()]
    assert all(m["address"] == "127.0.0.1" for m in mgmt)
    ports = sorted(m["port"] for m in mgmt)
    assert ports == list(range(8301, 8301 + len(mgmt)))


def _graph(doc: Doc) -> nx.MultiGraph:
    graph = nx.MultiGraph()
    for lk in _links(doc):
        graph.add_edge(lk["source"]["source-node"], lk["destination"]["dest-node"],
                       key=lk["link-id"])
    return graph


def test_metro_has_a_reroutable_path_between_end_nodes(metro: Doc) -> None:
    """Some fibre on an end-to-end path can be cut without disconnecting the two ends."""
    graph = _graph(metro)
    ends = ["alice", "bob", "charlie", "dave"]
    reroutable = []
    for i, a in enumerate(ends):
        for b in ends[i + 1:]:
            path = nx.shortest_path(graph, a, b)
            for u, v in itertools.pairwise(path):
                for key in list(graph[u][v]):
                    cut = graph.copy()
                    cut.remove_edge(u, v, key)
                    if nx.has_path(cut, a, b):
                        reroutable.append((a, b, key))
    assert reroutable


def test_metro_physics_values_are_realistic(metro: Doc) -> None:
    for lk in _links(metro):
        q = {k: Decimal(str(v)) for k, v in lk["sdqn-topology:quantum-link"].items()
             if k in ("fibre-length", "attenuation", "source-rate", "detector-efficiency",
                      "link-fidelity")}
        assert Decimal(5) <= q["fibre-length"] <= Decimal(50)
        assert q["attenuation"] == Decimal("0.2")
        assert Decimal("1e6") <= q["source-rate"] <= Decimal("1e8")
        assert Decimal("0.8") <= q["detector-efficiency"] <= Decimal("0.95")
        assert Decimal("0.95") <= q["link-fidelity"] <= Decimal("0.99")
    for q in _qnodes(metro).values():
        if _kind(q) in ("end-node", "repeater"):
            assert Decimal("0.1") <= Decimal(q["coherence-time"]) <= Decimal(10)
            assert Decimal("0.98") <= Decimal(q["bsm-fidelity"]) <= Decimal("0.99")
            swap = Decimal(q["swap-success-probability"])
            assert swap == Decimal("0.5") if _kind(q) == "end-node" else swap >= Decimal("0.9")


def test_demo_requests_cover_every_application(demo: Doc) -> None:
    requests = demo["sdqn-services:entanglement-services"]["request"]
    apps = {r["application"] for r in requests}
    assert apps == {f"sdqn-types:{a}" for a in ("qkd", "dqc", "dqs", "teleportation")}
    by_app = {r["application"].split(":")[1]: r for r in requests}
    assert {by_app["qkd"]["source-node"], by_app["qkd"]["destination-node"]} == {"alice", "bob"}
    dqc = by_app["dqc"]
    assert {dqc["source-node"], dqc["destination-node"]} == {"charlie", "dave"}
    assert Decimal(dqc["min-fidelity"]) == Decimal("0.95")
    assert Decimal(by_app["dqs"]["min-fidelity"]) >= Decimal("0.99")


# --- negative cases -----------------------------------------------------------------------


def _link_q(doc: Doc, index: int = 0) -> Doc:
    q: Doc = _links(doc)[index]["sdqn-topology:quantum-link"]
    return q


def _node(doc: Doc, node_id: str) -> Doc:
    return _qnodes(doc)[node_id]


def _request(doc: Doc) -> Doc:
    r: Doc = doc["sdqn-services:entanglement-services"]["request"][0]
    return r


Mutation = Callable[[Doc], object]

TOPOLOGY_MUTATIONS: dict[str, tuple[Mutation, str]] = {
    "fidelity-above-one": (lambda d: _link_q(d).update({"link-fidelity": "1.5"}), "range"),
    "negative-attenuation": (lambda d: _link_q(d).update({"attenuation": "-0.1"}), "range"),
    "zero-fibre-length": (lambda d: _link_q(d).update({"fibre-length": "0"}), "range"),
    "swap-probability-above-one": (
        lambda d: _node(d, "r1").update({"swap-success-probability": "1.01"}), "range"),
    "link-to-itself": (
        lambda d: _links(d)[0]["destination"].update(
            {"dest-node": _links(d)[0]["source"]["source-node"]}),
        "two ends must differ"),
    "link-end-missing": (
        lambda d: _links(d)[0]["destination"].update({"dest-node": "nowhere"}),
        "no target instance \"../../../nw:node/nw:node-id\""),
    "compensator-missing": (lambda d: _link_q(d).update({"compensator": "apc-9"}), "leafref"),
    "compensator-not-apc": (
        lambda d: _link_q(d).update({"compensator": "r1"}), "device-kind apc"),
    "apc-as-link-end": (
        lambda d: _links(d)[0]["destination"].update({"dest-node": "apc-1"}),
        "not a link end"),
    "q-roadm-block-on-end-node": (
        lambda d: _node(d, "alice").update({"q-roadm": {"degrees": 2}}), "When condition"),
    "memory-without-t2": (lambda d: _node(d, "alice").pop("coherence-time"), "coherence-time"),
    "relay-with-one-qubit": (
        lambda d: _node(d, "alice").update({"memory-qubits": 1, "relay": True}),
        "relay needs an end node with memory-qubits >= 2"),
    "relay-on-repeater": (
        lambda d: _node(d, "r1").update({"relay": True}),
        "relay needs an end node with memory-qubits >= 2"),
    "timing-on-quantum-wavelength": (
        lambda d: _link_q(d)["timing-channel"].update({"wavelength": _link_q(d)["wavelength"]}),
        "timing channel"),
    "packet-payload-shorter-than-header": (
        lambda d: _node(d, "qr1")["q-roadm"].update(
            {"switching-mode": "packet", "payload-duration": "0.0000001"}),
        "payload must outlast"),
    "quantum-attrs-in-plain-network": (
        lambda d: _network(d)["network-types"].clear(), "When condition"),
    "missing-device-kind": (lambda d: _node(d, "bob").pop("device-kind"), "Mandatory"),
    "state-in-config": (
        lambda d: _node(d, "bob").update({"state": {"stable": True}}), "state node"),
}


def test_relay_end_node_topology_and_device_are_valid(ctx: libyang.Context, metro: Doc) -> None:
    """The valid counterparts of the relay mutations: an end node with enough qubits may
    relay, and its device takes a relay flow within its registers."""
    doc = copy.deepcopy(metro)
    _node(doc, "alice").update({"relay": True})
    validate(ctx, doc)
    device = _device_doc("sdqn-end-node")
    _top(device).update({"relay": _relay_flow(slots=2)})
    validate(ctx, device, state=True)


@pytest.mark.parametrize("case", sorted(TOPOLOGY_MUTATIONS))
def test_invalid_topology_is_rejected(ctx: libyang.Context, metro: Doc, case: str) -> None:
    mutate, message = TOPOLOGY_MUTATIONS[case]
    doc = copy.deepcopy(metro)
    mutate(doc)
    with pytest.raises(libyang.LibyangError, match=message):
        validate(ctx, doc)


SERVICE_MUTATIONS: dict[str, tuple[Mutation, str]] = {
    "same-source-and-destination": (
        lambda d: _request(d).update({"destination-node": _request(d)["source-node"]}),
        "must differ"),
    "destination-not-in-topology": (
        lambda d: _request(d).update({"destination-node": "eve"}), "leafref"),
    "min-fidelity-above-one": (lambda d: _request(d).update({"min-fidelity": "1.5"}), "range"),
    "unknown-application": (
        lambda d: _request(d).update({"application": "sdqn-types:repeater"}), "identityref"),
    "negative-rate": (lambda d: _request(d).update({"demanded-rate": "-1"}), "range"),
}


@pytest.mark.parametrize("case", sorted(SERVICE_MUTATIONS))
def test_invalid_request_is_rejected(
    ctx: libyang.Context, metro: Doc, demo: Doc, case: str
) -> None:
    mutate, message = SERVICE_MUTATIONS[case]
    doc = copy.deepcopy(demo)
    mutate(doc)
    with pytest.raises(libyang.LibyangError, match=message):
        validate(ctx, {**metro, **doc})


def test_controller_defaults(ctx: libyang.Context) -> None:
    """An empty controller container gets the documented defaults."""
    tree = ctx.parse_data_mem('{"sdqn-controller:controller": {}}', "json", strict=True,
                              no_state=True, validate_present=True)
    assert tree is not None
    try:
        data = tree.print_dict(include_implicit_defaults=True, absolute=False)
    finally:
        tree.free()
    optimiser = data["controller"]["optimiser"]
    assert optimiser["time-limit"] == 10
    assert optimiser["objective"] == "sum"
    assert "periodic" not in optimiser["re-optimisation-triggers"]
    assert data["controller"]["policies"]["out-of-band"]["default-action"] == "revert"


def test_management_admin_state_is_unlocked_unless_locked(
        ctx: libyang.Context, metro: Doc) -> None:
    """Pre-provisioning: every device is managed unless the operator locks it; nothing
    but the two states is accepted."""
    tree = ctx.parse_data_mem(json.dumps(metro), "json", strict=True, no_state=True,
                              validate_present=True)
    assert tree is not None
    try:
        data = tree.print_dict(include_implicit_defaults=True, absolute=False)
    finally:
        tree.free()
    (network,) = list(data["networks"]["network"])
    assert {n["quantum-node"]["management"]["admin-state"] for n in network["node"]} \
        == {"unlocked"}
    doc = copy.deepcopy(metro)
    management = doc["ietf-network:networks"]["network"][0]["node"][0][
        "sdqn-topology:quantum-node"]["management"]
    management["admin-state"] = "locked"
    validate(ctx, doc)
    management["admin-state"] = "maintenance"
    with pytest.raises(libyang.LibyangError, match="maintenance"):
        validate(ctx, doc)


def test_southbound_plan_exclusion_is_state(ctx: libyang.Context) -> None:
    """Why a device is out of service is operational state, never configuration."""
    doc = {"sdqn-controller:controller": {"southbound": {"device": [
        {"node-id": "r3", "connection-state": "disconnected", "plan-exclusion": "locked"},
        {"node-id": "r2", "connection-state": "unreachable", "plan-exclusion": "unreachable",
         "last-error": "connection refused"}]}}}
    validate(ctx, doc, state=True)
    with pytest.raises(libyang.LibyangError):
        validate(ctx, doc)
    doc["sdqn-controller:controller"]["southbound"]["device"][0]["plan-exclusion"] = "down"
    with pytest.raises(libyang.LibyangError, match="down"):
        validate(ctx, doc, state=True)


def test_controller_rejects_bad_out_of_band_device(ctx: libyang.Context, metro: Doc) -> None:
    doc = {**metro, "sdqn-controller:controller": {"policies": {"out-of-band": {
        "device": [{"node-id": "r1", "action": "import"}]}}}}
    validate(ctx, doc)
    doc["sdqn-controller:controller"]["policies"]["out-of-band"]["device"][0]["node-id"] = "zz"
    with pytest.raises(libyang.LibyangError, match="leafref"):
        validate(ctx, doc)


# --- device modules ----------------------------------------------------------------------

#: every device kind's module (southbound.kinds): a new kind needs its samples below
DEVICE_MODULES = tuple(kind.module for kind in DEVICE_KINDS.values())
DEVICE_TOP = {kind.module: kind.top for kind in DEVICE_KINDS.values()}


def _device_doc(module: str) -> Doc:
    return load_json(INSTANCE_DIR / f"{module}.json")


def _top(doc: Doc) -> Doc:
    (top,) = doc.values()
    assert isinstance(top, dict)
    return top


def _flow(doc: Doc, index: int) -> Doc:
    flow: Doc = _top(doc)["flow"][index]
    return flow


def _xc(doc: Doc, name: str) -> Doc:
    return next(x for x in _top(doc)["circuit"]["cross-connect"] if x["name"] == name)


def _endpoint(doc: Doc, name: str) -> Doc:
    return next(e for e in _top(doc)["application-endpoint"] if e["name"] == name)


def _relay_flow(slots: int, links: tuple[str, ...] | list[str] = ("a-x", "b-x")) -> Doc:
    """An end node's relay container swapping fibres a-x and b-x for one flow."""
    generation = [{"link-id": lid, "neighbour": lid.split("-")[0], "attempt-rate": "1000.0"}
                  for lid in ("a-x", "b-x")]
    return {"link-generation": {"link": generation},
            "flow": [{"flow-id": "through", "memory-slots": slots,
                      "neighbour-links": list(links)}]}


DEVICE_MUTATIONS: dict[str, dict[str, tuple[Mutation, str]]] = {
    "sdqn-repeater": {
        "slots-exceed-registers": (
            lambda d: _flow(d, 0).update({"memory-slots": 30}), "more memory slots"),
        "purification-with-two-slots": (
            lambda d: _flow(d, 1).update({"memory-slots": 2, "purification-rounds": 1}),
            "two registers per side"),
        "one-slot": (lambda d: _flow(d, 1).update({"memory-slots": 1}), "range"),
        "one-neighbour-link": (
            lambda d: _flow(d, 0).update({"neighbour-links": ["alice-r1"]}), "Too few"),
        "unknown-neighbour-link": (
            lambda d: _flow(d, 0).update({"neighbour-links": ["alice-r1", "r1-r9"]}),
            "leafref"),
        "memory-without-t2": (lambda d: _top(d)["memory"].pop("coherence-time"),
                              "coherence-time"),
    },
    "sdqn-apc": {
        "single-target-basis": (
            lambda d: _top(d).update({"target-bases": ["rectilinear"]}), "Too few"),
        "tolerance-above-pi": (
            lambda d: _top(d).update({"tracking-tolerance": "4.0"}), "range"),
        "zero-calibration-interval": (
            lambda d: _top(d).update({"calibration-interval": "0"}), "range"),
        "unknown-spec-status": (
            lambda d: _top(d)["state"].update({"spec-status": "fine"}), "enumeration"),
        "missing-node-id": (lambda d: _top(d).pop("node-id"), "Mandatory"),
    },
    "sdqn-qroadm": {
        "quantum-without-timing": (
            lambda d: _xc(d, "q-r1-r2").pop("timing-companion"), "needs a timing-companion"),
        "timing-on-another-path": (
            lambda d: _xc(d, "q-r1-r2").update({"timing-companion": "t-charlie-r3"}),
            "same source and"),
        "companion-not-timing": (
            lambda d: _xc(d, "q-r1-r2").update({"timing-companion": "c-r1-r3"}),
            "timing channel"),
        "quantum-through-amplifier": (
            lambda d: _xc(d, "q-r1-r2").update({"amplifier-bypass": False}),
            "bypass optical amplifiers"),
        "loopback": (
            lambda d: _xc(d, "c-r1-r3").update({"destination": {"degree": 1}}), "must differ"),
        "channel-twice-from-one-degree": (
            lambda d: _xc(d, "c-r1-r3").update({"channel": 3}), "Unique data"),
        "duplicate-wavelength": (
            lambda d: _top(d)["channel"][4].update({"wavelength": "1549.32"}), "Unique data"),
        "channel-plan-too-large": (
            lambda d: _top(d).update({"wavelength-channels": 4}), "More channels"),
        "cross-connects-in-packet-mode": (
            lambda d: _top(d).update({"switching-mode": "packet"}), "When condition"),
        "packet-payload-shorter-than-header": (
            lambda d: (_top(d).update({"switching-mode": "packet",
                                       "packet": {"payload-duration": "0.0000001"}}),
                       _top(d).pop("circuit")),
            "payload must outlast"),
        "unknown-degree": (
            lambda d: _xc(d, "c-r1-r3").update({"destination": {"degree": 9}}), "leafref"),
    },
    "sdqn-end-node": {
        "relay-slots-exceed-registers": (
            lambda d: _top(d).update({"relay": _relay_flow(slots=4)}),
            "Relay flows and application endpoints allocate more"),
        "relay-flow-unknown-link": (
            lambda d: _top(d).update({"relay": _relay_flow(slots=2, links=["a-x", "x-b"])}),
            "leafref"),
        "dqc-without-memory": (
            lambda d: _endpoint(d, "dqc-1").update({"memory-slots": 0}), "needs memory"),
        "slots-exceed-registers": (
            lambda d: _endpoint(d, "teleport-1").update({"memory-slots": 5}),
            "more memory slots"),
        "alarm-below-dark-counts": (
            lambda d: _top(d)["detector"][0].update({"dark-count-alarm-threshold": "50"}),
            "must exceed"),
        "unknown-detector": (
            lambda d: _endpoint(d, "dqc-1").update({"detectors": ["d7"]}), "leafref"),
        "efficiency-above-one": (
            lambda d: _top(d)["detector"][1].update({"efficiency": "1.2"}), "range"),
        "unknown-source-state": (
            lambda d: _top(d)["source"]["state"].update({"source-state": "hot"}),
            "enumeration"),
    },
}


@pytest.mark.parametrize("module", DEVICE_MODULES)
def test_device_instance_is_valid(ctx: libyang.Context, module: str) -> None:
    doc = _device_doc(module)
    assert set(doc) == {f"{module}:{DEVICE_TOP[module]}"}
    validate(ctx, doc, state=True)


@pytest.mark.parametrize("module", DEVICE_MODULES)
def test_device_state_is_not_configuration(ctx: libyang.Context, module: str) -> None:
    """The sample carries config-false nodes, so it is rejected as a config document."""
    with pytest.raises(libyang.LibyangError, match="state node"):
        validate(ctx, _device_doc(module))


@pytest.mark.parametrize(
    ("module", "case"),
    [(m, c) for m in DEVICE_MODULES for c in sorted(DEVICE_MUTATIONS[m])],
)
def test_invalid_device_instance_is_rejected(
    ctx: libyang.Context, module: str, case: str
) -> None:
    mutate, message = DEVICE_MUTATIONS[module][case]
    doc = _device_doc(module)
    mutate(doc)
    with pytest.raises(libyang.LibyangError, match=message):
        validate(ctx, doc, state=True)


NOTIFICATIONS: dict[str, tuple[Doc, Doc]] = {
    # module: (valid notification, invalid notification)
    "sdqn-repeater": (
        {"sdqn-repeater:memory-exhausted": {"severity": "major", "flow-id": "f1",
                                            "registers-in-use": 20}},
        {"sdqn-repeater:memory-exhausted": {"flow-id": "f1"}},
    ),
    "sdqn-apc": (
        {"sdqn-apc:calibration-complete": {"success": True, "tracking-error": "0.01"}},
        {"sdqn-apc:calibration-complete": {"tracking-error": "0.01"}},
    ),
    "sdqn-qroadm": (
        {"sdqn-qroadm:timing-skew-alarm": {"severity": "minor", "name": "q-r1-r2",
                                           "timing-skew": "-35.5"}},
        {"sdqn-qroadm:timing-skew-alarm": {"severity": "loud", "name": "q-r1-r2"}},
    ),
    "sdqn-end-node": (
        {"sdqn-end-node:source-state-change": {"source-state": "stable"}},
        {"sdqn-end-node:source-state-change": {"reason": "warm-up done"}},
    ),
}


def _validate_notification(context: libyang.Context, notification: Doc) -> None:
    node = context.parse_op_mem("json", json.dumps(notification), libyang.DataType.NOTIF_YANG)
    try:
        node.validate(notification=True)
    finally:
        node.free()


@pytest.mark.parametrize("module", DEVICE_MODULES)
def test_device_notifications(ctx: libyang.Context, module: str) -> None:
    valid, invalid = NOTIFICATIONS[module]
    _validate_notification(ctx, valid)
    with pytest.raises(libyang.LibyangError):
        _validate_notification(ctx, invalid)


def test_apc_calibrate_action(ctx: libyang.Context) -> None:
    action = ctx.parse_op_mem("json", '{"sdqn-apc:apc": {"calibrate": {"force": true}}}',
                              libyang.DataType.RPC_YANG)
    try:
        action.validate(rpc=True)
    finally:
        action.free()
    with pytest.raises(libyang.LibyangError, match="boolean"):
        ctx.parse_op_mem("json", '{"sdqn-apc:apc": {"calibrate": {"force": "maybe"}}}',
                         libyang.DataType.RPC_YANG)
