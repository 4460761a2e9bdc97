"""The revertive hold-off (G.808.1 wait-to-restore) on a fake clock: it starts when the
original path is whole again, a failure on that path stops it and the next repair starts
it from zero; a refused revert stays refused; the settings' YANG defaults."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from controller.paths import CONFIG_DIR
from controller.service.heal_scope import Original
from controller.service.revertive import (
    HOLDING_OFF,
    NOT_REVERTIBLE,
    WAITING,
    RevertiveSettings,
    RevertTracker,
)
from qnum.io import load_requests, load_topology
from qnum.plan import Assignment, Problem


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def original() -> Original:
    """A pre-failure assignment on the metro network (the tracker only keeps it)."""
    network = load_topology(CONFIG_DIR / "topologies" / "metro.json")
    requests = load_requests(CONFIG_DIR / "services" / "demo.json", network)
    problem = Problem.build(network, requests[:1])
    candidate = problem.options(requests[0].name)[0]
    return Original(Assignment(requests[0], candidate, candidate.min_share), network)


def test_the_hold_off_starts_at_the_repair_and_a_new_failure_restarts_it() -> None:
    clock = FakeClock()
    tracker = RevertTracker(clock)
    broken: dict[str, str | None] = {"svc": "r1-r2"}
    tracker.remember("svc", original())
    tracker.update(lambda _o: broken["svc"], hold_off_s=60)
    entry = tracker.get("svc")
    assert entry is not None and entry.state == WAITING and "r1-r2" in entry.reason
    assert tracker.next_due() is None and tracker.due() == []

    broken["svc"] = None                         # repaired at t=1000
    tracker.update(lambda _o: broken["svc"], hold_off_s=60)
    assert tracker.next_due() == 60 and tracker.get("svc").state == HOLDING_OFF  # type: ignore[union-attr]
    clock.now += 40
    tracker.update(lambda _o: None, hold_off_s=60)   # another repair elsewhere: runs on
    assert tracker.next_due() == 20 and tracker.due() == []

    broken["svc"] = "r1-r2"                      # flaps at t=1040: the hold-off stops
    tracker.update(lambda _o: broken["svc"], hold_off_s=60)
    assert tracker.get("svc").state == WAITING and tracker.next_due() is None  # type: ignore[union-attr]
    clock.now += 30
    broken["svc"] = None                         # repaired again at t=1070: from zero
    tracker.update(lambda _o: broken["svc"], hold_off_s=60)
    clock.now += 59
    assert tracker.due() == [] and tracker.next_due() == pytest.approx(1)
    clock.now += 1
    assert tracker.due() == ["svc"]


def test_a_refused_revert_stays_until_the_service_is_moved_again() -> None:
    clock = FakeClock()
    tracker = RevertTracker(clock)
    first, second = original(), original()
    tracker.remember("svc", first)
    tracker.update(lambda _o: None, hold_off_s=0)
    assert tracker.due() == ["svc"]
    tracker.refuse("svc", "capacity on the original path is taken")
    tracker.update(lambda _o: None, hold_off_s=0)
    entry = tracker.get("svc")
    assert entry is not None and entry.state == NOT_REVERTIBLE and tracker.due() == []
    tracker.remember("svc", second)              # a new failure moved it: a new original
    entry = tracker.get("svc")
    assert entry is not None and entry.original is second and entry.state == WAITING
    tracker.remember("svc", first)               # moved again before reverting: keeps it
    assert tracker.get("svc").original is second  # type: ignore[union-attr]
    tracker.retain([])                           # withdrawn
    assert tracker.entries() == {}


def test_revertive_settings_follow_the_yang_defaults() -> None:
    assert RevertiveSettings.from_optimiser({}) == RevertiveSettings(enabled=False,
                                                                     hold_off_s=60.0)
    settings = RevertiveSettings.from_optimiser(
        {"revertive": {"enabled": True, "hold-off-time": "2.5"}})
    assert settings.enabled and settings.hold_off_s == 2.5
    with pytest.raises(ValidationError):
        RevertiveSettings.from_optimiser({"revertive": {"hold-off-time": "-1"}})
