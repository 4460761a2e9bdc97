"""Device reboots: seen in the boot time each device reports, followed until it is back.

Every device reports when it last booted (sdqn-device-common ``status/boot-datetime``,
as ietf-system's ``system-state/clock/boot-datetime``, RFC 7317). A value different from
the one the controller read before means the device rebooted in between — however briefly
it was away, even if no telemetry round and no notification stream noticed the gap. A
reboot is a fault of its own (``sdqn-alarms:device-restarted``), not an out-of-band
change: the physics started over (sources warm up, memories are empty) and running is
whatever the boot loaded (RFC 6241 §8.7: startup, or the factory configuration when
nothing was saved), so the controller checks the device against intended and pushes
intended again if the boot lost it — whatever the out-of-band policy says, since
importing what a boot loaded would make the factory configuration the intent.

The alarm stays until the device is reachable, verified in sync and reports itself up
and stable again (warm-up over). Meanwhile the services whose path crosses it are
degraded (``impairments``, read by the service state machine like the impairments of
controller/service/device_faults.py), their ``service-degraded`` alarm naming it.

The first boot time seen of a device (controller start, device added) is only recorded:
a reboot while nobody watched is not reported after the fact.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog
from lxml import etree

from controller.service.alarms import AlarmKey, AlarmManager, Severity

log = structlog.get_logger(__name__)

ALARM = "sdqn-alarms:device-restarted"


def boot_datetime(xml: str) -> str | None:
    """The device's status/boot-datetime (any sdqn device module), None if not reported."""
    root = etree.fromstring(f"<data>{xml}</data>".encode())
    for status in root.iter("{*}status"):
        text = status.findtext("{*}boot-datetime")
        if text:
            return str(text)
    return None


def back_in_service(xml: str) -> bool:
    """The device reports itself up and stable (its warm-up and settling are over)."""
    root = etree.fromstring(f"<data>{xml}</data>".encode())
    statuses = [s for s in root.iter("{*}status") if s.find("{*}boot-datetime") is not None]
    return bool(statuses) and all(
        (s.findtext("{*}oper-status") or "").rsplit(":", 1)[-1] == "up"
        and s.findtext("{*}stable") == "true" for s in statuses)


@dataclass
class _Recovery:
    """A reboot being followed: what booted, and whether the configuration was verified."""

    boot: str
    verified: bool = False


class RestartWatch:
    """A telemetry observer (controller/service/telemetry.py `ReadingsObserver`) that may
    also be asked about one device at any time (`see`, e.g. when its session comes back).

    `verify(node)` checks the device against intended and re-pushes intended if needed;
    True once the device runs intended. `serves(node)`: an admitted service depends on the
    device (the alarm is major then, minor otherwise). Both are called without this
    object's lock held (they talk to the device and to the datastore)."""

    def __init__(self, alarms: AlarmManager | None, node_resource: Callable[[str], str], *,
                 verify: Callable[[str], bool],
                 serves: Callable[[str], bool] = lambda _node: True) -> None:
        self.alarms = alarms
        self.node_resource = node_resource
        self.verify = verify
        self.serves = serves
        self._boots: dict[str, str] = {}
        self._recovering: dict[str, _Recovery] = {}
        self._verifying: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, readings: Mapping[str, str], _taken_at: float) -> None:
        for node, xml in readings.items():
            try:
                self.see(node, xml)
            except (etree.XMLSyntaxError, ValueError) as exc:
                log.debug("restart watch: device state not parsed", device=node,
                          error=str(exc))

    def see(self, node: str, xml: str) -> bool:
        """One reading of a device's operational state; True while the device is
        recovering from a reboot (the controller is restoring or waiting for it)."""
        boot = boot_datetime(xml)
        with self._lock:
            known = self._boots.get(node)
            if boot is not None:
                self._boots[node] = boot
            rebooted = known is not None and boot is not None and boot != known
            if rebooted and boot is not None:
                self._recovering[node] = _Recovery(boot)
            recovery = self._recovering.get(node)
            if recovery is None:
                return False
            done = recovery.verified and back_in_service(xml)
            if done:
                del self._recovering[node]
            verify = not recovery.verified and not done and node not in self._verifying
            if verify:
                self._verifying.add(node)
        key = AlarmKey(self.node_resource(node), ALARM)
        if rebooted:
            self._raise(node, key, recovery.boot, known)
        if done:
            if self.alarms is not None:
                self.alarms.clear_alarm(key, f"{node} back in service: configuration in "
                                             "sync, up and stable")
            log.info("device back in service after a reboot", device=node)
            return False
        if verify:
            self._verify(node, recovery)
        return True

    def _raise(self, node: str, key: AlarmKey, boot: str, before: str | None) -> None:
        log.warning("device rebooted", device=node, boot=boot, previous_boot=before)
        if self.alarms is None:
            return
        severity = Severity.MAJOR if self.serves(node) else Severity.MINOR
        self.alarms.raise_alarm(key, severity, f"{node} rebooted (boot-datetime {boot}, "
                                               f"was {before}); restoring its configuration")

    def _verify(self, node: str, recovery: _Recovery) -> None:
        ok = False
        try:
            ok = self.verify(node)
        except Exception as exc:  # the next reading tries again
            log.warning("restart watch: configuration not verified", device=node,
                        error=str(exc))
        finally:
            with self._lock:
                self._verifying.discard(node)
                if ok:
                    recovery.verified = True

    def recovering(self, node: str) -> bool:
        with self._lock:
            return node in self._recovering

    def impairments(self) -> dict[str, str]:
        """node → why the services through it are not served as planned (the state
        machine degrades them while the device recovers from its reboot)."""
        with self._lock:
            return {node: (f"rebooted at {r.boot}; "
                           + ("warming up" if r.verified else "restoring its configuration"))
                    for node, r in self._recovering.items()}
