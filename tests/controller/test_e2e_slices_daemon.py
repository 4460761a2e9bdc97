"""Slice guarantees end to end: the controller daemon (`sdqn controller run`) in a
subprocess, read and configured over NETCONF/SSH with ncclient, the emulated metro network
as real NETCONF servers in this process. The intent is the demo's: two tenants, a QKD
operator's dedicated slice guaranteeing a rate per connection and a research lab's shared
slice (config/services/demo-slices.json).

In file order, on one daemon: the slice states in <operational> after the commit
(RFC 8526 <get-data>); a user commit of competing requests in the shared slice leaves the
guaranteed member at its guarantee; a core fibre cut with a detour re-routes the member,
which keeps its guarantee, so the fibre-cut alarm is raised and no slice-sla-violation
(RFC 8632). Every wait polls with a deadline; nothing asserts on timing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from lxml import etree

from controller.app.intent import with_slicing
from controller.datastore.schema import Schema
from controller.paths import CONFIG_DIR
from controller.settings import PRODUCT_MODULES
from simulators.faults import FaultKind, FaultRequest
from simulators.launcher import Network
from tests.controller.e2e import (
    NC,
    SVC,
    Daemon,
    convert,
    edit_running,
    emulated_network,
    wait_for,
    write_config,
)

SL = "urn:sdqn:sdqn-slices"
AL = "urn:ietf:params:xml:ns:yang:ietf-alarms"
SLICING = json.loads((CONFIG_DIR / "services" / "demo-slices.json").read_text())
GUARANTEED = "qkd-metro"      # dedicated, guaranteed-rate per connection
SHARED = "research-dqc"       # shared, aggregate-rate
MEMBER = "qkd-alice-bob"      # GUARANTEED's member, alice›r1›r2›bob
CUT = "r1-r2"                 # a core fibre of MEMBER's path; r1›qr1›r2 is the detour
Slices = dict[str, dict[str, Any]]


def _guarantee() -> float:
    sl = next(s for s in SLICING["sdqn-slices:slicing"]["slice"] if s["name"] == GUARANTEED)
    return float(sl["slo"]["guaranteed-rate"])


def _intent(net: Network) -> str:
    """Topology (with the emulators' ports), the demo requests and the demo slicing, as
    NETCONF XML through the controller's schema: one edit, one commit."""
    ports = {d["node-id"]: d["port"] for d in net.inventory()["devices"]}
    topology = json.loads((CONFIG_DIR / "topologies" / "metro.json").read_text())
    for node in topology["ietf-network:networks"]["network"][0]["node"]:
        node["sdqn-topology:quantum-node"]["management"]["port"] = ports[node["node-id"]]
    services = json.loads((CONFIG_DIR / "services" / "demo.json").read_text())
    payload = json.dumps({**topology, **with_slicing(services, SLICING)})
    return convert(Schema(list(PRODUCT_MODULES)).ctx, payload, "json", "xml")


def slice_states(daemon: Daemon) -> Slices:
    """Per slice, from operational /slicing over NETCONF: its objectives (target,
    measured, compliant, measured-at) and guarantee (suspended, reason)."""
    data = daemon.get_data("operational", "/sl:slicing", {"sl": SL})
    out: Slices = {}
    for sl in data.iter(f"{{{SL}}}slice"):
        state = sl.find(f"{{{SL}}}state")
        slos = {} if state is None else {
            str(o.findtext(f"{{{SL}}}objective")): {
                leaf: o.findtext(f"{{{SL}}}{leaf}")
                for leaf in ("target", "measured", "compliant", "measured-at")}
            for o in state.iter(f"{{{SL}}}slo")}
        out[str(sl.findtext(f"{{{SL}}}name"))] = {
            "slo": slos,
            "suspended": None if state is None else state.findtext(
                f"{{{SL}}}guarantee/{{{SL}}}suspended"),
            "reason": None if state is None else state.findtext(
                f"{{{SL}}}guarantee/{{{SL}}}reason")}
    return out


def request_state(daemon: Daemon, name: str) -> dict[str, Any]:
    data = daemon.get_data("operational", f"/svc:entanglement-services/svc:request"
                           f"[svc:name='{name}']/svc:state", {"svc": SVC})
    state = data.find(f".//{{{SVC}}}state")
    assert state is not None, etree.tostring(data)
    return {"admission": state.findtext(f"{{{SVC}}}admission"),
            "oper-state": state.findtext(f"{{{SVC}}}oper-state"),
            "path": [p.text for p in state.iter(f"{{{SVC}}}path")],
            "predicted-rate": float(state.findtext(f"{{{SVC}}}predicted-rate") or 0.0),
            "measured-rate": state.findtext(f"{{{SVC}}}measured-rate")}


def active_alarms(daemon: Daemon) -> list[tuple[str, str]]:
    """(alarm type, resource) of every alarm not cleared (RFC 8632 §3.5.1)."""
    data = daemon.get_data("operational", "/al:alarms/al:alarm-list", {"al": AL})
    return sorted((str(a.findtext(f"{{{AL}}}alarm-type-id")).split(":")[-1],
                   str(a.findtext(f"{{{AL}}}resource")))
                  for a in data.iter(f"{{{AL}}}alarm")
                  if a.findtext(f"{{{AL}}}is-cleared") == "false")


def compliant(slices: Slices, name: str, since: str = "") -> bool:
    """Every objective of the slice measured after `since` and compliant."""
    slos = slices.get(name, {}).get("slo", {})
    return bool(slos) and all(s["compliant"] == "true" and (s["measured-at"] or "") > since
                              for s in slos.values())


def now() -> str:
    """RFC 3339 date-and-time in the controller's own form (UTC, seconds)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Network, Daemon]]:
    tmp = tmp_path_factory.mktemp("slices-daemon")
    with emulated_network() as net, \
            Daemon(write_config(tmp, "slices-daemon"), tmp / "daemon.log") as daemon:
        edit_running(daemon, _intent(net))
        yield net, daemon


def test_slice_states_over_netconf_are_measured_and_compliant(
        world: tuple[Network, Daemon]) -> None:
    _net, daemon = world
    slices = slice_states(daemon)       # right after the commit: every slice has a state
    assert set(slices) == {GUARANTEED, SHARED}
    assert set(slices[GUARANTEED]["slo"]) == {"guaranteed-rate", "min-fidelity"}
    assert set(slices[SHARED]["slo"]) == {"aggregate-rate", "min-fidelity"}
    assert {s["suspended"] for s in slices.values()} == {"false"}
    # Lasers warm up and APCs calibrate (minutes simulated, seconds here): then the
    # members are up, measured, and the slices compliant.
    slices = wait_for(lambda: slice_states(daemon),
                      lambda s: compliant(s, GUARANTEED) and compliant(s, SHARED), 90)
    assert compliant(slices, GUARANTEED) and compliant(slices, SHARED), \
        f"{slices}\n{daemon.log_tail()}"
    for sl in slices.values():
        for slo in sl["slo"].values():
            assert slo["measured-at"] and float(slo["measured"]) >= float(slo["target"]), sl
            datetime.fromisoformat(slo["measured-at"])     # an RFC 3339 date-and-time
    assert request_state(daemon, MEMBER)["oper-state"] == "up"
    assert not [a for a in active_alarms(daemon) if a[0] == "slice-sla-violation"]


def test_guarantee_held_when_the_shared_slice_competes(world: tuple[Network, Daemon]) -> None:
    """A tenant of the shared slice commits a request over the guaranteed member's own
    path, demanding far more than the network gives and weighted high: re-optimisation
    admits it with what the dedicated slice neither reserves nor leaves idle, never the
    guaranteed member's guarantee. The tenant then withdraws it."""
    _net, daemon = world
    guarantee = _guarantee()
    competitor = (f'<entanglement-services xmlns="{SVC}"><request><name>dqc-alice-bob</name>'
                  "<source-node>alice</source-node><destination-node>bob</destination-node>"
                  '<application xmlns:t="urn:sdqn:sdqn-types">t:dqc</application>'
                  "<min-fidelity>0.9</min-fidelity><demanded-rate>10000.0</demanded-rate>"
                  "<weight>100.0</weight><priority>9</priority>"
                  f'<slice xmlns="{SL}">{SHARED}</slice></request></entanglement-services>')
    edit_running(daemon, competitor)
    rival = request_state(daemon, "dqc-alice-bob")
    assert rival["admission"] == "admitted" and rival["predicted-rate"] > 0, rival
    member = request_state(daemon, MEMBER)
    assert member["admission"] == "admitted"
    assert member["predicted-rate"] >= guarantee, member
    since = now()
    slices = wait_for(lambda: slice_states(daemon),
                      lambda s: compliant(s, GUARANTEED, since), 90)
    assert compliant(slices, GUARANTEED, since), f"{slices}\n{daemon.log_tail()}"
    rate = slices[GUARANTEED]["slo"]["guaranteed-rate"]
    assert float(rate["measured"]) >= guarantee, rate
    assert slices[GUARANTEED]["suspended"] == "false"
    assert not [a for a in active_alarms(daemon) if a[0] == "slice-sla-violation"]
    # the tenant withdraws it (RFC 6241 §7.2 delete): the next test starts from the demo
    edit_running(daemon, f'<entanglement-services xmlns="{SVC}"><request '
                 f'xmlns:nc="{NC}" nc:operation="delete"><name>dqc-alice-bob</name>'
                 "</request></entanglement-services>")
    assert "dqc-alice-bob" not in daemon.service_states()


def test_guarantee_held_through_a_fibre_cut_with_a_detour(
        world: tuple[Network, Daemon]) -> None:
    net, daemon = world
    guarantee = _guarantee()
    assert CUT in "-".join(request_state(daemon, MEMBER)["path"]), "cut not on the path"
    net.faults.apply(FaultRequest(kind=FaultKind.FIBRE_CUT, target=CUT))

    def rerouted() -> dict[str, Any]:
        return request_state(daemon, MEMBER)

    member = wait_for(rerouted, lambda m: "qr1" in m["path"] and m["oper-state"] == "up", 90)
    assert member["path"] == ["alice", "r1", "qr1", "r2", "bob"], \
        f"{member}\n{daemon.log_tail()}"
    assert member["predicted-rate"] >= guarantee, member
    up_on_detour = now()            # judged from measurements on the detour only
    slices = wait_for(lambda: slice_states(daemon),
                      lambda s: compliant(s, GUARANTEED, up_on_detour), 90)
    assert compliant(slices, GUARANTEED, up_on_detour), f"{slices}\n{daemon.log_tail()}"
    rate = slices[GUARANTEED]["slo"]["guaranteed-rate"]
    assert float(rate["measured"]) >= guarantee, rate
    assert slices[GUARANTEED]["suspended"] == "false", slices[GUARANTEED]
    assert slices[GUARANTEED]["reason"] is None
    alarms = active_alarms(daemon)
    assert any(t == "fibre-cut" and f"link-id='{CUT}'" in r for t, r in alarms), alarms
    assert not [a for a in alarms if a[0] == "slice-sla-violation"], alarms
