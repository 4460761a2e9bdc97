"""Per-user token buckets for expensive requests (what-if solves on every northbound).

A what-if solve (sdqn-controller:dry-run, gRPC WhatIf) runs the optimiser for up to its
time limit; any user with exec access could otherwise keep the CPUs busy. Each user has
a bucket of `burst` tokens refilled at `per_minute`; an empty bucket refuses the request
with resource-denied (RFC 6241 Appendix A; RESOURCE_EXHAUSTED on gRPC), which changes
nothing and can simply be retried later.
"""

from __future__ import annotations

import threading
import time

from pydantic import BaseModel, ConfigDict, Field

from controller.errors import ErrorTag, ErrorType, NetconfError


class RateLimit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    per_minute: float = Field(default=30.0, gt=0, description="tokens added per minute")
    burst: int = Field(default=10, ge=1, description="tokens a user can spend at once")


class TokenBuckets:
    """One bucket per user; `take(user)` spends a token or raises resource-denied."""

    def __init__(self, limit: RateLimit, what: str) -> None:
        self.limit = limit
        self.what = what
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # user -> (tokens, when)
        self.refused = 0

    def take(self, user: str) -> None:
        now = time.monotonic()
        rate = self.limit.per_minute / 60.0
        with self._lock:
            tokens, when = self._buckets.get(user, (float(self.limit.burst), now))
            tokens = min(float(self.limit.burst), tokens + (now - when) * rate)
            if tokens < 1.0:
                self._buckets[user] = (tokens, now)
                self.refused += 1
                wait = (1.0 - tokens) / rate
                raise NetconfError.of(
                    ErrorTag.RESOURCE_DENIED,
                    f"too many {self.what} requests: at most {self.limit.per_minute:g} per "
                    f"minute (burst {self.limit.burst}); retry in {wait:.1f} s",
                    type=ErrorType.APPLICATION)
            self._buckets[user] = (tokens - 1.0, now)
