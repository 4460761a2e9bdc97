"""Device physics without NETCONF: a manual clock, hand-computed expectations."""

from __future__ import annotations

import json
import math
from typing import Any

import libyang
import numpy as np
import pytest

from simulators.clock import ManualClock, ScaledClock
from simulators.devices import MODELS, Apc, DeviceModel, EndNode, QRoadm, Repeater
from simulators.devices.apc import CALIBRATION_DURATION, TRACKING_RESIDUAL
from simulators.devices.base import FIDELITY_ALARM, Notification
from simulators.devices.endnode import INITIAL_DEVIATION, STABILISATION_TAU
from simulators.devices.qroadm import SKEW_TOLERANCE_PS, tracked_skew
from simulators.devices.runtime import notification_xml
from simulators.devices.world import Topology, World, xor_error
from simulators.launcher import SchemaCache

pytestmark = pytest.mark.timeout(60)


class Plant:
    """Every metro device as a bare model on one manual clock."""

    def __init__(self, topology: Topology) -> None:
        self.clock = ManualClock()
        self.world = World(topology)
        self.models: dict[str, DeviceModel] = {
            n: MODELS[node.kind](node, self.world, self.clock, seed=3)
            for n, node in topology.nodes.items()}
        self.notes: list[tuple[str, Notification]] = []
        for model in self.models.values():
            model.apply_config(model.factory_config(), 0.0)

    def configure(self, node: str, **changes: Any) -> None:
        model = self.models[node]
        body = {**model.config, **changes}
        self.notes.extend((node, n) for n in model.apply_config({model.qname: body},
                                                                self.clock.now()))

    def run(self, seconds: float, step: float = 1.0) -> None:
        end = self.clock.now() + seconds
        while self.clock.now() < end - 1e-9:
            self.clock.advance(min(step, end - self.clock.now()))
            for node, model in self.models.items():
                self.notes.extend((node, n) for n in model.tick(self.clock.now()))

    def named(self, node: str, name: str) -> list[dict[str, Any]]:
        return [n.content for who, n in self.notes if who == node and n.name == name]

    def __getitem__(self, node: str) -> Any:
        return self.models[node]


@pytest.fixture
def plant(metro: Topology) -> Plant:
    return Plant(metro)


def source_state(model: EndNode) -> str:
    return str(model.state_body(model.clock.now())["source"]["state"]["source-state"])


def test_scaled_clock_compresses_time() -> None:
    clock = ScaledClock(1000.0)
    assert clock.wall(300.0) == pytest.approx(0.3)
    t0 = clock.now()
    import time

    time.sleep(0.02)
    assert clock.now() - t0 >= 20.0
    assert clock.iso(0.0).endswith("Z")
    manual = ManualClock()
    with pytest.raises(ValueError):
        manual.advance(-1)


def test_source_warm_up_then_stabilisation_timeline(plant: Plant) -> None:
    alice: EndNode = plant["alice"]
    plant.run(1)
    plant.configure("alice", source={"pump-enabled": True, "pair-rate": "1000000"})
    on = plant.clock.now()
    plant.run(150)
    state = alice.state_body(plant.clock.now())["source"]["state"]
    assert state["source-state"] == "warming-up"
    assert float(state["warm-up-remaining"]) == pytest.approx(150.0)  # real default 300 s
    assert float(state["measured-pair-rate"]) == pytest.approx(1e6 * 0.5 * 0.5, rel=0.01)
    assert alice.current_status() == ("sdqn-types:up", False)
    # Stable when 0.5·e^(−(t−300)/10) ≤ 0.05, i.e. 10·ln 10 = 23.03 s after the warm-up.
    t_stable = on + 300.0 + STABILISATION_TAU * math.log(INITIAL_DEVIATION / 0.05)
    plant.run(t_stable - plant.clock.now() - 0.5, step=0.5)
    assert source_state(alice) == "stabilising"
    plant.run(1.0, step=0.5)
    assert source_state(alice) == "stable"
    assert alice.current_status() == ("sdqn-types:up", True)
    states = [c["source-state"] for c in plant.named("alice", "source-state-change")]
    assert states == ["warming-up", "stabilising", "stable"]
    assert plant.named("alice", "status-change")[-1]["stable"] is True


