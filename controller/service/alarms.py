"""The controller's alarm list: RFC 8632 (ietf-alarms) in <operational>, plus the
`alarm-notification` stream northbound.

Correlation (which alarm to raise, when) lives elsewhere; it calls `raise_alarm` and
`clear_alarm` as often as it likes. This module keeps the alarm list an RFC 8632 *stateful*
view: one entry per (resource, alarm type, qualifier) that is updated, never duplicated, so
a fault that persists over many telemetry polls yields one alarm and one notification, not
a storm (RFC 8632 §3.4 Identifying Alarm Instances, §3.5.1 Resource Alarm Lifecycle).

The manager is the only writer of /ietf-alarms:alarms state. It keeps its own copy of every
entry (so deciding "is this a state change?" never reads the datastore) and writes each
change as one rewrite of that entry under the store's lock, so readers see either the old
or the new alarm, never a half-merged one.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

import cffi
import libyang
import structlog
from libyang.schema import ExtensionCompiled
from lxml import etree

from controller.datastore.ly import ffi
from controller.datastore.nmda import Datastore, NmdaStore

log = structlog.get_logger(__name__)

AL_MODULE = "ietf-alarms"
AL_NS = "urn:ietf:params:xml:ns:yang:ietf-alarms"
ALARM_TYPE_BASE = "ietf-alarms:alarm-type-id"
SDQN_ALARM_BASE = "sdqn-alarms:sdqn-alarm"
ALARMS_PATH = "/ietf-alarms:alarms"
LIST_PATH = f"{ALARMS_PATH}/alarm-list"
INVENTORY_PATH = f"{ALARMS_PATH}/alarm-inventory"
CONTROL_PATH = f"{ALARMS_PATH}/control"


class Severity(StrEnum):
    """RFC 8632 `severity` typedef (ITU-T X.733); 'cleared' is a separate flag."""

    INDETERMINATE = "indeterminate"
    WARNING = "warning"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """The enum `value` in ietf-alarms (2..6): higher is more severe."""
        return _RANK[self]


_RANK = {s: i + 2 for i, s in enumerate(Severity)}
CLEARED = "cleared"  # severity-with-clear, only in status changes and notifications


@dataclass(frozen=True)
class AlarmKey:
    """The alarm-list key (RFC 8632 §3.4): the alarming resource and the alarm type.

    `type_id` is a qualified identity such as "sdqn-alarms:fibre-cut"; `qualifier` extends
    it at run time (for out-of-band-change: the action taken, "revert" or "import").
    """

    resource: str
    type_id: str
    qualifier: str = ""


@dataclass(frozen=True)
class StatusChange:
    """One entry of an alarm's status-change list (feature alarm-history)."""

    time: str
    severity: str  # a Severity value or "cleared"
    text: str


@dataclass(frozen=True)
class OperatorChange:
    """One entry of an alarm's operator-state-change list (RFC 8632 §3.5.2, feature
    operator-actions): who said what about the alarm, and when."""

    time: str
    operator: str
    state: str  # a writable-operator-state: none, ack, closed
    text: str = ""


#: RFC 8632 writable-operator-state
OPERATOR_STATES = ("none", "ack", "closed")


@dataclass(frozen=True)
class Alarm:
    key: AlarmKey
    severity: Severity  # the last severity, also once cleared (perceived-severity)
    text: str
    cleared: bool
    raised_at: str  # last-raised: last time it went active (new or re-raised after clear)
    changed_at: str  # last-changed = time of the newest status change
    root_causes: tuple[str, ...]
    impacted: tuple[str, ...]
    created_at: str = ""  # time-created
    history: tuple[StatusChange, ...] = ()  # newest first (RFC 8632 status-change order)
    #: newest first; the operator's view, independent of the resource's (RFC 8632 §3.5.2)
    operator_changes: tuple[OperatorChange, ...] = ()

    @property
    def operator_state(self) -> str:
        return self.operator_changes[0].state if self.operator_changes else "none"


