"""An APC out of its specification: the apc-out-of-spec root alarm (raised from spec-status
or the out-of-spec notification, severity, clearing, freshness), what it does not alarm
(an out-of-spec a drifting fibre, a dark fibre or a missing calibration explains), and the
calibrations of a failing APC backing off."""

from __future__ import annotations

from itertools import pairwise
from typing import cast

import pytest

from controller.datastore.nmda import NmdaStore
from controller.datastore.schema import Schema
from controller.service.alarms import (
    AlarmKey,
    AlarmManager,
    Severity,
    node_resource,
    service_resource,
)
from controller.service.apc_spec import (
    GRACE_ROUNDS,
    OUT_OF_SPEC,
    ApcSpecMonitor,
    out_of_spec_notification,
    tracking_error,
)
from controller.service.calibration import CalibrationScheduler
from controller.service.expansion import QnumExpander
from controller.service.heal import SelfHealer
from controller.service.service_state import Assurance
from southbound.pool import SessionPool
from tests.controller.service.test_calibration import (
    STARTED,
    FakePool,
    apc_state,
    endpoint_state,
)

APC = "urn:sdqn:sdqn-apc"
LINK = "r1-r2"
ROOT = node_resource("metro", "apc-1")
SETTINGS = Assurance(stale_after_rounds=3)


def state(spec: str = "in-spec", *, error: float = 0.01, down: bool = False,
          running: bool = False, calibrated: bool = True) -> str:
    last = "<last-calibration>2027-01-15T08:00:00Z</last-calibration>" if calibrated else ""
    oper = "down" if down else "up"
    return (f'<apc xmlns="{APC}"><link-id>{LINK}</link-id><state>'
            f"<tracking-error>{error}</tracking-error>{last}"
            f"<calibration-in-progress>{str(running).lower()}</calibration-in-progress>"
            f"<spec-status>{spec}</spec-status></state>"
            f'<status><oper-status xmlns:t="urn:sdqn:sdqn-types">t:{oper}</oper-status>'
            "</status></apc>")


OUT = state("out-of-spec", error=0.4)
IN = state()


def notification(severity: str) -> str:
    return ('<notification xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0">'
            "<eventTime>2027-01-15T08:00:00Z</eventTime>"
            f'<out-of-spec xmlns="{APC}"><severity>{severity}</severity>'
            "<text>tracking error beyond tolerance</text>"
            "<tracking-error>0.4</tracking-error></out-of-spec></notification>")


class Spec:
    """A monitor with its inputs by hand."""

    def __init__(self, alarms: AlarmManager) -> None:
        self.apcs: dict[str, tuple[str, ...]] = {"apc-1": (LINK,)}
        self.busy: set[str] = {LINK}
        self.drift: dict[str, tuple[str, ...]] = {}
        self.now = 100.0
        self.alarms = alarms
        self.monitor = ApcSpecMonitor(alarms, lambda: self.apcs, lambda: SETTINGS,
                                      busy=lambda: self.busy,
                                      drift=lambda apc: self.drift.get(apc, ()),
                                      node_resource=lambda n: node_resource("metro", n),
                                      clock=lambda: self.now)

    def round(self, xml: str | None) -> None:
        self.now += 10.0
        self.monitor({} if xml is None else {"apc-1": xml}, self.now - 1.0)

    def alarm(self) -> tuple[Severity, str] | None:
        """(severity, text) of the active alarm, or None."""
        alarm = self.alarms.get(AlarmKey(ROOT, OUT_OF_SPEC))
        return None if alarm is None or alarm.cleared else (alarm.severity, alarm.text)

    def cleared_text(self) -> str:
        alarm = self.alarms.get(AlarmKey(ROOT, OUT_OF_SPEC))
        assert alarm is not None and alarm.cleared
        return alarm.text


def test_raised_in_the_first_round_out_of_spec_and_cleared_in_the_first_within(
        alarms: AlarmManager) -> None:
    spec = Spec(alarms)
    spec.round(IN)
    assert spec.alarm() is None and spec.monitor.impaired_links() == {}
    spec.round(OUT)
    raised = spec.alarm()
    assert raised is not None and raised[0] is Severity.MAJOR     # its fibre is in use
    assert "apc-1" in raised[1] and LINK in raised[1] and "0.4" in raised[1]
    assert list(spec.monitor.impaired_links()) == [LINK]
    assert spec.monitor.failing("apc-1") and spec.monitor.explaining("apc-1") == (ROOT,)
    assert spec.monitor.explaining_links([LINK, "r2-bob"]) == (ROOT,)
    assert spec.monitor.explaining_links(["r2-bob"]) == ()
    spec.round(state("out-of-spec", error=0.45))
    assert spec.alarm() == raised                  # one text per crossing (RFC 8632 §3.5.1)
    spec.round(IN)
    assert spec.alarm() is None and "within tolerance" in spec.cleared_text()
    assert spec.monitor.impaired_links() == {} and not spec.monitor.failing("apc-1")


