"""Event notifications (RFC 5277) and the NETCONF base events (RFC 6470).

Publishing never blocks the publisher (a datastore commit, an alarm loop): events go to
a queue drained by one dispatcher thread per server, started on first use. A slow
subscriber can only delay other subscribers of the same server, up to the session's
send timeout, after which that session is dropped.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from lxml import etree

from controller.datastore.apply import JournalOp
from controller.datastore.nmda import ChangedBy, Datastore
from controller.netconf.contracts import NetconfSession, Subscription
from controller.netconf.core import ServerCore, now_iso
from controller.netconf.paths import to_xml_path
from controller.netconf.xml import NCN_NS, NOTIF_NS

log = structlog.get_logger(__name__)

__all__ = ["NETCONF_STREAM", "Notifier", "Subscription"]

NETCONF_STREAM = "NETCONF"  # RFC 5277 §3.2.3: the default stream
_STOP = object()



@dataclass(frozen=True)
class _Event:
    stream: str
    content: etree._Element
    event_time: str


class Notifier:
    def __init__(self, core: ServerCore) -> None:
        self.core = core
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False

    def publish(self, content: etree._Element, stream: str = NETCONF_STREAM,
                event_time: str | None = None) -> None:
        if self._stopped or not self._has_subscribers(stream):
            return
        self._ensure_thread()
        self._queue.put(_Event(stream, content, event_time or now_iso()))

    def _has_subscribers(self, stream: str) -> bool:
        return any(s.subscription is not None and s.subscription.stream == stream
                   for s in self.core.all_sessions())

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name=f"netconf-notify-{self.core.name}")
                self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            thread = self._thread
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            assert isinstance(item, _Event)
            try:
                self._deliver(item)
            except Exception:  # never let one bad event stop the stream
                log.exception("notification delivery failed", server=self.core.name)

    def _deliver(self, event: _Event) -> None:
        ns = etree.QName(event.content).namespace
        module = self.core.module_of(ns) or ""
        name = etree.QName(event.content).localname
        body = etree.tostring(event.content)
        message = (f'<?xml version="1.0" encoding="UTF-8"?><notification xmlns="{NOTIF_NS}">'
                   f"<eventTime>{event.event_time}</eventTime>").encode() \
            + body + b"</notification>"
        for session in self.core.all_sessions():
            sub = session.subscription
            if sub is None or sub.stream != event.stream:
                continue
            if sub.filter is not None and not sub.filter(event.content):
                continue
            access = self.core.access(session.username)
            if access is not None and not access.notification_allowed(module, name):
                if self.core.nacm is not None:
                    self.core.nacm.denied_notifications += 1
                continue
            session.send_notification(message)

    # -- RFC 6470 base events ------------------------------------------------------------

    def session_start(self, session: NetconfSession) -> None:
        self.publish(_session_event("netconf-session-start", session))

    def session_end(self, session: NetconfSession, reason: str, killed_by: int | None) -> None:
        event = _session_event("netconf-session-end", session)
        if killed_by is not None:
            _leaf(event, "killed-by", str(killed_by))
        _leaf(event, "termination-reason", reason)
        self.publish(event)

    def config_change(self, ds: Datastore, ops: Sequence[JournalOp], session_id: int) -> None:
        """Listener on the store: netconf-config-change for running and startup (§2.2)."""
        if ds not in (Datastore.RUNNING, Datastore.STARTUP) \
                or not self._has_subscribers(NETCONF_STREAM):
            return
        event = etree.Element(f"{{{NCN_NS}}}netconf-config-change", nsmap={None: NCN_NS})
        event.append(changed_by_element(self.core.store.sessions.changed_by(session_id)))
        _leaf(event, "datastore", ds.value)
        for kind, path, _payload in ops:
            edit = etree.SubElement(event, f"{{{NCN_NS}}}edit")
            if path is not None:
                text, nsmap = to_xml_path(path, self.core.namespace_of)
                target = etree.Element(f"{{{NCN_NS}}}target", nsmap=nsmap or None)
                target.text = text
                edit.append(target)
            _leaf(edit, "operation", "delete" if kind == "delete" else "replace")
        self.publish(event)


def changed_by_element(who: ChangedBy) -> etree._Element:
    """RFC 6470 §2.1 `changed-by`: the server, or the user's session (any northbound's:
    RESTCONF and gRPC accounts have a pseudo session, controller/restconf/access.py)."""
    changed_by = etree.Element(f"{{{NCN_NS}}}changed-by", nsmap={None: NCN_NS})
    if who.username is None:
        etree.SubElement(changed_by, f"{{{NCN_NS}}}server")
        return changed_by
    _leaf(changed_by, "username", who.username)
    _leaf(changed_by, "session-id", str(who.session_id))
    if who.source_host:
        _leaf(changed_by, "source-host", who.source_host)
    return changed_by


def _leaf(parent: etree._Element, name: str, text: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{NCN_NS}}}{name}")
    el.text = text
    return el


def _session_event(name: str, session: NetconfSession) -> etree._Element:
    event = etree.Element(f"{{{NCN_NS}}}{name}", nsmap={None: NCN_NS})
    _leaf(event, "username", session.username)
    _leaf(event, "session-id", str(session.session_id))
    _leaf(event, "source-host", session.source_host)
    return event
