"""Dynamic subscriptions (RFC 8639) and YANG-Push (RFC 8641) over NETCONF (RFC 8640),
driven with ncclient: the stream list, periodic and on-change pushes, modify, delete,
kill, NACM on pushed content, and bad input refused with the RFCs' reasons."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError

from controller.datastore.nmda import Datastore, NmdaStore
from controller.netconf.server import NetconfServer
from tests.controller.netconf.conftest import AUTH, LIMITS, SVC, Connect, xml

SN = "urn:ietf:params:xml:ns:yang:ietf-subscribed-notifications"
YP = "urn:ietf:params:xml:ns:yang:ietf-yang-push"
PATCH = "urn:ietf:params:xml:ns:yang:ietf-yang-patch"
NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"
ALARMS = "urn:ietf:params:xml:ns:yang:ietf-alarms"
DS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
REQUEST = "qkd-alice-bob"
ONE_REQUEST = (f'<entanglement-services xmlns="{SVC}"><request><name>{REQUEST}</name>'
               "</request></entanglement-services>")


def _rpc(mgr: manager.Manager, body: str) -> etree._Element:
    return xml(mgr.dispatch(etree.fromstring(body)))


def _establish(mgr: manager.Manager, inner: str) -> int:
    reply = _rpc(mgr, f'<establish-subscription xmlns="{SN}" xmlns:yp="{YP}" '
                 f'xmlns:ds="{DS}">{inner}</establish-subscription>')
    sub_id = reply.findtext(f".//{{{SN}}}id")
    assert sub_id is not None and sub_id.isdigit()
    return int(sub_id)


def _periodic(selection: str = "", period: int = 100) -> str:
    return (f"<yp:datastore>ds:operational</yp:datastore>{selection}"
            f"<yp:periodic><yp:period>{period}</yp:period></yp:periodic>")


def _subtree(content: str) -> str:
    return f"<yp:datastore-subtree-filter>{content}</yp:datastore-subtree-filter>"


def _refused(mgr: manager.Manager, body: str) -> RPCError:
    with pytest.raises(RPCError) as exc:
        _rpc(mgr, body)
    return exc.value


def _next(mgr: manager.Manager, name: str, sub_id: int | None = None,
          timeout: float = 6.0) -> etree._Element:
    """The next notification `name` (of subscription `sub_id`); others are skipped."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no {name} notification"
        notif = mgr.take_notification(block=True, timeout=left)
        assert notif is not None, f"no {name} notification"
        root = etree.fromstring(notif.notification_xml.encode()
                                if isinstance(notif.notification_xml, str)
                                else notif.notification_xml)
        assert root.findtext(f"{{{NOTIF}}}eventTime")
        content = next(c for c in root if etree.QName(c).localname != "eventTime")
        if etree.QName(content).localname != name:
            continue
        if sub_id is None or content.findtext("{*}id") == str(sub_id):
            return content