def test_new_pair_rate_restabilises_from_its_relative_step(plant: Plant) -> None:
    alice: EndNode = plant["alice"]
    plant.configure("alice", source={"pump-enabled": True, "pair-rate": "1000000",
                                     "warm-up-duration": "10"})
    plant.run(40)
    assert source_state(alice) == "stable"
    plant.configure("alice", source={"pump-enabled": True, "pair-rate": "1250000",
                                     "warm-up-duration": "10"})
    # Relative step 0.25/1.25 = 0.2 → within 5 % after 10·ln 4 = 13.9 s.
    plant.run(13.0)
    assert source_state(alice) == "stabilising"
    plant.run(1.5)
    assert source_state(alice) == "stable"


def test_link_generation_follows_heralded_link_physics(plant: Plant) -> None:
    r1: Repeater = plant["r1"]
    plant.configure("r1", **{"link-generation": {"link": [{
        "link-id": "r1-r2", "neighbour": "r2", "attempt-rate": "50000000",
        "multiplexing-modes": 4}]}})
    plant.run(10.0, step=10.0)
    # Midpoint source over 25 km at 0.2 dB/km, detectors 0.93: p1 = 10^-0.5·0.93²;
    # 4 modes: p = 1 − (1 − p1)^4.  Attempt slot = max(1/f, L/c_f) = 25/2e5 s.
    p1 = 10 ** -0.5 * 0.93**2
    p = 1.0 - (1.0 - p1) ** 4
    slot = 25.0 / 2e5
    run = r1.links["r1-r2"]
    expected_attempts = 10.0 / slot
    assert abs(run.attempts - expected_attempts) < 5 * math.sqrt(expected_attempts)
    sigma = math.sqrt(p * (1 - p) / run.attempts)
    assert abs(run.successes / run.attempts - p) < 5 * sigma
    assert run.rate_hz == pytest.approx(p / slot, rel=1e-9)
    assert run.fidelity == pytest.approx(0.97, abs=2e-3)  # APC just calibrating: tiny flip
    assert r1.current_status()[0] == "sdqn-types:up"


def test_span_through_q_roadm_pays_insertion_loss(plant: Plant) -> None:
    r1: Repeater = plant["r1"]
    plant.configure("r1", **{"link-generation": {"link": [{
        "link-id": "r1-qr1", "neighbour": "r2", "attempt-rate": "20000000"}]}})
    plant.run(1.0)
    run = r1.links["r1-qr1"]
    assert run.span is not None and run.span.link_ids == ("r1-qr1", "qr1-r2")
    # 15 + 22 km at 0.2 dB/km plus one 1.5 dB pass: 8.9 dB; midpoint source, η_d = 0.85.
    p = 10 ** -0.89 * 0.85**2
    assert run.rate_hz == pytest.approx(p / (37.0 / 2e5), rel=1e-9)


def test_wrong_neighbour_and_fibre_cut_stop_generation(plant: Plant) -> None:
    r1: Repeater = plant["r1"]
    plant.configure("r1", **{"link-generation": {"link": [
        {"link-id": "r1-r2", "neighbour": "r2", "attempt-rate": "1000000"},
        {"link-id": "alice-r1", "neighbour": "bob", "attempt-rate": "1000000"}]}})
    plant.run(3)
    assert "bob is not at the end of alice-r1" in r1.health(plant.clock.now()).reason
    plant.configure("r1", **{"link-generation": {"link": [
        {"link-id": "r1-r2", "neighbour": "r2", "attempt-rate": "1000000"}]}})
    plant.run(3)
    assert r1.current_status() == ("sdqn-types:up", True)
    plant.world.set_cut("r1-r2", True)
    plant.run(1)
    assert r1.links["r1-r2"].rate_hz == 0.0 and r1.links["r1-r2"].fidelity is None
    change = plant.named("r1", "status-change")[-1]
    assert change["oper-status"] == "sdqn-types:degraded"
    assert "fibre cut on r1-r2" in change["reason"]
    failure = plant.named("r1", "link-failure")
    assert failure == [{"severity": "critical", "text": "fibre cut on r1-r2",
                        "link-id": "r1-r2", "cause": "loss-of-light",
                        "failed-fibre": "r1-r2"}]
    state = r1.state_body(plant.clock.now())["link-generation"]["link"][0]["state"]
    assert (state["oper-status"], state["failed-element"]) == ("down", "r1-r2")
    plant.run(1)
    assert len(plant.named("r1", "link-failure")) == 1       # one report per transition
    plant.world.set_cut("r1-r2", False)
    plant.run(1)
    assert r1.current_status()[0] == "sdqn-types:up"
    cleared = plant.named("r1", "link-failure")[-1]
    assert (cleared["severity"], cleared["cause"]) == ("cleared", "loss-of-light")


