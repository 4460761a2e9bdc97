"""Device notifications into the controller: one subscription per managed device.

Faults must reach the controller in milliseconds, not at the next poll, so every managed
device gets its own long-lived session with an RFC 5277 subscription (a subscribed session
is not shared with RPC users, so it is a separate adapter, not a pooled one). A stream that
breaks (device crashed, restarted) is re-established with backoff; the break itself is an
event too (`on_stream(node, up)`), which is how the controller notices a device vanishing
between telemetry rounds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog

from controller.periodic import PeriodicTask
from southbound.adapter import AdapterError, DeviceAdapter
from southbound.pool import Backoff, SessionPool

log = structlog.get_logger(__name__)

NotificationHandler = Callable[[str, str], None]     # node, <notification> XML
StreamHandler = Callable[[str, bool], None]          # node, stream up?


class DeviceEventStream:
    def __init__(self, pool: SessionPool, on_notification: NotificationHandler, *,
                 on_stream: StreamHandler | None = None, check_s: float = 0.5) -> None:
        self.pool = pool
        self.on_notification = on_notification
        self.on_stream = on_stream
        self._adapters: dict[str, DeviceAdapter] = {}
        self._retry_at: dict[str, float] = {}
        self._backoff: dict[str, Backoff] = {}
        self._lock = threading.Lock()
        self._loop = PeriodicTask("device-events", self._check, check_s, run_immediately=True)

    @property
    def check_s(self) -> float:
        """Seconds between checks of every stream (a change applies at once)."""
        return self._loop.interval_s or 0.0

    @check_s.setter
    def check_s(self, seconds: float) -> None:
        self._loop.interval_s = seconds

    def start(self) -> None:
        self._loop.start()

    def refresh(self) -> None:
        """The inventory changed: (un)subscribe at once instead of at the next check."""
        self._loop.trigger()

    def stop(self) -> None:
        self._loop.stop(timeout=5)
        with self._lock:
            for adapter in self._adapters.values():
                adapter.close()
            self._adapters.clear()

    @property
    def subscribed(self) -> list[str]:
        with self._lock:
            return sorted(n for n, a in self._adapters.items() if a.connected)

    def _check(self) -> None:
        """One pass: drop streams of devices that left, re-subscribe broken ones."""
        wanted = set(self.pool.node_ids)
        with self._lock:
            for node in [n for n in self._adapters if n not in wanted]:
                self._adapters.pop(node).close()
                self._retry_at.pop(node, None)
        for node in sorted(wanted):
            if self._loop.stopping:
                return
            with self._lock:
                adapter = self._adapters.get(node)
            if adapter is not None and adapter.connected:
                continue
            if adapter is not None:      # the stream broke: the device went away
                with self._lock:
                    self._adapters.pop(node, None)
                adapter.close()
                self._notify_stream(node, False)
            if time.monotonic() < self._retry_at.get(node, 0.0):
                continue
            self._subscribe(node)

    def _subscribe(self, node: str) -> None:
        backoff = self._backoff.setdefault(node, Backoff(base_s=0.2, cap_s=10.0))
        try:
            adapter = self.pool.new_adapter(node)
            adapter.open()
            adapter.subscribe(lambda xml: self._deliver(node, xml))
        except (AdapterError, OSError) as exc:
            self._retry_at[node] = time.monotonic() + backoff.next_delay()
            log.debug("device notifications: subscribe failed", device=node, error=str(exc))
            return
        except Exception as exc:  # an unknown device disappeared from the pool meanwhile
            log.warning("device notifications: not subscribed", device=node, error=str(exc))
            return
        backoff.reset()
        with self._lock:
            self._adapters[node] = adapter
        self._notify_stream(node, True)

    def _deliver(self, node: str, xml: str) -> None:
        try:
            self.on_notification(node, xml)
        except Exception as exc:  # one bad handler call must not end the subscription
            log.error("device notification handler failed", device=node, error=str(exc))

    def _notify_stream(self, node: str, up: bool) -> None:
        if self.on_stream is None:
            return
        try:
            self.on_stream(node, up)
        except Exception as exc:
            log.error("device stream handler failed", device=node, error=str(exc))