def _quiet(mgr: manager.Manager, sub_id: int, seconds: float) -> bool:
    """True when no notification of `sub_id` arrives within `seconds`."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        notif = mgr.take_notification(block=True, timeout=left)
        if notif is None:
            return True
        root = etree.fromstring(notif.notification_xml.encode())
        if any(el.text == str(sub_id) for el in root.iter(f"{{{YP}}}id", f"{{{SN}}}id")):
            return False
    return True


def _subscriptions(mgr: manager.Manager) -> list[etree._Element]:
    data = xml(mgr.get(filter=("subtree", f'<subscriptions xmlns="{SN}"/>')))
    return list(data.iterfind(f".//{{{SN}}}subscription"))


def _service_state(store: NmdaStore, **state: str) -> None:
    store.merge_state(json.dumps({"sdqn-services:entanglement-services": {"request": [
        {"name": REQUEST, "state": state}]}}))


# -- the stream list and the library ---------------------------------------------------------


def test_stream_list_and_library(connect: Connect) -> None:
    mgr = connect()
    data = xml(mgr.get(filter=("subtree", f'<streams xmlns="{SN}"/>')))
    streams = data.findall(f".//{{{SN}}}stream")
    assert [s.findtext(f"{{{SN}}}name") for s in streams] == ["NETCONF"]
    assert streams[0].findtext(f"{{{SN}}}description")
    assert streams[0].find(f"{{{SN}}}replay-support") is None   # this server keeps no log
    library = xml(mgr.get(filter=("subtree", '<yang-library xmlns="urn:ietf:params:xml:'
                                  'ns:yang:ietf-yang-library"/>')))
    features = {m.findtext("{*}name"): {f.text for f in m.iterfind("{*}feature")}
                for m in library.iter("{*}module")}
    assert features["ietf-subscribed-notifications"] == {"encode-xml", "replay", "subtree",
                                                         "xpath"}
    assert features["ietf-yang-push"] == {"on-change"}


@pytest.fixture
def replay_server(store: NmdaStore, tmp_path: Path) -> Iterator[NetconfServer]:
    limits = replace(LIMITS, replay_events=16, replay_log=tmp_path / "events.log")
    srv = NetconfServer(store, users=AUTH, host_key=tmp_path / "key", limits=limits,
                        name="replay")
    srv.start()
    yield srv
    srv.stop()


def _manager(server: NetconfServer, user: str = "admin") -> manager.Manager:
    return manager.connect(host="127.0.0.1", port=server.port, username=user, password=user,
                           hostkey_verify=False, look_for_keys=False, allow_agent=False,
                           timeout=10)


def test_replay_support_and_stream_replay(replay_server: NetconfServer) -> None:
    for number in range(20):   # more than the log keeps (16)
        replay_server.publish(etree.fromstring(
            f'<alarm-notification xmlns="{ALARMS}"><resource>r{number}</resource>'
            "</alarm-notification>"))
    with _manager(replay_server) as mgr:
        data = xml(mgr.get(filter=("subtree", f'<streams xmlns="{SN}"/>')))
        stream = data.find(f".//{{{SN}}}stream")
        assert stream is not None and stream.find(f"{{{SN}}}replay-support") is not None
        assert stream.findtext(f"{{{SN}}}replay-log-creation-time")
        assert stream.findtext(f"{{{SN}}}replay-log-aged-time")
        reply = _rpc(mgr, f'<establish-subscription xmlns="{SN}"><stream>NETCONF</stream>'
                          "<replay-start-time>2000-01-01T00:00:00Z</replay-start-time>"
                          "</establish-subscription>")
        sub_id = int(reply.findtext(f".//{{{SN}}}id") or "0")
        assert reply.findtext(f".//{{{SN}}}replay-start-time-revision")   # §2.4.2.1
        replayed = _next(mgr, "alarm-notification")
        assert replayed.findtext(f"{{{ALARMS}}}resource") not in ("r0", "r1", "r2", "r3")
        _next(mgr, "replay-completed", sub_id)


# -- stream subscriptions ------------------------------------------------------------------------


def test_stream_subscription_filter_counters_and_stop_time(connect: Connect,
                                                           server: NetconfServer) -> None:
    mgr = connect()
    stop = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3))
    sub_id = _establish(mgr, f'<stream>NETCONF</stream><stream-xpath-filter xmlns:al='
                             f'"{ALARMS}">/al:alarm-notification</stream-xpath-filter>'
                             f"<stop-time>{stop}</stop-time>")
    connect()   # a session-start event: excluded by the filter
    server.publish(etree.fromstring(f'<alarm-notification xmlns="{ALARMS}"><resource>bob'
                                    "</resource></alarm-notification>"))
    assert _next(mgr, "alarm-notification").findtext(f"{{{ALARMS}}}resource") == "bob"
    entry = _subscriptions(mgr)[0]
    assert entry.findtext(f"{{{SN}}}id") == str(sub_id)
    assert entry.findtext(f"{{{SN}}}stream") == "NETCONF"
    assert entry.findtext(f".//{{{SN}}}sent-event-records") == "1"
    assert entry.findtext(f".//{{{SN}}}excluded-event-records") == "1"
    _next(mgr, "subscription-completed", sub_id, timeout=8)
    assert _subscriptions(mgr) == []


def test_rfc5277_and_dynamic_subscriptions_do_not_mix(connect: Connect) -> None:
    old, new = connect(), connect()
    old.create_subscription()
    err = _refused(old, f'<establish-subscription xmlns="{SN}"><stream>NETCONF</stream>'
                        "</establish-subscription>")
    assert err.tag == "operation-not-supported"
    _establish(new, "<stream>NETCONF</stream>")
    _establish(new, _periodic(_subtree(ONE_REQUEST)))   # several on one session
    with pytest.raises(RPCError) as exc:
        new.create_subscription()
    assert exc.value.tag == "operation-not-supported"


# -- periodic ------------------------------------------------------------------------------------


def test_periodic_push_update_holds_the_selection_only(connect: Connect,
                                                       store: NmdaStore) -> None:
    mgr = connect()
    _service_state(store, **{"oper-state": "up"})
    sub_id = _establish(mgr, _periodic(_subtree(ONE_REQUEST)))
    update = _next(mgr, "push-update", sub_id)
    contents = update.find(f"{{{YP}}}datastore-contents")
    assert contents is not None
    assert [etree.QName(c).localname for c in contents] == ["entanglement-services"]
    requests = contents.findall(f".//{{{SVC}}}request")
    assert [r.findtext(f"{{{SVC}}}name") for r in requests] == [REQUEST]
    assert requests[0].findtext(f"{{{SVC}}}state/{{{SVC}}}oper-state") == "up"
    _next(mgr, "push-update", sub_id)   # and again, a period later


def test_modify_changes_the_period(connect: Connect) -> None:
    mgr = connect()
    sub_id = _establish(mgr, _periodic(_subtree(ONE_REQUEST)))
    _rpc(mgr, f'<modify-subscription xmlns="{SN}" xmlns:yp="{YP}"><id>{sub_id}</id>'
              "<yp:periodic><yp:period>250</yp:period></yp:periodic></modify-subscription>")
    modified = _next(mgr, "subscription-modified", sub_id)
    assert modified.findtext(f".//{{{YP}}}period") == "250"
    assert _subscriptions(mgr)[0].findtext(f".//{{{YP}}}period") == "250"
    err = _refused(mgr, f'<modify-subscription xmlns="{SN}" xmlns:yp="{YP}"><id>{sub_id}'
                        "</id><yp:periodic><yp:period>1</yp:period></yp:periodic>"
                        "</modify-subscription>")
    assert err.app_tag == "ietf-yang-push:period-unsupported"
    assert _subscriptions(mgr)[0].findtext(f".//{{{YP}}}period") == "250"


def test_delete_stops_the_pushes(connect: Connect) -> None:
    mgr, other = connect(), connect()
    sub_id = _establish(mgr, _periodic(_subtree(ONE_REQUEST)))
    _next(mgr, "push-update", sub_id)
    err = _refused(other, f'<delete-subscription xmlns="{SN}"><id>{sub_id}</id>'
                          "</delete-subscription>")   # not its own: "no such" for it
    assert err.app_tag == "ietf-subscribed-notifications:no-such-subscription"
    _rpc(mgr, f'<delete-subscription xmlns="{SN}"><id>{sub_id}</id></delete-subscription>')
    _quiet(mgr, sub_id, 0.3)   # what was already on the way
    assert _quiet(mgr, sub_id, 2.5)
    assert _subscriptions(mgr) == []


def test_kill_by_admin_and_refused_for_operator(connect: Connect) -> None:
    owner, admin, operator = connect("writer"), connect(), connect("operator")
    sub_id = _establish(owner, _periodic(_subtree(ONE_REQUEST), period=500))
    kill = f'<kill-subscription xmlns="{SN}"><id>{sub_id}</id></kill-subscription>'
    denied = _refused(operator, kill)   # RFC 8639: nacm:default-deny-all
    assert denied.tag == "access-denied"
    assert len(_subscriptions(admin)) == 1
    _rpc(admin, kill)
    ended = _next(owner, "subscription-terminated", sub_id)
    assert ended.findtext(f"{{{SN}}}reason") == \
        "ietf-subscribed-notifications:no-such-subscription"
    assert _subscriptions(admin) == []
    gone = _refused(admin, kill)
    assert gone.app_tag == "ietf-subscribed-notifications:no-such-subscription"


# -- on-change -------------------------------------------------------------------------------------


def _edits(update: etree._Element) -> list[tuple[str, str]]:
    return [(e.findtext(f"{{{PATCH}}}operation") or "", e.findtext(f"{{{PATCH}}}target") or "")
            for e in update.iterfind(f".//{{{PATCH}}}edit")]


def test_on_change_service_state_yang_patch(connect: Connect, store: NmdaStore) -> None:
    mgr = connect()
    sub_id = _establish(mgr, "<yp:datastore>ds:operational</yp:datastore>"
                             f'<yp:datastore-xpath-filter xmlns:svc="{SVC}">'
                             "/svc:entanglement-services</yp:datastore-xpath-filter>"
                             "<yp:on-change/>")
    sync = _next(mgr, "push-update", sub_id)   # sync-on-start (default true)
    assert sync.find(f".//{{{SVC}}}entanglement-services") is not None
    _service_state(store, **{"oper-state": "up"})
    change = _next(mgr, "push-change-update", sub_id)
    base = f"/sdqn-services:entanglement-services/request={REQUEST}"
    assert _edits(change) == [("create", f"{base}/state")]
    value = change.find(f".//{{{PATCH}}}value/{{{SVC}}}state")
    assert value is not None and value.findtext(f"{{{SVC}}}oper-state") == "up"
    _service_state(store, **{"oper-state": "down"})
    change = _next(mgr, "push-change-update", sub_id)
    assert _edits(change) == [("replace", f"{base}/state/oper-state")]
    assert change.findtext(f".//{{{PATCH}}}value/{{{SVC}}}oper-state") == "down"
    store.delete_state(f"/sdqn-services:entanglement-services/request[name='{REQUEST}']"
                       "/state")
    change = _next(mgr, "push-change-update", sub_id)
    assert _edits(change) == [("delete", f"{base}/state")]
    _rpc(mgr, f'<resync-subscription xmlns="{YP}"><id>{sub_id}</id></resync-subscription>')
    resynced = _next(mgr, "push-update", sub_id)   # RFC 8641 §4.4.3
    assert resynced.find(f".//{{{SVC}}}entanglement-services") is not None
    err = _refused(mgr, f'<resync-subscription xmlns="{YP}"><id>{sub_id + 99}</id>'
                        "</resync-subscription>")
    assert err.app_tag == "ietf-yang-push:no-such-subscription-resync"


def test_on_change_alarm_raised_and_cleared(connect: Connect, store: NmdaStore) -> None:
    mgr = connect()
    sub_id = _establish(mgr, "<yp:datastore>ds:operational</yp:datastore>"
                             + _subtree(f'<alarms xmlns="{ALARMS}"/>')
                             + "<yp:on-change><yp:sync-on-start>false</yp:sync-on-start>"
                               "</yp:on-change>")
    alarm = {"resource": "alice", "alarm-type-id": "sdqn-alarms:link-down",
             "alarm-type-qualifier": "", "time-created": "2026-01-01T00:00:00Z",
             "is-cleared": False, "last-raised": "2026-01-01T00:00:00Z",
             "last-changed": "2026-01-01T00:00:00Z", "perceived-severity": "major",
             "alarm-text": "link down"}
    store.merge_state(json.dumps({"ietf-alarms:alarms": {"alarm-list": {
        "number-of-alarms": 1, "alarm": [alarm]}}}))
    raised = _next(mgr, "push-change-update", sub_id)   # no push-update before it
    assert _edits(raised) == [("create", "/ietf-alarms:alarms")]
    assert raised.findtext(f".//{{{PATCH}}}value//{{{ALARMS}}}resource") == "alice"
    store.merge_state(json.dumps({"ietf-alarms:alarms": {"alarm-list": {
        "alarm": [{**alarm, "is-cleared": True}]}}}))
    cleared = _next(mgr, "push-change-update", sub_id)
    assert _edits(cleared) == [("replace", "/ietf-alarms:alarms/alarm-list/alarm=alice,"
                                           "sdqn-alarms%3Alink-down,/is-cleared")]
    assert cleared.findtext(f".//{{{PATCH}}}value/{{{ALARMS}}}is-cleared") == "true"


def test_nacm_denied_subtree_is_never_pushed(connect: Connect, store: NmdaStore) -> None:
    mgr = connect("operator")
    _service_state(store, **{"oper-state": "up"})
    sub_id = _establish(mgr, _periodic(_subtree(ONE_REQUEST)))
    first = _next(mgr, "push-update", sub_id)
    assert first.find(f".//{{{SVC}}}state") is not None
    store.edit_json(Datastore.RUNNING, {"ietf-netconf-acm:nacm": {"rule-list": [{
        "name": "hide-service-state", "group": ["operator"], "rule": [{
            "name": "no-state", "module-name": "sdqn-services",
            "path": "/sdqn-services:entanglement-services/request/state",
            "access-operations": "read", "action": "deny"}]}]}})
    _quiet(mgr, sub_id, 0.2)   # a push already on its way may still carry it
    later = _next(mgr, "push-update", sub_id)
    assert later.find(f".//{{{SVC}}}request") is not None
    assert later.find(f".//{{{SVC}}}state") is None


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("inner", "app_tag"), [
    ("<stream>NOPE</stream>", "ietf-subscribed-notifications:stream-unavailable"),
    (_periodic(_subtree(ONE_REQUEST), period=0), "ietf-yang-push:period-unsupported"),
    ("<yp:datastore>ds:operational</yp:datastore><yp:datastore-xpath-filter>"
     "/nosuch:thing</yp:datastore-xpath-filter><yp:periodic><yp:period>100</yp:period>"
     "</yp:periodic>", "ietf-subscribed-notifications:filter-unsupported"),
    ("<yp:datastore>ds:running</yp:datastore><yp:periodic><yp:period>100</yp:period>"
     "</yp:periodic>", "ietf-yang-push:datastore-not-subscribable"),
    ("<yp:datastore>ds:operational</yp:datastore>"
     + _subtree('<yang-library xmlns="urn:ietf:params:xml:ns:yang:ietf-yang-library"/>')
     + "<yp:on-change/>", "ietf-yang-push:on-change-unsupported"),
    ("<stream>NETCONF</stream><replay-start-time>2000-01-01T00:00:00Z</replay-start-time>",
     "ietf-subscribed-notifications:replay-unsupported"),
])
def test_bad_establish_changes_nothing(connect: Connect, inner: str, app_tag: str) -> None:
    mgr = connect()
    err = _refused(mgr, f'<establish-subscription xmlns="{SN}" xmlns:yp="{YP}" '
                        f'xmlns:ds="{DS}">{inner}</establish-subscription>')
    assert err.app_tag == app_tag
    # RFC 8640 §2.4: the reason is also in the rpc's error-info structure
    assert err.info is not None
    info = etree.fromstring(err.info.encode())[0]
    assert etree.QName(info).localname.startswith("establish-subscription-")
    assert info.findtext("{*}reason") == app_tag
    assert _subscriptions(mgr) == []
    assert xml(mgr.get(filter=("subtree", f'<streams xmlns="{SN}"/>'))) is not None


def test_bad_ids_and_limits(connect: Connect, server: NetconfServer) -> None:
    mgr = connect()
    err = _refused(mgr, f'<delete-subscription xmlns="{SN}"><id>999</id>'
                        "</delete-subscription>")
    assert err.app_tag == "ietf-subscribed-notifications:no-such-subscription"
    err = _refused(mgr, f'<delete-subscription xmlns="{SN}"><id>x</id></delete-subscription>')
    assert err.tag == "invalid-value"
    assert server.push is not None
    for _ in range(server.push.limits.per_session):
        _establish(mgr, "<stream>NETCONF</stream>")
    err = _refused(mgr, f'<establish-subscription xmlns="{SN}"><stream>NETCONF</stream>'
                        "</establish-subscription>")
    assert err.tag == "resource-denied"
    assert err.app_tag == "ietf-subscribed-notifications:insufficient-resources"
    assert len(_subscriptions(mgr)) == server.push.limits.per_session
    assert xml(mgr.get_config(source="running", filter=(
        "subtree", '<nacm xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-acm"/>'))) \
        is not None   # the session still serves
