"""Brute-force protection shared by every northbound (SSH, RESTCONF, gRPC).

Failures are counted per (user, client address): after `max_failures` the pair is locked
out for `backoff_s`, doubling with each further lockout up to `backoff_max_s`, until a
success resets it. A locked-out pair is refused before its secret is looked at, so the
attacker learns nothing and pays nothing; other addresses (the real operator) and other
users are unaffected. One guard object serves all interfaces, so guesses spread over
SSH, RESTCONF and gRPC add up.

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

log = structlog.get_logger(__name__)

#: (user, peer address, interface) of the pair that was locked out / released
LockoutHook = Callable[[str, str, str], None]
_MAX_TRACKED = 10_000  # pairs remembered; beyond that unlocked entries are forgotten


class LockoutSettings(BaseModel):
    """Brute-force limits (config: netconf.auth.lockout)."""

    model_config = ConfigDict(extra="forbid")

    max_failures: int = Field(default=5, ge=1,
                              description="consecutive failures of one user from one "
                                          "address before it is locked out")
    backoff_s: float = Field(default=30.0, gt=0, description="first lockout")
    backoff_max_s: float = Field(default=3600.0, gt=0,
                                 description="cap of the doubling lockout")


@dataclass
class _Pair:
    failures: int = 0
    lockouts: int = 0
    locked_until: float = 0.0
    timer: threading.Timer | None = None
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

    def locked(self, user: str, peer: str, interface: str) -> bool:
        """True while (user, peer) is locked out; logs the refused attempt."""
        with self._lock:
            pair = self._pairs.get((user, peer))
            remaining = pair.locked_until - self._clock() if pair is not None else 0.0
        if remaining <= 0:
            return False
        log.warning("authentication failed", user=user, peer=peer, interface=interface,
                    reason="locked out", retry_after_s=round(remaining, 1))
        return True

    def failure(self, user: str, peer: str, interface: str) -> None:
        """A wrong secret (or an unknown user): one audit line; a lockout at the limit."""
        s = self.settings
        with self._lock:
            pair = self._pairs.get((user, peer))
            if pair is None:
                self._forget_some()
                pair = self._pairs[(user, peer)] = _Pair()
            pair.failures += 1
            pair.interface = interface
            # After a first lockout one more failure locks again (doubled): an attacker
            # gets max_failures guesses, then one per back-off period.
            lock_now = pair.failures >= s.max_failures or (pair.lockouts and
                                                           pair.locked_until > 0)
            duration = 0.0
            if lock_now:
                duration = min(s.backoff_s * 2 ** pair.lockouts, s.backoff_max_s)
                pair.lockouts += 1
                pair.failures = 0
                pair.locked_until = self._clock() + duration
                self._arm(user, peer, pair, duration)
            failures = pair.failures
        log.warning("authentication failed", user=user, peer=peer, interface=interface,
                    failures=failures if not lock_now else s.max_failures)
        if lock_now:
            log.warning("authentication locked out", user=user, peer=peer,
                        interface=interface, lockout_s=duration)
            if self.on_lockout is not None:
                self._call(self.on_lockout, user, peer, interface)

    def success(self, user: str, peer: str) -> None:
        """The right secret: the pair's history is forgotten."""
        with self._lock:
            pair = self._pairs.pop((user, peer), None)
        if pair is not None and pair.timer is not None:
            pair.timer.cancel()

    def close(self) -> None:
        """Stop the expiry timers (daemon shutdown)."""
        with self._lock:
            self._closed = True
            timers = [p.timer for p in self._pairs.values() if p.timer is not None]
        for timer in timers:
            timer.cancel()

    # -- internals ---------------------------------------------------------------------------

    def _arm(self, user: str, peer: str, pair: _Pair, duration: float) -> None:
        """Lock held. A timer releases the lockout (and clears its alarm) on time even
        when nobody tries again."""
        if pair.timer is not None:
            pair.timer.cancel()
        if self._closed:
            return
        timer = threading.Timer(duration, self._expire, args=(user, peer))
        timer.daemon = True
        timer.name = "auth-lockout-expiry"
        pair.timer = timer
        timer.start()

    def _expire(self, user: str, peer: str) -> None:
        with self._lock:
            pair = self._pairs.get((user, peer))
            if pair is None or pair.locked_until > self._clock() + 0.001:
                return
            pair.timer = None
            # keep lockouts (the next failure locks for twice as long) until a success
            interface = pair.interface
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
