"""An automatic polarisation compensator out of its specification.

An APC says whether its tracking error (the residual misalignment θ it leaves on its
fibre) is within its ``tracking-tolerance``: sdqn-apc ``state/spec-status``, read every
telemetry round, and the ``out-of-spec`` notification on each crossing, which the device
event stream delivers at once. Out of spec, sin²(θ/2) of the qubits crossing the fibre
flip: every service over it loses fidelity, whatever the rest of the path does.

The root-cause alarm ``apc-out-of-spec`` is raised on the APC node — the APC is the
resource that needs corrective action (RFC 8632 §3.1) — in the first telemetry round that
shows it, or on the notification when the event stream runs; the services crossing the
fibres it compensates are degraded at once through `impaired_links` (the state machine's
impairment path), their ``service-degraded`` alarm naming the APC among its root causes.
It clears in the first round the APC reports within spec again. Severity after ITU-T
X.733 (the RFC 8632 severity model): ``major`` while its fibres carry admitted services
(service-affecting), ``minor`` while they carry none.

One fault, one root cause (RFC 8632 §3.6: a root cause named once, not alarmed again as
a second problem). An APC is out of spec, without being at fault, when

* its fibre drifts faster than it tracks: an active ``polarisation-drift`` alarm on its
  fibre (controller/service/polarisation_drift.py) is the root cause;
* it has no light (oper-status ``down``): the fibre's own alarm (fibre-cut, link-down)
  is, and nothing is tracked meanwhile — nor after the light is back, until a
  calibration completes (what drifted untracked in the dark stays until then; an
  out-of-spec crossing right after a repair is that dark spell's);
* it has never calibrated yet: the calibration scheduler calibrates it at once.

An out-of-spec episode that begins under one of these is that fault's consequence for
its whole length: once the explanation is gone, the misalignment it left behind is the
calibration scheduler's to remove (it calibrates an out-of-spec APC at once), so the APC
is alarmed only if it is still out of spec after GRACE_ROUNDS rounds without anything
explaining it and without a calibration running. An alarm already raised (the APC failed
first) stays when such an explanation appears later: that failure is still there.

An APC not read in a round keeps its alarm (no reading is no repair) until
``stale-after-rounds`` rounds pass without a reading, or it no longer compensates any
fibre; the alarm then clears as no longer monitored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import structlog
from lxml import etree

from controller.service.alarms import AlarmKey, AlarmManager, Severity
from controller.service.calibration import APC_NS, ApcReading, read_apc
from controller.service.service_state import Assurance

log = structlog.get_logger(__name__)

OUT_OF_SPEC = "sdqn-alarms:apc-out-of-spec"
#: Rounds an out-of-spec episode inherited from an explained fault gets for a calibration
#: to remove what that fault left (the scheduler starts one at once; it takes 30 s on the
#: emulated APC, a round or two).
GRACE_ROUNDS = 3
_A = f"{{{APC_NS}}}"


def tracking_error(xml: str) -> float | None:
    """The tracking error (rad) an APC reports in its operational XML, if any."""
    root = etree.fromstring(f"<data>{xml}</data>".encode())
    text = root.findtext(f".//{_A}apc/{_A}state/{_A}tracking-error")
    return float(text) if text is not None else None


def out_of_spec_notification(xml: str) -> bool | None:
    """An sdqn-apc ``out-of-spec`` notification: True raised, False cleared; None for any
    other notification."""
    root = etree.fromstring(xml.encode())
    note = next(root.iter(f"{_A}out-of-spec"), None)
    if note is None:
        return None
    return (note.findtext(f"{_A}severity") or "").strip() != "cleared"


@dataclass
class _Watch:
    """What the monitor remembers of one APC."""

    links: tuple[str, ...] = ()
    raised: bool = False
    severity: Severity = Severity.MAJOR
    text: str = ""
    episode: bool = False        # out of spec since the last in-spec reading
    excused: bool = False        # ... and the episode began under an explanation
    unexplained: int = 0         # rounds the excused episode went on without one
    unread: int = 0              # rounds without a reading while raised
    dark: bool = False           # its last reading: no light, or never calibrated
    #: it was dark and has not completed a calibration since (the last-calibration it
    #: reported while dark): what drifted untracked in the dark is still there
    dark_spell: tuple[float | None] | None = None
    notified_at: float = float("-inf")   # monotonic: the last out-of-spec notification


class ApcSpecMonitor:
    """A telemetry observer (controller/service/telemetry.py `ReadingsObserver`) and a
    device-notification consumer.

    `apcs`: APC → the links it compensates (the committed network's ``compensator``);
    `busy`: the links admitted services use (the committed plan), for the severity;
    `drift`: APC → the resources of active polarisation-drift alarms on its fibres."""

    def __init__(self, alarms: AlarmManager | None,
                 apcs: Callable[[], Mapping[str, Sequence[str]]],
                 settings: Callable[[], Assurance] = Assurance, *,
                 busy: Callable[[], Collection[str]] = frozenset,
                 drift: Callable[[str], Sequence[str]] = lambda _apc: (),
                 node_resource: Callable[[str], str] = lambda node: node,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.alarms = alarms
        self.apcs = apcs
        self.settings = settings
        self.busy = busy
        self.drift = drift
        self.node_resource = node_resource
        self.clock = clock
        self._watch: dict[str, _Watch] = {}
        self._lock = threading.Lock()

    # -- inputs --------------------------------------------------------------------------
    def __call__(self, readings: Mapping[str, str], taken_at: float) -> None:
        settings = self.settings()
        apcs = {apc: tuple(links) for apc, links in self.apcs().items() if links}
        busy = set(self.busy())
        with self._lock:
            for apc in [a for a, w in self._watch.items() if a not in apcs]:
                watch = self._watch.pop(apc)
                if watch.raised:
                    self._clear(apc, watch, f"{apc} no longer compensates "
                                            f"{', '.join(watch.links)}: no longer monitored")
            for apc, links in sorted(apcs.items()):
                watch = self._watch.setdefault(apc, _Watch(links=links))
                if watch.raised and watch.links != links:
                    self._clear(apc, watch, f"{apc} now compensates {', '.join(links)}")
                watch.links = links
                if taken_at < watch.notified_at:
                    continue          # read before its latest notification, which decided
                xml = readings.get(apc)
                reading = self._reading(apc, xml)
                if xml is None or reading is None:
                    watch.unread += 1
                    if watch.raised and watch.unread >= settings.stale_after_rounds:
                        self._clear(apc, watch, f"no longer monitored: {apc} has not "
                                                f"reported its spec-status for "
                                                f"{watch.unread} telemetry rounds")
                    continue
                watch.unread = 0
                self._round(apc, watch, reading, xml, busy)

    def on_notification(self, node: str, xml: str) -> None:
        """A device notification: an APC's out-of-spec crossing decides at once (what it
        says is newer than any reading of the round in progress)."""
        try:
            raised = out_of_spec_notification(xml)
        except etree.XMLSyntaxError:
            return
        if raised is None:
            return
        links = tuple(self.apcs().get(node, ()))
        if not links:
            return
        busy = set(self.busy())
        with self._lock:
            watch = self._watch.setdefault(node, _Watch(links=links))
            watch.notified_at = self.clock()
            if not raised:
                self._in_spec(node, watch)
            elif not watch.raised and not watch.episode:
                watch.episode = True
                watch.excused = (bool(self.drift(node)) or watch.dark
                                 or watch.dark_spell is not None)
                if not watch.excused:
                    self._raise(node, watch, None, busy)

    def _round(self, apc: str, watch: _Watch, reading: ApcReading, xml: str,
               busy: set[str]) -> None:
        watch.dark = reading.down or reading.last_calibration is None
        if reading.down:                 # no light: the fibre's alarm explains it all
            watch.dark_spell = (reading.last_calibration,)
            if not watch.raised:
                watch.episode, watch.excused, watch.unexplained = True, True, 0
            return
        if watch.dark_spell is not None and not reading.in_progress \
                and watch.dark_spell != (reading.last_calibration,):
            watch.dark_spell = None      # calibrated since the light came back
        if not reading.out_of_spec:
            self._in_spec(apc, watch)
            return
        if watch.raised:
            severity = self._severity(watch.links, busy)
            if severity != watch.severity:
                watch.severity = severity
                self._announce(apc, watch)
            return
        if reading.in_progress:
            return                       # a calibration runs: its outcome decides
        explained = bool(self.drift(apc)) or reading.last_calibration is None \
            or watch.dark_spell is not None
        if explained or not watch.episode:
            watch.episode, watch.unexplained = True, 0
            watch.excused = explained
            if explained:
                return
        elif watch.excused:
            watch.unexplained += 1
            if watch.unexplained < GRACE_ROUNDS:
                return
        self._raise(apc, watch, self._error(xml), busy)

    # -- alarm ---------------------------------------------------------------------------
    def _in_spec(self, apc: str, watch: _Watch) -> None:
        watch.episode = watch.excused = False
        watch.unexplained = 0
        if watch.raised:
            self._clear(apc, watch, f"{apc} reports its tracking error within tolerance "
                                    f"again")

    def _raise(self, apc: str, watch: _Watch, error: float | None, busy: set[str]) -> None:
        watch.raised = True
        watch.severity = self._severity(watch.links, busy)
        measured = "" if error is None else f" ({error:.3g} rad)"
        # fixed at the crossing: a text changing with every reading would be a new status
        # change each round (RFC 8632 §3.5.1)
        watch.text = (f"tracking error{measured} beyond its tracking-tolerance on "
                      f"{', '.join(watch.links)}")
        log.info("apc out of spec", apc=apc, links=watch.links, error=error)
        self._announce(apc, watch)

    def _announce(self, apc: str, watch: _Watch) -> None:
        if self.alarms is not None:
            self.alarms.raise_alarm(AlarmKey(self.node_resource(apc), OUT_OF_SPEC),
                                    watch.severity, f"{apc}: {watch.text}")

    def _clear(self, apc: str, watch: _Watch, why: str) -> None:
        watch.raised = False
        watch.unread = 0
        if self.alarms is not None:
            self.alarms.clear_alarm(AlarmKey(self.node_resource(apc), OUT_OF_SPEC), why)

    @staticmethod
    def _severity(links: Sequence[str], busy: set[str]) -> Severity:
        """ITU-T X.733: service-affecting is major, not service-affecting minor."""
        return Severity.MAJOR if busy & set(links) else Severity.MINOR

    @staticmethod
    def _reading(apc: str, xml: str | None) -> ApcReading | None:
        if xml is None:
            return None
        try:
            return read_apc(xml)
        except (etree.XMLSyntaxError, ValueError) as exc:
            log.debug("apc spec: state not parsed", device=apc, error=str(exc))
            return None

    @staticmethod
    def _error(xml: str) -> float | None:
        try:
            return tracking_error(xml)
        except (etree.XMLSyntaxError, ValueError):
            return None

    # -- views ---------------------------------------------------------------------------
    def impaired_links(self) -> dict[str, str]:
        """link → why it impairs the services crossing it (the alarm's text)."""
        with self._lock:
            return {link: f"{apc} out of spec: {watch.text}"
                    for apc, watch in self._watch.items() if watch.raised
                    for link in watch.links}

    def failing(self, apc: str) -> bool:
        """The APC's own apc-out-of-spec alarm is active."""
        with self._lock:
            watch = self._watch.get(apc)
            return watch is not None and watch.raised

    def explaining(self, apc: str) -> tuple[str, ...]:
        """The resource of the APC's active apc-out-of-spec alarm (its forced
        calibrations follow from it), or nothing."""
        return (self.node_resource(apc),) if self.failing(apc) else ()

    def explaining_links(self, links: Collection[str]) -> tuple[str, ...]:
        """The resources of the active apc-out-of-spec alarms of the APCs on these links
        (a quality loss on them follows from it)."""
        wanted = set(links)
        with self._lock:
            return tuple(sorted(self.node_resource(apc) for apc, watch in self._watch.items()
                                if watch.raised and wanted & set(watch.links)))
