"""RFC 8040 §6 event stream (SSE): configuration changes and service-state changes
derived from <operational>, as ietf-restconf:notification JSON."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from ncclient import manager

from controller.datastore.nmda import Datastore, NmdaStore
from controller.netconf.server import NetconfServer
from controller.restconf.access import DataAccess
from controller.restconf.events import Event, EventHub
from controller.restconf.server import RestconfServer
from tests.controller.netconf.conftest import leaf_edit
from tests.controller.restconf.conftest import JSON, REQUEST

STREAM = "/restconf/streams/NETCONF/json"


class Listener:
    """Reads the stream on a thread; events land in a list the test waits on."""

    def __init__(self, base: httpx.URL, user: str) -> None:
        self.events: list[dict[str, Any]] = []
        self.ready = threading.Event()
        self.changed = threading.Condition()
        self.client = httpx.Client(base_url=base, auth=(user, user), timeout=10)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(5)

    def _run(self) -> None:
        try:
            with self.client.stream("GET", STREAM,
                                    headers={"Accept": "text/event-stream"}) as r:
                assert r.status_code == 200
                assert r.headers["content-type"] == "text/event-stream"
                for line in r.iter_lines():
                    self.ready.set()
                    if line.startswith("data: "):
                        with self.changed:
                            self.events.append(json.loads(line[6:]))
                            self.changed.notify_all()
        except httpx.HTTPError:
            pass  # server stopped

    def wait_for(self, name: str, timeout: float = 5.0) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            for event in self.events:
                body = event["ietf-restconf:notification"]
                if name in body:
                    return dict(body[name])
            return None

        with self.changed:
            assert self.changed.wait_for(lambda: found() is not None, timeout), self.events
            result = found()
        assert result is not None
        return result

    def wait_all(self, name: str, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The first `count` events called `name`, in arrival order."""
        def found() -> list[dict[str, Any]]:
            return [dict(e["ietf-restconf:notification"][name]) for e in self.events
                    if name in e["ietf-restconf:notification"]]

        with self.changed:
            assert self.changed.wait_for(lambda: len(found()) >= count, timeout), self.events
            return found()[:count]


@pytest.fixture
def listener(restconf: RestconfServer) -> Iterator[Listener]:
    lst = Listener(httpx.URL(restconf.url), "operator")
    yield lst
    lst.client.close()


def test_config_change_event(listener: Listener, admin: httpx.Client) -> None:
    r = admin.patch(REQUEST.format("qkd-alice-bob"), headers={"Content-Type": JSON},
                    content=json.dumps({"sdqn-services:request": [
                        {"name": "qkd-alice-bob", "weight": "3.0"}]}))
    assert r.status_code == 204
    change = listener.wait_for("ietf-netconf-notifications:netconf-config-change")
    assert change["datastore"] == "running"
    assert any("qkd-alice-bob" in e["target"] for e in change["edit"])


def test_service_state_change_from_operational(listener: Listener, store: NmdaStore) -> None:
    store.merge_state(json.dumps({"sdqn-services:entanglement-services": {"request": [
        {"name": "qkd-alice-bob", "state": {"oper-state": "up", "admission": "admitted"}}]}}))
    event = listener.wait_for("sdqn-services:service-state-change")
    assert event == {"name": "qkd-alice-bob", "oper-state": "up",
                     "reason": "admission admitted"}


def test_link_state_change_from_operational(listener: Listener, store: NmdaStore) -> None:
    """A link's oper-status written into <operational> (the controller's telemetry) is
    announced once per change, so that a topology view need not poll for it."""
    def publish(status: str) -> None:
        store.merge_state(json.dumps({"ietf-network:networks": {"network": [
            {"network-id": "metro", "ietf-network-topology:link": [
                {"link-id": "alice-r1", "sdqn-topology:quantum-link": {"state": {
                    "oper-status": status}}}]}]}}))

    publish("sdqn-types:down")
    assert listener.wait_for("sdqn-topology:link-state-change") == {
        "network-id": "metro", "link-id": "alice-r1", "oper-status": "sdqn-types:down"}
    publish("sdqn-types:down")                     # the same again: nothing to announce
    publish("sdqn-types:up")
    events = listener.wait_all("sdqn-topology:link-state-change", 2)
    assert [e["oper-status"] for e in events] == ["sdqn-types:down", "sdqn-types:up"]


def test_published_event_and_stream_errors(listener: Listener, hub: EventHub,
                                           admin: httpx.Client) -> None:
    hub.publish(Event("ietf-alarms", "alarm-notification",
                      {"resource": "alice", "perceived-severity": "major"}, "2026-01-01T00:00:00Z"))
    assert listener.wait_for("ietf-alarms:alarm-notification")["resource"] == "alice"
    assert admin.get("/restconf/streams/NETCONF/xml").status_code == 404
    refused = admin.get(STREAM, headers={"Accept": "application/yang-data+json"})
    assert refused.status_code == 406
    assert admin.post(STREAM).status_code == 405


