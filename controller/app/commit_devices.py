"""show-commit's per-device changes and impact, wherever the controller pushes to
devices: the service layer's network-commit history, diffed by each device's schema
(southbound/device_diffs.py), and the impact each change had when it was committed
(controller/service/impact_log.py), offered to every northbound through their shared
core."""

from __future__ import annotations

from typing import Any

from controller.netconf.core import ServerCore
from controller.service.impact_log import ImpactLog
from controller.service.manager import ServiceManager
from southbound.device_diffs import DeviceDiffs


class ServiceCommitDetails:
    def __init__(self, diffs: DeviceDiffs | None, impacts: ImpactLog) -> None:
        self.diffs = diffs
        self.impacts = impacts

    def devices(self, running_commit: str) -> list[dict[str, Any]]:
        return self.diffs(running_commit) if self.diffs is not None else []

    def impact(self, running_commit: str) -> dict[str, Any] | None:
        return self.impacts.get(running_commit)


def serve_commit_devices(core: ServerCore, service: ServiceManager | None) -> None:
    """Without a service layer nothing is pushed: show-commit lists no devices and no
    impact; without its history file, no devices."""
    if service is not None:
        core.commit_details = ServiceCommitDetails(
            DeviceDiffs(service.history) if service.history is not None else None,
            service.impacts)
