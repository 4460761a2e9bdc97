"""Out-of-band changes on devices: found by check-sync, then reverted or imported by policy.

Management is the master (controller/README.md, "Operational facts"): a change made on a device
behind the controller's back must be detected and either reverted or imported, per
device policy (``sdqn-controller`` ``policies/out-of-band``), with an alarm either way.
:class:`southbound.sync.SyncManager` does the device side (diff with the device's schema,
sync-to, sync-from); this module binds it to the datastores:

* *intended* of a device is its ``configuration`` in <intended>
  (``/sdqn-controller:controller/devices/device``), as device XML;
* *policy* is read from <running> on every round, so an operator's change applies at once;
* *import* writes the device's configuration into <running> as an operator *pin* at
  ``devices/device[node-id]`` (kind + configuration, RFC 7951 JSON of the device's own
  module), which the expansion uses verbatim instead of the rendered document until an
  operator deletes it.  The write is an ordinary commit of running (expansion + push), so
  it is validated, atomic and journalled like any other; the push is a no-op for the
  device, which already runs that configuration.

Detection does not wait for the next round: a device's RFC 6470 ``netconf-config-change``
notification (§2.2) whose ``changed-by`` is not the controller's own account on that
device (a craft-terminal change says ``server`` or another user) makes the guard check
that device at once (:meth:`OutOfBandGuard.on_notification`). The periodic round stays
as the safety net for a lost notification or a technician using the controller's account.

The listener (:attr:`OutOfBandGuard.on_event`) gets one :class:`OutOfBandEvent` per
handled change; the service manager raises the alarm from it (RFC 8632).

Concurrency: a commit holds the store lock while it waits for device sessions, so a
round never holds the store lock while it talks to a device.  Instead each device is
checked against the intended configuration *as of one datastore version*; if a commit
moves <intended> before the round acts, the round does nothing for that device (the
next round checks it against the new intent) rather than revert a device to a
configuration the controller no longer intends, or pin a freshly pushed one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from lxml import etree

from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.schema import Schema
from controller.datastore.tree import Forest
from controller.errors import NetconfError
from controller.netconf.xml import NCN_NS
from controller.periodic import PeriodicTask
from controller.service.expansion import DEVICES_PATH
from controller.service.render import device_config_xml
from southbound.commit import NetworkCommit
from southbound.diff import ConfigDiffer
from southbound.kinds import kind_spec
from southbound.model import CommitResult, SyncState
from southbound.pool import SessionPool
from southbound.sync import SyncManager, SyncPolicy, SyncReport

log = structlog.get_logger(__name__)

CONTROLLER = "sdqn-controller:controller"
POLICY_PATH = f"/{CONTROLLER}/policies/out-of-band"
#: sdqn-controller ``default-action`` default, for a running without any policy.
DEFAULT_ACTION = SyncPolicy.REVERT
SYSTEM_SESSION = 0


@dataclass(frozen=True)
class OutOfBandEvent:
    """One out-of-band change and what the controller did about it.

    ``changes`` are the diff entries (``{operation, path, value?, previous?}``, as
    ``NmdaStore.diff``) that turn the device's configuration into the intended one: a
    replace has the intended value and the device's as "previous", a delete the device's
    value the intent does not have.
    """

    node_id: str
    action: SyncPolicy
    changes: list[dict[str, Any]]
    readable: str
    success: bool
    error: str | None = None


class ImportRefused(ValueError):
    """The device's configuration cannot become the controller's intent for it."""


class _IntentMoved(Exception):
    """<intended> changed while a device was being checked: decide in the next round."""


class _Rebooted(Exception):
    """The device differs because it rebooted, not because someone changed it: the
    restart watch (controller/service/device_restart.py) restores it."""


@dataclass(frozen=True)
class _Intent:
    """What <intended> said for one device at one datastore version."""

    version: int
    kind: str
    xml: str


class DeviceSchemas(ConfigDiffer):
    """Device schemas for diffs and imports.

    Device modules take identities (e.g. ``application``) from ``sdqn-types``; libyang 2
    refuses an identityref value whose identity sits in a module that is only imported,
    so every context implements it, as the devices themselves do.
    """

    def schema(self, modules: Sequence[str]) -> Schema:
        return super().schema(tuple(dict.fromkeys(("sdqn-types", *modules))))

    def document(self, xml: str, modules: Sequence[str]) -> dict[str, Any]:
        """XML configuration as RFC 7951 JSON, strictly validated (NetconfError if not)."""
        schema = self.schema(modules)
        with self._lock:  # one libyang context is not safe for concurrent use
            forest = Forest.parse(schema, xml, "xml")
            try:
                return forest.to_dict()
            finally:
                forest.free()


class OutOfBandGuard:
    def __init__(self, store: NmdaStore, pool: SessionPool, committer: NetworkCommit, *,
                 on_event: Callable[[OutOfBandEvent], None] | None = None) -> None:
        self.store = store
        self.pool = pool
        self.on_event = on_event
        self.schemas = DeviceSchemas()
        self.sync = SyncManager(pool, committer, intended=self.intended_xml,
                                policy=self._decide, importer=self._import,
                                differ=self.schemas)
        self.sync.listeners.append(self._handled)
        self._round_lock = threading.Lock()
        self._local = threading.local()     # the round in progress on this thread
        self._loop = PeriodicTask("out-of-band-guard", self.run_once, None)
        self._urgent: set[str] = set()
        self._urgent_lock = threading.Lock()
        self._urgent_worker = PeriodicTask("out-of-band-check", self._check_urgent, None)
        #: asked about a device found out of sync before it is treated as changed out of
        #: band: True when the difference is a reboot's (the service manager wires it)
        self.rebooted: Callable[[str], bool] = lambda _node: False

    # -- the providers SyncManager calls ------------------------------------------------------
    def intended_xml(self, node_id: str) -> str | None:
        """The device's configuration in <intended> as device XML; None if unmanaged."""
        intent = self._intent(node_id)
        return None if intent is None else intent.xml

    def policy(self, node_id: str) -> SyncPolicy:
        """The device's out-of-band action in <running>, else the default action."""
        text = self.store.get(Datastore.RUNNING, xpath=POLICY_PATH)
        data = json.loads(text).get(CONTROLLER, {}).get("policies", {}).get("out-of-band", {})
        for entry in data.get("device", []):
            if entry.get("node-id") == node_id:
                return SyncPolicy(entry["action"])
        return SyncPolicy(data.get("default-action", DEFAULT_ACTION))

    def import_config(self, node_id: str, device_xml: str) -> None:
        """Pin the device's configuration in <running> (sync-from).

        Raises :class:`ImportRefused` (running unchanged) when the configuration is not
        valid data of the device's module, or the commit of running refuses it.
        """
        intent = self._intent(node_id)
        if intent is None:
            raise ImportRefused(f"{node_id} is not managed by the controller")
        document = self.device_document(intent.kind, device_xml)
        pin = {"node-id": node_id, "kind": intent.kind, "configuration": document}
        with self.store.atomic():  # the version check and the write are one step
            if self._moved(node_id):
                raise _IntentMoved(node_id)
            running = json.loads(self.store.get(Datastore.RUNNING))
            devices = running.setdefault(CONTROLLER, {}).setdefault("devices", {})
            entries = [d for d in devices.get("device", []) if d.get("node-id") != node_id]
            devices["device"] = [*entries, pin]
            try:
                # A whole-datastore copy, because the engine's edit parsers do not take
                # anydata content (controller/datastore/editparse.py); same transaction,
                # expansion and push as an edit.
                with self.store.sessions.server_change(
                        f"out-of-band change of {node_id} adopted"):
                    self.store.copy(Datastore.RUNNING, content=json.dumps(running),
                                    session_id=SYSTEM_SESSION)
            except NetconfError as exc:
                raise ImportRefused(f"{node_id}: running refused the import: {exc}") from exc
        log.info("device configuration imported", device=node_id, kind=intent.kind)

    def device_document(self, kind: str, device_xml: str) -> dict[str, Any]:
        """The device's XML as RFC 7951 JSON of its module, strictly validated by it."""
        spec = kind_spec(kind)
        if spec is None:
            raise ImportRefused(f"no device module for kind {kind!r}")
        module, top = spec.module, spec.top
        try:
            document = self.schemas.document(device_xml, (module,))
        except NetconfError as exc:
            raise ImportRefused(f"not valid {module} configuration: {exc}") from exc
        if set(document) != {f"{module}:{top}"}:
            # e.g. a device that came back empty: adopting "nothing" is not an import
            raise ImportRefused(f"{kind} configuration must be one {module}:{top} "
                                f"container, found {sorted(document) or 'none'}")
        return document

    # -- rounds -----------------------------------------------------------------------------
    def on_notification(self, node_id: str, xml: str) -> bool:
        """A device notification: a configuration change made by anyone but the
        controller's account on the device queues that device for an immediate check
        (True when queued). Our own pushes are not checked again."""
        changed_by = foreign_config_change(xml, self._own_user(node_id))
        if not changed_by:
            return False
        log.info("device reports a configuration change not made by the controller",
                 device=node_id, changed_by=changed_by)
        with self._urgent_lock:
            self._urgent.add(node_id)
        self._urgent_worker.trigger()
        return True

    def _own_user(self, node_id: str) -> str | None:
        if node_id not in self.pool.node_ids:
            return None
        return self.pool.endpoint(node_id).username

    def _check_urgent(self) -> None:
        with self._urgent_lock:
            nodes, self._urgent = sorted(self._urgent), set()
        known = set(self.pool.node_ids)
        if nodes:
            self.run_once([n for n in nodes if n in known])

    def run_once(self, nodes: Sequence[str] | None = None) -> list[OutOfBandEvent]:
        """check-sync every device (or those given) once; handle each out-of-band change
        by its policy."""
        with self._round_lock:
            self._local.events = []
            try:
                for node_id in (self.pool.node_ids if nodes is None else nodes):
                    self._local.intents = {}    # read fresh for every device
                    self._reconcile(node_id)
                return list(self._local.events)
            finally:
                self._local.__dict__.clear()

    def check(self, node_id: str) -> list[OutOfBandEvent]:
        """check-sync one device now (its session just came back) and handle an
        out-of-band change by its policy, as a round would."""
        with self._round_lock:
            self._local.events = []
            self._local.intents = {}
            try:
                self._reconcile(node_id)
                return list(self._local.events)
            finally:
                self._local.__dict__.clear()

    def start(self, interval_s: float) -> None:
        """Guard every `interval_s` seconds in the background (first round one interval
        after start); a failed round is logged and the next one runs as scheduled."""
        self._loop.interval_s = interval_s
        self._loop.start()
        self._urgent_worker.start()

    def stop(self) -> None:
        self._loop.stop(timeout=10)
        self._urgent_worker.stop(timeout=10)

    # -- internals --------------------------------------------------------------------------
    def _reconcile(self, node_id: str) -> None:
        try:
            self.sync.reconcile(node_id)
        except _IntentMoved:
            log.info("intent changed during check-sync; re-checked next round", device=node_id)
            self.pool.set_sync(node_id, SyncState.UNKNOWN)
        except _Rebooted:
            log.info("device differs after a reboot: restored, not an out-of-band change",
                     device=node_id)
        except Exception:  # one device's trouble must not stop the round
            log.exception("check-sync failed", device=node_id)

    def _intent(self, node_id: str) -> _Intent | None:
        intents: dict[str, _Intent | None] | None = getattr(self._local, "intents", None)
        if intents is not None and node_id in intents:
            return intents[node_id]
        with self.store.atomic():
            version = self.store.versions[Datastore.INTENDED]
            text = self.store.get(Datastore.INTENDED,
                                  xpath=f"{DEVICES_PATH}/device[node-id={_literal(node_id)}]")
        entries = json.loads(text).get(CONTROLLER, {}).get("devices", {}).get("device", [])
        intent = None
        if entries and entries[0].get("configuration"):
            entry = entries[0]
            intent = _Intent(version=version, kind=str(entry.get("kind", "")),
                             xml=device_config_xml(entry["configuration"]))
        if intents is not None:
            intents[node_id] = intent  # compare and act on the same intent
        return intent

    def _moved(self, node_id: str) -> bool:
        intents: dict[str, _Intent | None] = getattr(self._local, "intents", {})
        intent = intents.get(node_id)
        with self.store.atomic():  # waits for a commit in flight to finish
            return intent is not None and self.store.versions[Datastore.INTENDED] != \
                intent.version

    def _decide(self, node_id: str) -> SyncPolicy:
        """The policy, once the check is known to be against the current intent."""
        if self._moved(node_id):
            raise _IntentMoved(node_id)
        if self.rebooted(node_id):
            raise _Rebooted(node_id)
        return self.policy(node_id)

    def _import(self, node_id: str, device_xml: str) -> None:
        """The importer for SyncManager: a refusal becomes the event's error (reconcile
        tells its listeners only when the importer returns)."""
        self._local.import_error = None
        try:
            self.import_config(node_id, device_xml)
        except ImportRefused as exc:
            self._local.import_error = str(exc)

    def _handled(self, report: SyncReport, policy: SyncPolicy, result: CommitResult | None
                 ) -> None:
        if policy is SyncPolicy.REVERT:
            error = _commit_error(result)
        else:
            error = getattr(self._local, "import_error", None)
            self._local.import_error = None
        if error is not None:
            self.pool.set_sync(report.node_id, SyncState.OUT_OF_SYNC)
        event = OutOfBandEvent(node_id=report.node_id, action=policy, changes=report.diff,
                               readable=report.readable, success=error is None, error=error)
        log.warning("out-of-band change handled", device=event.node_id,
                    action=policy.value, success=event.success, error=error)
        events: list[OutOfBandEvent] | None = getattr(self._local, "events", None)
        if events is not None:
            events.append(event)
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:  # the listener's trouble is not the device's
                log.exception("out-of-band event listener failed", device=event.node_id)


