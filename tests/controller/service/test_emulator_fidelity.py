"""The emulated devices do what the plan configures: measured rate and fidelity converge
to the optimiser's prediction, a failed detector degrades the services that measure with
it, and a plan a device kind cannot run is refused before anything is pushed.

Real emulators over real NETCONF (the metro world of conftest.py), simulated time on a
manual clock, seeded randomness; statistical bounds, no timing."""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from collections.abc import Sequence
from typing import Any, Literal

import pytest
from lxml import etree

from controller.datastore.nmda import Datastore, NmdaStore
from controller.errors import NetconfError
from controller.service import render as render_module
from controller.service.manager import ServiceManager
from controller.service.render import render_devices
from qnum.physics import qber_from_fidelity
from simulators.clock import ManualClock
from simulators.devices import EndNode, World
from simulators.devices.endnode import ESTIMATE_WINDOW_S
from simulators.faults import FaultKind, FaultRequest
from simulators.launcher import Network
from southbound.kinds import kind_spec
from tests.controller.service.conftest import advance

WorldT = tuple[NmdaStore, ServiceManager, Network, ManualClock]
END_NS = "urn:sdqn:sdqn-end-node"
ADMITTED = ("dqc-charlie-dave", "qkd-alice-bob", "teleport-bob-charlie")
#: Telemetry samples per service; each covers its own estimation window (independent).
SAMPLES = 80
#: Two-sided 99 % normal quantile for the mean of SAMPLES readings.
Z99 = statistics.NormalDist().inv_cdf(0.995)
TOLERANCE = 0.05
WARM_UP_S = 400.0        # lasers (300 s) stabilise, APCs calibrate


def services(store: NmdaStore) -> dict[str, dict[str, Any]]:
    data = json.loads(store.get(Datastore.OPERATIONAL,
                                xpath="/sdqn-services:entanglement-services"))
    return {r["name"]: r.get("state", {})
            for r in data["sdqn-services:entanglement-services"]["request"]}


def endpoints(manager: ServiceManager, node: str) -> dict[str, dict[str, str]]:
    """Application endpoints' state of an end node, read over NETCONF."""
    with manager.pool.session(node) as adapter:
        root = etree.fromstring(f"<data>{adapter.get_state()}</data>")
    return {ep.findtext(f"{{{END_NS}}}name") or "": {
        etree.QName(leaf).localname: leaf.text or ""
        for leaf in ep.iterfind(f"{{{END_NS}}}state/*")}
        for ep in root.iter(f"{{{END_NS}}}application-endpoint")}


def confidence_interval(values: Sequence[float]) -> tuple[float, float]:
    """(mean, half-width) of the two-sided 99 % interval of the mean."""
    return statistics.fmean(values), Z99 * statistics.stdev(values) / math.sqrt(len(values))


def next_window(net: Network, clock: ManualClock) -> None:
    """One estimation window of simulated time, one device tick: every telemetry reading
    afterwards (last tick's rate, the window's QBER) is independent of the previous one."""
    advance(net, clock, ESTIMATE_WINDOW_S, step=ESTIMATE_WINDOW_S)


def test_measured_rate_and_fidelity_converge_to_the_prediction(world: WorldT) -> None:
    store, manager, net, clock = world
    advance(net, clock, WARM_UP_S)
    manager.telemetry.poll_once()
    predicted = {name: (float(st["predicted-rate"]), float(st["predicted-fidelity"]))
                 for name, st in services(store).items() if st["admission"] == "admitted"}
    assert sorted(predicted) == list(ADMITTED)
    rates: dict[str, list[float]] = {name: [] for name in predicted}
    fidelities: dict[str, list[float]] = {name: [] for name in predicted}
    for _ in range(SAMPLES):
        next_window(net, clock)
        manager.telemetry.poll_once()
        current = services(store)
        for name in predicted:
            rates[name].append(float(current[name]["measured-rate"]))
            fidelities[name].append(float(current[name]["measured-fidelity"]))
    for name, (rate, fidelity) in predicted.items():
        for what, values, plan in (("rate", rates[name], rate),
                                   ("fidelity", fidelities[name], fidelity)):
            mean, half = confidence_interval(values)
            # Enough samples that the interval says something (±2 % at most) ...
            assert half <= 0.02 * plan, (name, what, mean, half)
            # ... and the prediction inside it, widened by the 5 % tolerance.
            assert abs(mean - plan) <= half + TOLERANCE * plan, (name, what, plan, mean, half)


