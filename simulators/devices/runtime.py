"""A device model behind a real NETCONF server, and the one ticker that drives them all.

Each `SimDevice` owns an `NmdaStore` of its kind's schema (the libyang context is shared
by every device of that kind) and a `NetconfServer` on its own port.  The model reads the
store's running configuration whenever its version changes, and its ``config false``
state is written into the store on every tick, so NETCONF clients see physics in
``<get>`` / ``<get-data>`` of ``ietf-datastores:operational``.  Notifications the model
raises are validated against the device's YANG (libyang parses them) and published on the
RFC 5277 NETCONF stream.

One `Ticker` thread advances every device; hundreds of per-device timer threads would
cost memory and make cross-device physics (a cut seen by both ends) tick out of step.

A reboot (`SimDevice.restart`, also the power-up after a crash) behaves like a device
with a startup datastore — the emulated servers advertise :startup — per RFC 6241 §8.7:
everything volatile is gone (sessions, locks, candidate, a pending confirmed commit, whose
configuration the reboot does not keep, §8.4.1) and running is loaded from startup, or
from the factory configuration when nothing was ever saved there. A manager that never
copies running to startup therefore finds the device back without its configuration and
must push it again (the controller does: controller/service/device_restart.py).
"""

from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import libyang
import structlog
from lxml import etree

from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.schema import Schema
from controller.datastore.tree import WithDefaults
from controller.errors import ErrorTag, NetconfError
from controller.periodic import PeriodicTask
from simulators.clock import Clock
from simulators.devices.base import DeviceModel, Json, Notification

log = structlog.get_logger(__name__)

YANG_NS = "urn:ietf:params:xml:ns:yang:1"
NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
HISTORY = 256
#: What a stall can hold: the rpcs a device answers, by local name, plus
#: "confirming-commit" — a <commit> with <persist-id> and without <confirmed> (RFC 6241
#: §8.4.4), told apart from the <commit> that starts a confirmed commit.
STALLABLE = frozenset({
    "get", "get-config", "edit-config", "copy-config", "delete-config", "lock", "unlock",
    "close-session", "kill-session", "commit", "confirming-commit", "cancel-commit",
    "discard-changes", "validate", "get-data", "edit-data", "get-schema",
    "create-subscription", "action"})


class Server(Protocol):
    """What the runtime needs of `controller.netconf.server.NetconfServer`."""

    port: int

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def publish(self, content: etree._Element, stream: str = ...) -> None: ...


ServerFactory = Callable[["SimDevice", int], Server]


def notification_xml(schema: Schema, note: Notification) -> etree._Element:
    """The notification as an XML element, validated against the device's YANG."""
    node = schema.ctx.parse_op("json", libyang.IOType.MEMORY, json.dumps(note.rfc7951()),
                               libyang.DataType.NOTIF_YANG)
    try:
        text = node.print_mem("xml")
    finally:
        node.free()
    return etree.fromstring(text)


def netconf_factory(users: Mapping[str, str], host: str = "127.0.0.1") -> ServerFactory:
    """Servers for emulated devices: password users, no NACM, the device's actions, and
    every rpc passing the device's stall gate."""
    from controller.netconf.server import NetconfServer

    def make(device: SimDevice, port: int) -> Server:
        server = NetconfServer(device.store, host=host, port=port, users=dict(users),
                               nacm=False, name=device.node_id,
                               extra_rpcs={f"{{{YANG_NS}}}action": device.action_handler})
        server.core.rpc_gate = device.rpc_gate
        return server

    return make


def rpc_name(op: etree._Element) -> str:
    """The operation's local name, "confirming-commit" for a confirming <commit>."""
    name = str(etree.QName(op).localname)
    if name == "commit" and op.find(f"{{{NC_NS}}}persist-id") is not None \
            and op.find(f"{{{NC_NS}}}confirmed") is None:
        return "confirming-commit"
    return name


class Stall:
    """A management-plane stall: matching rpcs are held `seconds` (wall) before they run,
    or until the stall is cleared. They do run afterwards, as on a busy device: a lock
    asked for by a client that gave up waiting is still granted to its session."""

    def __init__(self, seconds: float, operations: frozenset[str] | None) -> None:
        self.seconds = seconds
        self.operations = operations
        self.held = 0                       # rpcs held so far (tests wait on it)
        self._released = threading.Event()

    def matches(self, op: etree._Element) -> bool:
        return self.operations is None or rpc_name(op) in self.operations

    def hold(self) -> None:
        self.held += 1
        self._released.wait(self.seconds)

    def release(self) -> None:
        self._released.set()


