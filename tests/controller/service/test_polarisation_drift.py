"""A fibre whose polarisation drifts faster than its APC tracks: the polarisation-drift root
alarm (threshold, hysteresis, freshness), the services it degrades, and what it explains
(forced calibrations spaced out, calibration-ineffective not raised)."""

from __future__ import annotations

import json
from typing import cast

import pytest

from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.schema import Schema
from controller.errors import NetconfError
from controller.service.alarms import AlarmKey, AlarmManager, link_resource
from controller.service.assurance import read_settings
from controller.service.calibration import CalibrationEvent, CalibrationScheduler
from controller.service.calibration_watch import ALARM as INEFFECTIVE
from controller.service.calibration_watch import CalibrationWatch
from controller.service.polarisation_drift import DRIFT, DriftMonitor, drift_rate
from controller.service.service_state import DEGRADED, UP, Assurance
from southbound.pool import SessionPool
from tests.controller.service.test_calibration import STARTED, FakePool, apc_state
from tests.controller.service.test_service_state import ENDS, SETTINGS, ok, up_and_running

APC = "urn:sdqn:sdqn-apc"
LINK = "r1-r2"
ROOT = link_resource("metro", LINK)
THRESHOLDS = Assurance(drift_alarm_threshold=0.002, drift_clear_threshold=0.001,
                       stale_after_rounds=3)


def apc(rate: float) -> str:
    return (f'<apc xmlns="{APC}"><link-id>{LINK}</link-id><state>'
            f"<polarisation-drift-rate>{rate}</polarisation-drift-rate></state></apc>")


def monitor(alarms: AlarmManager, apcs: dict[str, tuple[str, ...]] | None = None
            ) -> DriftMonitor:
    compensated = {"apc-1": (LINK,)} if apcs is None else apcs
    return DriftMonitor(alarms, lambda: compensated, lambda: THRESHOLDS,
                        lambda link: link_resource("metro", link))


def active(alarms: AlarmManager) -> bool:
    alarm = alarms.get(AlarmKey(ROOT, DRIFT))
    return alarm is not None and not alarm.cleared


def test_raised_on_the_first_round_above_the_threshold_cleared_below_the_clear_one(
        alarms: AlarmManager) -> None:
    drift = monitor(alarms)
    drift({"apc-1": apc(0.0004)}, 0.0)                 # a normal fibre
    assert alarms.get(AlarmKey(ROOT, DRIFT)) is None and drift.impaired_links() == {}
    drift({"apc-1": apc(0.0021)}, 0.0)
    assert active(alarms)
    alarm = alarms.get(AlarmKey(ROOT, DRIFT))
    assert alarm is not None and "apc-1" in alarm.text and "0.0021" in alarm.text
    assert set(drift.impaired_links()) == {LINK}
    assert drift.explaining("apc-1") == (ROOT,) and drift.explaining("apc-2") == ()
    for rate in (0.0015, 0.0019, 0.001, 0.0025):       # inside the band: no flapping
        drift({"apc-1": apc(rate)}, 0.0)
        assert active(alarms)
    assert alarm.text == alarms.get(AlarmKey(ROOT, DRIFT)).text   # type: ignore[union-attr]
    drift({"apc-1": apc(0.0009)}, 0.0)
    assert not active(alarms) and drift.impaired_links() == {}
    assert drift.explaining("apc-1") == ()
    drift({"apc-1": apc(0.0019)}, 0.0)                  # under the alarm threshold
    assert not active(alarms)
    drift({"apc-1": apc(0.05)}, 0.0)                    # a new surge: raised again
    assert active(alarms)


def test_no_reading_is_no_repair_until_it_is_stale(alarms: AlarmManager) -> None:
    drift = monitor(alarms)
    drift({"apc-1": apc(0.01)}, 0.0)
    for _ in range(THRESHOLDS.stale_after_rounds - 1):
        drift({}, 0.0)                                  # APC not read
        assert active(alarms)
    drift({"apc-1": '<apc xmlns="urn:sdqn:sdqn-apc"/>'}, 0.0)   # read, rate not reported
    assert not active(alarms)
    alarm = alarms.get(AlarmKey(ROOT, DRIFT))
    assert alarm is not None and "no longer monitored" in alarm.text


def test_an_apc_that_no_longer_compensates_the_link_clears_its_alarm(
        alarms: AlarmManager) -> None:
    apcs = {"apc-1": (LINK,)}
    drift = monitor(alarms, apcs)
    drift({"apc-1": apc(0.01)}, 0.0)
    assert active(alarms)
    apcs.clear()                                        # the link lost its compensator
    drift({"apc-1": apc(0.01)}, 0.0)
    assert not active(alarms)
    assert "no longer monitored" in alarms.get(AlarmKey(ROOT, DRIFT)).text  # type: ignore


def test_drift_rate_reading() -> None:
    assert drift_rate(apc(0.0123)) == pytest.approx(0.0123)
    assert drift_rate('<end-node xmlns="urn:sdqn:sdqn-end-node"/>') is None