def test_the_emulated_expectation_is_the_prediction_for_the_rendered_configuration(
        world: WorldT) -> None:
    """Deterministic: what each endpoint expects for its rendered settings is what the
    plan predicts (rate exactly: min(r_c·s, demand); fidelity at the granted share, which
    is the prediction at the share floor or a hair better)."""
    _, manager, net, clock = world
    advance(net, clock, WARM_UP_S)
    plan = manager.expander.committed.plan
    assert plan is not None
    for a in plan.admitted:
        assert a.candidate is not None
        for end in (a.request.source, a.request.destination):
            model = net.devices[end].model
            assert isinstance(model, EndNode)
            expected = model._deliveries[a.request.name]
            assert expected.reason == "", (a.request.name, end, expected.reason)
            assert expected.rate_hz == pytest.approx(a.rate_hz, rel=1e-6)
            assert expected.fidelity is not None
            assert a.candidate.fidelity - 1e-3 <= expected.fidelity <= a.candidate.fidelity + 1e-3


def test_both_ends_of_a_service_count_the_same_pairs(world: WorldT) -> None:
    """One pair reaches both ends: their counters agree (the controller takes the smaller
    reading, which independent draws would bias low)."""
    _, manager, net, clock = world
    advance(net, clock, WARM_UP_S)
    ends = {"qkd-alice-bob": ("alice", "bob"), "dqc-charlie-dave": ("charlie", "dave"),
            "teleport-bob-charlie": ("bob", "charlie")}
    counters = ("delivered-pairs", "estimation-errors", "purification-attempts",
                "purification-successes")

    def read() -> dict[tuple[str, str], dict[str, str]]:
        return {(name, node): endpoints(manager, node)[name]
                for name, pair in ends.items() for node in pair}

    before = read()
    next_window(net, clock)
    after = read()
    for name, (a, b) in ends.items():
        delta = {node: {c: int(after[(name, node)][c]) - int(before[(name, node)][c])
                        for c in counters} for node in (a, b)}
        assert delta[a]["delivered-pairs"] > 0
        assert delta[a] == delta[b], name
        for leaf in ("delivered-rate", "qber"):
            assert after[(name, a)][leaf] == after[(name, b)][leaf], (name, leaf)
        assert 0 < delta[a]["purification-successes"] < delta[a]["purification-attempts"]


def fault(net: Network, detector: str, mode: Literal["dead", "noisy"] = "dead", *,
          clear: bool = False) -> None:
    """`sdqn sim fault detector-failure alice --detector ...` (the injector it drives)."""
    net.faults.apply(FaultRequest(kind=FaultKind.DETECTOR_FAILURE, target="alice",
                                  detector=detector, mode=mode, clear=clear))


def test_a_noisy_detector_raises_the_qber_and_dead_ones_stop_the_service(
        world: WorldT) -> None:
    store, manager, net, clock = world
    advance(net, clock, WARM_UP_S)
    next_window(net, clock)
    healthy = endpoints(manager, "alice")["qkd-alice-bob"]
    plan = services(store)["qkd-alice-bob"]
    # Healthy: the pair's own QBER (the plan's fidelity), within sampling noise.
    assert float(healthy["qber"]) < 2.5 * qber_from_fidelity(float(plan["predicted-fidelity"]))

    fault(net, "d1", "noisy")           # its excess dark counts are random outcomes
    next_window(net, clock)
    noisy = endpoints(manager, "alice")["qkd-alice-bob"]
    # Half of alice's pairs land on d1, where a click is excess dark noise with probability
    # (10⁴−1)·100 /s / (5·10⁶·0.9 + 10⁶) /s ≈ 0.18 and then wrong half the time: the
    # QBER rises by ≈ ½·½·0.18 ≈ 0.045 (simulators/devices/endnode.py).
    assert float(noisy["qber"]) > float(healthy["qber"]) + 0.03
    manager.telemetry.poll_once()
    current = services(store)
    assert float(current["qkd-alice-bob"]["measured-fidelity"]) < float(
        plan["predicted-fidelity"]) - 0.04
    for other, node, min_fidelity in (("dqc-charlie-dave", "charlie", 0.95),
                                      ("teleport-bob-charlie", "bob", 0.9)):
        # alice's detector is no part of these: what their ends expect is unchanged.
        model = net.devices[node].model
        assert isinstance(model, EndNode)
        expected = model._deliveries[other].fidelity
        assert expected is not None
        assert expected >= float(current[other]["predicted-fidelity"]) - 2e-3
        assert float(current[other]["measured-fidelity"]) >= min_fidelity

    fault(net, "d1", clear=True)
    fault(net, "d1")                   # half of alice's pairs are lost with d1 ...
    next_window(net, clock)
    alice = endpoints(manager, "alice")["qkd-alice-bob"]
    bob = endpoints(manager, "bob")["qkd-alice-bob"]
    assert 0.4 < float(alice["delivered-rate"]) / float(bob["delivered-rate"]) < 0.6
    fault(net, "d2")                   # ... and all of them once d2 dies too
    next_window(net, clock)
    alice = endpoints(manager, "alice")["qkd-alice-bob"]
    assert float(alice["delivered-rate"]) == 0.0
    assert float(endpoints(manager, "bob")["qkd-alice-bob"]["delivered-rate"]) > 0.0
    manager.telemetry.poll_once()
    current = services(store)
    assert float(current["qkd-alice-bob"]["measured-rate"]) == 0.0
    for other in ("dqc-charlie-dave", "teleport-bob-charlie"):
        assert float(current[other]["measured-rate"]) > 0.0