@dataclass(frozen=True)
class AlarmType:
    """A concrete alarm type of the inventory, as declared in YANG."""

    type_id: str
    description: str
    will_clear: bool
    severity_levels: tuple[Severity, ...]


# -- resources ----------------------------------------------------------------------------
# RFC 8632 `resource`: an instance-identifier when the resource is modelled in YANG, so an
# operator (or a client) can follow it to the RFC 8345 node/link or the service request.


def link_resource(network_id: str, link_id: str) -> str:
    return (f"/ietf-network:networks/network[network-id={_literal(network_id)}]"
            f"/ietf-network-topology:link[link-id={_literal(link_id)}]")


def node_resource(network_id: str, node_id: str) -> str:
    return (f"/ietf-network:networks/network[network-id={_literal(network_id)}]"
            f"/node[node-id={_literal(node_id)}]")


def service_resource(name: str) -> str:
    return f"/sdqn-services:entanglement-services/request[name={_literal(name)}]"


def _literal(value: str) -> str:
    """An XPath string literal for a key value (XPath 1.0 has no escapes, so a value with
    both quote characters cannot be addressed at all)."""
    if not value:
        raise ValueError("empty key value")
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise ValueError(f"{value!r} contains both quote characters; it cannot be addressed")


# Characters XML 1.0 (and so YANG strings, RFC 7950 §9.4) cannot carry.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def _check_string(name: str, value: str, *, empty_ok: bool = False) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, not {type(value).__name__}")
    if not empty_ok and not value.strip():
        raise ValueError(f"{name} is empty")
    if _NOT_XML.search(value):
        raise ValueError(f"{name} {value!r} contains characters YANG strings cannot carry")
    return value


# -- alarm types from the loaded YANG -----------------------------------------------------
# libyang-python 2.7 exposes no identities; struct lysc_ident (libyang 2.1 tree_schema.h) is
# read through cffi ABI declarations on the binding's own pointers, as ly.py does for calls.

_abi = cffi.FFI()
_abi.cdef("""
    struct sdqn_lysc_ident {
        const char *name; const char *dsc; const char *ref; void *module;
        struct sdqn_lysc_ident **derived; void *exts; uint16_t flags;
    };
""")


def _count(array: Any) -> int:
    """libyang sized arrays keep their length (uint64) just before the first item."""
    return 0 if array == _abi.NULL else int(_abi.cast("uint64_t *", array)[-1])


@dataclass
class _Ident:
    qname: str
    description: str
    derived: list[str] = field(default_factory=list)
    extensions: dict[str, str] = field(default_factory=dict)


def identity_tree(ctx: libyang.Context, base: str) -> dict[str, _Ident]:
    """Every identity of an implemented module derived (transitively) from `base`, base
    included, keyed by qualified name ("module:identity")."""
    module_name, name = base.split(":", 1)
    idents = ctx.get_module(module_name).cdata.identities
    array = _abi.cast("struct sdqn_lysc_ident *", int(ffi.cast("uintptr_t", idents)))
    stack = [array[i] for i in range(_count(array))
             if _abi.string(array[i].name).decode() == name]
    if not stack:
        raise ValueError(f"identity {base} is not in the schema")
    found: dict[str, _Ident] = {}
    while stack:
        cur = stack.pop()
        qname, implemented = _qname(cur)
        if qname in found or not implemented:
            continue
        dsc = _abi.string(cur.dsc).decode() if cur.dsc != _abi.NULL else ""
        node = found[qname] = _Ident(qname, " ".join(dsc.split()))
        exts = ffi.cast("struct lysc_ext_instance *", int(_abi.cast("uintptr_t", cur.exts)))
        for i in range(_count(cur.exts)):
            ext = ExtensionCompiled(ctx, exts[i])
            node.extensions[f"{ext.module().name()}:{ext.name()}"] = ext.argument() or ""
        for i in range(_count(cur.derived)):
            child = cur.derived[i]
            child_name, child_implemented = _qname(child)
            if child_implemented:
                node.derived.append(child_name)
                stack.append(child)
    return found