def test_config_change_event_names_who_changed_what(listener: Listener, admin: httpx.Client,
                                                    access: DataAccess, netconf: NetconfServer,
                                                    store: NmdaStore) -> None:
    """RFC 6470 §2.1 changed-by in each event: the user, its session and its host, for a
    RESTCONF edit and a NETCONF edit alike; `server` for the controller's own change."""
    r = admin.patch(REQUEST.format("qkd-alice-bob"), headers={"Content-Type": JSON},
                    content=json.dumps({"sdqn-services:request": [
                        {"name": "qkd-alice-bob", "weight": "3.0"}]}))
    assert r.status_code == 204
    with manager.connect(host="127.0.0.1", port=netconf.port, username="admin",
                         password="admin", hostkey_verify=False, look_for_keys=False,
                         allow_agent=False, timeout=10) as session:
        session.edit_config(target="running", config=leaf_edit("2.5"))
        netconf_session = session.session_id
    with store.sessions.server_change("test"):
        store.edit_json(Datastore.RUNNING, {"sdqn-services:entanglement-services": {
            "request": [{"name": "qkd-alice-bob", "weight": "4.0"}]}})
    changes = listener.wait_all("ietf-netconf-notifications:netconf-config-change", 3)
    assert [c["changed-by"] for c in changes] == [
        {"username": "admin", "session-id": access.session_id("admin"),
         "source-host": "127.0.0.1"},
        {"username": "admin", "session-id": int(netconf_session), "source-host": "127.0.0.1"},
        {"server": [None]}]


def read_events(base: str, count: int, headers: dict[str, str] | None = None,
                params: dict[str, str] | None = None) -> list[tuple[int, dict[str, Any]]]:
    """The first `count` events of a fresh stream (SSE id, notification); a stream that
    stays silent for 5 s fails the read instead of hanging the test."""
    out: list[tuple[int, dict[str, Any]]] = []
    with httpx.Client(base_url=base, auth=("operator", "operator"),
                      timeout=httpx.Timeout(5.0)) as client, \
            client.stream("GET", STREAM, params=params,
                          headers={"Accept": "text/event-stream", **(headers or {})}) as r:
        assert r.status_code == 200
        event_id = -1
        for line in r.iter_lines():
            if line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("data: "):
                out.append((event_id, json.loads(line[6:])["ietf-restconf:notification"]))
                if len(out) >= count:
                    break
    return out


def _three_weight_changes(admin: httpx.Client, listener: Listener) -> None:
    for weight in ("3.0", "3.5", "4.0"):
        r = admin.patch(REQUEST.format("qkd-alice-bob"), headers={"Content-Type": JSON},
                        content=json.dumps({"sdqn-services:request": [
                            {"name": "qkd-alice-bob", "weight": weight}]}))
        assert r.status_code == 204
    listener.wait_all("ietf-netconf-notifications:netconf-config-change", 3)


CHANGE = "ietf-netconf-notifications:netconf-config-change"


def test_start_time_replays_retained_events_in_order(listener: Listener, admin: httpx.Client,
                                                     restconf: RestconfServer) -> None:
    """RFC 8040 §4.8.7: start-time replays the retained events from then on."""
    _three_weight_changes(admin, listener)
    replayed = read_events(restconf.url, 3, params={"start-time": "2000-01-01T00:00:00Z"})
    assert [CHANGE in body for _, body in replayed] == [True, True, True]
    ids = [event_id for event_id, _ in replayed]
    assert ids == sorted(ids) and len(set(ids)) == 3


def test_last_event_id_resumes_after_that_event(listener: Listener, admin: httpx.Client,
                                                restconf: RestconfServer,
                                                hub: EventHub) -> None:
    """SSE resumption (RFC 8040 §6.4 uses SSE): a client reconnecting with Last-Event-ID
    gets exactly the retained events after it, then live ones."""
    _three_weight_changes(admin, listener)
    first = read_events(restconf.url, 3, params={"start-time": "2000-01-01T00:00:00Z"})
    resumed = read_events(restconf.url, 2, headers={"Last-Event-ID": str(first[0][0])})
    assert [event_id for event_id, _ in resumed] == [first[1][0], first[2][0]]
    bad = httpx.get(restconf.url + STREAM, auth=("operator", "operator"),
                    headers={"Accept": "text/event-stream", "Last-Event-ID": "x1"}, timeout=5)
    assert bad.status_code == 400


def test_filter_passes_only_matching_notifications(listener: Listener, admin: httpx.Client,
                                                   restconf: RestconfServer,
                                                   hub: EventHub) -> None:
    """RFC 8040 §4.8.4: the filter is an XPath over the notification's content."""
    hub.publish(Event("ietf-alarms", "alarm-notification",
                      {"resource": "alice", "perceived-severity": "major"},
                      "2026-01-01T00:00:00Z"))
    _three_weight_changes(admin, listener)
    only = read_events(restconf.url, 3, params={
        "start-time": "2000-01-01T00:00:00Z",
        "filter": "/ietf-netconf-notifications:netconf-config-change"})
    assert all(CHANGE in body for _, body in only)
