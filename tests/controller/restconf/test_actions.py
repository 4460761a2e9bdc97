"""YANG 1.1 actions on NETCONF (<action>, RFC 7950 §7.15.2, over ncclient) and RESTCONF
(POST on the action resource, RFC 8040 §3.6, over httpx) sharing one core: RFC 8632
set-operator-state acknowledges an alarm, records the operator, survives updates of the
alarm; a read-only user is refused before learning whether the alarm exists; bad input
and missing instances get the RFCs' errors and change nothing."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from lxml import etree
from ncclient.operations import RPCError

from controller.datastore.nmda import Datastore, NmdaStore
from controller.netconf.server import NetconfServer
from controller.service.alarm_actions import alarm_action_handlers
from controller.service.alarms import AlarmKey, AlarmManager, Severity, link_resource
from tests.controller.netconf.conftest import Connect, connect  # noqa: F401 (fixture)
from tests.controller.restconf.conftest import JSON, XML, Client

AL = "urn:ietf:params:xml:ns:yang:ietf-alarms"
YANG = "urn:ietf:params:xml:ns:yang:1"
SDQN_AL = "urn:sdqn:sdqn-alarms"
CUT = AlarmKey(link_resource("metro", "r1-r2"), "sdqn-alarms:fibre-cut")
ALARMS = "/restconf/data/ietf-alarms:alarms/alarm-list"


@pytest.fixture
def alarms(store: NmdaStore, netconf: NetconfServer) -> AlarmManager:
    manager_ = AlarmManager(store, notify=netconf.publish)
    netconf.core.action_handlers.update(alarm_action_handlers(manager_))
    manager_.raise_alarm(CUT, Severity.CRITICAL, "fibre r1-r2 cut")
    return manager_


@pytest.fixture
def server(netconf: NetconfServer) -> NetconfServer:
    """The NETCONF server the NETCONF tests' `connect` reaches: here, the one sharing its
    core with RESTCONF."""
    return netconf


def action_xml(key: AlarmKey, state: str = "ack", text: str | None = "seen") -> str:
    note = f"<text>{text}</text>" if text is not None else ""
    return (f'<action xmlns="{YANG}"><alarms xmlns="{AL}"><alarm-list><alarm>'
            f"<resource>{key.resource}</resource>"
            f'<alarm-type-id xmlns:sa="{SDQN_AL}">sa:{key.type_id.split(":")[1]}'
            "</alarm-type-id><alarm-type-qualifier/>"
            f"<set-operator-state><state>{state}</state>{note}</set-operator-state>"
            "</alarm></alarm-list></alarms></action>")


def action_path(key: AlarmKey) -> str:
    keys = ",".join(quote(v, safe="") for v in (key.resource, key.type_id, key.qualifier))
    return f"{ALARMS}/alarm={keys}/set-operator-state"


def operational(store: NmdaStore) -> dict[str, Any]:
    doc = json.loads(store.get(Datastore.OPERATIONAL, xpath="/ietf-alarms:alarms") or "{}")
    entries = doc["ietf-alarms:alarms"]["alarm-list"]["alarm"]
    return dict(entries[0])


def test_netconf_action_acknowledges_and_records_the_operator(
        alarms: AlarmManager, store: NmdaStore, connect: Connect  # noqa: F811
) -> None:
    m = connect("admin")
    listener = connect("admin")
    listener.create_subscription()
    reply = m.dispatch(etree.fromstring(action_xml(CUT)))
    assert reply.ok
    # the alarm's nested operator-action notification (RFC 8632, RFC 7950 §7.16.2)
    note = listener.take_notification(timeout=10)
    assert note is not None
    event = etree.fromstring(note.notification_xml.encode())
    action = event.find(f".//{{{AL}}}alarm/{{{AL}}}operator-action")
    assert action is not None
    assert action.findtext(f"{{{AL}}}operator") == "admin"
    assert action.findtext(f"{{{AL}}}state") == "ack"
    entry = operational(store)
    (change,) = entry["operator-state-change"]
    assert (change["operator"], change["state"], change["text"]) == ("admin", "ack", "seen")
    assert entry["last-changed"] == change["time"]
    # RFC 8632 §3.5.2: a new status change of the resource keeps the operator state
    alarms.raise_alarm(CUT, Severity.MAJOR, "fibre r1-r2 lossy")
    alarms.clear_alarm(CUT)
    alarms.raise_alarm(CUT, Severity.CRITICAL, "fibre r1-r2 cut again")
    entry = operational(store)
    assert [c["state"] for c in entry["operator-state-change"]] == ["ack"]
    assert alarms.get(CUT) is not None and alarms.get(CUT).operator_state == "ack"  # type: ignore[union-attr]


def test_netconf_read_only_user_is_denied_and_nothing_changes(
        alarms: AlarmManager, store: NmdaStore, connect: Connect  # noqa: F811
) -> None:
    before = operational(store)
    m = connect("operator")
    for key in (CUT, AlarmKey(link_resource("metro", "nope"), CUT.type_id)):
        with pytest.raises(RPCError) as err:
            m.dispatch(etree.fromstring(action_xml(key)))
        assert err.value.tag == "access-denied"
    assert operational(store) == before


def test_netconf_missing_instance_and_bad_input(alarms: AlarmManager, store: NmdaStore,
                                                connect: Connect  # noqa: F811
) -> None:
    before = operational(store)
    m = connect("admin")
    with pytest.raises(RPCError) as err:
        m.dispatch(etree.fromstring(action_xml(AlarmKey(link_resource("metro", "nope"),
                                                        CUT.type_id))))
    assert err.value.tag == "data-missing"
    assert "nope" in (err.value.path or "")
    with pytest.raises(RPCError) as err:
        m.dispatch(etree.fromstring(action_xml(CUT, state="shelved")))
    assert err.value.tag == "invalid-value"
    with pytest.raises(RPCError) as err:  # state is mandatory
        m.dispatch(etree.fromstring(action_xml(CUT).replace("<state>ack</state>", "")))
    assert err.value.tag == "missing-element"
    with pytest.raises(RPCError) as err:
        m.dispatch(etree.fromstring(action_xml(CUT).replace("set-operator-state",
                                                            "set-anything")))
    assert err.value.tag == "unknown-element"
    assert operational(store) == before
    assert m.connected   # the server keeps serving


def test_restconf_post_action(alarms: AlarmManager, store: NmdaStore,
                              client: Client) -> None:
    with client("admin") as c:
        response = c.post(action_path(CUT), json={"ietf-alarms:input": {"state": "closed"}},
                          headers={"Content-Type": JSON})
        assert response.status_code == 204, response.text
        (change,) = operational(store)["operator-state-change"]
        assert (change["operator"], change["state"]) == ("admin", "closed")
        xml_body = f'<input xmlns="{AL}"><state>ack</state><text>again</text></input>'
        response = c.post(action_path(CUT), content=xml_body, headers={"Content-Type": XML})
        assert response.status_code == 204, response.text
        assert [x["state"] for x in operational(store)["operator-state-change"]] == [
            "ack", "closed"]
        summary = {s["severity"]: s for s in json.loads(store.get(
            Datastore.OPERATIONAL, xpath="/ietf-alarms:alarms/summary") or "{}")
            ["ietf-alarms:alarms"]["summary"]["alarm-summary"]}
        assert summary["critical"]["not-cleared-not-closed"] == 1


def test_restconf_403_before_404(alarms: AlarmManager, store: NmdaStore,
                                 client: Client) -> None:
    before = operational(store)
    missing = AlarmKey(link_resource("metro", "nope"), CUT.type_id)
    body = {"ietf-alarms:input": {"state": "ack"}}
    with client("operator") as c:
        for key in (CUT, missing):
            response = c.post(action_path(key), json=body, headers={"Content-Type": JSON})
            assert response.status_code == 403, response.text
            assert "access-denied" in response.text
    with client("admin") as c:
        response = c.post(action_path(missing), json=body, headers={"Content-Type": JSON})
        assert response.status_code == 404, response.text
        response = c.post(action_path(CUT), json={"ietf-alarms:input": {"state": "bogus"}},
                          headers={"Content-Type": JSON})
        assert response.status_code == 400, response.text
        assert "invalid-value" in response.text
        response = c.post(action_path(CUT), json={"wrong:input": {"state": "ack"}},
                          headers={"Content-Type": JSON})
        assert response.status_code == 400
        response = c.get(action_path(CUT))
        assert response.status_code == 405
    assert operational(store) == before