def _qname(ident: Any) -> tuple[str, bool]:
    module = ffi.cast("struct lys_module *", int(_abi.cast("uintptr_t", ident.module)))
    name = f"{ffi.string(module.name).decode()}:{_abi.string(ident.name).decode()}"
    return name, bool(module.implemented)


def inventory_types(tree: Mapping[str, _Ident], base: str = SDQN_ALARM_BASE
                    ) -> list[tuple[AlarmType, tuple[str, ...]]]:
    """The concrete alarm types under `base` with their qualifiers (RFC 8632 §4.2: the
    inventory holds concrete types only; a type other types derive from is abstract)."""
    result: list[tuple[AlarmType, tuple[str, ...]]] = []
    stack = [base] if base in tree else []
    seen: set[str] = set()
    while stack:
        node = tree[stack.pop()]
        if node.qname in seen:
            continue
        seen.add(node.qname)
        if node.derived:
            stack.extend(node.derived)
            continue
        ext = node.extensions
        kind = AlarmType(
            type_id=node.qname, description=node.description,
            will_clear=ext.get("sdqn-alarms:will-clear", "false") == "true",
            severity_levels=tuple(Severity(s) for s in
                                  ext.get("sdqn-alarms:severity-levels", "").split()))
        result.append((kind, tuple(ext.get("sdqn-alarms:qualifiers", "").split()) or ("",)))
    return sorted(result, key=lambda item: item[0].type_id)


# -- time ---------------------------------------------------------------------------------


