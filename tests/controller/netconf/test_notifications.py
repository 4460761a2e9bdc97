"""RFC 5277 subscriptions carrying RFC 6470 events and the product's own notifications."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree
from ncclient import manager

from controller.datastore.editnode import Operation
from controller.datastore.nmda import Datastore, NmdaStore
from controller.netconf.eventlog import EventLog, LoggedEvent
from controller.netconf.server import NetconfServer
from controller.restconf.access import DataAccess
from tests.controller.netconf.conftest import (
    AUTH,
    LIMITS,
    NACM,
    NC,
    NW,
    TOPO,
    Connect,
    leaf_edit,
    t2,
)

NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"
ALARMS = "urn:ietf:params:xml:ns:yang:ietf-alarms"


def _next(mgr: manager.Manager, name: str, timeout: float = 5.0) -> etree._Element:
    """The next notification whose content element is `name` (others are skipped)."""
    while True:
        notif = mgr.take_notification(block=True, timeout=timeout)
        assert notif is not None, f"no {name} notification"
        root = etree.fromstring(notif.notification_xml.encode()
                                if isinstance(notif.notification_xml, str)
                                else notif.notification_xml)
        assert root.findtext(f"{{{NOTIF}}}eventTime")
        content = next(c for c in root if etree.QName(c).localname != "eventTime")
        if etree.QName(content).localname == name:
            return content


def test_config_change_and_session_events(connect: Connect) -> None:
    listener = connect()
    listener.create_subscription()
    editor = connect()
    start = _next(listener, "netconf-session-start")
    assert start.findtext(f"{{{NCN}}}session-id") == str(editor.session_id)
    assert start.findtext(f"{{{NCN}}}username") == "admin"
    editor.edit_config(target="running", config=leaf_edit("2.5"))
    change = _next(listener, "netconf-config-change")
    assert change.findtext(f"{{{NCN}}}datastore") == "running"
    assert change.findtext(f"{{{NCN}}}changed-by/{{{NCN}}}session-id") == str(editor.session_id)
    target = change.find(f"{{{NCN}}}edit/{{{NCN}}}target")
    assert target is not None and target.text is not None
    assert target.nsmap["ietf-network"] == NW and target.nsmap["sdqn-topology"] == TOPO
    assert target.text.endswith("sdqn-topology:coherence-time")
    editor_id = editor.session_id
    editor.close_session()
    end = _next(listener, "netconf-session-end")
    assert end.findtext(f"{{{NCN}}}session-id") == str(editor_id)
    assert end.findtext(f"{{{NCN}}}termination-reason") == "closed"


def test_publish_product_notification_with_filter(connect: Connect,
                                                  server: NetconfServer) -> None:
    filtered, everything = connect(), connect()
    filtered.create_subscription(filter=("subtree", f'<alarm-notification xmlns="{ALARMS}"/>'))
    everything.create_subscription()
    alarm = etree.fromstring(
        f'<alarm-notification xmlns="{ALARMS}"><resource>alice</resource>'
        "<perceived-severity>major</perceived-severity></alarm-notification>")
    server.publish(etree.fromstring('<service-state xmlns="urn:sdqn:test"><name>x</name>'
                                    "</service-state>"))
    server.publish(alarm)
    got = _next(filtered, "alarm-notification")
    assert got.findtext(f"{{{ALARMS}}}resource") == "alice"
    assert _next(everything, "service-state") is not None
    # the filtered subscriber never saw the service-state event
    assert filtered.take_notification(block=False) is None


def test_second_subscription_and_replay_refused(connect: Connect) -> None:
    from ncclient.operations.rpc import RPCError

    mgr = connect()
    try:
        mgr.create_subscription(start_time="2020-01-01T00:00:00Z")
        raise AssertionError("replay was accepted")
    except RPCError as err:
        assert err.tag == "operation-not-supported"
    mgr.create_subscription()
    try:
        mgr.create_subscription()
        raise AssertionError("a second subscription was accepted")
    except RPCError as err:
        assert err.tag == "operation-failed"


# Ahead of the default read-only rules (rule-lists are ordered by user, RFC 8341 §3.4.5).
OPERATOR_WRITES = (f'<config xmlns="{NC}"><nacm xmlns="{NACM}">'
                   '<rule-list xmlns:yang="urn:ietf:params:xml:ns:yang:1" yang:insert="first">'
                   "<name>operator-writes</name><group>operator</group>"
                   "<rule><name>edit</name><module-name>ietf-netconf</module-name>"
                   "<rpc-name>edit-config</rpc-name><access-operations>exec</access-operations>"
                   "<action>permit</action></rule>"
                   "<rule><name>data</name><module-name>*</module-name>"
                   "<access-operations>*</access-operations><action>permit</action></rule>"
                   "</rule-list></nacm></config>")


def _changed_by(change: etree._Element) -> dict[str, str | None]:
    by = change.find(f"{{{NCN}}}changed-by")
    assert by is not None
    return {etree.QName(c).localname: c.text for c in by}


def test_config_change_names_the_user_of_every_northbound(connect: Connect,
                                                          server: NetconfServer,
                                                          store: NmdaStore) -> None:
    """RFC 6470 §2.1: changed-by carries the user's name, session id and source host,
    whichever northbound made the change; the server's own changes say `server`."""
    listener = connect()
    listener.create_subscription()
    admin = connect("admin")
    admin.edit_config(target="running", config=OPERATOR_WRITES)
    assert _changed_by(_next(listener, "netconf-config-change")) == {
        "username": "admin", "session-id": str(admin.session_id), "source-host": "127.0.0.1"}
    operator = connect("operator")
    operator.edit_config(target="running", config=leaf_edit("2.5"))
    assert _changed_by(_next(listener, "netconf-config-change")) == {
        "username": "operator", "session-id": str(operator.session_id),
        "source-host": "127.0.0.1"}

    # RESTCONF and gRPC edit through DataAccess, as the account's pseudo session.
    access = DataAccess(store, users=AUTH, core=server.core)
    try:
        with access.from_host("192.0.2.7"):
            access.edit(Datastore.RUNNING, store.parse_xml(etree.fromstring(leaf_edit("3.5"))),
                        "admin", default_operation=Operation.MERGE)
        assert _changed_by(_next(listener, "netconf-config-change")) == {
            "username": "admin", "session-id": str(access.session_id("admin")),
            "source-host": "192.0.2.7"}
        # A cancel-commit is the cancelling user's change (RFC 6241 §8.4.4.1).
        admin.edit_config(target="candidate", config=leaf_edit("4.5"))
        admin.commit(confirmed=True, persist="p1")
        _next(listener, "netconf-config-change")
        access.cancel_commit("admin", persist_id="p1")
        reverted = _next(listener, "netconf-config-change")
        assert _changed_by(reverted)["username"] == "admin"
        assert t2(store) == "3.5"
    finally:
        access.close()

    # The server's own change (a confirmed commit reverted on timeout, RFC 6241 §8.4.1).
    admin.edit_config(target="candidate", config=leaf_edit("5.5"))
    admin.commit(confirmed=True, timeout="1")
    _next(listener, "netconf-config-change")
    reverted = _next(listener, "netconf-config-change")
    assert _changed_by(reverted) == {"server": None}
    assert t2(store) == "3.5"


