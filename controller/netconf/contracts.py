"""What the parts of the NETCONF server core know of each other, as small protocols.

The core (shared state), the sessions (one per SSH channel), the operations (rpc
handlers) and the notifier (RFC 5277 event streams) refer to each other at run time.
Each refers to the others only through the protocols here, so the modules import in one
direction: contracts ← core ← notifications ← operations ← session ← server.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from lxml import etree

from controller.datastore.apply import JournalOp
from controller.datastore.nmda import ConfirmEvent, Datastore


@dataclass
class Subscription:
    """An RFC 5277 §2.1.1 subscription of one session: its stream and optional filter;
    the notifier sets the first live event's sequence number and the stopTime."""

    stream: str
    filter: Callable[[etree._Element], bool] | None = None
    live_from: int = 0
    stop: datetime | None = None


class SessionClosing(Exception):
    """Raised by an rpc handler to end the session after its reply (close-session)."""


class NetconfSession(Protocol):
    """One NETCONF session as the rest of the server core sees it."""

    session_id: int
    username: str
    source_host: str
    login_time: str
    subscription: Subscription | None
    in_rpcs: int
    in_bad_rpcs: int
    out_rpc_errors: int
    out_notifications: int
    termination_reason: str

    def send_notification(self, message: bytes) -> None: ...

    def terminate(self, reason: str, killed_by: int | None = None) -> None: ...


class SessionEvents(Protocol):
    """The notifier as sessions and the server see it (RFC 5277, RFC 6470 events)."""

    def session_start(self, session: NetconfSession) -> None: ...

    def session_end(self, session: NetconfSession, reason: str,
                    killed_by: int | None) -> None: ...

    def publish(self, content: etree._Element, stream: str = ...,
                event_time: str | None = None) -> None: ...

    def config_change(self, ds: Datastore, ops: Sequence[JournalOp],
                      session_id: int) -> None: ...

    def confirmed_commit(self, event: ConfirmEvent) -> None: ...

    def subscribe(self, session: NetconfSession, subscription: Subscription,
                  start: datetime | None = None, stop: datetime | None = None) -> None: ...

    @property
    def replay(self) -> bool: ...

    def stop(self) -> None: ...


class RpcDispatcher(Protocol):
    """The operations table as a session sees it: one rpc in, one reply out."""

    def dispatch(self, session: NetconfSession, op: etree._Element) -> bytes: ...
