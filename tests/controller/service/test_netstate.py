"""qcNOC link and node state in <operational>: the fibre loss measured from the repeaters'
heralding counters and the decoherence time from the memories' own T2 probes, on the
emulated metro network and on hand-made readings."""

from __future__ import annotations

import json
from typing import Any

import pytest

from controller.datastore.nmda import Datastore, NmdaStore
from controller.paths import CONFIG_DIR
from controller.service.linkloss import LossEstimator
from controller.service.manager import ServiceManager
from controller.service.netstate import NetworkStatePublisher, link_memories, network_metrics
from qnum.io import DeviceKind, Heralding, Link, Network, Node
from qnum.physics import LinkParams, attempt_success_probability
from simulators.clock import ManualClock
from simulators.faults import FaultKind, FaultRequest
from simulators.launcher import Network as Emulated
from tests.controller.service.conftest import advance

METRO = json.loads((CONFIG_DIR / "topologies" / "metro.json").read_text())
#: fibres a repeater generates on directly (the others run through the q-ROADM qr1)
DIRECT = {"alice-r1", "r1-r2", "r2-bob", "r2-r3", "r3-dave"}


def link_states(store: NmdaStore) -> dict[str, dict[str, Any]]:
    data = json.loads(store.get(Datastore.OPERATIONAL, xpath="/ietf-network:networks"))
    return {lk["link-id"]: lk["sdqn-topology:quantum-link"].get("state", {})
            for lk in data["ietf-network:networks"]["network"][0]
            ["ietf-network-topology:link"]}


def test_fibre_loss_is_measured_from_heralds(
        world: tuple[NmdaStore, ServiceManager, Emulated, ManualClock]) -> None:
    store, manager, net, clock = world
    advance(net, clock, 400)
    manager.telemetry.poll_once()
    advance(net, clock, 30)
    manager.telemetry.poll_once()
    states = link_states(store)
    configured = {lk["link-id"]: float(lk["sdqn-topology:quantum-link"]["fibre-length"])
                  * float(lk["sdqn-topology:quantum-link"]["attenuation"])
                  for lk in METRO["ietf-network:networks"]["network"][0]
                  ["ietf-network-topology:link"]}
    assert {name for name, st in states.items() if "loss" in st} == DIRECT
    for name in DIRECT:
        # Thousands of heralds per window: the estimate is within a few hundredths of a
        # dB of the emulated fibre (whose loss is its configured attenuation × length).
        assert float(states[name]["loss"]) == pytest.approx(configured[name], abs=0.2)


NETWORK = Network("n", {n: Node(n, DeviceKind.REPEATER) for n in ("a", "b")},
                  {"ab": Link("ab", "a", "b", 20.0, 1e6, heralding=Heralding.SENDER_RECEIVER,
                              detector_efficiency=0.9, modes=2)})


def reading(attempts: int, successes: int, link_id: str = "ab") -> str:
    return ('<repeater xmlns="urn:sdqn:sdqn-repeater"><link-generation><link>'
            f"<link-id>{link_id}</link-id><multiplexing-modes>2</multiplexing-modes>"
            f"<state><attempts>{attempts}</attempts><successes>{successes}</successes>"
            "</state></link></link-generation></repeater>")