def _commit_error(result: CommitResult | None) -> str | None:
    if result is None:
        return "nothing was pushed"
    if result.success:
        return None
    reasons = [f"{node}: {o.error}" for node, o in sorted(result.devices.items()) if o.error]
    return "; ".join(reasons) or f"device commit failed in phase {result.phase_failed}"


def _literal(value: str) -> str:
    """An XPath 1.0 string literal (no escapes exist: pick the quote it lacks)."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise ValueError(f"node-id {value!r} holds both quote characters")


def foreign_config_change(xml: str, own_user: str | None) -> str | None:
    """Who made the change an RFC 6470 ``netconf-config-change`` notification (§2.2)
    reports, when it is not `own_user` ("server" for a change the device made itself or
    through its craft interface, else the username); None for any other notification or
    for the controller's own change."""
    try:
        root = etree.fromstring(xml.encode())
    except etree.XMLSyntaxError:
        return None
    note = next(root.iter(f"{{{NCN_NS}}}netconf-config-change"), None)
    if note is None:
        return None
    by = note.find(f"{{{NCN_NS}}}changed-by")
    if by is None:
        return "unknown"
    if by.find(f"{{{NCN_NS}}}server") is not None:
        return "server"
    user = by.findtext(f"{{{NCN_NS}}}username")
    if user is not None and user == own_user:
        return None
    return user or "unknown"