def test_flow_swaps_at_swap_probability_and_checks_memory(plant: Plant) -> None:
    r1: Repeater = plant["r1"]
    plant.configure("r1", **{
        "link-generation": {"link": [
            {"link-id": "alice-r1", "neighbour": "alice", "attempt-rate": "10000000"},
            {"link-id": "r1-r2", "neighbour": "r2", "attempt-rate": "50000000"}]},
        "flow": [{"flow-id": "f1", "memory-slots": 4, "neighbour-links": ["alice-r1", "r1-r2"],
                  "purification-rounds": 1, "purification-protocol": "bbpssw"},
                 {"flow-id": "f2", "memory-slots": 4, "neighbour-links": ["alice-r1", "r1-r2"],
                  "purification-rounds": 2}]})
    plant.run(60, step=5)
    f1 = r1.flows["f1"]
    # Swap success: p_swap · η_mem² = 0.9 · 0.85² (r1's hardware).
    p_swap = 0.9 * 0.85**2
    assert f1.swap_attempts > 1000
    sigma = math.sqrt(p_swap * (1 - p_swap) / f1.swap_attempts)
    assert abs(f1.swap_successes / f1.swap_attempts - p_swap) < 5 * sigma
    assert 0 < f1.purification_successes < f1.purification_attempts
    assert f1.fidelity is not None and f1.fidelity < 0.98
    assert 0 <= f1.stored <= 4
    # Two rounds of sequential recurrence hold 3 pairs per side: 6 registers; 4 given.
    assert r1.flows["f2"].problem == "memory-slots below need"
    alarm = plant.named("r1", "memory-exhausted")
    assert alarm and alarm[0]["severity"] == "major" and alarm[0]["flow-id"] == "f2"


def _chain(plant: Plant, repeater: str, left: tuple[str, str], right: tuple[str, str]
           ) -> None:
    """Set a repeater up to swap between two neighbour links ((link-id, neighbour) each)."""
    plant.configure(repeater, **{
        "link-generation": {"link": [
            {"link-id": link, "neighbour": peer, "attempt-rate": "10000000"}
            for link, peer in (left, right)]},
        "flow": [{"flow-id": "f", "memory-slots": 2,
                  "neighbour-links": [left[0], right[0]]}]})


def _endpoints(plant: Plant, chain: bool = True) -> None:
    for node, peer in (("alice", "bob"), ("bob", "alice")):
        plant.configure(node, source={"pump-enabled": True, "warm-up-duration": "5"},
                        **{"application-endpoint": [{
                            "name": "qkd", "application": "sdqn-types:qkd", "peer-node": peer,
                            "detectors": ["d1", "d2"]}]})
    if chain:
        _chain(plant, "r1", ("alice-r1", "alice"), ("r1-r2", "r2"))
        _chain(plant, "r2", ("r1-r2", "r1"), ("r2-bob", "bob"))