def test_loss_windows_restarts_and_spans() -> None:
    p = attempt_success_probability(LinkParams(20.0, source_rate_hz=1e6, modes=2,
                                               heralding="sender-receiver",
                                               detector_efficiency=0.9))
    attempts = 1_000_000
    heralds = round(p * attempts)
    estimator = LossEstimator(min_heralds=100)
    assert estimator.update(NETWORK, {"a": reading(1000, 50)}) == {}   # window still open
    loss = estimator.update(NETWORK, {"a": reading(attempts, heralds)})["ab"]
    assert loss == pytest.approx(4.0, abs=0.01)            # 20 km × 0.2 dB/km
    # The next window starts where this one closed; a restarted device counts from 0.
    assert estimator.update(NETWORK, {"a": reading(attempts + 10, heralds + 1)}) == {}
    after_restart = estimator.update(NETWORK, {"a": reading(attempts // 2, heralds // 2)})
    assert after_restart["ab"] == pytest.approx(4.0, abs=0.01)
    # A span through a q-ROADM does not measure one fibre.
    assert LossEstimator().update(NETWORK, {"a": reading(attempts, heralds, "ab>c")}) == {}


ROADMED = Network("n", {
    "a": Node("a", DeviceKind.END_NODE, memory_qubits=10),
    "r": Node("r", DeviceKind.REPEATER, memory_qubits=20),
    "b": Node("b", DeviceKind.END_NODE, memory_qubits=10),
    "c": Node("c", DeviceKind.END_NODE, memory_qubits=10),
    "q": Node("q", DeviceKind.Q_ROADM)}, {
    "a-r": Link("a-r", "a", "r", 10.0, 1e6),
    "r-q": Link("r-q", "r", "q", 10.0, 1e6),
    "q-b": Link("q-b", "q", "b", 10.0, 1e6),
    "q-c": Link("q-c", "q", "c", 10.0, 1e6)})


def memory(ns: str, top: str, t2: float) -> str:
    return (f'<{top} xmlns="urn:sdqn:{ns}"><memory><measured-coherence-time>{t2}'
            f"</measured-coherence-time></memory></{top}>")


def test_a_links_decoherence_time_is_the_worst_memory_storing_its_pairs() -> None:
    """Its own memory ends, and behind a q-ROADM every memory it can switch the fibre to;
    only what was measured this round counts."""
    assert link_memories(ROADMED) == {"a-r": {"a", "r"}, "r-q": {"r", "b", "c"},
                                      "q-b": {"r", "b", "c"}, "q-c": {"r", "b", "c"}}
    readings = {"a": memory("sdqn-end-node", "end-node", 1.5),
                "r": memory("sdqn-repeater", "repeater", 0.5),
                "b": memory("sdqn-end-node", "end-node", 2.0)}
    _nodes, links = network_metrics(ROADMED, readings)
    assert {k: v["decoherence-time"] for k, v in links.items()} == {
        "a-r": 0.5, "r-q": 0.5, "q-b": 0.5, "q-c": 0.5}
    readings["r"] = memory("sdqn-repeater", "repeater", 5.0)
    del readings["a"]                                   # not read this round
    _nodes, links = network_metrics(ROADMED, readings)
    assert {k: v["decoherence-time"] for k, v in links.items()} == {
        "a-r": 5.0, "r-q": 2.0, "q-b": 2.0, "q-c": 2.0}
    assert all("oper-status" not in v for v in links.values())   # says nothing of that


def test_decoherence_time_follows_the_measured_memories(
        world: tuple[NmdaStore, ServiceManager, Emulated, ManualClock]) -> None:
    store, manager, net, clock = world
    advance(net, clock, 400)
    manager.telemetry.poll_once()
    before = link_states(store)
    # alice-r1: alice (rated 1.5 s) and r1 (5 s) measure; r2-bob: r2 (2.5 s), bob (1.5 s)
    for name in ("alice-r1", "r2-bob"):
        assert float(before[name]["decoherence-time"]) == pytest.approx(1.5, rel=0.25)
        assert before[name]["stale"] is False and "last-updated" in before[name]
    net.faults.apply(FaultRequest(kind=FaultKind.MEMORY_DEGRADATION, target="r1"))
    advance(net, clock, 10)
    manager.telemetry.poll_once()
    after = link_states(store)
    assert float(after["alice-r1"]["decoherence-time"]) == pytest.approx(0.5, rel=0.25)
    assert float(after["r1-r2"]["decoherence-time"]) == pytest.approx(0.5, rel=0.25)
    assert float(after["r2-bob"]["decoherence-time"]) == pytest.approx(1.5, rel=0.25)
    assert after["alice-r1"]["stale"] is False


def link_reading(state: str, link_id: str = "ab") -> str:
    return ('<repeater xmlns="urn:sdqn:sdqn-repeater"><link-generation><link>'
            f"<link-id>{link_id}</link-id><state>{state}</state>"
            "</link></link-generation></repeater>")


def test_a_links_oper_status_change_is_announced_once(schema: Any) -> None:
    """sdqn-topology link-state-change (NETCONF's stream): on each change of a link's
    published oper-status, valid against the module, and not again while it holds."""
    from lxml import etree

    sent: list[etree._Element] = []
    publisher = NetworkStatePublisher(NmdaStore(schema), lambda: NETWORK, notify=sent.append)
    down = link_reading("<oper-status>down</oper-status>")
    publisher({"a": down}, 0.0)
    publisher({"a": down}, 0.0)                                       # still down
    publisher({"a": link_reading("<generation-rate>120.5</generation-rate>")}, 0.0)
    bodies = [{etree.QName(c).localname: c.text for c in n} for n in sent]
    assert bodies == [
        {"network-id": "n", "link-id": "ab", "oper-status": "sdqn-types:down"},
        {"network-id": "n", "link-id": "ab", "oper-status": "sdqn-types:up"}]
    assert all(etree.QName(n).localname == "link-state-change" for n in sent)


def test_a_leaf_no_longer_reported_is_not_kept_beside_a_fresh_last_updated(
        schema: Any) -> None:
    """A link that left a device's configuration (its service moved away) is still
    measured in part (a fidelity, a loss): its generation-rate and oper-status must go,
    not linger as if measured now. A link not measured at all keeps its values with
    their old last-updated."""
    store = NmdaStore(schema)
    publisher = NetworkStatePublisher(store, lambda: NETWORK)

    def published() -> dict[str, Any]:
        data = json.loads(store.get(Datastore.OPERATIONAL, xpath="/ietf-network:networks"))
        link = data["ietf-network:networks"]["network"][0]["ietf-network-topology:link"][0]
        state: dict[str, Any] = link["sdqn-topology:quantum-link"]["state"]
        return state

    publisher({"a": link_reading("<generation-rate>120.5</generation-rate>"
                                 "<fidelity-estimate>0.97</fidelity-estimate>")}, 0.0)
    assert published()["oper-status"] == "sdqn-types:up"
    publisher({"a": link_reading("<fidelity-estimate>0.96</fidelity-estimate>")}, 0.0)
    state = published()
    assert "generation-rate" not in state and "oper-status" not in state, state
    assert state["measured-fidelity"] == "0.96" and state["stale"] is False
    publisher({}, 0.0)                        # not measured at all: values kept, aging
    assert published()["measured-fidelity"] == "0.96"


def test_a_leaf_dropped_in_a_round_whose_write_failed_goes_in_the_next_round(
        schema: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The write of the round in which a leaf stopped being reported fails (logged, not
    raised): the next round must still see that <operational> holds the leaf and remove
    it, not take the failed round's leaves for published."""
    store = NmdaStore(schema)
    publisher = NetworkStatePublisher(store, lambda: NETWORK)
    publisher({"a": link_reading("<generation-rate>120.5</generation-rate>"
                                 "<fidelity-estimate>0.97</fidelity-estimate>")}, 0.0)
    fewer = {"a": link_reading("<fidelity-estimate>0.96</fidelity-estimate>")}

    def refused(*_args: str) -> None:
        raise RuntimeError("datastore busy")

    with monkeypatch.context() as patched:
        patched.setattr(store, "replace_state", refused)
        patched.setattr(store, "merge_state", refused)
        publisher(fewer, 0.0)
    assert "generation-rate" in link_states(store)["ab"]    # that round wrote nothing
    publisher(fewer, 0.0)
    state = link_states(store)["ab"]
    assert "generation-rate" not in state and "oper-status" not in state, state
    assert state["measured-fidelity"] == "0.96"

