"""PeriodicTask: start, stop, restart, interval change, trigger, errors (events, not sleeps)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
from structlog.testing import capture_logs

from controller.periodic import PeriodicTask

LONG = 3600.0   # an interval no test waits out: only triggers and starts run rounds
BOUND = 10.0    # generous upper bound for anything that should happen "at once"


class Rounds:
    """Counts rounds and lets a test wait for the n-th."""

    def __init__(self, body: Callable[[int], object] | None = None) -> None:
        self.count = 0
        self.body = body
        self._cond = threading.Condition()

    def __call__(self) -> None:
        with self._cond:
            self.count += 1
            n = self.count
            self._cond.notify_all()
        if self.body is not None:
            self.body(n)

    def reach(self, n: int) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.count >= n, timeout=BOUND)


@pytest.fixture
def tasks() -> Iterator[list[PeriodicTask]]:
    made: list[PeriodicTask] = []
    yield made
    for task in made:
        task.stop()


def make(tasks: list[PeriodicTask], fn: Callable[[], object], interval_s: float | None,
         **kwargs: bool) -> PeriodicTask:
    task = PeriodicTask("test-task", fn, interval_s, **kwargs)
    tasks.append(task)
    return task


def test_runs_every_interval_and_stop_joins(tasks: list[PeriodicTask]) -> None:
    rounds = Rounds()
    task = make(tasks, rounds, 0.01)
    task.start()
    assert task.running
    assert rounds.reach(3)
    thread = task.thread
    assert thread is not None and thread.name == "test-task"
    assert task.stop(timeout=BOUND)
    assert not thread.is_alive() and task.thread is None and not task.running
    assert thread not in threading.enumerate()


def test_first_round_waits_an_interval_unless_run_immediately(
        tasks: list[PeriodicTask]) -> None:
    later, now = Rounds(), Rounds()
    make(tasks, later, LONG).start()
    make(tasks, now, LONG, run_immediately=True).start()
    assert now.reach(1)
    assert later.count == 0


def test_restart_after_stop(tasks: list[PeriodicTask]) -> None:
    rounds = Rounds()
    task = make(tasks, rounds, LONG, run_immediately=True)
    task.start()
    assert rounds.reach(1)
    assert task.stop(timeout=BOUND)
    task.start()
    assert task.running
    assert rounds.reach(2)
    assert task.stop(timeout=BOUND)
    assert [t for t in threading.enumerate() if t.name == "test-task"] == []


def test_start_while_running_is_a_no_op(tasks: list[PeriodicTask]) -> None:
    task = make(tasks, Rounds(), LONG)
    task.start()
    first = task.thread
    task.start()
    assert task.thread is first
    assert len([t for t in threading.enumerate() if t.name == "test-task"]) == 1


def test_interval_change_wakes_the_waiting_loop(tasks: list[PeriodicTask]) -> None:
    rounds = Rounds()
    task = make(tasks, rounds, LONG)
    task.start()
    task.interval_s = 0.01            # without the wake-up the loop would sleep an hour
    assert rounds.reach(3)
    assert task.interval_s == 0.01


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError):
        PeriodicTask("bad", lambda: None, 0)
    task = PeriodicTask("ok", lambda: None, None)
    with pytest.raises(ValueError):
        task.interval_s = -1


def test_trigger_runs_a_round_now_and_coalesces(tasks: list[PeriodicTask]) -> None:
    release = threading.Event()
    rounds = Rounds(lambda n: release.wait(BOUND) if n == 1 else None)
    task = make(tasks, rounds, None)        # triggered only
    task.start()
    assert not task.pending
    task.trigger()
    assert rounds.reach(1)
    task.trigger()                          # three triggers during one round …
    task.trigger()
    task.trigger()
    assert task.pending
    release.set()
    assert rounds.reach(2)                  # … make one more round
    assert task.stop(timeout=BOUND)
    assert rounds.count == 2 and not task.pending


def test_a_failing_round_is_logged_and_the_loop_goes_on(tasks: list[PeriodicTask]) -> None:
    def body(n: int) -> None:
        if n == 1:
            raise RuntimeError("boom")

    rounds = Rounds(body)
    task = make(tasks, rounds, 0.01)
    with capture_logs() as logs:
        task.start()
        assert rounds.reach(2)
    failures = [e for e in logs if e["event"] == "periodic round failed"]
    assert failures[0]["task"] == "test-task" and failures[0]["error"] == "boom"
    assert failures[0]["log_level"] == "error"


def test_stop_ends_a_wait_inside_a_round_promptly(tasks: list[PeriodicTask]) -> None:
    waiting, ended = threading.Event(), threading.Event()
    seen: list[bool] = []

    def long_round() -> None:
        waiting.set()
        seen.append(task.wait(LONG))
        seen.append(task.stopping)
        ended.set()

    task = make(tasks, long_round, LONG, run_immediately=True)
    task.start()
    assert waiting.wait(BOUND)
    assert task.stop(timeout=BOUND)
    assert ended.is_set() and seen == [True, True]


def test_wait_outside_a_run_sleeps_and_reports_no_stop() -> None:
    task = PeriodicTask("idle", lambda: None, LONG)
    assert task.wait(0.001) is False
    assert not task.stopping and not task.running and task.stop() is True


def test_fixed_rate_keeps_the_period_of_round_starts(tasks: list[PeriodicTask]) -> None:
    """A round longer than the period is followed by the next at once (no extra wait)."""
    gate = threading.Event()
    rounds = Rounds(lambda n: gate.wait(BOUND) if n == 1 else None)
    task = make(tasks, rounds, LONG, run_immediately=True, fixed_rate=True)
    task.start()
    assert rounds.reach(1)
    task.interval_s = 0.01     # shorter than the round still in progress
    gate.set()
    assert rounds.reach(3)


def test_a_stop_that_timed_out_cannot_be_undone_by_a_restart(
        tasks: list[PeriodicTask]) -> None:
    """The old run's thread finishes its round and ends; the new run starts its rounds
    only then (rounds never overlap)."""
    gate = threading.Event()
    rounds = Rounds(lambda n: gate.wait(BOUND) if n == 1 else None)
    task = make(tasks, rounds, LONG, run_immediately=True)
    task.start()
    assert rounds.reach(1)
    old = task.thread
    assert task.stop(timeout=0) is False    # still in its round
    task.start()
    assert task.thread is not old and task.running
    assert rounds.count == 1                # the new run waits for the old round
    gate.set()
    assert old is not None
    old.join(BOUND)
    assert not old.is_alive()
    assert rounds.reach(2)                  # the new run's immediate round
    assert task.running


# -- every loop built on it restarts after stop (one of them could not) -----------------------

class CountingPool:
    """A stand-in pool with no devices: each background round asks it for node_ids once."""

    def __init__(self) -> None:
        self.rounds = Rounds()

    @property
    def node_ids(self) -> list[str]:
        self.rounds()
        return []


def _telemetry(rounds: Rounds) -> tuple[Callable[[], None], Callable[[], None]]:
    from controller.service.telemetry import TelemetryLoop

    def no_plan() -> None:
        rounds()

    loop = TelemetryLoop(cast(Any, None), cast(Any, None), plan=no_plan)
    return (lambda: loop.start(0.01)), loop.stop


def _calibration(rounds: Rounds) -> tuple[Callable[[], None], Callable[[], None]]:
    from controller.service.calibration import CalibrationScheduler

    def no_apcs() -> dict[str, list[str]]:
        rounds()
        return {}

    sched = CalibrationScheduler(cast(Any, None), lambda: None, no_apcs)
    return (lambda: sched.start(0.01)), sched.stop


def _sync(rounds: Rounds) -> tuple[Callable[[], None], Callable[[], None]]:
    from southbound.sync import SyncManager

    pool = CountingPool()
    pool.rounds = rounds
    sync = SyncManager(cast(Any, pool), cast(Any, None), intended=lambda _n: None,
                       policy=cast(Any, None), importer=lambda _n, _x: None,
                       differ=cast(Any, object()))
    return (lambda: sync.start(0.01)), sync.stop


def _device_events(rounds: Rounds) -> tuple[Callable[[], None], Callable[[], None]]:
    from controller.service.device_events import DeviceEventStream

    pool = CountingPool()
    pool.rounds = rounds
    stream = DeviceEventStream(cast(Any, pool), lambda _n, _x: None, check_s=0.01)
    return stream.start, stream.stop


def _ticker(rounds: Rounds) -> tuple[Callable[[], None], Callable[[], None]]:
    from simulators.clock import ManualClock
    from simulators.devices.runtime import Ticker

    class Device:
        node_id = "counter"

        def tick(self, _now: float) -> None:
            rounds()

    ticker = Ticker(ManualClock(), [cast(Any, Device())], period=0.01)
    return ticker.start, ticker.stop


@pytest.mark.parametrize("build", [_telemetry, _calibration, _sync, _device_events, _ticker],
                         ids=["telemetry", "calibration", "sync", "device-events", "ticker"])
def test_background_loops_restart_after_stop(
        build: Callable[[Rounds], tuple[Callable[[], None], Callable[[], None]]]) -> None:
    rounds = Rounds()
    start, stop = build(rounds)
    before = set(threading.enumerate())
    start()
    assert rounds.reach(2)
    stop()
    done = rounds.count
    start()
    assert rounds.reach(done + 2)
    stop()
    assert set(threading.enumerate()) <= before        # no thread left behind
