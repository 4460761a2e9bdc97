"""Controller events for the streaming northbounds (RESTCONF SSE, gRPC Watch).

Nothing in the controller publishes service or alarm notifications yet, but both live in
<operational>: the service layer writes each request's state there and the alarm list
(RFC 8632) is operational data. So the hub derives events from the datastores: committed
configuration changes come from the store's change listener (RFC 6470
netconf-config-change), service-state changes and alarms from polling <operational> —
only while someone listens, and only when its version moved. Producers that do know
about an event (an alarm loop) can `publish` it directly.

Event content is RFC 7951 JSON, the body of the YANG notification it is an instance of,
so RESTCONF sends it as is (RFC 8040 §6.4) and NACM can check it by module and name.
"""

from __future__ import annotations

import json
import queue
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from controller.datastore.apply import JournalOp
from controller.datastore.nmda import ChangedBy, Datastore, NmdaStore
from controller.netconf.core import now_iso
from controller.periodic import PeriodicTask

STREAM = "NETCONF"
SERVICES_XPATH = "/sdqn-services:entanglement-services/request"
ALARMS_XPATH = "/ietf-alarms:alarms/alarm-list/alarm"
LINKS_XPATH = ("/ietf-network:networks/network/ietf-network-topology:link"
               "/sdqn-topology:quantum-link/state/oper-status")
SERVICE_EVENT = ("sdqn-services", "service-state-change")
LINK_EVENT = ("sdqn-topology", "link-state-change")
ALARM_EVENT = ("ietf-alarms", "alarm-notification")
CONFIG_EVENT = ("ietf-netconf-notifications", "netconf-config-change")


@dataclass(frozen=True)
class Event:
    module: str
    name: str
    body: dict[str, Any]          # the notification's content (its child nodes)
    event_time: str
    stream: str = STREAM
    event_id: int = 0             # the hub's sequence number (SSE id, RFC 8040 §6.4)

    @property
    def qualified(self) -> str:
        return f"{self.module}:{self.name}"

    def to_restconf(self) -> dict[str, Any]:
        """RFC 8040 §6.4 JSON encoding of one notification."""
        return {"ietf-restconf:notification": {"eventTime": self.event_time,
                                               self.qualified: self.body}}


class Subscription:
    """A bounded queue of events for one listener; a listener that falls behind by more
    than `maxsize` events loses the oldest and is told how many (`dropped`)."""

    def __init__(self, hub: EventHub, maxsize: int,
                 accept: Callable[[Event], bool] | None) -> None:
        self.hub = hub
        self.accept = accept
        self.dropped = 0
        self._queue: queue.Queue[Event] = queue.Queue(maxsize)

    def offer(self, event: Event) -> None:
        if self.accept is not None and not self.accept(event):
            return
        while True:
            try:
                self._queue.put_nowait(event)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def get(self, timeout: float) -> Event | None:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def empty(self) -> bool:
        return self._queue.empty()

    def close(self) -> None:
        self.hub.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class EventHub:
    """Fans events out to subscriptions and retains the last `retain` of them, so a
    client that reconnects with Last-Event-ID, or asks for a start-time, gets what it
    missed (RFC 8040 §6.4, SSE resumption) while the hub runs."""

    def __init__(self, store: NmdaStore, *, poll_s: float = 0.25, retain: int = 1024) -> None:
        self.store = store
        self._retained: deque[Event] = deque(maxlen=retain)
        self._next_id = 1
        self._subs: list[Subscription] = []
        self._lock = threading.Lock()
        self._poller = PeriodicTask("event-hub", self._poll, poll_s)
        self._version = -1
        self._services: dict[str, tuple[str, str]] = {}
        self._alarms: dict[tuple[str, str, str], tuple[str, bool]] = {}
        self._links: dict[tuple[str, str], str] = {}
        self._started = False
        self.created = ""        # when the retained-event log began (RFC 8040 §9.3)

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def poll_s(self) -> float:
        """Seconds between looks at <operational> (a change applies at once)."""
        return self._poller.interval_s or 0.0

    @poll_s.setter
    def poll_s(self, seconds: float) -> None:
        self._poller.interval_s = seconds

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
            self.created = self.created or now_iso()
        self.store.listeners.append(self._on_change)
        self._snapshot(emit=False)
        self._poller.start()

    def stop(self) -> None:
        if self._on_change in self.store.listeners:
            self.store.listeners.remove(self._on_change)
        self._poller.stop(timeout=5)
        with self._lock:
            self._started = False

    # -- subscribers ---------------------------------------------------------------------

    def subscribe(self, accept: Callable[[Event], bool] | None = None,
                  maxsize: int = 1024, *,
                  replay: Callable[[Event], bool] | None = None) -> Subscription:
        """`replay` picks retained events to deliver first (those after a Last-Event-ID,
        or since a start-time); they and the live ones come in order, none twice."""
        sub = Subscription(self, maxsize, accept)
        with self._lock:
            if replay is not None:
                for event in self._retained:
                    if replay(event):
                        sub.offer(event)
            self._subs.append(sub)
        return sub

    @property
    def oldest_retained(self) -> Event | None:
        with self._lock:
            return self._retained[0] if self._retained else None

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subs)

    def publish(self, event: Event) -> None:
        """Numbered, retained and offered under one lock: a subscription being set up
        with a replay sees each event once (offers never block)."""
        with self._lock:
            event = replace(event, event_id=self._next_id)
            self._next_id += 1
            self._retained.append(event)
            for sub in self._subs:
                sub.offer(event)

    # -- sources ---------------------------------------------------------------------------

    def _on_change(self, ds: Datastore, ops: Sequence[JournalOp], session_id: int) -> None:
        """RFC 6470 §2.2 netconf-config-change for committed running/startup changes."""
        if ds not in (Datastore.RUNNING, Datastore.STARTUP):
            return
        edits = [{"target": path, "operation": "delete" if kind == "delete" else "replace"}
                 for kind, path, _ in ops if path is not None and kind != "move"]
        self.publish(Event(*CONFIG_EVENT, {"changed-by": changed_by_json(
                                               self.store.sessions.changed_by(session_id)),
                                           "datastore": ds.value,
                                           "edit": edits}, now_iso()))

    def _poll(self) -> None:
        """One look at <operational>; a failure is logged by the loop and the next poll
        runs as usual (a bad read must not end the stream for everyone)."""
        if self.subscribers and self.store.versions[Datastore.OPERATIONAL] != self._version:
            self._snapshot(emit=True)

    def _snapshot(self, *, emit: bool) -> None:
        self._version = self.store.versions[Datastore.OPERATIONAL]
        services = _service_states(read_operational(self.store, SERVICES_XPATH))
        alarms = _alarm_states(read_operational(self.store, ALARMS_XPATH))
        links = (_link_states(read_operational(self.store, LINKS_XPATH))
                 if "sdqn-topology" in self.store.schema.module_names else {})
        old_services, old_alarms, old_links = self._services, self._alarms, self._links
        self._services, self._alarms, self._links = services, alarms, links
        if not emit:
            return
        now = now_iso()
        for (network, link), oper in links.items():
            if old_links.get((network, link)) != oper:
                self.publish(Event(*LINK_EVENT, {"network-id": network, "link-id": link,
                                                 "oper-status": oper}, now))
        for name, (oper, admission) in services.items():
            if old_services.get(name, ("", ""))[0] != oper and oper:
                reason = f"admission {admission}" if admission else "state changed"
                self.publish(Event(*SERVICE_EVENT, {"name": name, "oper-state": oper,
                                                    "reason": reason}, now))
        for name in old_services.keys() - services.keys():
            self.publish(Event(*SERVICE_EVENT, {"name": name, "oper-state": "down",
                                                "reason": "request withdrawn"}, now))
        for key, (severity, cleared) in alarms.items():
            if old_alarms.get(key) != (severity, cleared):
                self.publish(Event(*ALARM_EVENT, _alarm_body(key, severity, cleared), now))


