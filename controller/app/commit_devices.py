"""show-commit's per-device changes, wherever the controller pushes to devices: the
service layer's network-commit history, diffed by each device's schema
(southbound/device_diffs.py), offered to every northbound through their shared core."""

from __future__ import annotations

from controller.netconf.core import ServerCore
from controller.service.manager import ServiceManager
from southbound.device_diffs import DeviceDiffs


def serve_commit_devices(core: ServerCore, service: ServiceManager | None) -> None:
    """Without a service layer (or without its history file) no device is pushed to, and
    show-commit lists no devices."""
    if service is not None and service.history is not None:
        core.commit_devices = DeviceDiffs(service.history)