def test_severity_follows_whether_its_fibres_carry_services(alarms: AlarmManager) -> None:
    spec = Spec(alarms)
    spec.busy = set()
    spec.round(OUT)
    assert spec.alarm() is not None and spec.alarm()[0] is Severity.MINOR  # type: ignore
    spec.busy = {LINK}                             # a service placed over it
    spec.round(OUT)
    assert spec.alarm()[0] is Severity.MAJOR       # type: ignore[index]


def test_an_out_of_spec_a_drift_alarm_explains_is_not_alarmed_nor_its_tail(
        alarms: AlarmManager) -> None:
    spec = Spec(alarms)
    spec.drift["apc-1"] = ("link r1-r2",)
    for _ in range(5):
        spec.round(OUT)
        assert spec.alarm() is None and spec.monitor.impaired_links() == {}
    spec.drift.clear()                             # the drift is over, its misalignment not
    for _ in range(GRACE_ROUNDS - 1):
        spec.round(OUT)
    spec.round(state("out-of-spec", running=True))  # a calibration runs: does not count
    assert spec.alarm() is None
    spec.round(IN)                                  # ... and removed it
    assert alarms.get(AlarmKey(ROOT, OUT_OF_SPEC)) is None
    spec.round(OUT)                                 # a new episode, nothing explains it
    assert spec.alarm() is not None


def test_out_of_spec_inherited_from_an_explained_fault_is_alarmed_after_the_grace(
        alarms: AlarmManager) -> None:
    spec = Spec(alarms)
    spec.drift["apc-1"] = ("link r1-r2",)
    spec.round(OUT)
    spec.drift.clear()
    for _ in range(GRACE_ROUNDS - 1):
        spec.round(OUT)
        assert spec.alarm() is None
    spec.round(OUT)                                 # calibrating did not bring it back
    assert spec.alarm() is not None


def test_a_dark_or_uncalibrated_apc_is_not_alarmed(alarms: AlarmManager) -> None:
    spec = Spec(alarms)
    for _ in range(4):                              # a cut fibre: nothing is tracked
        spec.round(state("out-of-spec", error=1.2, down=True))
        assert spec.alarm() is None
    spec.round(state("out-of-spec", error=1.2))     # light back: the calibration's turn
    assert spec.alarm() is None
    spec.round(IN)
    spec.round(state("out-of-spec", calibrated=False))   # never calibrated yet
    assert spec.alarm() is None


def test_a_crossing_after_a_dark_spell_waits_for_the_calibration(
        alarms: AlarmManager) -> None:
    """Light back and still in spec for a moment, then the misalignment that grew in the
    dark crosses the tolerance (notification): the dark spell's, not alarmed until a
    calibration has completed and failed to remove it."""
    spec = Spec(alarms)
    spec.round(IN)
    spec.round(state(down=True))                    # cut: dark, within spec so far
    spec.round(IN)                                  # repaired: in spec for a moment
    spec.monitor.on_notification("apc-1", notification("major"))
    assert spec.alarm() is None
    spec.round(OUT)
    spec.round(state("out-of-spec", running=True))   # the calibration runs ...
    assert spec.alarm() is None
    after = state("out-of-spec", error=0.4).replace("08:00:00Z", "08:05:00Z")
    for _ in range(GRACE_ROUNDS - 1):                # ... and did not remove it
        spec.round(after)
        assert spec.alarm() is None
    spec.round(after)
    assert spec.alarm() is not None


def test_an_alarm_raised_before_a_drift_stays_while_the_drift_is_active(
        alarms: AlarmManager) -> None:
    spec = Spec(alarms)
    spec.round(OUT)
    spec.drift["apc-1"] = ("link r1-r2",)
    spec.round(OUT)
    spec.round(state("out-of-spec", down=True))     # nor does a cut clear it
    assert spec.alarm() is not None