def changed_by_json(who: ChangedBy) -> dict[str, Any]:
    """RFC 6470 §2.1 `changed-by` in RFC 7951 JSON: the server (an empty leaf is
    `[null]`, RFC 7951 §6.9), or the user, its session and, when known, its host."""
    if who.username is None:
        return {"server": [None]}
    out: dict[str, Any] = {"username": who.username, "session-id": who.session_id}
    if who.source_host:
        out["source-host"] = who.source_host
    return out


def read_operational(store: NmdaStore, xpath: str) -> dict[str, Any]:
    """<operational> under `xpath` as RFC 7951 JSON (no NACM: the controller's own use)."""
    text = store.get(Datastore.OPERATIONAL, xpath=xpath)
    doc: dict[str, Any] = json.loads(text) if text.strip() else {}
    return doc


def _service_states(doc: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    requests = doc.get("sdqn-services:entanglement-services", {}).get("request", [])
    return {r["name"]: (str(r.get("state", {}).get("oper-state", "")),
                        str(r.get("state", {}).get("admission", ""))) for r in requests}


def _link_states(doc: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """(network-id, link-id) → the link's oper-status, of the links that have one."""
    return {(str(n["network-id"]), str(link["link-id"])): str(state["oper-status"])
            for n in doc.get("ietf-network:networks", {}).get("network", [])
            for link in n.get("ietf-network-topology:link", [])
            for state in [link.get("sdqn-topology:quantum-link", {}).get("state", {})]
            if "oper-status" in state}


def _alarm_states(doc: Mapping[str, Any]) -> dict[tuple[str, str, str], tuple[str, bool]]:
    alarms = doc.get("ietf-alarms:alarms", {}).get("alarm-list", {}).get("alarm", [])
    return {(str(a.get("resource")), str(a.get("alarm-type-id")),
             str(a.get("alarm-type-qualifier", ""))):
            (str(a.get("perceived-severity", "")), bool(a.get("is-cleared", False)))
            for a in alarms}


def _alarm_body(key: tuple[str, str, str], severity: str, cleared: bool) -> dict[str, Any]:
    """RFC 8632 §4 alarm-notification content for an alarm that appeared or changed."""
    resource, type_id, qualifier = key
    return {"resource": resource, "alarm-type-id": type_id,
            "alarm-type-qualifier": qualifier, "time": now_iso(),
            "perceived-severity": "cleared" if cleared else severity}
