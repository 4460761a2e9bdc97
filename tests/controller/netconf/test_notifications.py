"""RFC 5277 subscriptions carrying RFC 6470 events and the product's own notifications."""

from __future__ import annotations

from lxml import etree
from ncclient import manager

from controller.datastore.editnode import Operation
from controller.datastore.nmda import Datastore, NmdaStore
from controller.netconf.server import NetconfServer
from controller.restconf.access import DataAccess
from tests.controller.netconf.conftest import (
    AUTH,
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
