"""One long-lived session per device, shared by every controller task.

Sessions reconnect with exponential backoff and full jitter (so a fleet that lost its
management network does not reconnect in lock-step), are kept alive by a periodic cheap
RPC, and are used by at most `per_device_limit` tasks at once. Connection and sync states
are published to listeners (the controller mirrors them into <operational>).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import structlog

from controller.periodic import PeriodicTask
from southbound.adapter import AdapterError, DeviceAdapter, load_adapters
from southbound.model import ConnectionState, DeviceEndpoint, SyncState

log = structlog.get_logger(__name__)

StateListener = Callable[[str, ConnectionState, SyncState, str | None], None]


@dataclass
class Backoff:
    """Exponential backoff with full jitter (AWS architecture blog, 2015)."""

    base_s: float = 0.05
    cap_s: float = 30.0
    attempt: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self) -> float:
        ceiling = min(self.cap_s, self.base_s * (2 ** self.attempt))
        self.attempt += 1
        return self.rng.uniform(0, ceiling)

    def reset(self) -> None:
        self.attempt = 0


@dataclass
class DeviceSlot:
    endpoint: DeviceEndpoint
    adapter: DeviceAdapter
    semaphore: threading.BoundedSemaphore
    lock: threading.Lock = field(default_factory=threading.Lock)
    state: ConnectionState = ConnectionState.DISCONNECTED
    sync: SyncState = SyncState.UNKNOWN
    last_error: str | None = None
    backoff: Backoff = field(default_factory=Backoff)
    retry_at: float = 0.0


class SessionPool:
    def __init__(self, endpoints: Sequence[DeviceEndpoint], *, per_device_limit: int = 1,
                 timeout: float = 30.0, keepalive_s: float = 30.0,
                 adapters: dict[str, type[DeviceAdapter]] | None = None) -> None:
        registry = adapters if adapters is not None else load_adapters()
        self._registry = registry
        self._per_device_limit = per_device_limit
        self.timeout = timeout
        self._keeper = PeriodicTask("southbound-keepalive", self._keepalive_round, keepalive_s)
        self.listeners: list[StateListener] = []
        self._slots: dict[str, DeviceSlot] = {}
        for ep in endpoints:
            self._slots[ep.node_id] = self._new_slot(ep)

    def _new_slot(self, ep: DeviceEndpoint) -> DeviceSlot:
        if ep.adapter not in self._registry:
            raise ValueError(f"device {ep.node_id}: no adapter named {ep.adapter!r} "
                             f"(known: {', '.join(sorted(self._registry))})")
        return DeviceSlot(endpoint=ep, adapter=self._registry[ep.adapter](ep,
                                                                          timeout=self.timeout),
                          semaphore=threading.BoundedSemaphore(self._per_device_limit))

    def update(self, endpoints: Sequence[DeviceEndpoint]) -> None:
        """Follow the inventory: add new devices, drop removed ones, and re-create those
        whose endpoint changed (address, port, adapter, credentials)."""
        wanted = {ep.node_id: ep for ep in endpoints}
        for node in [n for n in self._slots if n not in wanted
                     or self._slots[n].endpoint != wanted[n]]:
            slot = self._slots.pop(node)
            with slot.lock:
                slot.adapter.close()
        for node, ep in wanted.items():
            if node not in self._slots:
                self._slots[node] = self._new_slot(ep)
                self._publish(self._slots[node])

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def keepalive_s(self) -> float:
        """Seconds between keep-alive rounds (a change applies to the running loop)."""
        return self._keeper.interval_s or 0.0

    @keepalive_s.setter
    def keepalive_s(self, seconds: float) -> None:
        self._keeper.interval_s = seconds

    def start_keepalive(self) -> None:
        self._keeper.start()

    def close(self) -> None:
        # Closing the sessions ends a keep-alive in progress; close does not wait for it.
        self._keeper.stop(timeout=0)
        for slot in self._slots.values():
            with slot.lock:
                slot.adapter.close()
                self._set(slot, ConnectionState.DISCONNECTED)

    @property
    def node_ids(self) -> list[str]:
        return list(self._slots)

    def endpoint(self, node_id: str) -> DeviceEndpoint:
        return self._slot(node_id).endpoint

    def new_adapter(self, node_id: str) -> DeviceAdapter:
        """A separate, unpooled adapter to the device, for a long-lived stream (RFC 5277:
        a session that subscribed to notifications is not shared with RPC users)."""
        ep = self.endpoint(node_id)
        return self._registry[ep.adapter](ep, timeout=self.timeout)

    def state(self, node_id: str) -> tuple[ConnectionState, SyncState, str | None]:
        slot = self._slot(node_id)
        return slot.state, slot.sync, slot.last_error

    def set_sync(self, node_id: str, sync: SyncState) -> None:
        slot = self._slot(node_id)
        slot.sync = sync
        self._publish(slot)

    # -- use --------------------------------------------------------------------------------
    @contextmanager
    def session(self, node_id: str, *, wait_s: float | None = None) -> Iterator[DeviceAdapter]:
        """A connected adapter for exclusive use (within the per-device limit)."""
        slot = self._slot(node_id)
        if not slot.semaphore.acquire(timeout=wait_s if wait_s is not None else self.timeout):
            raise AdapterError(f"{node_id}: busy (per-device limit reached)",
                               tag="in-use", node_id=node_id)
        try:
            self._ensure_connected(slot, honour_backoff=False)
            try:
                yield slot.adapter
            except AdapterError as exc:
                if exc.tag == "resource-denied" or not slot.adapter.connected:
                    self._lost(slot, str(exc))
                raise
            if not slot.adapter.connected and slot.state is ConnectionState.CONNECTED:
                # dropped inside (an rpc timed out) by a user that handled the error
                self._lost(slot, slot.last_error or "session dropped after a timeout")
        finally:
            slot.semaphore.release()

    def revive(self, node_id: str) -> DeviceAdapter:
        """For the holder of `session(node_id)` whose adapter dropped its session (an rpc
        timed out): connect it again, still inside that exclusive use."""
        slot = self._slot(node_id)
        self._ensure_connected(slot, honour_backoff=False)
        return slot.adapter

    def connect_all(self) -> dict[str, str | None]:
        """Try every device once in parallel; returns node → error (None if connected)."""
        results: dict[str, str | None] = {}
        threads = [threading.Thread(target=self._try_connect, args=(slot, results))
                   for slot in self._slots.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results

    # -- internals ----------------------------------------------------------------------------
    def _slot(self, node_id: str) -> DeviceSlot:
        try:
            return self._slots[node_id]
        except KeyError:
            raise AdapterError(f"unknown device {node_id!r}", tag="invalid-value",
                               node_id=node_id) from None

    def _try_connect(self, slot: DeviceSlot, results: dict[str, str | None]) -> None:
        try:
            self._ensure_connected(slot, honour_backoff=False)
            results[slot.endpoint.node_id] = None
        except AdapterError as exc:
            results[slot.endpoint.node_id] = str(exc)

    def _ensure_connected(self, slot: DeviceSlot, *, honour_backoff: bool) -> None:
        with slot.lock:
            if slot.adapter.connected:
                return
            if honour_backoff and time.monotonic() < slot.retry_at:
                raise AdapterError(f"{slot.endpoint.node_id}: unreachable (retrying later)",
                                   tag="resource-denied", node_id=slot.endpoint.node_id)
            self._set(slot, ConnectionState.CONNECTING)
            try:
                slot.adapter.open()
            except AdapterError as exc:
                slot.last_error = str(exc)
                slot.retry_at = time.monotonic() + slot.backoff.next_delay()
                self._set(slot, ConnectionState.UNREACHABLE)
                raise
            slot.backoff.reset()
            slot.last_error = None
            self._set(slot, ConnectionState.CONNECTED)

    def _lost(self, slot: DeviceSlot, reason: str) -> None:
        with slot.lock:
            slot.adapter.close()
            slot.last_error = reason
            slot.retry_at = time.monotonic() + slot.backoff.next_delay()
            self._set(slot, ConnectionState.UNREACHABLE)
        log.warning("device session lost", device=slot.endpoint.node_id, reason=reason)

    def _keepalive_round(self) -> None:
        for slot in list(self._slots.values()):
            if self._keeper.stopping:
                return
            if not slot.semaphore.acquire(blocking=False):
                continue  # in use: that is proof of life enough
            try:
                self._ensure_connected(slot, honour_backoff=True)
                slot.adapter.keepalive()
            except AdapterError as exc:
                if slot.state is ConnectionState.CONNECTED:
                    self._lost(slot, str(exc))
            finally:
                slot.semaphore.release()

    def _set(self, slot: DeviceSlot, state: ConnectionState) -> None:
        if slot.state is state:
            return
        slot.state = state
        self._publish(slot)

    def _publish(self, slot: DeviceSlot) -> None:
        for listener in self.listeners:
            listener(slot.endpoint.node_id, slot.state, slot.sync, slot.last_error)