def test_apc_drift_raises_qber_and_calibration_restores_it(plant: Plant) -> None:
    apc: Apc = plant["apc-1"]
    alice: EndNode = plant["alice"]
    _endpoints(plant)
    plant.run(CALIBRATION_DURATION + 40)
    assert apc.current_status() == ("sdqn-types:up", True)
    base = alice._deliveries["qkd"]
    assert base.rate_hz > 0 and base.qber is not None and base.links
    # Path alice–r1–r2–bob: qber = QBER of the chain's pair ⊕ sin²(θ/2) of r1-r2's APC.
    theta = plant.world.misalignment["r1-r2"]
    assert apc.error == theta
    pair_qber = xor_error([base.qber, 0.0])
    apc.surge = 50.0
    error_before = apc.error
    plant.run(300)
    assert apc.error > error_before + 300 * apc._base_rate * 50 * TRACKING_RESIDUAL * 0.5
    drifted = alice._deliveries["qkd"]
    s = math.sin(apc.error / 2) ** 2
    s0 = math.sin(theta / 2) ** 2
    assert drifted.qber is not None and drifted.qber > pair_qber + 0.5 * s
    # The ⊕ composition: (e ⊕ s) with e the qber without misalignment.
    e = (base.qber - s0) / (1 - 2 * s0)
    assert drifted.qber == pytest.approx(e * (1 - s) + s * (1 - e), abs=2e-3)
    out = plant.named("apc-1", "out-of-spec")
    assert out and out[-1]["severity"] == "major"
    assert apc.current_status() == ("sdqn-types:degraded", False)
    apc.surge = 1.0
    assert apc.calibrate(plant.clock.now(), force=True) == ("started", CALIBRATION_DURATION)
    assert apc.calibrate(plant.clock.now(), force=True)[0] == "busy"
    plant.run(CALIBRATION_DURATION + 2)
    assert plant.named("apc-1", "calibration-complete")[-1]["success"] is True
    assert plant.named("apc-1", "out-of-spec")[-1]["severity"] == "cleared"
    restored = alice._deliveries["qkd"]
    assert restored.qber is not None and restored.qber < base.qber + 1e-3
    assert apc.current_status() == ("sdqn-types:up", True)


def test_a_degraded_memory_costs_the_chain_through_it_and_shows_in_its_probe(
        plant: Plant) -> None:
    alice: EndNode = plant["alice"]
    r1: Repeater = plant["r1"]
    _endpoints(plant)
    plant.run(40)
    base, flow = alice._deliveries["qkd"], r1.flows["f"].fidelity
    assert base.fidelity is not None and base.rate_hz > 0 and flow is not None
    memory = r1.state_body(plant.clock.now())["memory"]
    assert float(memory["measured-coherence-time"]) == pytest.approx(5.0, rel=0.25)
    assert memory["coherence-last-measured"] == plant.clock.iso(r1.probe.measured_at or 0)
    # r1's T2 5 s → 5 ms: pairs wait a few ms at r1, so the chain loses fidelity and
    # (the coherence budget, cut-offs) rate — at both ends of the flow and at r1 itself.
    plant.world.set_memory_degradation("r1", 1000.0)
    plant.run(10)
    degraded = alice._deliveries["qkd"]
    assert degraded.fidelity is not None and degraded.fidelity < base.fidelity - 0.01
    assert plant["bob"]._deliveries["qkd"].fidelity == degraded.fidelity
    assert (r1.flows["f"].fidelity or 1.0) < flow - 0.01
    memory = r1.state_body(plant.clock.now())["memory"]
    assert float(memory["measured-coherence-time"]) == pytest.approx(0.005, rel=0.25)
    # an end node's own memory counts the same way
    plant.world.set_memory_degradation("r1", 1.0)
    plant.world.set_memory_degradation("bob", 1000.0)
    plant.run(10)
    assert (alice._deliveries["qkd"].fidelity or 1.0) < base.fidelity - 0.01
    assert float(plant["bob"].state_body(plant.clock.now())["memory"][
        "measured-coherence-time"]) == pytest.approx(0.0015, rel=0.25)
    plant.world.set_memory_degradation("bob", 1.0)     # repaired: as before (but for
    plant.run(10)                                       # the fibres' drift since)
    assert alice._deliveries["qkd"].fidelity == pytest.approx(base.fidelity, abs=1e-4)
    assert float(r1.state_body(plant.clock.now())["memory"]["measured-coherence-time"]
                 ) == pytest.approx(5.0, rel=0.25)


