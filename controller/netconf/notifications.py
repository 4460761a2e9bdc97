"""Event notifications (RFC 5277) and the NETCONF base events (RFC 6470).

Publishing never blocks the publisher (a datastore commit, an alarm loop): events go to
a queue drained by one dispatcher thread per server, started on first use. A slow
subscriber can only delay other subscribers of the same server, up to the session's
send timeout, after which that session is dropped.

Replay (RFC 5277 §3.3). With `Limits.replay_events` > 0 the server keeps that many of
its latest events, subscribers or not, and a <create-subscription> with <startTime>
gets those since then, a <replayComplete>, and the live ones after. This is how an event
of the server's own start-up — a confirmed commit a restart reverted, published before
anyone could be connected — reaches a client. With `Limits.replay_log` the log is also on
disk (controller.netconf.eventlog), so events from before a restart can be replayed too.
Every event gets a sequence number under one lock with its queueing; a subscription starts
live at the next number and its replay runs in the dispatcher's queue at that very
position, so no event is sent twice or lost.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import structlog
from lxml import etree

from controller.datastore.apply import JournalOp
from controller.datastore.nmda import ChangedBy, ConfirmEvent, Datastore
from controller.netconf.contracts import NetconfSession, Subscription
from controller.netconf.core import ServerCore, now_iso
from controller.netconf.eventlog import EventLog, LoggedEvent
from controller.netconf.paths import to_xml_path
from controller.netconf.tenant_scope import notification_content
from controller.netconf.xml import NCN_NS, NOTIF_NS
from controller.xmlutil import parse_xml

log = structlog.get_logger(__name__)

__all__ = ["NETCONF_STREAM", "EventTap", "Notifier", "Subscription", "notification_message"]

NETCONF_STREAM = "NETCONF"  # RFC 5277 §3.2.3: the default stream
#: RFC 5277 §4 (nc-notifications): replayComplete, notificationComplete
MANAGE_EVENT_NS = "urn:ietf:params:xml:ns:netmod:notification"
_STOP = object()


@dataclass(frozen=True)
class _Event:
    stream: str
    content: etree._Element
    event_time: str
    seq: int = 0
    at: datetime | None = None


@dataclass(frozen=True)
class _Replay:
    """Send a new subscription the logged events it asked for (in the dispatcher)."""

    session: NetconfSession
    subscription: Subscription
    start: datetime
    stop: datetime | None


@dataclass(frozen=True)
class _Call:
    """Run in the dispatcher, in queue order (a dynamic subscription's replay)."""

    run: Callable[[], None]


class EventTap(Protocol):
    """Another kind of subscriber to the streams (RFC 8639 dynamic subscriptions)."""

    def wants(self, stream: str) -> bool: ...

    def deliver(self, stream: str, content: etree._Element, message: bytes, seq: int) -> None:
        ...


@dataclass(frozen=True)
class _Complete:
    """A subscription's stopTime came: notificationComplete, then it ends."""

    session: NetconfSession
    subscription: Subscription


class Notifier:
    def __init__(self, core: ServerCore) -> None:
        self.core = core
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self._order = threading.Lock()   # sequence numbers, the log, queueing: one step
        self._seq = 0
        self._log: deque[_Event] = deque(maxlen=core.limits.replay_events or 1)
        self._timers: list[threading.Timer] = []
        self._disk: EventLog | None = None
        self.taps: list[EventTap] = []
        #: RFC 8639 §2.1 replay-log-creation-time (the disk log's, which outlives us)
        self.log_created = now_iso()
        if self.replay and core.limits.replay_log is not None:
            self._disk = EventLog(core.limits.replay_log, core.limits.replay_events)
            self.log_created = self._disk.created
            for old in self._disk.loaded():
                self._log.append(_Event(old.stream, parse_xml(old.content), old.event_time,
                                        old.seq, _parse_time(old.event_time)))
                self._seq = max(self._seq, old.seq)

    @property
    def replay(self) -> bool:
        """Whether subscriptions may ask for a replay (<startTime>)."""
        return self.core.limits.replay_events > 0

    def publish(self, content: etree._Element, stream: str = NETCONF_STREAM,
                event_time: str | None = None) -> None:
        if self._stopped:
            return
        stamp = event_time or now_iso()
        with self._order:
            self._seq += 1
            event = _Event(stream, content, stamp, self._seq, _parse_time(stamp))
            if self.replay:
                self._log.append(event)
                if self._disk is not None:
                    self._disk.append(_logged(event),
                                      lambda: [_logged(e) for e in self._log])
            if not self._has_subscribers(stream):
                return
            self._ensure_thread()
            self._queue.put(event)

    def subscribe(self, session: NetconfSession, subscription: Subscription,
                  start: datetime | None = None, stop: datetime | None = None) -> None:
        """Start `subscription` on `session`: live from the next event, after a replay of
        the logged ones since `start` (up to `stop`) when asked (RFC 5277 §2.1.1)."""
        with self._order:
            subscription.live_from = self._seq + 1
            subscription.stop = stop
            session.subscription = subscription
            if start is not None:
                self._ensure_thread()
                self._queue.put(_Replay(session, subscription, start, stop))
        if stop is not None:
            delay = max(0.0, (stop - datetime.now(UTC)).total_seconds())
            timer = threading.Timer(delay, self._queue.put,
                                    args=(_Complete(session, subscription),))
            timer.daemon = True
            self._timers.append(timer)
            timer.start()

    def attach(self, stream: str, start: datetime | None, live_from: Callable[[int], None],
               replay: Callable[[list[tuple[str, etree._Element]]], None]) -> None:
        """Start a tap's subscriber live from the next event (`live_from` gets its number)
        and hand `replay` the logged events of `stream` since `start`, in the dispatcher
        before any live one (RFC 8639 §2.4.2.1: no event sent twice or lost)."""
        with self._order:
            live_from(self._seq + 1)
            if start is None:
                return
            logged = [(e.event_time, e.content) for e in self._log
                      if e.stream == stream and e.at is not None and e.at >= start]
            self._ensure_thread()
            self._queue.put(_Call(lambda: replay(logged)))

    def replay_log_aged(self) -> str | None:
        """RFC 8639 §2.1 replay-log-aged-time: the oldest event kept once the bounded log
        has dropped older ones."""
        with self._order:
            full = self._log.maxlen is not None and len(self._log) >= self._log.maxlen
            return self._log[0].event_time if full and self._log else None

    def _has_subscribers(self, stream: str) -> bool:
        return any(s.subscription is not None and s.subscription.stream == stream
                   for s in self.core.all_sessions()) or any(t.wants(stream) for t in self.taps)

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
        for timer in self._timers:
            timer.cancel()
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                if isinstance(item, _Event):
                    self._deliver(item)
                elif isinstance(item, _Replay):
                    self._replay(item)
                elif isinstance(item, _Call):
                    item.run()
                elif isinstance(item, _Complete):
                    self._complete(item.session, item.subscription)
            except Exception:  # never let one bad event stop the stream
                log.exception("notification delivery failed", server=self.core.name)

    def _deliver(self, event: _Event) -> None:
        message = notification_message(event.event_time, event.content)
        for session in self.core.all_sessions():
            sub = session.subscription
            if sub is None or sub.stream != event.stream or event.seq < sub.live_from:
                continue
            if sub.stop is not None and event.at is not None and event.at > sub.stop:
                continue
            if self._allowed(session, sub, event.content):
                session.send_notification(message)
        for tap in self.taps:
            tap.deliver(event.stream, event.content, message, event.seq)

    def _replay(self, item: _Replay) -> None:
        """RFC 5277 §3.3: the logged events from startTime (to stopTime), then
        replayComplete; the subscription's live events follow in the queue."""
        session, sub = item.session, item.subscription
        with self._order:
            logged = [e for e in self._log if e.stream == sub.stream and e.seq < sub.live_from
                      and e.at is not None and e.at >= item.start
                      and (item.stop is None or e.at <= item.stop)]
        for event in logged:
            if session.subscription is sub and self._allowed(session, sub, event.content):
                session.send_notification(notification_message(event.event_time, event.content))
        if session.subscription is sub:
            session.send_notification(notification_message(now_iso(), etree.Element(
                f"{{{MANAGE_EVENT_NS}}}replayComplete", nsmap={None: MANAGE_EVENT_NS})))

    def _complete(self, session: NetconfSession, sub: Subscription) -> None:
        if session.subscription is not sub:
            return
        session.send_notification(notification_message(now_iso(), etree.Element(
            f"{{{MANAGE_EVENT_NS}}}notificationComplete", nsmap={None: MANAGE_EVENT_NS})))
        session.subscription = None

    def _allowed(self, session: NetconfSession, sub: Subscription,
                 content: etree._Element) -> bool:
        if sub.filter is not None and not sub.filter(content):
            return False
        module = self.core.module_of(etree.QName(content).namespace) or ""
        access = self.core.access(session.username)
        if access is not None and not access.notification_allowed(
                module, etree.QName(content).localname):
            if self.core.nacm is not None:
                self.core.nacm.denied_notifications += 1
            return False
        # a tenant's users get notifications about their tenant's data only (absent,
        # not counted as denied: RFC 8341 §3.4.5 hides what is out of scope)
        return access is None or access.notification_visible(
            module, etree.QName(content).localname, notification_content(content))

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
                or not (self.replay or self._has_subscribers(NETCONF_STREAM)):
            return
        event = etree.Element(f"{{{NCN_NS}}}netconf-config-change", nsmap={None: NCN_NS})
        event.append(changed_by_element(self.core.store.sessions.changed_by(session_id)))
        _leaf(event, "datastore", ds.value)
        for kind, path, _payload in ops:
            if kind == "move":   # positions the entry its preceding op wrote: one edit
                continue
            edit = etree.SubElement(event, f"{{{NCN_NS}}}edit")
            if path is not None:
                text, nsmap = to_xml_path(path, self.core.namespace_of)
                target = etree.Element(f"{{{NCN_NS}}}target", nsmap=nsmap or None)
                target.text = text
                edit.append(target)
            _leaf(edit, "operation", "delete" if kind == "delete" else "replace")
        self.publish(event)

    def confirmed_commit(self, event: ConfirmEvent) -> None:
        """Listener on the store: RFC 6470 §2.4 netconf-confirmed-commit. The session
        parameters name who started, extended, completed or cancelled it; a timeout
        carries none (the YANG's `when`)."""
        note = etree.Element(f"{{{NCN_NS}}}netconf-confirmed-commit", nsmap={None: NCN_NS})
        if event.event != "timeout":
            session = self.core.session(event.session_id) if event.session_id else None
            _leaf(note, "username", session.username if session is not None else "")
            _leaf(note, "session-id", str(event.session_id))
            if session is not None:
                _leaf(note, "source-host", session.source_host)
        _leaf(note, "confirm-event", event.event)
        if event.timeout_s is not None and event.event in ("start", "extend"):
            _leaf(note, "timeout", str(max(0, round(event.timeout_s))))
        self.publish(note)


def _logged(event: _Event) -> LoggedEvent:
    return LoggedEvent(event.seq, event.stream, event.event_time,
                       bytes(etree.tostring(event.content)))


def _parse_time(stamp: str) -> datetime | None:
    try:
        return datetime.fromisoformat(stamp)
    except ValueError:
        return None


def notification_message(event_time: str, content: etree._Element) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><notification xmlns="{NOTIF_NS}">'
            f"<eventTime>{event_time}</eventTime>").encode() \
        + bytes(etree.tostring(content)) + b"</notification>"


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
