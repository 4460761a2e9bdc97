"""Simulated time for the emulated devices.

Device physics runs in *simulated seconds* so that realistic durations (a 300 s laser
warm-up, an hourly APC calibration) can be kept as the real defaults while tests and demos
compress them with one global factor: one wall-clock second is ``factor`` simulated
seconds.  Timestamps the devices report (``yang:date-and-time``) are taken on the same
simulated time line so that, for example, ``next-calibration − last-calibration`` always
equals the configured interval.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """What device models need from time: a simulated 'now' and its timestamp."""

    def now(self) -> float:
        """Simulated seconds since the clock's epoch."""
        ...

    def iso(self, t: float) -> str:
        """RFC 3339 timestamp of simulated time ``t``."""
        ...


def _iso(epoch: float, t: float) -> str:
    stamp = datetime.fromtimestamp(epoch + t, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


class ScaledClock:
    """Simulated time = factor × wall time elapsed since construction."""

    def __init__(self, factor: float = 1.0) -> None:
        if not factor > 0:
            raise ValueError("time factor must be > 0")
        self.factor = factor
        self._start = time.monotonic()
        self._epoch = time.time()

    def now(self) -> float:
        return (time.monotonic() - self._start) * self.factor

    def iso(self, t: float) -> str:
        return _iso(self._epoch, t)

    def wall(self, sim_seconds: float) -> float:
        """Wall-clock seconds that ``sim_seconds`` of simulated time take."""
        return sim_seconds / self.factor


class ManualClock:
    """A clock that only moves when told to: deterministic unit tests of device physics."""

    def __init__(self, start: float = 0.0, epoch: float = 1_800_000_000.0) -> None:
        self._now = start
        self._epoch = epoch
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            self._now += seconds
            return self._now

    def iso(self, t: float) -> str:
        return _iso(self._epoch, t)