def test_calibration_waits_for_idle_fibre_up_to_max_deferral(plant: Plant) -> None:
    apc: Apc = plant["apc-1"]
    plant.configure("r1", **{"link-generation": {"link": [
        {"link-id": "r1-r2", "neighbour": "r2", "attempt-rate": "1000000"}]}})
    plant.configure("apc-1", **{"max-deferral": "100"})
    plant.run(CALIBRATION_DURATION + 5)
    assert apc.calibrate(plant.clock.now())[0] == "deferred"  # r1 generates on the fibre
    plant.run(50)
    assert apc.calibrating_until is None
    plant.run(55)
    assert apc.calibrating_until is not None  # deferral limit reached


def test_endpoint_needs_stable_sources_swapping_repeaters_and_detectors(plant: Plant
                                                                        ) -> None:
    alice: EndNode = plant["alice"]
    _endpoints(plant, chain=False)
    plant.run(2)
    assert alice._deliveries["qkd"].reason == "source warming-up"
    plant.run(40)
    assert alice._deliveries["qkd"].reason == "no repeater chain to bob is set up"
    _chain(plant, "r1", ("alice-r1", "alice"), ("r1-qr1", "r2"))  # the redundant route
    _chain(plant, "r2", ("r1-qr1", "r1"), ("r2-bob", "bob"))
    plant.run(2)
    assert alice._deliveries["qkd"].reason == "no repeater chain to bob is set up"
    _chain(plant, "r2", ("qr1-r2", "r1"), ("r2-bob", "bob"))
    plant.run(2)
    delivered = alice._deliveries["qkd"]
    assert delivered.links == ("alice-r1", "r1-qr1", "qr1-r2", "r2-bob")
    assert delivered.rate_hz > 0 and delivered.fidelity is not None
    assert delivered.fidelity > FIDELITY_ALARM
    alice.fail_detector("d1")
    alice.fail_detector("d2", "noisy")
    plant.run(2)
    kinds = {(c["detector-id"], c["severity"]) for c in plant.named("alice", "detector-alarm")}
    assert ("d1", "critical") in kinds
    assert alice._detectors["d1"]["oper"] == "sdqn-types:down"
    assert alice._detectors["d2"]["dark"] > 50_000  # 1000 × the specified 100 /s
    alice.fail_detector("d2")
    plant.run(1)
    assert alice._deliveries["qkd"].reason == "all endpoint detectors down"
    assert plant.named("alice", "endpoint-alarm")[-1]["severity"] == "major"


def test_q_roadm_cross_connect_follows_its_fibres(plant: Plant) -> None:
    qr1: QRoadm = plant["qr1"]
    degrees = {d["link-id"]: d["degree-number"] for d in qr1.config["degree"]}
    plant.configure("qr1", channel=[{"channel-id": 1, "wavelength": "1549.320",
                                     "kind": "quantum"},
                                    {"channel-id": 2, "wavelength": "1310.000",
                                     "kind": "timing"}],
                    circuit={"cross-connect": [
                        {"name": "q", "channel": 1, "source": {"degree": degrees["r1-qr1"]},
                         "destination": {"degree": degrees["qr1-r2"]},
                         "timing-companion": "t"},
                        {"name": "t", "channel": 2, "source": {"degree": degrees["r1-qr1"]},
                         "destination": {"degree": degrees["qr1-r2"]}}]})
    plant.run(3)
    assert qr1.xc["q"]["oper"] == "sdqn-types:up"
    assert 1.5 <= qr1.xc["q"]["loss"] < 1.8
    plant.world.set_cut("qr1-r2", True)
    plant.run(1)
    changes = plant.named("qr1", "cross-connect-state-change")
    assert {c["name"] for c in changes if c["oper-status"] == "sdqn-types:down"} == {"q", "t"}
    assert qr1.current_status()[0] == "sdqn-types:degraded"


def test_a_healthy_q_roadm_cross_connect_stays_within_skew_tolerance_for_days() -> None:
    """Delay tracking bounds the wander (a random walk at 0.5 ps/√s would pass 50 ps
    within hours: after 3 days its spread is ~250 ps)."""
    rng = np.random.default_rng(5)
    skew, worst = 0.0, 0.0
    for _ in range(3 * 24 * 360):           # three days in 10 s ticks
        skew = tracked_skew(skew, 10.0, float(rng.normal()))
        worst = max(worst, abs(skew))
    assert worst < SKEW_TOLERANCE_PS
    assert worst > 10.0                      # it does wander