def test_thresholds_are_read_from_running_and_must_keep_their_order(schema: Schema) -> None:
    store = NmdaStore(schema)
    assert (read_settings(store).drift_alarm_threshold,
            read_settings(store).drift_clear_threshold) == (0.002, 0.001)   # YANG defaults
    store.edit_json(Datastore.RUNNING, {"sdqn-controller:controller": {"service-assurance": {
        "polarisation-drift-alarm-threshold": "0.05",
        "polarisation-drift-clear-threshold": "0.02"}}})
    settings = read_settings(store)
    assert (settings.drift_alarm_threshold, settings.drift_clear_threshold) == (0.05, 0.02)
    with pytest.raises(NetconfError):
        store.edit_json(Datastore.RUNNING, {"sdqn-controller:controller": {
            "service-assurance": {"polarisation-drift-clear-threshold": "0.06"}}})
    stored = json.loads(store.get(Datastore.RUNNING,
                                  xpath="/sdqn-controller:controller/service-assurance"))
    assert stored["sdqn-controller:controller"]["service-assurance"][
        "polarisation-drift-clear-threshold"] == "0.02"


def test_an_impaired_link_degrades_only_the_services_crossing_it() -> None:
    states, _clock, _ = up_and_running()                # qkd crosses r1-r2, dqc does not
    out = states.on_round(ok(*ENDS), settings=SETTINGS,
                          impaired_links={LINK: "polarisation drifts at 0.01 rad/s"})
    assert [(t.name, t.new) for t in out] == [("qkd", DEGRADED)]
    assert "r1-r2: polarisation drifts" in states.records["qkd"].reason
    assert states.records["dqc"].state == UP
    for _ in range(3):                                  # repaired: recovery must persist
        states.on_round(ok(*ENDS), settings=SETTINGS)
    assert states.records["qkd"].state == UP


def forced(apc_name: str, at: float) -> CalibrationEvent:
    return CalibrationEvent(apc_name, (LINK,), "urgent-out-of-spec", "started", 30.0,
                            force=True, at=at)


def test_forced_calibrations_a_drift_alarm_explains_do_not_raise_calibration_ineffective(
        alarms: AlarmManager) -> None:
    explaining: dict[str, tuple[str, ...]] = {"apc-1": (ROOT,)}
    watch = CalibrationWatch(alarms, lambda n: f"node:{n}",
                             explained=lambda a: explaining.get(a, ()))
    key = AlarmKey("node:apc-1", INEFFECTIVE)
    for i in range(6):
        watch.on_event(forced("apc-1", 1000.0 + 60 * i))
    assert alarms.get(key) is None and watch.raised() == set()
    explaining.clear()                                  # the drift is over
    for i in range(3):                                  # the explained ones do not count
        watch.on_event(forced("apc-1", 1400.0 + 10 * i))
    assert alarms.get(key) is None
    watch.on_event(forced("apc-1", 1430.0))             # a 4th unexplained one
    alarm = alarms.get(key)
    assert alarm is not None and not alarm.cleared
    explaining["apc-1"] = (ROOT,)                       # the drift alarm comes after
    watch.check(1440.0)
    alarm = alarms.get(key)
    assert alarm is not None and alarm.cleared and ROOT in alarm.text
    explaining.clear()
    watch.on_event(forced("apc-1", 1450.0))             # counted from scratch again
    assert alarms.get(key).cleared                      # type: ignore[union-attr]


def test_forced_calibrations_of_a_drifting_fibre_leave_it_in_service_between_them() -> None:
    pool = FakePool({"apc-a": STARTED})
    now = [1_800_000_100.0]
    explaining: dict[str, tuple[str, ...]] = {"apc-a": ("link a-r",)}
    sched = CalibrationScheduler(cast(SessionPool, pool), lambda: None,
                                 lambda: {"apc-a": ("a-r",)}, clock=lambda: now[0],
                                 explained=lambda a: explaining.get(a, ()))
    out_of_spec = {"apc-a": apc_state(0.3, spec="out-of-spec")}
    assert [e.reason for e in sched.run_once(out_of_spec)] == ["urgent-out-of-spec"]
    now[0] += 31.0                                      # done, out of spec again at once
    again = {"apc-a": apc_state(0.3, last="2027-01-15T08:01:31Z", spec="out-of-spec")}
    assert sched.run_once(again) == []
    assert sched.urgent("apc-a").result == "busy"       # nor the healer's crossing
    now[0] += 28.0                                      # still < 30 s back in service
    assert sched.run_once(again) == []
    now[0] += 2.0
    assert [e.reason for e in sched.run_once(again)] == ["urgent-out-of-spec"]
    assert len(pool.log) == 2
    # without a drift alarm a calibration that did not help is repeated at once
    explaining.clear()
    now[0] += 31.0
    again = {"apc-a": apc_state(0.3, last="2027-01-15T08:02:33Z", spec="out-of-spec")}
    assert [e.reason for e in sched.run_once(again)] == ["urgent-out-of-spec"]
