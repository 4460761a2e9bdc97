"""Who may hold a NETCONF connection: pre-authentication pools and session limits.

An SSH connection costs a thread and a transport before its peer has proved anything,
so unauthenticated connections live in their own bounded pools (one per source address
and one global); when a pool is full the oldest unauthenticated connection of that pool
is dropped, as OpenSSH's MaxStartups does, so a newcomer can always start its login and
idle half-open connections cannot lock anybody out. Once authenticated, a connection
becomes a session only within the per-user, per-address and global limits; recovery
users (the accounts that bypass NACM, RFC 8341 §3.4 recovery session) skip the per-user
and per-address limits and may use capacity the others cannot, so admin can always log
in while everybody else is at their limits.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field


class SessionLimits(BaseModel):
    """Connection and session limits of a NETCONF server (NetconfSettings.limits)."""

    model_config = ConfigDict(extra="forbid")

    auth_timeout: float = Field(default=10.0, gt=0,
                                description="seconds a connection has to finish SSH "
                                            "authentication")
    max_startups: int = Field(default=64, ge=1,
                              description="unauthenticated connections in all (the "
                                          "oldest is dropped for a newcomer)")
    max_startups_per_address: int = Field(default=16, ge=1,
                                          description="unauthenticated connections from "
                                                      "one source address")
    max_sessions_per_user: int = Field(default=16, ge=1,
                                       description="sessions of one (non-recovery) user")
    user_sessions: dict[str, int] = Field(default_factory=dict,
                                          description="per-user overrides of "
                                                      "max_sessions_per_user")
    max_sessions_per_address: int = Field(default=32, ge=1,
                                          description="sessions from one source address "
                                                      "(recovery users exempt)")
    recovery_reserve: int = Field(default=4, ge=0,
                                  description="of max_sessions, kept for recovery users")


@dataclass(eq=False)
class Connection:
    """One accepted TCP connection; `close` ends it from any thread."""

    peer: str
    close: Callable[[], None]
    started: float = field(default_factory=time.monotonic)
    user: str | None = None  # set once admitted as a session


class Admission:
    """Thread-safe bookkeeping of connections against `SessionLimits`."""

    def __init__(self, limits: SessionLimits, max_sessions: int,
                 recovery_users: Iterable[str]) -> None:
        self.limits = limits
        self.max_sessions = max_sessions
        self.recovery_users = frozenset(recovery_users)
        self._lock = threading.Lock()
        self._pending: OrderedDict[Connection, None] = OrderedDict()  # oldest first
        self._sessions: set[Connection] = set()
        self.refused: Counter[str] = Counter()  # reason -> count

    def arrive(self, conn: Connection) -> list[Connection]:
        """Admit a new unauthenticated connection; returns those it pushes out (the
        caller closes them), oldest first."""
        evicted: list[Connection] = []
        with self._lock:
            same = [c for c in self._pending if c.peer == conn.peer]
            if len(same) >= self.limits.max_startups_per_address:
                evicted.append(same[0])
                del self._pending[same[0]]
            if len(self._pending) >= self.limits.max_startups:
                oldest = next(iter(self._pending))
                evicted.append(oldest)
                del self._pending[oldest]
            self._pending[conn] = None
            for _ in evicted:
                self.refused["pre-auth pool full"] += 1
        return evicted

    def authenticated(self, conn: Connection, user: str) -> str | None:
        """Turn `conn` into a session of `user`; None, or why it is refused."""
        with self._lock:
            self._pending.pop(conn, None)
            reason = self._refusal(conn, user)
            if reason is not None:
                self.refused[reason] += 1
                return reason
            conn.user = user
            self._sessions.add(conn)
            return None

    def _refusal(self, conn: Connection, user: str) -> str | None:
        total = len(self._sessions)
        if user in self.recovery_users:
            return "session limit reached" if total >= self.max_sessions else None
        reserve = min(self.limits.recovery_reserve, self.max_sessions - 1)
        if total >= self.max_sessions - reserve:
            return "session limit reached"
        per_user = self.limits.user_sessions.get(user, self.limits.max_sessions_per_user)
        if sum(1 for c in self._sessions if c.user == user) >= per_user:
            return f"user {user} has {per_user} sessions"
        if sum(1 for c in self._sessions if c.peer == conn.peer) \
                >= self.limits.max_sessions_per_address:
            return f"address {conn.peer} has {self.limits.max_sessions_per_address} sessions"
        return None

    def leave(self, conn: Connection) -> None:
        with self._lock:
            self._pending.pop(conn, None)
            self._sessions.discard(conn)

    @property
    def unauthenticated(self) -> int:
        with self._lock:
            return len(self._pending)

    @property
    def sessions(self) -> int:
        with self._lock:
            return len(self._sessions)
