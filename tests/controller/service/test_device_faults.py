"""Device impairments parsed from operational XML by hand: the memory a device measures
against the coherence time the plan assumed (sdqn-alarms:memory-degraded)."""

from __future__ import annotations

import pytest

from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.schema import Schema
from controller.service.assurance import read_settings
from controller.service.device_faults import (
    MEMORY_DEGRADED,
    Impairment,
    ImpairmentMonitor,
    MemoryBaseline,
    impairments_of,
    memory_baseline,
)
from controller.settings import PRODUCT_MODULES
from qnum.io import DeviceKind, Network, Node

BASELINE = MemoryBaseline({"r1": 5.0, "alice": 1.5}, fraction=0.5)


def repeater(t2: str | None) -> str:
    measured = "" if t2 is None else (
        f"<measured-coherence-time>{t2}</measured-coherence-time>"
        "<coherence-last-measured>2026-12-06T10:00:00Z</coherence-last-measured>")
    return ('<repeater xmlns="urn:sdqn:sdqn-repeater"><memory><register-count>20'
            f"</register-count><coherence-time>5.0</coherence-time>{measured}"
            "</memory></repeater>")


def end_node(t2: str) -> str:
    return ('<end-node xmlns="urn:sdqn:sdqn-end-node"><memory>'
            f"<measured-coherence-time>{t2}</measured-coherence-time></memory></end-node>")


def test_a_memory_measured_below_the_fraction_of_the_plan_is_degraded() -> None:
    degraded = impairments_of("r1", repeater("0.48"), BASELINE)
    assert degraded == [Impairment("r1", MEMORY_DEGRADED,
                                   "memory coherence time below 50% of the planned 5 s")]
    assert impairments_of("r1", repeater("2.6"), BASELINE) == []      # within the fraction
    assert impairments_of("r1", repeater("2.4"), BASELINE)[0].alarm_type == MEMORY_DEGRADED
    assert impairments_of("alice", end_node("0.7"), BASELINE)[0].node == "alice"
    assert impairments_of("alice", end_node("0.8"), BASELINE) == []
    # not measured, not planned, or no plan to compare with: nothing to say
    assert impairments_of("r1", repeater(None), BASELINE) == []
    assert impairments_of("r9", repeater("0.1"), BASELINE) == []
    assert impairments_of("r1", repeater("0.1")) == []
    stricter = MemoryBaseline({"r1": 5.0}, fraction=0.9)
    assert impairments_of("r1", repeater("4.4"), stricter)[0].text == (
        "memory coherence time below 90% of the planned 5 s")


def test_the_baseline_is_the_committed_topology() -> None:
    network = Network("n", {
        "r1": Node("r1", DeviceKind.REPEATER, memory_qubits=20, coherence_time_s=5.0),
        "a": Node("a", DeviceKind.END_NODE, memory_qubits=10, coherence_time_s=1.5),
        "empty": Node("empty", DeviceKind.END_NODE, memory_qubits=0),
        "qr1": Node("qr1", DeviceKind.Q_ROADM)}, {})
    assert memory_baseline(network, 0.3) == MemoryBaseline({"r1": 5.0, "a": 1.5}, 0.3)
    assert memory_baseline(None, 0.5) == MemoryBaseline({}, 0.5)


def test_the_monitor_raises_and_clears_with_the_readings() -> None:
    monitor = ImpairmentMonitor(None, baseline=lambda: BASELINE)
    monitor({"r1": repeater("0.5"), "alice": end_node("1.4")}, 0.0)
    assert monitor.impairments() == {
        "r1": "memory coherence time below 50% of the planned 5 s"}
    monitor({"alice": end_node("1.4")}, 1.0)          # r1 not read: no reading, no repair
    assert "r1" in monitor.impairments()
    monitor({"r1": repeater("4.9")}, 2.0)             # back within the fraction: cleared
    assert monitor.impairments() == {}


def test_the_fraction_is_a_running_setting() -> None:
    store = NmdaStore(Schema(list(PRODUCT_MODULES)))
    assert read_settings(store).memory_coherence_fraction == 0.5     # the default
    store.edit_json(Datastore.RUNNING, {"sdqn-controller:controller": {
        "service-assurance": {"memory-coherence-fraction": "0.2"}}})
    assert read_settings(store).memory_coherence_fraction == pytest.approx(0.2)
