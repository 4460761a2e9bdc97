"""Per-slice SLO compliance from the members' measured state (pure computation) and its
publication: state in <operational>, the slice-sla-violation alarm raised and cleared."""

from __future__ import annotations

import json
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.schema import Schema
from controller.metrics import ControllerMetrics
from controller.service.alarms import AlarmKey, AlarmManager
from controller.service.health import NetworkHealth
from controller.service.service_state import ServiceRecord
from controller.service.slice_publish import SLA_ALARM, SlicePublisher, slice_resource
from controller.service.slice_state import slice_states
from controller.settings import PRODUCT_MODULES
from qnum.slices import Isolation, Slice, SliceSlo, Slicing

GOLD = Slice(name="gold", tenant="op", isolation=Isolation.DEDICATED,
             slo=SliceSlo(guaranteed_rate_hz=50.0, aggregate_rate_hz=90.0, min_fidelity=0.9,
                          max_latency_s=0.1),
             reserved_memory={"r1": 4}, reserved_share={"r1-r2": 0.5},
             requests=("a", "b"))
SLICING = Slicing(slices=(GOLD,))


def record(rate: float | None, fidelity: float | None = 0.95, *, admitted: bool = True,
           at: str = "2026-12-06T10:00:00Z") -> ServiceRecord:
    return ServiceRecord(state="up", reason="", last_change=at, admitted=admitted,
                         rate=rate, fidelity=fidelity,
                         last_updated=at if rate is not None else None)


def test_compliant_slice_reads_compliant_with_the_newest_measurement_time() -> None:
    records = {"a": record(60.0, at="2026-12-06T10:00:00Z"),
               "b": record(55.0, 0.93, at="2026-12-06T10:00:05Z")}
    [state] = slice_states(SLICING, None, records)
    got = {s.objective: s for s in state.slos}
    assert set(got) == {"guaranteed-rate", "aggregate-rate", "min-fidelity"}  # no latency
    assert got["guaranteed-rate"].measured == 55.0
    assert got["aggregate-rate"].measured == 115.0
    assert got["min-fidelity"].measured == pytest.approx(0.93)
    assert all(s.compliant is True for s in state.slos)
    assert {s.measured_at for s in state.slos} == {"2026-12-06T10:00:05Z"}
    assert not state.violated
    # nothing used in the (absent) plan: everything reserved is idle
    assert state.idle_qubits == {"r1": (4, 4)}
    assert state.idle_share == {"r1-r2": (0.5, 0.5)}


def test_rate_below_objective_or_a_dropped_member_violates() -> None:
    [low] = slice_states(SLICING, None, {"a": record(40.0), "b": record(60.0)})
    assert {s.objective: s.compliant for s in low.slos}["guaranteed-rate"] is False
    assert low.violated and "guaranteed-rate 40 below 50" in low.violation_text()
    # within the assurance tolerance it is noise, not a violation
    [noise] = slice_states(SLICING, None, {"a": record(46.0), "b": record(60.0)},
                           rate_tolerance=0.1)
    assert {s.objective: s.compliant for s in noise.slos}["guaranteed-rate"] is True
    # a member still converging is not judged yet
    stabilising = record(10.0)
    stabilising.state = "stabilising"
    [converging] = slice_states(SLICING, None, {"a": stabilising, "b": record(60.0)})
    assert {s.objective: s.measured for s in converging.slos}["guaranteed-rate"] == 60.0
    # a member that is not admitted delivers nothing to its guarantee
    [dropped] = slice_states(SLICING, None, {"a": record(None, None, admitted=False),
                                             "b": record(60.0)})
    assert {s.objective: s.measured for s in dropped.slos}["guaranteed-rate"] == 0.0
    assert dropped.violated


def test_nothing_measured_is_neither_compliant_nor_violated() -> None:
    [state] = slice_states(SLICING, None, {"a": record(None, None),
                                                "b": record(None, None)})
    assert all(s.measured is None and s.compliant is None for s in state.slos)
    assert not state.violated