class SimDevice:
    """One emulated device: model + datastore + (optionally) its NETCONF server."""

    def __init__(self, model: DeviceModel, store: NmdaStore, *, port: int = 0,
                 server_factory: ServerFactory | None = None) -> None:
        self.model = model
        self.store = store
        self.port = port
        self._factory = server_factory
        self.server: Server | None = None
        self.crashed = False
        #: the management plane is lost (session-loss fault): no NETCONF server, while the
        #: device itself keeps running its configuration and physics
        self.session_lost = False
        self.lock = threading.RLock()  # one tick, fault or action at a time
        self.history: collections.deque[Notification] = collections.deque(maxlen=HISTORY)
        self._seen_running = -1
        self._running_changed_at: float | None = None
        self._booted = False
        self.stalled: Stall | None = None
        store.listeners.append(self._on_change)

    @property
    def node_id(self) -> str:
        return self.model.node_id

    @property
    def kind(self) -> str:
        return self.model.kind

    @property
    def clock(self) -> Clock:
        return self.model.clock

    # -- life cycle ----------------------------------------------------------------------

    def boot(self) -> None:
        """Load the factory configuration (identity, hardware facts) into running."""
        with self.lock:
            if not self._booted:
                self.store.edit_json(Datastore.RUNNING, self.model.factory_config())
                self._booted = True
            self.tick(self.clock.now())

    def start(self) -> None:
        self.boot()
        self._serve()

    def _serve(self) -> None:
        if self._factory is None:
            return
        server = self._factory(self, self.port)
        server.start()
        self.server, self.port = server, server.port

    def stop(self) -> None:
        with self.lock:
            server, self.server = self.server, None
        if server is not None:
            server.stop()

    def crash(self) -> None:
        """Power loss: the server stops answering and the physics stops being served."""
        with self.lock:
            self.crashed = True
            self.model.world.set_down(self.node_id, True)
        self.stop()

    def restart(self) -> None:
        """Power back (or a reboot of a live device): every session drops, the boot loads
        running from startup (or the factory configuration; module docstring), physics
        restarts and the server comes back."""
        if not self.crashed:
            self.stop()
        self.unstall()      # a reboot ends a stall ...
        with self.lock:
            self.crashed = False
            self.session_lost = False       # ... and a lost management plane
            self._reboot_store()
            self.model.world.set_down(self.node_id, False)
            now = self.clock.now()
            self._emit(self.model.restart(now))
            self.tick(now)
            self._serve()

    def _reboot_store(self) -> None:
        """A fresh datastore as a boot leaves it: running := startup if anything was saved
        there, else the factory configuration (RFC 6241 §8.7)."""
        old = self.store
        saved = old.get(Datastore.STARTUP).strip()
        if self._on_change in old.listeners:
            old.listeners.remove(self._on_change)
        old.close()         # a pending confirmed commit ends with the boot, timer included
        store = NmdaStore(old.schema)
        if saved and saved != "{}":
            store.copy(Datastore.STARTUP, content=saved)
            store.copy(Datastore.RUNNING, content=saved)
        else:
            store.edit_json(Datastore.RUNNING, self.model.factory_config())
        store.listeners.append(self._on_change)
        self.store = store
        self._seen_running, self._running_changed_at = -1, None   # the next tick applies it

    def lose_sessions(self) -> None:
        """The management plane fails (its network or the NETCONF server): every session
        drops and new ones are refused until `restore_sessions`, while the device keeps
        running its configuration and physics — unlike `crash`, its neighbours see nothing
        wrong."""
        with self.lock:
            self.session_lost = True
        self.stop()

    def restore_sessions(self) -> None:
        """The management plane answers again on the same port (nothing else changed)."""
        with self.lock:
            if not self.session_lost:
                return
            self.session_lost = False
            if not self.crashed and self.server is None:
                self._serve()

    # -- the tick ------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        with self.lock:
            if self.crashed:
                self.model.tick_down(now)
                return
            notes = self._sync_config(now)
            notes.extend(self.model.tick(now))
            self._push_state(now)
            self._emit(notes)

    def _on_change(self, ds: Datastore, ops: object, session_id: int) -> None:
        # Called inside the store's commit; only note the time (taking the device lock
        # here could deadlock with a tick waiting for the store) and apply on the next tick.
        # Until then the device says it is not stable: a status computed before the new
        # configuration must not read as "settled with it" (the controller waits on it).
        if ds is not Datastore.RUNNING:
            return
        if self._running_changed_at is None:
            self._running_changed_at = self.clock.now()
        if self.model.configured:
            try:
                self.store.merge_state(json.dumps(
                    {self.model.qname: {"status": {"stable": False}}}))
            except Exception as exc:  # state is best effort; the next tick rewrites it
                log.warning("could not mark the device unsettled", device=self.node_id,
                            error=str(exc))

    def _sync_config(self, now: float) -> list[Notification]:
        version = self.store.versions[Datastore.RUNNING]
        if version == self._seen_running:
            return []
        self._seen_running = version
        changed_at, self._running_changed_at = self._running_changed_at, None
        text = self.store.get(Datastore.RUNNING, with_defaults=WithDefaults.REPORT_ALL)
        data = json.loads(text) if text.strip() else {}
        return self.model.apply_config(data, now if changed_at is None else min(changed_at, now))

    def _push_state(self, now: float) -> None:
        text = json.dumps(self.model.state(now))
        self.store.replace_state(f"/{self.model.qname}", text)

    def _emit(self, notes: Iterable[Notification]) -> None:
        for note in notes:
            self.history.append(note)
            server = self.server
            if server is None:
                continue
            try:
                server.publish(notification_xml(self.store.schema, note))
            except libyang.LibyangError:
                log.exception("invalid notification", device=self.node_id,
                              notification=note.rfc7951())

    # -- management-plane hooks ----------------------------------------------------------

    def stall(self, seconds: float, operations: Iterable[str] | None = None) -> Stall:
        """From now on, hold every matching rpc (`STALLABLE` names; all when None) for
        `seconds` before it runs, until `unstall`."""
        names = None if operations is None else frozenset(operations)
        unknown = sorted((names or frozenset()) - STALLABLE)
        if unknown:
            raise ValueError(f"cannot stall {', '.join(unknown)}: not an rpc of the device")
        self.unstall()
        self.stalled = Stall(seconds, names)
        return self.stalled

    def unstall(self) -> None:
        """End the stall; rpcs held now run at once."""
        stall, self.stalled = self.stalled, None
        if stall is not None:
            stall.release()

    def rpc_gate(self, op: etree._Element) -> None:
        """The NETCONF server's rpc gate (ServerCore.rpc_gate): where a stall holds rpcs.
        Runs on the session's thread, without the device lock (a held rpc must not stop
        the physics)."""
        stall = self.stalled
        if stall is not None and stall.matches(op):
            stall.hold()

    def edit_out_of_band(self, data: Json) -> None:
        """A change made on the device itself (craft terminal), not by the controller."""
        with self.lock:
            result = self.store.edit_json(Datastore.RUNNING, data)
            if result.errors:
                raise NetconfError(tuple(result.errors))
            self.tick(self.clock.now())

    def action_handler(self, session: Any, rpc: etree._Element) -> list[etree._Element]:
        """RFC 7950 §7.15 <action>: the data tree from the top container to the action with
        its input; the model runs it (``DeviceModel.action``) and its output leaves form the
        reply. Anything the model has no action for is operation-not-supported."""
        spec = self.model.spec
        target = rpc[0] if len(rpc) else None
        action = target[0] if target is not None and len(target) else None
        output: Json | None = None
        if (target is not None and action is not None and isinstance(action.tag, str)
                and target.tag == f"{{{spec.namespace}}}{spec.top}"
                and etree.QName(action).namespace == spec.namespace):
            inputs: dict[str, str] = {}
            for leaf in action:
                if isinstance(leaf.tag, str):
                    inputs.setdefault(etree.QName(leaf).localname, leaf.text or "")
            with self.lock:
                output = self.model.action(etree.QName(action).localname, inputs,
                                           self.clock.now())
                if output is not None:
                    self.tick(self.clock.now())
        if output is None:
            raise NetconfError.of(ErrorTag.OPERATION_NOT_SUPPORTED,
                                  "no such action on this device")
        out: list[etree._Element] = []
        for name, value in output.items():
            leaf = etree.Element(f"{{{spec.namespace}}}{name}", nsmap={None: spec.namespace})
            leaf.text = str(value)
            out.append(leaf)
        return out


class Ticker:
    """One thread advancing every device every ``period`` wall-clock seconds (a fixed
    rate: a slow tick shortens the wait after it, so simulated physics keeps pace)."""

    def __init__(self, clock: Clock, devices: Sequence[SimDevice] = (),
                 period: float = 1.0) -> None:
        self.clock = clock
        self.devices = list(devices)
        self.ticks = 0
        self.last_duration = 0.0
        self._loop = PeriodicTask("sim-ticker", self._timed_tick, period,
                                  run_immediately=True, fixed_rate=True)

    @property
    def period(self) -> float:
        return self._loop.interval_s or 0.0

    @period.setter
    def period(self, seconds: float) -> None:
        self._loop.interval_s = seconds

    def tick_once(self) -> None:
        now = self.clock.now()
        for device in list(self.devices):
            try:
                device.tick(now)
            except Exception:  # one broken device must not stop the others' physics
                log.exception("device tick failed", device=device.node_id)
        self.ticks += 1

    def _timed_tick(self) -> None:
        started = time.monotonic()
        self.tick_once()
        self.last_duration = time.monotonic() - started

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop(timeout=10)
