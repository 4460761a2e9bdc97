"""Calibration that does not help: an APC forced to calibrate again and again.

An urgent (forced) calibration is the controller's answer to a QBER crossing or an
out-of-spec report (controller/service/calibration.py). When the same APC needs
INEFFECTIVE_COUNT forced calibrations within INEFFECTIVE_WINDOW_S, calibrating is not
fixing the cause (a drift faster than the APC tracks, a fibre under mechanical stress, a
bad polarisation controller) and each calibration blinds its fibres again: the root-cause
alarm ``calibration-ineffective`` is raised on the APC (RFC 8632 §3.2). It clears once a
whole window passes with fewer forced calibrations than that.

A forced calibration that a more specific root alarm explains — the fibre's polarisation
drifting faster than its APC tracks (controller/service/polarisation_drift.py) — does not
count: that alarm already names the cause, and an operator wants one root cause for one
fault (RFC 8632 §3.2). An active ``calibration-ineffective`` is cleared, naming the
explaining alarm, at the next check once one is raised, and the forced calibrations
counted so far are forgotten (the drift was building up while they ran).

Defaults: one calibration takes about 30 s (the emulated and the vendor APC), so 4 forced
ones within 600 s mean the APC spent a fifth of ten minutes calibrating and was forced
again each time shortly after.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence

from controller.service.alarms import AlarmKey, AlarmManager, Severity
from controller.service.calibration import CalibrationEvent

INEFFECTIVE_COUNT = 4
INEFFECTIVE_WINDOW_S = 600.0
ALARM = "sdqn-alarms:calibration-ineffective"


class CalibrationWatch:
    """Counts forced calibrations that started, per APC, on the scheduler's clock."""

    def __init__(self, alarms: AlarmManager | None, node_resource: Callable[[str], str],
                 *, count: int = INEFFECTIVE_COUNT,
                 window_s: float = INEFFECTIVE_WINDOW_S,
                 explained: Callable[[str], Sequence[str]] = lambda _apc: ()) -> None:
        """`explained`: APC → the resources of active root alarms that explain its forced
        calibrations (empty: nothing does)."""
        self.alarms = alarms
        self.node_resource = node_resource
        self.explained = explained
        self.count = count
        self.window_s = window_s
        self._forced: dict[str, deque[float]] = {}
        self._raised: set[str] = set()
        self._lock = threading.Lock()

    def on_event(self, event: CalibrationEvent) -> None:
        if not event.force or event.result != "started":
            return
        if self.explained(event.apc):
            return          # the alarm explaining it is the root cause, not calibration
        with self._lock:
            times = self._forced.setdefault(event.apc, deque())
            times.append(event.at)
            self._expire(event.apc, event.at)
            if len(times) >= self.count and event.apc not in self._raised:
                self._raised.add(event.apc)
                if self.alarms is not None:
                    self.alarms.raise_alarm(
                        AlarmKey(self.node_resource(event.apc), ALARM), Severity.MAJOR,
                        f"{len(times)} forced calibrations of {event.apc} within "
                        f"{self.window_s:g} s (last: {event.reason})")

    def check(self, now: float) -> None:
        """Clear for every APC whose last window held fewer forced calibrations, or whose
        forced calibrations another root alarm now explains."""
        explained = {apc: self.explained(apc) for apc in self.raised()}
        with self._lock:
            for apc in sorted(self._raised):
                if explained.get(apc):    # the drift was building up all along
                    self._raised.discard(apc)
                    self._forced.pop(apc, None)
                    if self.alarms is not None:
                        self.alarms.clear_alarm(
                            AlarmKey(self.node_resource(apc), ALARM),
                            f"explained by the active root alarm on "
                            f"{', '.join(explained[apc])}")
                    continue
                self._expire(apc, now)
                if len(self._forced.get(apc, ())) < self.count:
                    self._raised.discard(apc)
                    if self.alarms is not None:
                        self.alarms.clear_alarm(
                            AlarmKey(self.node_resource(apc), ALARM),
                            f"fewer than {self.count} forced calibrations in the last "
                            f"{self.window_s:g} s")

    def _expire(self, apc: str, now: float) -> None:
        times = self._forced.get(apc)
        while times and now - times[0] > self.window_s:
            times.popleft()

    def raised(self) -> set[str]:
        with self._lock:
            return set(self._raised)