def test_the_out_of_spec_notification_decides_before_the_next_round(
        alarms: AlarmManager) -> None:
    spec = Spec(alarms)
    spec.round(IN)
    spec.monitor.on_notification("apc-1", notification("major"))
    assert spec.alarm() is not None and spec.monitor.impaired_links()
    spec.monitor({"apc-1": IN}, spec.now - 5.0)     # read before the notification came
    assert spec.alarm() is not None
    spec.round(OUT)                                 # read after it: agrees
    assert spec.alarm() is not None
    spec.monitor.on_notification("apc-1", notification("cleared"))
    assert spec.alarm() is None and spec.monitor.impaired_links() == {}
    spec.monitor.on_notification("r1", notification("major"))    # not an APC it watches
    spec.monitor.on_notification("apc-1", "<notification/>")     # another notification
    spec.monitor.on_notification("apc-1", "not xml")
    assert spec.alarm() is None
    spec.drift["apc-1"] = ("link r1-r2",)
    spec.monitor.on_notification("apc-1", notification("major"))   # explained
    assert spec.alarm() is None


def test_no_reading_is_no_repair_until_stale_and_a_removed_apc_clears(
        alarms: AlarmManager) -> None:
    spec = Spec(alarms)
    spec.round(OUT)
    for _ in range(SETTINGS.stale_after_rounds - 1):
        spec.round(None)
        assert spec.alarm() is not None
    spec.round(None)
    assert spec.alarm() is None and "no longer monitored" in spec.cleared_text()
    spec.round(OUT)
    assert spec.alarm() is not None
    spec.apcs.clear()                               # its fibre lost its compensator
    spec.round(OUT)
    assert spec.alarm() is None and "no longer compensates" in spec.cleared_text()


def test_readings() -> None:
    assert tracking_error(OUT) == pytest.approx(0.4)
    assert tracking_error('<end-node xmlns="urn:sdqn:sdqn-end-node"/>') is None
    assert out_of_spec_notification(notification("minor")) is True
    assert out_of_spec_notification(notification("cleared")) is False
    assert out_of_spec_notification("<notification/>") is None


def test_forced_calibrations_of_a_failing_apc_back_off() -> None:
    pool = FakePool({"apc-a": STARTED})
    now = [1_800_000_100.0]
    failing = {"apc-a"}
    sched = CalibrationScheduler(cast(SessionPool, pool), lambda: None,
                                 lambda: {"apc-a": ("a-r",)}, clock=lambda: now[0],
                                 interval_s=600.0, failing=lambda a: a in failing)
    out = {"apc-a": apc_state(0.3, spec="out-of-spec")}
    assert [e.reason for e in sched.run_once(out)] == ["urgent-out-of-spec"]
    started = [now[0]]
    while now[0] < 1_800_000_100.0 + 2000:
        now[0] += 5.0
        if sched.urgent("apc-a").result == "started":
            started.append(now[0])
    gaps = [b - a for a, b in pairwise(started)]
    assert gaps[:4] == [60.0, 120.0, 240.0, 480.0]  # 2, 4, 8, 16 calibration durations
    assert set(gaps[4:]) == {600.0}                 # at most interval_s
    failing.clear()                                 # repaired: no rest any more
    now[0] += 31.0
    assert sched.urgent("apc-a").result == "started"
    now[0] += 31.0
    assert sched.urgent("apc-a").result == "started"


def test_a_threshold_crossing_a_root_alarm_explains_is_not_a_second_root(
        schema: Schema) -> None:
    store = NmdaStore(schema)
    alarms = AlarmManager(store)
    healer = SelfHealer(store, QnumExpander(), alarms=alarms)
    explaining: list[str] = []
    healer.explaining = lambda _links: tuple(explaining)
    key = AlarmKey(service_resource("qkd"), "sdqn-alarms:qber-threshold")

    def measured(qber: float) -> bool:
        """One round of the end node measuring `qber`: is the threshold alarm active?"""
        healer.on_readings({"alice": endpoint_state("qkd", qber)})
        alarm = alarms.get(key)
        return alarm is not None and not alarm.cleared

    assert measured(0.2)                            # nothing explains it: raised
    explaining.append(ROOT)                         # the root alarm comes after
    assert not measured(0.2)
    assert ROOT in alarms.get(key).text             # type: ignore[union-attr]
    explaining.clear()
    assert not measured(0.2)                        # the rest of that crossing
    assert not measured(0.05)                       # recovered
    explaining.append(ROOT)
    assert not measured(0.2) and not measured(0.2)  # explained from its start
    assert not measured(0.05)
    explaining.clear()
    assert measured(0.2)                            # a new crossing, unexplained
