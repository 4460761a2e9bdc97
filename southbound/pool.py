"""One long-lived session per device, shared by every controller task.

Sessions reconnect with exponential backoff and full jitter (so a fleet that lost its
management network does not reconnect in lock-step), are kept alive by a periodic cheap
RPC, and are used by at most `per_device_limit` tasks at once. Connection and sync states
are published to listeners (the controller mirrors them into <operational>).

The pool also knows which devices of its inventory are out of service
(`southbound.model.Exclusion`): those leave `node_ids`, the list every controller loop
walks (telemetry, check-sync, notifications, pushes). A locked device gets no session at
all, whoever asks; a device not reached yet may still be tried (`connect`, `reachable`).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import structlog

from controller.periodic import PeriodicTask
from southbound.adapter import AdapterError, DeviceAdapter, load_adapters
from southbound.model import ConnectionState, DeviceEndpoint, Exclusion, SyncState

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
        self._excluded: dict[str, Exclusion] = {}
        #: sessions `reachable` opened to devices not in the inventory yet: the slot
        #: `update` creates for the same endpoint takes it over
        self._probed: dict[str, DeviceAdapter] = {}
        self._probe_lock = threading.Lock()
        for ep in endpoints:
            self._slots[ep.node_id] = self._new_slot(ep)

    def _new_slot(self, ep: DeviceEndpoint) -> DeviceSlot:
        if ep.adapter not in self._registry:
            raise ValueError(f"device {ep.node_id}: no adapter named {ep.adapter!r} "
                             f"(known: {', '.join(sorted(self._registry))})")
        with self._probe_lock:
            probed = self._probed.pop(ep.node_id, None)
        if probed is not None and (probed.endpoint != ep or not probed.connected
                                   or self._excluded.get(ep.node_id) is Exclusion.LOCKED):
            probed.close()
            probed = None
        slot = DeviceSlot(endpoint=ep,
                          adapter=probed or self._registry[ep.adapter](ep, timeout=self.timeout),
                          semaphore=threading.BoundedSemaphore(self._per_device_limit))
        if probed is not None:
            slot.state = ConnectionState.CONNECTED
        return slot

    def update(self, endpoints: Sequence[DeviceEndpoint], *,
               excluded: Mapping[str, Exclusion] | None = None) -> None:
        """Follow the inventory: add new devices, drop removed ones, and re-create those
        whose endpoint changed (address, port, adapter, credentials). `excluded` (None:
        unchanged) is set first, so a device that joins locked is never usable."""
        wanted = {ep.node_id: ep for ep in endpoints}
        if excluded is not None:
            self.set_excluded({n: why for n, why in excluded.items() if n in wanted})
        for node in [n for n in self._slots if n not in wanted
                     or self._slots[n].endpoint != wanted[n]]:
            slot = self._slots.pop(node)
            with slot.lock:
                slot.adapter.close()
        for node, ep in wanted.items():
            if node not in self._slots:
                self._slots[node] = self._new_slot(ep)
                self._publish(self._slots[node])
        with self._probe_lock:   # probes of devices the inventory did not take
            stale, self._probed = list(self._probed.values()), {}
        for adapter in stale:
            adapter.close()

    def set_excluded(self, excluded: Mapping[str, Exclusion]) -> None:
        """The devices out of service now, and why (every other one is in service). A
        device that becomes locked has its session closed at once."""
        before, self._excluded = self._excluded, dict(excluded)
        for node in sorted(set(before) | set(excluded)):
            slot = self._slots.get(node)
            if slot is None or before.get(node) == excluded.get(node):
                continue
            if excluded.get(node) is Exclusion.LOCKED:
                with slot.lock:
                    slot.adapter.close()
                    slot.last_error = None
                    slot.state = ConnectionState.DISCONNECTED
            self._publish(slot)

    def exclusion(self, node_id: str) -> Exclusion | None:
        """Why the device is out of service; None when it is in service."""
        return self._excluded.get(node_id)

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
        with self._probe_lock:
            probed, self._probed = list(self._probed.values()), {}
        for adapter in probed:
            adapter.close()

    @property
    def node_ids(self) -> list[str]:
        """The devices in service: what the controller's loops talk to."""
        excluded = self._excluded
        return [n for n in list(self._slots) if n not in excluded]

    @property
    def inventory_ids(self) -> list[str]:
        """Every device of the inventory, in service or not."""
        return list(self._slots)

    def endpoint(self, node_id: str) -> DeviceEndpoint:
        return self._slot(node_id).endpoint

    def new_adapter(self, node_id: str) -> DeviceAdapter:
        """A separate, unpooled adapter to the device, for a long-lived stream (RFC 5277:
        a session that subscribed to notifications is not shared with RPC users)."""
        ep = self.endpoint(node_id)
        self._refuse_locked(node_id)
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
        """Try every device not locked once in parallel; returns node → error (None if
        connected)."""
        results: dict[str, str | None] = {}
        threads = [threading.Thread(target=self._try_connect, args=(slot, results))
                   for node, slot in list(self._slots.items())
                   if self._excluded.get(node) is not Exclusion.LOCKED]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results

    def connect(self, node_id: str) -> str | None:
        """Open the device's session now if it has none; None when it is open, else why
        not (the caller decides when to try again)."""
        try:
            self._ensure_connected(self._slot(node_id), honour_backoff=False)
        except AdapterError as exc:
            return str(exc)
        return None

    def reachable(self, endpoints: Sequence[DeviceEndpoint], *,
                  wait_s: float | None = None) -> dict[str, str | None]:
        """node → None when the device answers, else why not.

        A device the pool holds at that endpoint is judged by its session as it is, never
        waited for (whoever wants it reached keeps trying, with `connect`). Any other
        endpoint (a device joining the inventory, or moved to another address) is tried
        once now, all in parallel, waiting at most `wait_s` (default: the pool's timeout,
        the bound a push's connect has anyway); a session opened here is the one the
        device's slot uses once `update` adds it, and one that opens later still is."""
        out: dict[str, str | None] = {}
        trying: list[DeviceEndpoint] = []
        for ep in endpoints:
            slot = self._slots.get(ep.node_id)
            if slot is None or slot.endpoint != ep:
                trying.append(ep)
            elif self._excluded.get(ep.node_id) is Exclusion.LOCKED:
                out[ep.node_id] = "locked"
            else:
                out[ep.node_id] = None if slot.adapter.connected else (
                    slot.last_error or "not reached yet")
        if not trying:
            return out
        results: dict[str, str | None] = {}
        done = threading.Lock()

        def probe(ep: DeviceEndpoint) -> None:
            error: str | None = None
            cls = self._registry.get(ep.adapter)
            if cls is None:
                error = f"no adapter named {ep.adapter!r}"
            else:
                adapter = cls(ep, timeout=self.timeout)
                try:
                    adapter.open()
                except Exception as exc:   # a plugin may raise anything: unreachable
                    error = str(exc) or type(exc).__name__
                else:
                    with self._probe_lock:
                        old, self._probed[ep.node_id] = self._probed.get(ep.node_id), adapter
                    if old is not None:
                        old.close()
            with done:
                results[ep.node_id] = error

        wait = self.timeout if wait_s is None else wait_s
        threads = [threading.Thread(target=probe, args=(ep,), daemon=True,
                                    name=f"probe-{ep.node_id}") for ep in trying]
        for t in threads:
            t.start()
        deadline = time.monotonic() + wait
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        with done:
            for ep in trying:
                out[ep.node_id] = results.get(ep.node_id, f"no answer within {wait:g} s")
        return out

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

    def _refuse_locked(self, node_id: str) -> None:
        if self._excluded.get(node_id) is Exclusion.LOCKED:
            raise AdapterError(f"{node_id}: locked (admin-state): no session is opened to it",
                               tag="access-denied", node_id=node_id)

    def _ensure_connected(self, slot: DeviceSlot, *, honour_backoff: bool) -> None:
        with slot.lock:
            self._refuse_locked(slot.endpoint.node_id)
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
        for node, slot in list(self._slots.items()):
            if self._keeper.stopping:
                return
            if node in self._excluded:
                continue
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
