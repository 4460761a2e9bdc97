"""Emulated automatic polarisation compensator (module sdqn-apc).

Physics: the fibre's polarisation transformation drifts at an angular rate ω (rad/s on the
Poincaré sphere; a few 1e-4 rad/s for buried fibre, more for aerial fibre), which itself
wanders (log-normal random walk, seeded).  Continuous tracking removes most of the drift
but not all; the residual misalignment θ therefore accumulates between full calibrations
at ω·(1 − suppression) (at the full ω without tracking or without light).  A residual
angle θ flips a polarisation qubit measured in the aligned basis with probability
sin²(θ/2) (Malus's law on the Poincaré sphere), which the model publishes to the world so
that every link and endpoint using the fibre sees its QBER rise.  A full calibration
(action ``calibrate``, on power-up, or when ``calibration-interval`` is due, deferred to
an idle fibre for at most ``max-deferral``) takes CALIBRATION_DURATION and brings θ back
to a small residual.

A failing polarisation actuator (a fibre squeezer or waveplate driver that no longer
follows its set point, ``actuator_offset`` > 0) leaves that much misalignment on top of
the tracked residual, whatever tracking does, and a calibration cannot converge (it ends
with ``success false`` and does not count as a calibration): the APC is out of
specification without its fibre drifting any faster, until the actuator is repaired.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

from simulators.devices.base import (
    DEGRADED,
    DOWN,
    TESTING,
    UP,
    AlarmLatch,
    DeviceModel,
    Health,
    Json,
    Notification,
    dec,
    prob,
    seconds,
)

#: Typical drift of the polarisation transformation of buried metro fibre (rad/s).
BASE_DRIFT_RATE = 2e-4
#: Fraction of the drift that continuous tracking leaves uncorrected.
TRACKING_RESIDUAL = 0.05
#: Simulated seconds one full calibration takes.
CALIBRATION_DURATION = 30.0
#: Misalignment right after a converged calibration (rad).
CALIBRATED_RESIDUAL = 0.005
#: Misalignment at power-up, before the first calibration (rad).
UNCALIBRATED_ERROR = 0.5
#: Default factor of an injected drift surge (a truck on an aerial span, a cabinet door).
DEFAULT_SURGE = 50.0
#: Default misalignment a failed actuator leaves (rad): 4× the default tracking-tolerance,
#: sin²(0.2) ≈ 4 % more bit flips on every qubit crossing the fibre.
DEFAULT_ACTUATOR_OFFSET = 0.4
MAX_ANGLE = 3.141593


def misalignment_error(theta: float) -> float:
    """Bit-flip probability of a residual rotation θ: sin²(θ/2)."""
    return math.sin(theta / 2.0) ** 2


class Apc(DeviceModel):
    kind: ClassVar[str] = "apc"
    craft_edit: ClassVar[Json] = {"calibration-interval": "1800"}

    def hardware(self) -> None:
        self.surge = 1.0
        #: rad of misalignment a failed actuator leaves uncorrected (0: healthy); hardware,
        #: so a restart does not repair it
        self.actuator_offset = 0.0
        self._base_rate = BASE_DRIFT_RATE * float(self.rng.lognormal(0.0, 0.3))

    def reset(self, now: float) -> None:
        self.drift_rate = self._base_rate
        self.error = UNCALIBRATED_ERROR
        self.calibrating_until: float | None = None
        self.last_calibration: float | None = None
        self.next_due: float | None = None
        self.requested_at: float | None = None
        self._alarms = AlarmLatch()

    def factory_body(self) -> Json:
        links = self.world.topology.compensated_by(self.node_id)
        body: Json = {"target-bases": ["rectilinear", "diagonal"]}
        if links:
            body["link-id"] = links[0].link_id
        return body

    # -- configuration -------------------------------------------------------------------

    @property
    def link_id(self) -> str | None:
        link = self.config.get("link-id")
        return None if link is None else str(link)

    @property
    def interval(self) -> float:
        return float(self.config.get("calibration-interval", 3600))

    def on_config(self, old: Json, now: float) -> list[Notification]:
        if old.get("link-id") != self.config.get("link-id") or self.last_calibration is None:
            if self.calibrating_until is None:
                self._start(now)
        elif self.last_calibration is not None:
            self.next_due = self.last_calibration + self.interval
        return []

    # -- calibration ---------------------------------------------------------------------

    def _start(self, now: float) -> None:
        self.calibrating_until = now + CALIBRATION_DURATION
        self.requested_at = None

    def _idle(self) -> bool:
        link = self.link_id
        return link is None or not self.world.link_busy(link)

    def calibrate(self, now: float, force: bool = False) -> tuple[str, float]:
        """The ``calibrate`` action: (result, expected duration in simulated seconds)."""
        if self.calibrating_until is not None:
            return "busy", max(0.0, self.calibrating_until - now)
        if not force and self.config.get("prefer-idle-windows", True) and not self._idle():
            self.requested_at = now
            return "deferred", CALIBRATION_DURATION
        self._start(now)
        return "started", CALIBRATION_DURATION

    def _due(self, now: float) -> bool:
        """A requested or periodic calibration whose idle window came or deadline passed."""
        since = self.requested_at
        if since is None and self.next_due is not None and now >= self.next_due:
            since = self.next_due
        if since is None:
            return False
        prefer = bool(self.config.get("prefer-idle-windows", True))
        deadline = since + float(self.config.get("max-deferral", 600))
        return not prefer or self._idle() or now >= deadline

    # -- the tick ------------------------------------------------------------------------

    def _light(self) -> bool:
        link = self.world.topology.links.get(self.link_id or "")
        return link is not None and self.world.fibre_ok(link)

    def _drift(self, dt: float, tracking: bool) -> None:
        if dt <= 0:
            return
        # Log-normal random walk of ω, pulled back towards the fibre's base rate.
        log_ratio = math.log(self.drift_rate / self._base_rate)
        log_ratio += -0.01 * log_ratio * dt + 0.02 * math.sqrt(dt) * float(self.rng.normal())
        self.drift_rate = self._base_rate * math.exp(log_ratio)
        growth = self.drift_rate * self.surge * (TRACKING_RESIDUAL if tracking else 1.0)
        self.error = min(MAX_ANGLE, self.error + growth * dt)

    @property
    def theta(self) -> float:
        """The misalignment the fibre's qubits see: the tracked residual plus what a
        failed actuator leaves (rotations composed as a worst case, angles adding)."""
        return min(MAX_ANGLE, self.error + self.actuator_offset)

    def _publish(self) -> None:
        if self.link_id is not None:
            self.world.misalignment[self.link_id] = self.theta

    def tick_down(self, now: float) -> None:
        dt = 0.0 if self._last is None else max(0.0, now - self._last)
        super().tick_down(now)
        self._drift(dt, tracking=False)
        self._publish()

    def step(self, now: float, dt: float) -> list[Notification]:
        if not self.configured:
            return []
        notes: list[Notification] = []
        light = self._light()
        if self.calibrating_until is not None:
            if now >= self.calibrating_until:
                notes.extend(self._finish(now, light))
        else:
            self._drift(dt, tracking=light and bool(self.config.get("tracking-enabled", True)))
            if self._due(now):
                self._start(now)
        self._publish()
        if self.calibrating_until is not None:
            return notes  # a calibration in progress is not an out-of-spec condition
        tolerance = float(self.config.get("tracking-tolerance", 0.1))
        edge = self._alarms.update("out-of-spec", self.theta > tolerance)
        if edge is not None:
            notes.append(self.alarm("out-of-spec", edge, "major",
                                    "tracking error beyond tolerance",
                                    tracking_error=dec(self.theta, 6)))
        return notes

    def _finish(self, now: float, light: bool) -> list[Notification]:
        self.calibrating_until = None
        converged = light and self.actuator_offset == 0.0   # a stuck actuator cannot
        if converged:
            self.error = CALIBRATED_RESIDUAL * float(self.rng.lognormal(0.0, 0.2))
            self.last_calibration = now
        if light:   # a failed actuator is tried again an interval later, not at once
            self.next_due = now + self.interval
        return [Notification(self.module, "calibration-complete", {
            "success": converged, "tracking-error": dec(self.theta, 6)})]

    def health(self, now: float) -> Health:
        if self.link_id is None or self.link_id not in self.world.topology.links:
            return Health(DOWN, False, "no compensated link")
        if not self._light():
            return Health(DOWN, False, f"loss of signal on {self.link_id}")
        if self.calibrating_until is not None:
            return Health(TESTING, False, "calibrating")
        if "out-of-spec" in self._alarms.active:
            return Health(DEGRADED, False, "tracking error out of specification")
        return Health(UP, True, "in specification")

    def state_body(self, now: float) -> Json:
        st: Json = {
            "polarisation-drift-rate": dec(self.drift_rate * self.surge, 6),
            "tracking-error": dec(self.theta, 6),
            "misalignment-error": prob(misalignment_error(self.theta)),
            "calibration-in-progress": self.calibrating_until is not None,
            "spec-status": "out-of-spec" if "out-of-spec" in self._alarms.active else "in-spec",
        }
        if self.last_calibration is not None:
            st["last-calibration"] = self.clock.iso(self.last_calibration)
        if self.next_due is not None:
            st["next-calibration"] = self.clock.iso(self.next_due)
        return {"state": st}

    def calibrate_output(self, now: float, force: bool) -> Json:
        """RFC 7951 output of the calibrate action."""
        result, expected = self.calibrate(now, force)
        return {"result": result, "expected-duration": seconds(expected)}

    def action(self, name: str, inputs: Mapping[str, str], now: float) -> Json | None:
        """sdqn-apc's one action, ``calibrate`` (input ``force``, default false)."""
        if name != "calibrate":
            return None
        return self.calibrate_output(now, (inputs.get("force") or "false").strip() == "true")
