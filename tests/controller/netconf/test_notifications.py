"""RFC 5277 subscriptions carrying RFC 6470 events and the product's own notifications."""

from __future__ import annotations

from lxml import etree
from ncclient import manager

from controller.netconf.server import NetconfServer
from tests.controller.netconf.conftest import NW, TOPO, Connect, leaf_edit

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