def _iso(us: int) -> str:
    """yang:date-and-time in libyang's canonical form (UTC as +00:00), microseconds."""
    stamp = datetime.fromtimestamp(us // 1_000_000, UTC).replace(microsecond=us % 1_000_000)
    return stamp.isoformat(timespec="microseconds")


def _micros(text: str) -> int:
    stamp = datetime.fromisoformat(text)
    return int(stamp.timestamp()) * 1_000_000 + stamp.microsecond


# -- the manager --------------------------------------------------------------------------

Clearance = Literal["any", "cleared", "not-cleared"]
_FEATURES = ("alarm-history", "alarm-summary", "root-cause-analysis",
             "service-impact-analysis", "operator-actions")
_CACHE_LIMIT = 4096


class AlarmManager:
    """The only writer of /ietf-alarms:alarms state in <operational>.

    Thread-safe: the store's lock is taken before the manager's own (the order the store's
    hooks and listeners already hold them in), notifications are handed to `notify` in
    state-change order but outside both locks.
    """

    def __init__(self, store: NmdaStore, *,
                 notify: Callable[[etree._Element], None] | None = None,
                 history: int = 16, clock: Callable[[], float] = time.time) -> None:
        if history < 1:
            raise ValueError("history must keep at least one status change")
        self.store = store
        self.notify = notify
        self.history = history
        self._clock = clock
        self._lock = threading.RLock()
        self._flush_lock = threading.Lock()
        self._outbox: deque[etree._Element] = deque()
        self._alarms: dict[AlarmKey, Alarm] = {}
        self._canonical_cache: dict[tuple[AlarmKey, tuple[str, ...], tuple[str, ...]],
                                    tuple[AlarmKey, tuple[str, ...], tuple[str, ...]]] = {}
        self._last_us = 0
        self._list_changed: str | None = None
        ctx = store.schema.ctx
        module = ctx.get_module(AL_MODULE)
        self._features = {f for f in _FEATURES if module.feature_state(f)}
        self._types = identity_tree(ctx, ALARM_TYPE_BASE)
        if SDQN_ALARM_BASE not in self._types:
            log.warning("sdqn-alarms is not in the schema: empty alarm inventory")
        self._inventory = inventory_types(self._types)
        self.inventory: tuple[AlarmType, ...] = tuple(t for t, _ in self._inventory)
        with store.atomic(), self._lock:
            self._resync()
            self._write_inventory()
            self._store(None, None)

    # -- the API correlation calls ---------------------------------------------------------

    def raise_alarm(self, key: AlarmKey, severity: Severity | str, text: str, *,
                    root_causes: Sequence[str] = (), impacted: Sequence[str] = ()) -> bool:
        """Raise or update an alarm. True when this is a state change (RFC 8632 §3.5.1:
        new, re-raised after a clear, severity or text changed): a status-change entry and
        a notification. An identical re-raise writes nothing and notifies nobody; a change
        of only root causes / impacted resources updates the entry silently (False).

        `root_causes` and `impacted` are the complete current lists (RFC 8632 §3.6), not
        additions: omitting them on a later raise removes them from the entry."""
        severity = Severity(severity)
        text = _clean_text(text)
        with self.store.atomic(), self._lock:
            key, roots, hits = self._canonical(key, tuple(root_causes), tuple(impacted))
            old = self._alarms.get(key)
            if old is not None and not old.cleared and (old.severity, old.text) == (
                    severity, text):
                if (old.root_causes, old.impacted) != (roots, hits):
                    self._commit(old, replace(old, root_causes=roots, impacted=hits), None)
                return False
            stamp = self._tick()
            change = StatusChange(stamp, severity.value, text)
            raised = old is None or old.cleared
            control = self._control()
            new = Alarm(key=key, severity=severity, text=text, cleared=False,
                        raised_at=stamp if old is None or old.cleared else old.raised_at,
                        changed_at=stamp, root_causes=roots, impacted=hits,
                        created_at=old.created_at if old is not None else stamp,
                        history=self._history(change, old, control),
                        # RFC 8632 §3.5.2: the operator state is the operator's; a
                        # re-raise or an update of the resource state keeps it
                        operator_changes=old.operator_changes if old is not None else ())
            self._commit(old, new, change, control)
            log.info("alarm raised" if raised else "alarm changed", resource=key.resource,
                     type=key.type_id, qualifier=key.qualifier, severity=severity.value,
                     text=text)
        self._flush()
        return True

    def clear_alarm(self, key: AlarmKey, text: str | None = None) -> bool:
        """Clear an active alarm; it stays listed with is-cleared true (RFC 8632 §3.5.1,
        alarm-list: "Entries do not get deleted when the alarm is cleared")."""
        with self.store.atomic(), self._lock:
            key = self._canonical(key, (), ())[0]
            old = self._alarms.get(key)
            if old is None or old.cleared:
                return False
            text = old.text if text is None else _clean_text(text)
            stamp = self._tick()
            change = StatusChange(stamp, CLEARED, text)
            control = self._control()
            new = replace(old, cleared=True, text=text, changed_at=stamp,
                          history=self._history(change, old, control))
            self._commit(old, new, change, control)
            log.info("alarm cleared", resource=key.resource, type=key.type_id,
                     qualifier=key.qualifier, text=text)
        self._flush()
        return True

    def set_operator_state(self, key: AlarmKey, state: str, operator: str,
                           text: str | None = None) -> Alarm:
        """RFC 8632 set-operator-state: add an operator-state-change entry (time, operator,
        state, text) to an alarm; its last-changed moves, its resource state does not.
        KeyError when no such alarm is listed, ValueError for a state that is not a
        writable-operator-state. Sends the alarm's operator-action notification."""
        if state not in OPERATOR_STATES:
            raise ValueError(f"{state!r} is not one of {', '.join(OPERATOR_STATES)}")
        if "operator-actions" not in self._features:
            raise ValueError("the ietf-alarms feature operator-actions is not enabled")
        operator = _check_string("operator", operator)
        note_text = _clean_text(text) if text else ""
        with self.store.atomic(), self._lock:
            key = self._canonical(key, (), ())[0]
            old = self._alarms.get(key)
            if old is None:
                raise KeyError(f"no alarm {key}")
            stamp = self._tick()
            entry = OperatorChange(stamp, operator, state, note_text)
            new = replace(old, changed_at=stamp,
                          operator_changes=(entry, *old.operator_changes)[:self.history])
            note = self._operator_action(new, entry) if self.notify is not None else None
            self._commit(old, new, None)
            if note is not None:
                self._outbox.append(note)
            log.info("alarm operator state", resource=key.resource, type=key.type_id,
                     qualifier=key.qualifier, state=state, operator=operator)
        self._flush()
        return new

    def get(self, key: AlarmKey) -> Alarm | None:
        with self.store.atomic(), self._lock:
            try:
                key = self._canonical(key, (), ())[0]
            except ValueError:
                return None
            return self._alarms.get(key)

    def alarms(self) -> list[Alarm]:
        """Every listed alarm, cleared ones included."""
        with self._lock:
            return list(self._alarms.values())

    def active(self) -> list[Alarm]:
        return [a for a in self.alarms() if not a.cleared]

    # -- administrative actions (RFC 8632 §4.7 purge-alarms, compress-alarms) -------------

    def purge(self, clearance: Clearance = "cleared", *, older_than_s: float | None = None
              ) -> int:
        """Remove alarms by clearance status, optionally only those whose last change is
        older than `older_than_s`; returns how many. A purged alarm that changes state
        again reappears with a new time-created."""
        with self.store.atomic(), self._lock:
            cutoff = None if older_than_s is None else (
                int(self._clock() * 1_000_000) - int(older_than_s * 1_000_000))
            doomed = [a for a in self._alarms.values()
                      if clearance == "any" or a.cleared == (clearance == "cleared")
                      if cutoff is None or _micros(a.changed_at) < cutoff]
            for alarm in doomed:
                self._tick()  # the list's last-changed
                self._commit(alarm, None, None)
        if doomed:
            log.info("alarms purged", count=len(doomed), clearance=clearance)
        return len(doomed)

    def compress(self, resource: str | None = None, type_id: str | None = None,
                 qualifier: str | None = None) -> int:
        """Keep only the newest status change of the matching alarms (exact match on each
        given key part); returns how many alarms lost history."""
        with self.store.atomic(), self._lock:
            matching = [a for a in self._alarms.values() if len(a.history) > 1
                        and resource in (None, a.key.resource)
                        and type_id in (None, a.key.type_id)
                        and qualifier in (None, a.key.qualifier)]
            for alarm in matching:
                self._commit(alarm, replace(alarm, history=alarm.history[:1]), None)
        return len(matching)

    # -- internals -------------------------------------------------------------------------

    def _canonical(self, key: AlarmKey, roots: tuple[str, ...], hits: tuple[str, ...]
                   ) -> tuple[AlarmKey, tuple[str, ...], tuple[str, ...]]:
        """Validate a key and resource lists and return them as libyang stores them (an
        instance-identifier is kept in canonical form), so equal alarms compare equal.
        ValueError for anything the alarm list could not hold."""
        cached = self._canonical_cache.get((key, roots, hits))
        if cached is not None:
            return cached
        if not isinstance(key, AlarmKey):
            raise ValueError(f"not an AlarmKey: {key!r}")
        _check_string("resource", key.resource)
        _check_string("alarm type", key.type_id)
        _check_string("qualifier", key.qualifier, empty_ok=True)
        for resource in (*roots, *hits):
            _check_string("resource", resource)
        kind = self._types.get(key.type_id)
        if kind is None or key.type_id == ALARM_TYPE_BASE:
            raise ValueError(f"{key.type_id!r} is not an identity derived from "
                             f"{ALARM_TYPE_BASE} in the loaded schema")
        if kind.derived:  # RFC 8632 alarm-type-id: abstract types MUST NOT be used
            raise ValueError(f"{key.type_id} is an abstract alarm type")
        entry = self._key_json(key, tuple(dict.fromkeys(roots)), tuple(dict.fromkeys(hits)))
        try:
            tree = self.store.schema.ctx.parse_data_mem(
                json.dumps({"ietf-alarms:alarms": {"alarm-list": {"alarm": [entry]}}}),
                "json", parse_only=True, strict=True)
        except libyang.LibyangError as exc:
            raise ValueError(f"invalid alarm {key}: {exc}") from exc
        assert tree is not None
        try:
            stored = json.loads(tree.print_mem("json", pretty=False))
        finally:
            tree.free()
        got = stored["ietf-alarms:alarms"]["alarm-list"]["alarm"][0]
        canonical = AlarmKey(got["resource"], got["alarm-type-id"],
                             got.get("alarm-type-qualifier", ""))
        self._path(canonical)  # ValueError when a key value cannot be addressed
        result = (canonical,
                  tuple(got.get("root-cause-resource", ())) if "root-cause-resource" in
                  entry else tuple(dict.fromkeys(roots)),
                  tuple(got.get("impacted-resource", ())) if "impacted-resource" in
                  entry else tuple(dict.fromkeys(hits)))
        if len(self._canonical_cache) >= _CACHE_LIMIT:
            self._canonical_cache.clear()
        self._canonical_cache[(key, roots, hits)] = result
        return result

    def _key_json(self, key: AlarmKey, roots: Sequence[str], hits: Sequence[str]
                  ) -> dict[str, Any]:
        """Key leaves plus the resource leaf-lists the schema has features for."""
        entry: dict[str, Any] = {"resource": key.resource, "alarm-type-id": key.type_id,
                                 "alarm-type-qualifier": key.qualifier}
        if roots and "root-cause-analysis" in self._features:
            entry["root-cause-resource"] = list(roots)
        if hits and "service-impact-analysis" in self._features:
            entry["impacted-resource"] = list(hits)
        return entry

    @staticmethod
    def _path(key: AlarmKey) -> str:
        qualifier = _literal(key.qualifier) if key.qualifier else "''"
        return (f"{LIST_PATH}/alarm[resource={_literal(key.resource)}]"
                f"[alarm-type-id={_literal(key.type_id)}]"
                f"[alarm-type-qualifier={qualifier}]")

    def _tick(self) -> str:
        """A strictly increasing timestamp: status-change is keyed by time, and two changes
        within one clock tick must not collide."""
        self._last_us = max(int(self._clock() * 1_000_000), self._last_us + 1)
        stamp = _iso(self._last_us)
        self._list_changed = stamp
        return stamp

    def _control(self) -> dict[str, Any]:
        """/alarms/control as configured in running (explicit values only)."""
        text = self.store.get(Datastore.RUNNING, xpath=CONTROL_PATH)
        doc: dict[str, Any] = json.loads(text) if text and text.strip() else {}
        control: dict[str, Any] = doc.get("ietf-alarms:alarms", {}).get("control", {})
        return control

    def _history(self, change: StatusChange, old: Alarm | None, control: Mapping[str, Any]
                 ) -> tuple[StatusChange, ...]:
        """Newest first, bounded by max-alarm-status-changes when the operator set it
        (RFC 8632 §4.1: a circular list), else by `history`."""
        configured = control.get("max-alarm-status-changes")
        limit = None if configured == "infinite" else (
            max(1, int(configured)) if configured is not None else self.history)
        entries = (change, *(old.history if old is not None else ()))
        return entries if limit is None else entries[:limit]

    @staticmethod
    def _wants_notification(old: Alarm | None, new: Alarm, control: Mapping[str, Any]
                            ) -> bool:
        """RFC 8632 §4.1 notify-status-changes (default all-state-changes). For
        severity-level: changes at or above the level, the change that drops an alarm below
        it, and always the clear."""
        mode = control.get("notify-status-changes", "all-state-changes")
        if mode == "all-state-changes" or new.cleared:
            return True
        raised = old is None or old.cleared
        if mode == "raise-and-clear":
            return raised
        level = Severity(control.get("notify-severity-level", Severity.INDETERMINATE)).rank
        return new.severity.rank >= level or (
            old is not None and not raised and old.severity.rank >= level)

    def _commit(self, old: Alarm | None, new: Alarm | None, change: StatusChange | None,
                control: Mapping[str, Any] | None = None) -> None:
        """Make `new` (None: purge `old`) the alarm, in memory and in <operational>, and
        queue its notification when `change` is a state change."""
        note = None
        if change is not None and new is not None and self.notify is not None \
                and self._wants_notification(old, new, control or {}):
            note = self._notification(new, change)  # before any write: it validates too
        current = new if new is not None else old
        assert current is not None
        key = current.key
        if new is None:
            self._alarms.pop(key, None)
        else:
            self._alarms[key] = new
        try:
            self._store(old, new)
        except Exception:
            if old is None:
                self._alarms.pop(key, None)
            else:
                self._alarms[key] = old
            raise
        if note is not None:
            self._outbox.append(note)

    def _store(self, old: Alarm | None, new: Alarm | None) -> None:
        """Rewrite one entry (delete + merge under the store's lock: merging alone would
        keep dropped status changes and leaf-list values) with the list totals."""
        with self.store.atomic():
            if old is not None:
                self.store.delete_state(self._path(old.key))
            alarms = self._alarms.values()
            listing: dict[str, Any] = {"number-of-alarms": len(self._alarms)}
            if self._list_changed is not None:
                listing["last-changed"] = self._list_changed
            if new is not None:
                listing["alarm"] = [self._entry_json(new)]
            doc: dict[str, Any] = {"alarm-list": listing}
            if "alarm-summary" in self._features:
                doc["summary"] = {"alarm-summary": [self._summary(s, alarms)
                                                    for s in Severity]}
            self.store.merge_state(json.dumps({"ietf-alarms:alarms": doc}))

    def _entry_json(self, alarm: Alarm) -> dict[str, Any]:
        entry = self._key_json(alarm.key, alarm.root_causes, alarm.impacted)
        entry.update({"time-created": alarm.created_at, "is-cleared": alarm.cleared,
                      "last-raised": alarm.raised_at, "last-changed": alarm.changed_at,
                      "perceived-severity": alarm.severity.value, "alarm-text": alarm.text})
        if "alarm-history" in self._features:
            entry["status-change"] = [{"time": c.time, "perceived-severity": c.severity,
                                       "alarm-text": c.text} for c in alarm.history]
        if "operator-actions" in self._features and alarm.operator_changes:
            entry["operator-state-change"] = [_operator_json(c)
                                              for c in alarm.operator_changes]
        return entry

    def _summary(self, severity: Severity, alarms: Iterable[Alarm]) -> dict[str, Any]:
        """RFC 8632 §4.3 per-severity counts; "closed" is the operator state of the newest
        operator-state-change entry."""
        mine = [a for a in alarms if a.severity is severity]
        cleared = sum(a.cleared for a in mine)
        row: dict[str, Any] = {"severity": severity.value, "total": len(mine),
                               "not-cleared": len(mine) - cleared, "cleared": cleared}
        if "operator-actions" in self._features:
            closed = [a for a in mine if a.operator_state == "closed"]
            cleared_closed = sum(a.cleared for a in closed)
            row.update({"cleared-not-closed": cleared - cleared_closed,
                        "cleared-closed": cleared_closed,
                        "not-cleared-closed": len(closed) - cleared_closed,
                        "not-cleared-not-closed":
                            len(mine) - cleared - (len(closed) - cleared_closed)})
        return row

    def _operator_action(self, alarm: Alarm, change: OperatorChange) -> etree._Element:
        """RFC 8632 operator-action, a notification nested in the alarm entry (RFC 7950
        §7.16.2: sent with the data tree down to the alarm), validated by libyang."""
        body = self._key_json(alarm.key, (), ())
        body["operator-action"] = _operator_json(change)
        doc = {"ietf-alarms:alarms": {"alarm-list": {"alarm": [body]}}}
        ctx = self.store.schema.ctx
        node = ctx.parse_op("json", libyang.IOType.MEMORY, json.dumps(doc),
                            libyang.DataType.NOTIF_YANG)
        root, parent = node, node.parent()
        while parent is not None:
            root, parent = parent, parent.parent()
        try:
            return etree.fromstring(str(root.print_mem("xml", pretty=False)))
        finally:
            root.free()

    def _notification(self, alarm: Alarm, change: StatusChange) -> etree._Element:
        """RFC 8632 alarm-notification, built and validated by libyang (which also writes
        the XML namespace declarations an instance-identifier resource needs)."""
        body = self._key_json(alarm.key, alarm.root_causes, alarm.impacted)
        body.update({"time": change.time, "perceived-severity": change.severity,
                     "alarm-text": change.text})
        xml = self.store.schema.notification_xml({"ietf-alarms:alarm-notification": body})
        return etree.fromstring(xml)

    def _flush(self) -> None:
        """Hand queued notifications to `notify`, in order, outside the locks (a slow or
        failing consumer must not hold up the datastore or stop later notifications)."""
        if self.notify is None:
            self._outbox.clear()
            return
        with self._flush_lock:
            while self._outbox:
                element = self._outbox.popleft()
                try:
                    self.notify(element)
                except Exception:
                    log.exception("alarm notification delivery failed")

    def _write_inventory(self) -> None:
        """RFC 8632 §4.2: every concrete type the controller can raise, from the YANG."""
        types = [{"alarm-type-id": kind.type_id, "alarm-type-qualifier": qualifier,
                  "will-clear": kind.will_clear,
                  **({"severity-level": [s.value for s in kind.severity_levels]}
                     if kind.severity_levels else {}),
                  "description": kind.description}
                 for kind, qualifiers in self._inventory for qualifier in qualifiers]
        self.store.delete_state(INVENTORY_PATH)
        if types:
            self.store.merge_state(json.dumps(
                {"ietf-alarms:alarms": {"alarm-inventory": {"alarm-type": types}}}))

    def _resync(self) -> None:
        """Adopt alarms already in <operational> (a manager re-created on a live store), so
        totals stay right and an identical re-raise stays a no-op."""
        text = self.store.get(Datastore.OPERATIONAL, xpath=f"{LIST_PATH}/alarm")
        doc = json.loads(text) if text and text.strip() else {}
        for entry in doc.get("ietf-alarms:alarms", {}).get("alarm-list", {}).get("alarm", []):
            try:
                alarm = _alarm_from_json(entry)
            except (KeyError, ValueError) as exc:
                log.warning("alarm entry not adopted", entry=entry, error=str(exc))
                continue
            self._alarms[alarm.key] = alarm
            self._last_us = max(self._last_us, _micros(alarm.changed_at))
        if self._alarms:
            self._list_changed = _iso(self._last_us)
            log.info("alarms adopted from operational", count=len(self._alarms))


def _operator_json(change: OperatorChange) -> dict[str, Any]:
    out = {"time": change.time, "operator": change.operator, "state": change.state}
    if change.text:
        out["text"] = change.text
    return out


def _alarm_from_json(entry: Mapping[str, Any]) -> Alarm:
    key = AlarmKey(entry["resource"], entry["alarm-type-id"],
                   entry.get("alarm-type-qualifier", ""))
    history = tuple(StatusChange(c["time"], c["perceived-severity"], c["alarm-text"])
                    for c in entry.get("status-change", ()))
    return Alarm(key=key, severity=Severity(entry["perceived-severity"]),
                 text=entry["alarm-text"], cleared=bool(entry["is-cleared"]),
                 raised_at=entry["last-raised"], changed_at=entry["last-changed"],
                 root_causes=tuple(entry.get("root-cause-resource", ())),
                 impacted=tuple(entry.get("impacted-resource", ())),
                 created_at=entry["time-created"], history=history,
                 operator_changes=tuple(
                     OperatorChange(c["time"], c["operator"], c["state"], c.get("text", ""))
                     for c in entry.get("operator-state-change", ())))