def test_suspended_guarantee_violates_even_without_measurement() -> None:
    [state] = slice_states(SLICING, None, {}, suspended={"gold": "short by 10 pairs/s"})
    assert state.violated and "suspended: short by 10" in state.violation_text()


@pytest.fixture
def store() -> NmdaStore:
    s = NmdaStore(Schema(list(PRODUCT_MODULES)))
    s.edit_json(Datastore.RUNNING, {"sdqn-slices:slicing": {
        "tenant": [{"name": "op"}],
        "slice": [{"name": "gold", "tenant": "op"}]}})
    return s


def _state(store: NmdaStore) -> dict[str, Any]:
    data = json.loads(store.get(Datastore.OPERATIONAL, xpath="/sdqn-slices:slicing"))
    entry: dict[str, Any] = data["sdqn-slices:slicing"]["slice"][0]["state"]
    return entry


def test_publisher_writes_state_raises_and_clears_the_sla_alarm(store: NmdaStore) -> None:
    alarms = AlarmManager(store)
    failed = NetworkHealth(failed_links=frozenset({"r1-r2"}))
    health = [failed]
    pub = SlicePublisher(store, alarms=alarms, health=lambda: health[0],
                         root_causes=lambda name: [], node_resource=lambda n: f"/node/{n}",
                         link_resource=lambda lk: f"/link/{lk}")
    key = AlarmKey(slice_resource("gold"), SLA_ALARM)
    pub.adopt(SLICING, {}, None)
    pub.publish({"a": record(60.0), "b": record(55.0)})
    state = _state(store)
    assert state["guarantee"] == {"suspended": False}
    slos = {s["objective"]: s for s in state["slo"]}
    assert slos["guaranteed-rate"]["compliant"] is True
    assert slos["guaranteed-rate"]["measured-at"].startswith("2026-12-06T10:00:00")
    assert state["fragmentation"]["node"] == [
        {"node-id": "r1", "reserved-qubits": 4, "idle-qubits": 4}]
    assert alarms.get(key) is None

    pub.adopt(SLICING, {"gold": "short by 10 pairs/s"}, None)     # a cut: suspended
    pub.publish({"a": record(None, None, admitted=False), "b": record(55.0)})
    alarm = alarms.get(key)
    assert alarm is not None and not alarm.cleared
    assert "/link/r1-r2" in alarm.root_causes
    assert _state(store)["guarantee"]["suspended"] is True

    health[0] = NetworkHealth()                                     # repaired
    pub.adopt(SLICING, {}, None)
    pub.publish({"a": record(60.0), "b": record(55.0)})
    alarm = alarms.get(key)
    assert alarm is not None and alarm.cleared


def test_slice_metrics_follow_the_published_state(store: NmdaStore) -> None:
    pub = SlicePublisher(store, alarms=None, health=NetworkHealth,
                         root_causes=lambda name: [], node_resource=str, link_resource=str)
    pub.adopt(SLICING, {}, None)
    pub.publish({"a": record(40.0), "b": record(55.0, 0.93)})
    text = ControllerMetrics(store).render().decode()
    values = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for f in text_string_to_metric_families(text) for s in f.samples}
    def at(name: str, **labels: str) -> float:
        return values[(name, tuple(sorted({"slice": "gold", "tenant": "op",
                                            **labels}.items())))]

    assert at("sdqn_slice_compliant", slo="guaranteed-rate") == 0.0
    assert at("sdqn_slice_compliant", slo="aggregate-rate") == 1.0
    assert at("sdqn_slice_measured_rate_pairs_per_second", slo="guaranteed-rate") == 40.0
    assert at("sdqn_slice_measured_fidelity_ratio", slo="min-fidelity") == pytest.approx(0.93)
    assert at("sdqn_slice_objective", slo="guaranteed-rate") == 50.0
    assert at("sdqn_slice_guarantee_suspended") == 0.0
    assert at("sdqn_slice_reserved_idle_qubits", node="r1") == 4.0
    assert at("sdqn_slice_reserved_idle_share_ratio", link="r1-r2") == 0.5
