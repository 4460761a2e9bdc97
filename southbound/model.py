"""What the southbound talks about: device endpoints, per-device changes, results."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ConnectionState(StrEnum):
    CONNECTED = "connected"
    CONNECTING = "connecting"
    UNREACHABLE = "unreachable"
    DISCONNECTED = "disconnected"


class SyncState(StrEnum):
    IN_SYNC = "in-sync"
    OUT_OF_SYNC = "out-of-sync"
    UNKNOWN = "unknown"


class Exclusion(StrEnum):
    """Why the controller keeps a device of its inventory out of service (sdqn-controller
    southbound/device/plan-exclusion): no plan uses it, no loop talks to it, no push
    reaches it."""

    LOCKED = "locked"            # admin-state locked: not a single session is opened
    UNREACHABLE = "unreachable"  # not reached since it was added or unlocked: only tried


class DeviceEndpoint(BaseModel):
    """How to reach one managed device (from the topology's `management` container or a
    simulator inventory)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    node_id: str = Field(alias="node-id")
    address: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    username: str = "admin"
    password: str | None = "admin"
    key_filename: str | None = Field(default=None, alias="key-filename")
    adapter: str = "netconf"
    kind: str | None = None
    modules: tuple[str, ...] = ()  # YANG modules the device implements (for diffs)


class DeviceChange(BaseModel):
    """The configuration one device must end up with, as YANG XML data elements."""

    model_config = ConfigDict(frozen=True)

    node_id: str
    config_xml: str
    replace: bool = True  # replace the device's whole config (default) or merge into it


class DeviceOutcome(BaseModel):
    node_id: str
    status: str  # committed | rolled-back | untouched | failed | dry-run
    error: str | None = None
    diff: list[dict[str, Any]] = Field(default_factory=list)
    diff_xml: str | None = None


class CommitResult(BaseModel):
    commit_id: str
    label: str | None = None
    user: str | None = None          # who asked for the commit, if the caller said
    #: the change of the controller's <running> this network commit carries out (its
    #: commit-history id), when it is one: show-commit then lists these devices' diffs
    running_commit: str | None = None
    success: bool
    dry_run: bool = False
    phase_failed: str | None = None  # prepare | commit | confirm | cancelled
    duration_s: float = 0.0
    #: wall seconds of each phase run on every device (prepare, commit, confirm): where a
    #: push spends its time, apart from what the caller does between prepare and confirm
    phase_s: dict[str, float] = Field(default_factory=dict)
    devices: dict[str, DeviceOutcome] = Field(default_factory=dict)