def test_a_plan_the_end_nodes_cannot_run_fails_the_commit_and_pushes_nothing(
        world: WorldT, monkeypatch: pytest.MonkeyPatch) -> None:
    store, _, net, _ = world
    real = kind_spec("end-node")
    assert real is not None
    weaker = dataclasses.replace(real, capabilities=dataclasses.replace(
        real.capabilities, max_purification_rounds=1))
    monkeypatch.setattr(render_module, "kind_spec",
                        lambda kind: weaker if kind == "end-node" else kind_spec(kind))
    running = store.get(Datastore.RUNNING)
    devices = {n: d.store.get(Datastore.RUNNING) for n, d in net.devices.items()}
    with pytest.raises(NetconfError) as info:
        store.edit_json(Datastore.RUNNING, {"sdqn-services:entanglement-services": {
            "request": [{"name": "qkd-alice-bob", "demanded-rate": "50.0"}]}})
    assert info.value.first.message == (
        "the plan cannot be expressed as device configuration: flow dqc-charlie-dave: the "
        "plan purifies end to end with 2 rounds of dejmps at charlie, but end-node devices "
        "run at most 1 rounds of bbpssw or dejmps")
    assert store.get(Datastore.RUNNING) == running
    assert {n: d.store.get(Datastore.RUNNING) for n, d in net.devices.items()} == devices


def test_world_joint_draws_are_seeded_per_flow() -> None:
    """Same seed and flow: the same pairs, whichever device asks first; another seed: not."""
    from simulators.devices.pairs import FlowOffer
    from simulators.devices.world import Topology
    from simulators.launcher import DEFAULT_TOPOLOGY

    topology = Topology.load(DEFAULT_TOPOLOGY)
    offer = FlowOffer(5000.0, (0.9, 0.8), 0.01)

    def draws(seed: int, ends: tuple[str, str]) -> list[int]:
        flow = World(topology, seed=seed).joint_delivery("f", ends)
        return [flow.draw((t, t + 1.0), offer).delivered for t in range(20)]

    assert draws(1, ("alice", "bob")) == draws(1, ("bob", "alice"))
    assert draws(1, ("alice", "bob")) != draws(2, ("alice", "bob"))
    mean = statistics.fmean(draws(1, ("alice", "bob")))
    assert abs(mean - 5000 * 0.9 * 0.8 / 4) < 5 * math.sqrt(900 / 20)


def test_rendered_endpoints_validate_in_the_device_model(world: WorldT) -> None:
    """The endpoint settings the renderer writes are what the device applies."""
    _, manager, net, _ = world
    plan = manager.expander.committed.plan
    network = manager.expander.committed.network
    assert plan is not None and network is not None
    docs = render_devices(network, plan, kinds={n: node.kind.value
                                                for n, node in network.nodes.items()})
    running = json.loads(net.devices["alice"].store.get(Datastore.RUNNING))
    ep = {e["name"]: e for e in running["sdqn-end-node:end-node"]["application-endpoint"]}
    rendered = {e["name"]: e for e in docs["alice"]["sdqn-end-node:end-node"][
        "application-endpoint"]}
    for leaf in ("purification-rounds", "purification-protocol", "time-share", "target-rate",
                 "cutoff-time", "detectors"):
        assert ep["qkd-alice-bob"][leaf] == rendered["qkd-alice-bob"][leaf], leaf
    assert [d["detector-id"] for d in running["sdqn-end-node:end-node"]["detector"]] == [
        "d1", "d2"]
