"""One background loop that runs a function every interval: the single place where the
product's periodic work (telemetry, check-sync, calibration, keep-alives, the event hub's
poll, the emulators' clock tick, the self-healer's wake-ups) gets its thread, its stop and
its error handling, so that every loop behaves the same way:

* ``start()`` after ``stop()`` starts it again (each start is a new *run* with its own stop
  flag, so a thread that outlives a timed-out ``stop()`` can never be revived by it);
* ``interval_s`` may change while it runs: the waiting loop wakes and waits out the new
  interval from the same point (the end of the last round, or its start when
  ``fixed_rate``);
* ``trigger()`` runs a round now (triggers that arrive during a round coalesce into one);
* an exception in a round is logged with the task's name and the loop goes on;
* ``stop()`` wakes the waiting loop and joins the thread (bounded).

Rounds never overlap, not even across a restart whose previous run is still ending a
round. Waits are wall-clock
(monotonic) because tests that use simulated time drive the rounds themselves (each user
keeps its ``run_once``-style entry point) instead of the thread.

Hand-written rather than APScheduler 3.x (measured): its ``BackgroundScheduler`` cannot be
started again after ``shutdown()`` (the jobs are gone and its executor refuses new work),
it runs at a fixed rate only (an overrunning round logs a skipped-run warning each
interval, no "interval after the round"), it logs through the standard library, and a
round has no way to learn that a stop was requested.

Foundation layer: imports nothing from the product, so every layer may use it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)

DEFAULT_JOIN_TIMEOUT_S = 10.0


class _Run:
    """One start…stop of the loop; its flag is read and written under the task's lock."""

    __slots__ = ("stopped",)

    def __init__(self) -> None:
        self.stopped = False


class PeriodicTask:
    """Run ``fn`` every ``interval_s`` seconds on a daemon thread named ``name``.

    ``interval_s=None`` runs only when triggered (a worker woken by events).
    ``run_immediately`` runs the first round at start instead of one interval later.
    ``fixed_rate`` measures the interval from the start of a round (a clock tick that keeps
    its period whatever a round costs); otherwise from its end (a poll that never piles up
    behind a slow round).
    """

    def __init__(self, name: str, fn: Callable[[], object], interval_s: float | None, *,
                 run_immediately: bool = False, fixed_rate: bool = False,
                 join_timeout_s: float = DEFAULT_JOIN_TIMEOUT_S) -> None:
        self.name = name
        self.fn = fn
        self.run_immediately = run_immediately
        self.fixed_rate = fixed_rate
        self.join_timeout_s = join_timeout_s
        self._interval_s = _checked(interval_s)
        self._cond = threading.Condition()
        self._run: _Run | None = None
        self._thread: threading.Thread | None = None
        self._triggered = False
        self._local = threading.local()   # the run a loop thread belongs to

    # -- settings ------------------------------------------------------------------------
    @property
    def interval_s(self) -> float | None:
        return self._interval_s

    @interval_s.setter
    def interval_s(self, value: float | None) -> None:
        with self._cond:
            self._interval_s = _checked(value)
            self._cond.notify_all()     # the waiting loop re-reads it at once

    # -- state ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """The loop thread is alive and was not asked to stop."""
        with self._cond:
            return (self._thread is not None and self._thread.is_alive()
                    and self._run is not None and not self._run.stopped)

    @property
    def stopping(self) -> bool:
        """A stop was requested for the run the calling round belongs to (a long round
        checks it between items to end early)."""
        with self._cond:
            run = self._current()
            return run is not None and run.stopped

    @property
    def pending(self) -> bool:
        """A trigger has not been served by a round yet."""
        with self._cond:
            return self._triggered

    @property
    def thread(self) -> threading.Thread | None:
        """The loop's thread until a ``stop()`` has seen it end."""
        return self._thread

    # -- control -------------------------------------------------------------------------
    def start(self) -> None:
        """Start the loop; no-op while it runs. Starts a new run after ``stop()``."""
        with self._cond:
            if self._thread is not None and self._thread.is_alive() \
                    and self._run is not None and not self._run.stopped:
                return
            run = _Run()
            previous = self._thread if self._thread is not None \
                and self._thread.is_alive() else None
            thread = threading.Thread(target=self._loop, args=(run, previous), daemon=True,
                                      name=self.name)
            self._run, self._thread = run, thread
            thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Ask the loop to stop, wake it and wait up to `timeout` seconds (default
        ``join_timeout_s``; 0 does not wait) for a round in progress to end. True when
        the thread has ended."""
        with self._cond:
            run, thread = self._run, self._thread
            if run is not None:
                run.stopped = True
            self._cond.notify_all()
        if thread is None:
            return True
        if thread is threading.current_thread():   # stopped from inside a round
            return False
        wait_s = self.join_timeout_s if timeout is None else timeout
        thread.join(wait_s)
        if thread.is_alive():
            if wait_s > 0:
                log.warning("periodic task still busy after stop", task=self.name,
                            waited_s=wait_s)
            return False
        with self._cond:
            if self._thread is thread:
                self._thread = None
        return True

    def trigger(self) -> None:
        """Run a round as soon as the current one (if any) ends."""
        with self._cond:
            self._triggered = True
            self._cond.notify_all()

    def wait(self, seconds: float) -> bool:
        """Sleep inside a round, ended early by ``stop()``; True when stopping."""
        deadline = time.monotonic() + seconds
        with self._cond:
            run = self._current()
            while run is None or not run.stopped:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    # -- the loop ------------------------------------------------------------------------
    def _current(self) -> _Run | None:
        run: _Run | None = getattr(self._local, "run", None)
        return run if run is not None else self._run

    def _loop(self, run: _Run, previous: threading.Thread | None) -> None:
        self._local.run = run
        if previous is not None:    # a stopped run still ends its round: never overlap
            previous.join()
        anchor = time.monotonic()
        due = self.run_immediately
        while True:
            with self._cond:
                while not due and not run.stopped and not self._triggered:
                    interval = self._interval_s
                    left = None if interval is None else anchor + interval - time.monotonic()
                    if left is not None and left <= 0:
                        break
                    self._cond.wait(left)
                if run.stopped:
                    return
                self._triggered = due = False
            started = time.monotonic()
            self._round()
            anchor = started if self.fixed_rate else time.monotonic()

    def _round(self) -> None:
        try:
            self.fn()
        except Exception as exc:  # one bad round must not end the loop
            log.exception("periodic round failed", task=self.name, error=str(exc))


def _checked(interval_s: float | None) -> float | None:
    if interval_s is not None and not interval_s > 0:
        raise ValueError(f"interval_s must be > 0 (or None: triggered only), not {interval_s}")
    return interval_s