def test_confirmed_commit_events(connect: Connect) -> None:
    """RFC 6470 §2.4: each step of a confirmed commit, with the session that made it."""
    listener = connect()
    listener.create_subscription(filter=(
        "subtree", f'<netconf-confirmed-commit xmlns="{NCN}"/>'))
    editor = connect()
    editor.edit_config(target="candidate", config=leaf_edit("3.5"))
    editor.commit(confirmed=True, timeout="60")
    editor.commit()
    editor.edit_config(target="candidate", config=leaf_edit("4.5"))
    editor.commit(confirmed=True, timeout="60", persist="p1")
    editor.cancel_commit(persist_id="p1")
    events = [_next(listener, "netconf-confirmed-commit") for _ in range(4)]
    assert [e.findtext(f"{{{NCN}}}confirm-event") for e in events] == [
        "start", "complete", "start", "cancel"]
    assert {e.findtext(f"{{{NCN}}}session-id") for e in events} == {str(editor.session_id)}
    assert {e.findtext(f"{{{NCN}}}username") for e in events} == {"admin"}
    assert events[0].findtext(f"{{{NCN}}}timeout") == "60"
    assert events[1].find(f"{{{NCN}}}timeout") is None


@pytest.fixture
def replaying(store: NmdaStore, tmp_path: Path) -> Iterator[NetconfServer]:
    """A server that keeps its last 16 events for RFC 5277 replay."""
    srv = NetconfServer(store, users=AUTH, host_key=tmp_path / "host_key",
                        limits=replace(LIMITS, replay_events=16), name="replay")
    srv.start()
    yield srv
    srv.stop()


def _session(server: NetconfServer) -> manager.Manager:
    return manager.connect(host="127.0.0.1", port=server.port, username="admin",
                           password="admin", hostkey_verify=False, look_for_keys=False,
                           allow_agent=False, timeout=10)


def _stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _event(name: str) -> etree._Element:
    return etree.fromstring(f'<{name} xmlns="urn:sdqn:test"><name>x</name></{name}>')


