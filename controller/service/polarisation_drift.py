"""Polarisation drift of a compensated fibre beyond what its APC can track.

An automatic polarisation compensator measures how fast the polarisation transformation
of its fibre drifts (sdqn-apc ``state/polarisation-drift-rate``, rad/s on the Poincaré
sphere). Normal buried fibre drifts a few 1e-4 rad/s and the APC tracks it away; a surge
(an aerial span in wind, stress on the cable, an opened cabinet) drifts tens of times
faster: the tracking error leaves tolerance minutes after every calibration and each
calibration blinds the fibre. Threshold alarms on QBER or fidelity see this late or not
at all, because the controller's forced calibrations keep resetting the error; the
measured rate says it at once.

So the rate is the fault's own measurement: each telemetry round, a rate above
``service-assurance/polarisation-drift-alarm-threshold`` raises the root-cause alarm
``polarisation-drift`` (RFC 8632 §3.2) on every link the APC compensates — the fibre is
what is at fault and what services cross; the text names the APC that measured it — and
the services crossing that link are degraded through `impaired_links` (the state
machine's impairment path). The alarm clears once the rate is below
``polarisation-drift-clear-threshold``: the band between the two is hysteresis, as RMON's
rising and falling thresholds (RFC 2819, alarmTable), so a rate wandering around one
threshold does not raise and clear every round. An APC not read in a round keeps its
alarm (no reading is no repair) until ``stale-after-rounds`` rounds pass without a
measured rate; then, or when the APC no longer compensates the link, the alarm clears as
no longer monitored.

While the alarm is active it is the one root cause of what follows from the drift:
`explaining` tells the calibration scheduler to space the forced calibrations of that APC
(each buys only tolerance / (drift × tracking residual) seconds and blinds the fibre;
controller/service/calibration.py) and the calibration watch not to count them towards
``calibration-ineffective``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import structlog
from lxml import etree

from controller.service.alarms import AlarmKey, AlarmManager, Severity
from controller.service.service_state import Assurance

log = structlog.get_logger(__name__)

APC_NS = "urn:sdqn:sdqn-apc"
DRIFT = "sdqn-alarms:polarisation-drift"


def drift_rate(xml: str) -> float | None:
    """The polarisation drift rate an APC reports in its operational XML (rad/s), or
    None (no APC, or it does not measure it)."""
    root = etree.fromstring(f"<data>{xml}</data>".encode())
    text = root.findtext(f".//{{{APC_NS}}}apc/{{{APC_NS}}}state/"
                         f"{{{APC_NS}}}polarisation-drift-rate")
    return float(text) if text is not None else None


@dataclass(frozen=True)
class Drift:
    """An active polarisation-drift alarm: the APC that measured it, its fibres, and the
    text fixed at the crossing (a text changing with every reading would be a new status
    change each round, RFC 8632 §3.5.1)."""

    apc: str
    links: tuple[str, ...]
    text: str


class DriftMonitor:
    """A telemetry observer (controller/service/telemetry.py `ReadingsObserver`).

    `apcs`: APC → the links it compensates (the committed network's ``compensator``);
    `settings`: the service-assurance thresholds and stale-after-rounds from running."""

    def __init__(self, alarms: AlarmManager | None,
                 apcs: Callable[[], Mapping[str, Sequence[str]]],
                 settings: Callable[[], Assurance] = Assurance,
                 link_resource: Callable[[str], str] = lambda link: link) -> None:
        self.alarms = alarms
        self.apcs = apcs
        self.settings = settings
        self.link_resource = link_resource
        self._active: dict[str, Drift] = {}      # APC → its active alarm
        self._unmeasured: dict[str, int] = {}    # APC with an alarm → rounds without a rate
        self._lock = threading.Lock()

    def __call__(self, readings: Mapping[str, str], _taken_at: float) -> None:
        settings = self.settings()
        apcs = {apc: tuple(links) for apc, links in self.apcs().items() if links}
        with self._lock:
            for apc in [a for a in self._active if a not in apcs]:
                self._clear(apc, f"{apc} no longer compensates "
                                 f"{', '.join(self._active[apc].links)}: no longer monitored")
            for apc, links in sorted(apcs.items()):
                rate = self._rate(apc, readings)
                active = self._active.get(apc)
                if rate is None:
                    if active is not None:
                        self._unmeasured[apc] = missed = self._unmeasured.get(apc, 0) + 1
                        if missed >= settings.stale_after_rounds:
                            self._clear(apc, f"no longer monitored: {apc} has not reported "
                                             f"its drift rate for {missed} telemetry rounds")
                    continue
                self._unmeasured.pop(apc, None)
                if active is not None and active.links != links:
                    self._clear(apc, f"{apc} now compensates {', '.join(links)}")
                    active = None
                if active is None and rate > settings.drift_alarm_threshold:
                    self._raise(apc, links, rate, settings.drift_alarm_threshold)
                elif active is not None and rate < settings.drift_clear_threshold:
                    self._clear(apc, f"drift rate {rate:.3g} rad/s measured by {apc} back "
                                     f"under {settings.drift_clear_threshold:g} rad/s")

    @staticmethod
    def _rate(apc: str, readings: Mapping[str, str]) -> float | None:
        xml = readings.get(apc)
        if xml is None:
            return None
        try:
            return drift_rate(xml)
        except (etree.XMLSyntaxError, ValueError) as exc:
            log.debug("polarisation drift: APC state not parsed", device=apc, error=str(exc))
            return None

    def _raise(self, apc: str, links: tuple[str, ...], rate: float, threshold: float) -> None:
        text = (f"polarisation drifts at {rate:.3g} rad/s (measured by {apc}), above "
                f"{threshold:g} rad/s")
        self._active[apc] = Drift(apc, links, text)
        if self.alarms is not None:
            for link in links:
                self.alarms.raise_alarm(AlarmKey(self.link_resource(link), DRIFT),
                                        Severity.MAJOR, f"{link}: {text}")

    def _clear(self, apc: str, why: str) -> None:
        drift = self._active.pop(apc)
        self._unmeasured.pop(apc, None)
        if self.alarms is not None:
            for link in drift.links:
                self.alarms.clear_alarm(AlarmKey(self.link_resource(link), DRIFT), why)

    # -- views -------------------------------------------------------------------------
    def impaired_links(self) -> dict[str, str]:
        """link → why it impairs the services crossing it (the alarm's text)."""
        with self._lock:
            return {link: drift.text for drift in self._active.values()
                    for link in drift.links}

    def explaining(self, apc: str) -> tuple[str, ...]:
        """The resources of the active polarisation-drift alarms that explain what this
        APC does (out of spec, forced calibrations); empty when none does."""
        with self._lock:
            drift = self._active.get(apc)
            return () if drift is None else tuple(self.link_resource(lk)
                                                  for lk in drift.links)
