"""The restart watch: a new boot-datetime is a reboot, followed until the device is back."""

from __future__ import annotations

import pytest

from controller.datastore.nmda import NmdaStore
from controller.datastore.schema import Schema
from controller.service.alarms import AlarmKey, AlarmManager
from controller.service.device_restart import (
    ALARM,
    RestartWatch,
    back_in_service,
    boot_datetime,
)
from tests.controller.netconf.conftest import make_store

REP = "urn:sdqn:sdqn-repeater"
FIRST = "2027-01-15T08:00:00.000+00:00"
SECOND = "2027-01-15T09:30:00.000+00:00"


def state(boot: str, oper: str = "up", stable: bool = True) -> str:
    return (f'<repeater xmlns="{REP}"><node-id>r3</node-id><status>'
            f"<oper-status>sdqn-types:{oper}</oper-status>"
            f"<stable>{str(stable).lower()}</stable>"
            f"<last-change>{boot}</last-change><boot-datetime>{boot}</boot-datetime>"
            "</status></repeater>")


@pytest.fixture
def alarms(schema: Schema) -> AlarmManager:
    store: NmdaStore = make_store(schema)
    return AlarmManager(store)


def test_the_status_container_says_when_and_whether_the_device_is_back() -> None:
    assert boot_datetime(state(FIRST)) == FIRST
    assert boot_datetime(f'<repeater xmlns="{REP}"/>') is None
    assert back_in_service(state(FIRST))
    assert not back_in_service(state(FIRST, stable=False))
    assert not back_in_service(state(FIRST, oper="degraded"))


def test_a_reboot_is_alarmed_until_verified_and_back_in_service(
        alarms: AlarmManager) -> None:
    verified: list[str] = []
    answers = iter([False, True])           # the first push fails: tried again

    def verify(node: str) -> bool:
        verified.append(node)
        return next(answers)

    watch = RestartWatch(alarms, lambda node: node, verify=verify)
    key = AlarmKey("r3", ALARM)
    assert watch.see("r3", state(FIRST)) is False       # first sight: only recorded
    assert alarms.get(key) is None and verified == []
    assert watch.see("r3", state(SECOND, stable=False)) is True
    alarm = alarms.get(key)
    assert alarm is not None and not alarm.cleared and alarm.severity == "major"
    assert "restoring" in watch.impairments()["r3"]
    assert watch.see("r3", state(SECOND)) is True       # not verified yet: not back
    assert verified == ["r3", "r3"] and "warming up" in watch.impairments()["r3"]
    assert watch.see("r3", state(SECOND, stable=False)) is True      # warming up
    assert watch.see("r3", state(SECOND)) is False
    alarm = alarms.get(key)
    assert alarm is not None and alarm.cleared
    assert watch.impairments() == {} and not watch.recovering("r3")
    assert watch.see("r3", state(SECOND)) is False      # same boot: nothing new


def test_a_device_no_service_depends_on_is_a_minor_alarm(alarms: AlarmManager) -> None:
    watch = RestartWatch(alarms, lambda node: node, verify=lambda _node: True,
                         serves=lambda _node: False)
    watch({"apc-9": state(FIRST)}, 0.0)
    watch({"apc-9": state(SECOND)}, 0.0)
    alarm = alarms.get(AlarmKey("apc-9", ALARM))
    assert alarm is not None and alarm.severity == "minor"