def _names_until(m: manager.Manager, last: str) -> list[str]:
    """The names of the notifications received up to `last`, leaving out the base events
    (RFC 6470: this session's own start among them)."""
    names: list[str] = []
    while not names or names[-1] != last:
        note = m.take_notification(block=True, timeout=5)
        assert note is not None, names
        content = etree.fromstring(note.notification_xml.encode())[1]
        if etree.QName(content).namespace != NCN:
            names.append(etree.QName(content).localname)
    return names


def test_replay_of_events_published_before_the_subscription(replaying: NetconfServer
                                                              ) -> None:
    """RFC 5277 §3.3: the logged events since startTime, replayComplete, then live events;
    none twice, none lost."""
    replaying.publish(_event("too-early"))
    time.sleep(0.01)
    since = datetime.now(UTC)
    replaying.publish(_event("first"))
    replaying.publish(_event("second"))
    m = _session(replaying)
    try:
        m.create_subscription(start_time=_stamp(since))
        replaying.publish(_event("third"))
        assert _names_until(m, "third") == ["first", "second", "replayComplete", "third"]
        assert m.take_notification(block=False) is None
    finally:
        m.close_session()


def test_replay_up_to_a_stop_time_completes_the_subscription(replaying: NetconfServer
                                                             ) -> None:
    since = datetime.now(UTC)
    replaying.publish(_event("inside"))
    time.sleep(0.01)
    until = datetime.now(UTC)
    time.sleep(0.01)
    replaying.publish(_event("after"))
    m = _session(replaying)
    try:
        m.create_subscription(start_time=_stamp(since), stop_time=_stamp(until))
        names: list[str] = []
        while not names or names[-1] != "notificationComplete":
            note = m.take_notification(block=True, timeout=5)
            assert note is not None, names
            names.append(etree.QName(etree.fromstring(note.notification_xml.encode())[1])
                         .localname)
        assert names == ["inside", "replayComplete", "notificationComplete"]
        m.create_subscription()        # the completed subscription is over
    finally:
        m.close_session()


@pytest.mark.parametrize(("start", "stop", "tag"), [
    (timedelta(hours=1), None, "bad-element"),                 # start in the future
    (None, timedelta(0), "missing-element"),                   # a stop needs a start
    (timedelta(seconds=-1), timedelta(seconds=-2), "bad-element"),   # stop before start
])
def test_replay_window_is_checked(replaying: NetconfServer, start: timedelta | None,
                                  stop: timedelta | None, tag: str) -> None:
    from ncclient.operations.rpc import RPCError

    now = datetime.now(UTC)
    rpc = etree.Element(f"{{{NOTIF}}}create-subscription", nsmap={None: NOTIF})
    for name, offset in (("startTime", start), ("stopTime", stop)):
        if offset is not None:
            etree.SubElement(rpc, f"{{{NOTIF}}}{name}").text = _stamp(now + offset)
    m = _session(replaying)
    try:
        with pytest.raises(RPCError) as refused:
            m.dispatch(rpc)
        assert refused.value.tag == tag
    finally:
        m.close_session()


def test_replay_survives_a_restart_from_the_persistent_log(store: NmdaStore,
                                                           tmp_path: Path) -> None:
    """RFC 5277 §3.3 replay from the bounded log on disk: events published before a
    restart are replayed by the next server on the same file, in order, once."""
    path = tmp_path / "notifications.jsonl"
    limits = replace(LIMITS, replay_events=16, replay_log=path)
    since = datetime.now(UTC)
    first = NetconfServer(store, users=AUTH, host_key=tmp_path / "host_key", limits=limits,
                          name="before")
    first.start()
    try:
        first.publish(_event("before-restart"))
    finally:
        first.stop()
    assert path.stat().st_mode & 0o777 == 0o600
    with path.open("a", encoding="utf-8") as torn:   # a write the kill cut short
        torn.write('{"seq": 99, "stream": "NET')
    second = NetconfServer(store, users=AUTH, host_key=tmp_path / "host_key", limits=limits,
                           name="after")
    second.start()
    m = _session(second)
    try:
        m.create_subscription(start_time=_stamp(since))
        second.publish(_event("after-restart"))
        assert _names_until(m, "after-restart") == [
            "before-restart", "replayComplete", "after-restart"]
    finally:
        m.close_session()
        second.stop()


def test_persistent_log_keeps_only_the_latest_events(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    log = EventLog(path, capacity=3)
    events = [LoggedEvent(i, "NETCONF", "2026-01-01T00:00:00Z", b"<e/>") for i in range(1, 9)]
    for n, event in enumerate(events, 1):
        log.append(event, lambda n=n: events[:n])
    assert len(path.read_text().splitlines()) <= 6
    assert path.stat().st_mode & 0o777 == 0o600
    assert [e.seq for e in EventLog(path, capacity=3).loaded()] == [6, 7, 8]
