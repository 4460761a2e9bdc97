"""Revertive self-healing: a re-routed service goes back once its own path has held.

Optical protection switching knows two modes (ITU-T G.808.1 §7.1): non-revertive, where
traffic stays on the protection path after the working path is repaired, and revertive,
where it returns to the working path once that has been free of defects for a
wait-to-restore time (G.808.1 §8.12, "wait-to-restore"; a new defect during it restarts
it). The controller's default is non-revertive: a re-routed service stays where it is.
With sdqn-controller optimiser/revertive enabled, this module remembers, for every
service a failure re-routed, where it ran before (its candidate and share, and the
network they were evaluated on) and runs the hold-off timer per service:

    waiting-for-repair  its original path still crosses a failure
    holding-off         the path is whole again; the service reverts at `due`
    not-revertible      the revert was refused (the reason says why); it stays

A new failure on the original path sends a holding-off service back to waiting, so the
hold-off starts again from zero after the next repair. The tracker only keeps time and
state (`publish_revertive` shows it in <operational>); the self-healer
(controller/service/heal.py) runs the rounds and commits the moves.
Time comes from an injected monotonic clock, so the timing rules are tested without
sleeping.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from controller.datastore.nmda import NmdaStore
from controller.service.heal_scope import Original

WAITING = "waiting-for-repair"
HOLDING_OFF = "holding-off"
NOT_REVERTIBLE = "not-revertible"
DEFAULT_HOLD_OFF_S = 60.0                   # sdqn-controller revertive/hold-off-time
REVERTIVE = "/sdqn-controller:controller/optimiser/revertive"


class RevertiveSettings(BaseModel):
    """sdqn-controller optimiser/revertive (the YANG defaults where not set)."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    enabled: bool = False
    hold_off_s: float = Field(default=DEFAULT_HOLD_OFF_S, ge=0.0, alias="hold-off-time")

    @classmethod
    def from_optimiser(cls, optimiser: Mapping[str, Any]) -> RevertiveSettings:
        return cls.model_validate(optimiser.get("revertive") or {})


@dataclass
class Pending:
    """One re-routed service the tracker may move back."""

    original: Original
    state: str = WAITING
    due: float | None = None          # clock time the hold-off ends (holding-off only)
    reason: str = "its original path crosses a failure"


class RevertTracker:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._pending: dict[str, Pending] = {}

    def remember(self, name: str, original: Original) -> None:
        """A failure re-routed `name`; a service moved again keeps its first original."""
        with self._lock:
            entry = self._pending.get(name)
            if entry is None or entry.state == NOT_REVERTIBLE:
                self._pending[name] = Pending(original)

    def forget(self, name: str) -> None:
        with self._lock:
            self._pending.pop(name, None)

    def refuse(self, name: str, reason: str) -> None:
        """The revert cannot be done: the service stays, with the reason."""
        with self._lock:
            entry = self._pending.get(name)
            if entry is not None:
                entry.state, entry.due, entry.reason = NOT_REVERTIBLE, None, reason

    def update(self, blocked: Callable[[Original], str | None], hold_off_s: float) -> None:
        """After the failures changed: `blocked(original)` names what still breaks an
        original path (None: it is whole). A whole path starts its hold-off (unless it
        runs already); a broken one stops it."""
        now = self.clock()
        with self._lock:
            for entry in self._pending.values():
                if entry.state == NOT_REVERTIBLE:
                    continue
                why = blocked(entry.original)
                if why is not None:
                    entry.state, entry.due = WAITING, None
                    entry.reason = f"its original path crosses a failure: {why}"
                elif entry.state != HOLDING_OFF:
                    entry.state, entry.due = HOLDING_OFF, now + hold_off_s
                    entry.reason = (f"original path repaired; reverting after a hold-off "
                                    f"of {hold_off_s:g} s")

    def retain(self, names: Collection[str]) -> None:
        """Drop every service not in `names` (withdrawn, or back on its original)."""
        with self._lock:
            for name in [n for n in self._pending if n not in names]:
                del self._pending[name]

    def due(self) -> list[str]:
        """Services whose hold-off has ended, in name order."""
        now = self.clock()
        with self._lock:
            return sorted(n for n, e in self._pending.items()
                          if e.state == HOLDING_OFF and e.due is not None and e.due <= now)

    def next_due(self) -> float | None:
        """Seconds until the earliest hold-off ends (None: no hold-off runs)."""
        with self._lock:
            dues = [e.due for e in self._pending.values()
                    if e.state == HOLDING_OFF and e.due is not None]
        return max(0.0, min(dues) - self.clock()) if dues else None

    def get(self, name: str) -> Pending | None:
        with self._lock:
            entry = self._pending.get(name)
            return None if entry is None else Pending(entry.original, entry.state,
                                                      entry.due, entry.reason)

    def entries(self) -> dict[str, Pending]:
        with self._lock:
            return {n: Pending(e.original, e.state, e.due, e.reason)
                    for n, e in sorted(self._pending.items())}

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()


def publish_revertive(store: NmdaStore, tracker: RevertTracker) -> None:
    """optimiser/revertive/service in <operational>: what waits, until when, and why
    (revert-time is the monotonic due time on the wall clock)."""
    entries = tracker.entries()
    if not entries:
        store.delete_state(REVERTIVE)
        return
    now, wall = tracker.clock(), time.time()
    items = []
    for name, entry in entries.items():
        item: dict[str, Any] = {"name": name, "original-path": list(entry.original.path),
                                "state": entry.state, "reason": entry.reason[:250]}
        if entry.due is not None:
            at = wall + max(0.0, entry.due - now)
            item["revert-time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
        items.append(item)
    store.replace_state(REVERTIVE, json.dumps({"sdqn-controller:controller": {
        "optimiser": {"revertive": {"service": items}}}}))
