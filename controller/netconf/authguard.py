"""Brute-force protection shared by every northbound (SSH, RESTCONF, gRPC).

Failures are counted per (user, client address): after `max_failures` the pair is locked
out for `backoff_s`, doubling with each further lockout up to `backoff_max_s`, until a
success resets it. A locked-out pair is refused before its secret is looked at, so the
attacker learns nothing and pays nothing; other addresses (the real operator) and other
users are unaffected. One guard object serves all interfaces, so guesses spread over
SSH, RESTCONF and gRPC add up. Spraying user names from one address is bounded too: the
failures of all users from one address add up to an address lockout (user `*`) after
`max_address_failures`.

Expiry is one sweeper loop (started at the first lockout), not a timer per pair: an
attacker who locks out thousands of pairs costs entries in a bounded table, not threads.

Server-core layer: the guard knows nothing about alarms. `on_lockout` and `on_release`
callbacks let the application layer raise and clear the `authentication-failures` alarm
(RFC 8632) when a lockout starts and when it expires.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from pydantic import BaseModel, ConfigDict, Field

from controller.periodic import PeriodicTask

log = structlog.get_logger(__name__)

#: (user, peer address, interface) of the pair that was locked out / released
LockoutHook = Callable[[str, str, str], None]
_MAX_TRACKED = 10_000  # pairs remembered; beyond that unlocked entries are forgotten
ANY_USER = "*"         # the user of an address-wide lockout
_SWEEP_S = 0.25        # how late an expired lockout may be released (and its alarm cleared)


class LockoutSettings(BaseModel):
    """Brute-force limits (config: netconf.auth.lockout)."""

    model_config = ConfigDict(extra="forbid")

    max_failures: int = Field(default=5, ge=1,
                              description="consecutive failures of one user from one "
                                          "address before it is locked out")
    backoff_s: float = Field(default=30.0, gt=0, description="first lockout")
    backoff_max_s: float = Field(default=3600.0, gt=0,
                                 description="cap of the doubling lockout")
    max_address_failures: int = Field(default=20, ge=1,
                                      description="failures of any users from one address "
                                                  "before the whole address is locked out")


@dataclass
class _Pair:
    failures: int = 0
    lockouts: int = 0
    locked_until: float = 0.0
    released: bool = False       # the sweeper has released the current lockout
    interface: str = ""


class AuthGuard:
    """Counts authentication failures; thread-safe (SSH, HTTP and gRPC threads)."""

    def __init__(self, settings: LockoutSettings | None = None, *,
                 on_lockout: LockoutHook | None = None,
                 on_release: LockoutHook | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings or LockoutSettings()
        self.on_lockout = on_lockout
        self.on_release = on_release
        self._clock = clock
        self._pairs: dict[tuple[str, str], _Pair] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._sweeper = PeriodicTask("auth-lockout-expiry", self._sweep, _SWEEP_S)
        self._sweeping = False

    def locked(self, user: str, peer: str, interface: str) -> bool:
        """True while (user, peer) is locked out; logs the refused attempt."""
        with self._lock:
            now = self._clock()
            remaining = max((p.locked_until - now for p in (self._pairs.get((user, peer)),
                                                            self._pairs.get((ANY_USER, peer)))
                             if p is not None), default=0.0)
        if remaining <= 0:
            return False
        log.warning("authentication failed", user=user, peer=peer, interface=interface,
                    reason="locked out", retry_after_s=round(remaining, 1))
        return True

    def failure(self, user: str, peer: str, interface: str) -> None:
        """A wrong secret (or an unknown user): one audit line; a lockout at the limit."""
        s = self.settings
        locked: list[tuple[str, float]] = []
        with self._lock:
            for who, limit in ((user, s.max_failures), (ANY_USER, s.max_address_failures)):
                duration = self._count(who, peer, interface, limit)
                if duration:
                    locked.append((who, duration))
            failures = self._pairs[(user, peer)].failures if (user, peer) in self._pairs else 0
            if locked and not self._sweeping and not self._closed:
                self._sweeping = True
                self._sweeper.start()
        log.warning("authentication failed", user=user, peer=peer, interface=interface,
                    failures=failures or s.max_failures)
        for who, duration in locked:
            log.warning("authentication locked out", user=who, peer=peer,
                        interface=interface, lockout_s=duration)
            if self.on_lockout is not None:
                self._call(self.on_lockout, who, peer, interface)

    def _count(self, user: str, peer: str, interface: str, limit: int) -> float:
        """Lock held. One more failure of (user, peer); the lockout's length if it locks."""
        pair = self._pairs.get((user, peer))
        if pair is None:
            self._forget_some()
            pair = self._pairs[(user, peer)] = _Pair()
        pair.failures += 1
        pair.interface = interface
        # After a first lockout one more failure locks again (doubled): an attacker
        # gets `limit` guesses, then one per back-off period.
        if not (pair.failures >= limit or (pair.lockouts and pair.locked_until > 0)):
            return 0.0
        s = self.settings
        duration = float(min(s.backoff_s * 2 ** pair.lockouts, s.backoff_max_s))
        pair.lockouts += 1
        pair.failures = 0
        pair.locked_until = self._clock() + duration
        pair.released = False
        return duration

    def success(self, user: str, peer: str) -> None:
        """The right secret: the pair's history is forgotten (the address's stays)."""
        with self._lock:
            self._pairs.pop((user, peer), None)

    def close(self) -> None:
        """Stop the expiry loop (daemon shutdown)."""
        with self._lock:
            self._closed = True
        self._sweeper.stop(timeout=5)

    # -- internals ---------------------------------------------------------------------------

    def _sweep(self) -> None:
        """Release every lockout whose time is up (and clear its alarm). A released pair
        keeps its lockout count: the next failure locks it for twice as long."""
        released = []
        with self._lock:
            now = self._clock()
            for (user, peer), pair in self._pairs.items():
                if not pair.released and 0 < pair.locked_until <= now:
                    pair.released = True   # lockouts kept until a success
                    released.append((user, peer, pair.interface))
        for user, peer, interface in released:
            log.info("authentication lockout expired", user=user, peer=peer)
            if self.on_release is not None:
                self._call(self.on_release, user, peer, interface)

    def _forget_some(self) -> None:
        """Lock held. Bound the memory an attacker spraying user names can take."""
        if len(self._pairs) < _MAX_TRACKED:
            return
        now = self._clock()
        for key in [k for k, p in self._pairs.items() if p.locked_until <= now]:
            del self._pairs[key]

    @staticmethod
    def _call(hook: LockoutHook, user: str, peer: str, interface: str) -> None:
        try:
            hook(user, peer, interface)
        except Exception:  # an alarm failure must not break logins
            log.exception("authentication lockout hook failed", user=user, peer=peer)