def test_q_roadm_add_drop_port_goes_dark_when_its_fibre_is_cut(plant: Plant) -> None:
    qr1: QRoadm = plant["qr1"]
    degrees = {d["link-id"]: d["degree-number"] for d in qr1.config["degree"]}
    plant.configure("qr1", **{
        "add-drop-port": [{"port-number": 1, "attached-node": "charlie",
                           "link-id": "charlie-qr1"}],
        "channel": [{"channel-id": 1, "wavelength": "1548.510", "kind": "quantum"},
                    {"channel-id": 2, "wavelength": "1310.000", "kind": "timing"}],
        "circuit": {"cross-connect": [
            {"name": "q", "channel": 1, "source": {"add-drop-port": 1},
             "destination": {"degree": degrees["qr1-r2"]}, "timing-companion": "t"},
            {"name": "t", "channel": 2, "source": {"add-drop-port": 1},
             "destination": {"degree": degrees["qr1-r2"]}}]}})
    plant.run(3)
    assert qr1.xc["q"]["oper"] == "sdqn-types:up"
    plant.world.set_cut("charlie-qr1", True)     # charlie stays powered: only its fibre
    plant.run(1)
    assert qr1.xc["q"]["oper"] == qr1.xc["t"]["oper"] == "sdqn-types:down"
    plant.world.set_cut("charlie-qr1", False)
    plant.run(1)
    assert qr1.xc["q"]["oper"] == "sdqn-types:up"


def test_packet_mode_forwards_at_hardware_availability(plant: Plant) -> None:
    qr1: QRoadm = plant["qr1"]
    degrees = {d["link-id"]: d["degree-number"] for d in qr1.config["degree"]}
    plant.configure("qr1", **{"switching-mode": "packet", "packet": {"route": [
        {"destination-node": "r2", "egress": {"degree": degrees["qr1-r2"]}}]}})
    plant.run(10, step=10)
    stats = qr1.stats
    # Bursts at 10 % of 1/(T_Q + guard) = 1/(100.1 µs): ≈ 9990 in 10 s, P = 0.999.
    assert abs(stats["received"] - 9990) < 5 * math.sqrt(9990)
    assert stats["dropped"] == stats["received"] - stats["forwarded"]
    assert abs(stats["forwarded"] / stats["received"] - 0.999) < 0.003
    plant.world.set_cut("qr1-r2", True)
    plant.run(20, step=10)
    assert plant.named("qr1", "burst-loss-alarm")[-1]["severity"] == "major"


def test_state_and_notifications_conform_to_the_device_yang(plant: Plant) -> None:
    """Everything a model emits parses in its module's libyang context (types, ranges)."""
    _endpoints(plant)
    plant.configure("r1", **{"link-generation": {"link": [
        {"link-id": "alice-r1", "neighbour": "alice", "attempt-rate": "10000000"},
        {"link-id": "r1-r2", "neighbour": "r2", "attempt-rate": "50000000"}]},
        "flow": [{"flow-id": "f", "memory-slots": 6, "neighbour-links": ["alice-r1", "r1-r2"],
                  "cutoff-time": "0.0003"}]})
    plant.run(50, step=5)
    plant.world.set_cut("r2-bob", True)
    plant["apc-1"].surge = 200.0
    plant["bob"].fail_detector("d1")
    plant.run(100, step=5)
    cache = SchemaCache()
    for node, model in plant.models.items():
        ctx = cache.get(model.module).ctx
        data = ctx.parse_data_mem(json.dumps(model.state(plant.clock.now())), "json",
                                  parse_only=True, strict=True)
        assert data is not None, node
        data.free()
    assert len(plant.notes) > 20
    for node, note in plant.notes:
        try:
            notification_xml(cache.get(plant.models[node].module), note)
        except libyang.LibyangError as exc:  # pragma: no cover - the assertion message
            pytest.fail(f"{node}: {note.rfc7951()}: {exc}")
    assert plant["r1"].flows["f"].cutoff_discards > 0
