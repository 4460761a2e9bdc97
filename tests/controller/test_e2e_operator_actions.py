"""Operator actions end to end: the daemon managing the emulated metro network, a fibre cut
raising its root alarm, that alarm acknowledged over NETCONF (<action>, ncclient),
RESTCONF (POST on the action, httpx) and gRPC (AcknowledgeAlarm) with the operator
recorded, a read-only user refused on each without anything changing; an APC calibrated
through sdqn-controller:calibrate-apc on all three, bad node ids and refusals reported
as the RFCs say."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import grpc
import httpx
import pytest
from lxml import etree
from ncclient.operations import RPCError

from controller.grpc_api.stubs import load
from southbound.transport import connect
from tests.controller.e2e import Daemon, northbound_daemon

AL = "urn:ietf:params:xml:ns:yang:ietf-alarms"
CTL = "urn:sdqn:sdqn-controller"
YANG = "urn:ietf:params:xml:ns:yang:1"
JSON = "application/yang-data+json"
ALARMS = "/restconf/ds/ietf-datastores:operational/ietf-alarms:alarms/alarm-list"
CUT_LINK = "r1-r2"
CUT_TYPE = "sdqn-alarms:fibre-cut"


class Setup:
    def __init__(self, net: Any, daemon: Daemon, restconf: str, grpc_target: str) -> None:
        self.net, self.daemon = net, daemon
        self.url, self.grpc_target = f"http://{restconf}", grpc_target

    def http(self, user: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=(user, user), timeout=60,
                            headers={"Accept": JSON})

    def netconf(self, user: str) -> Any:
        return connect(host="127.0.0.1", port=self.daemon.port, username=user,
                       password=user, timeout=60)

    def stub(self, user: str) -> tuple[Any, Any, grpc.Channel]:
        pb, grpc_module = load()[0], load()[1]
        channel = grpc.insecure_channel(self.grpc_target)
        return pb, grpc_module.ControllerServiceStub(channel), channel

    def alarms(self) -> list[dict[str, Any]]:
        with self.http("admin") as c:
            response = c.get(ALARMS)
        if response.status_code == 404:
            return []
        return list(response.json()["ietf-alarms:alarm-list"].get("alarm", []))

    def cut_alarm(self) -> dict[str, Any]:
        found = [a for a in self.alarms() if a["alarm-type-id"] == CUT_TYPE
                 and f"'{CUT_LINK}'" in a["resource"]]
        assert len(found) == 1, self.alarms()
        return found[0]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("actions")
    with northbound_daemon(tmp, "actions") as served:
        net, daemon = served.net, served.daemon
        assert served.grpc_target is not None
        found = Setup(net, daemon, served.restconf, served.grpc_target)
        net.world.set_cut(CUT_LINK, True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if any(a["alarm-type-id"] == CUT_TYPE and f"'{CUT_LINK}'" in a["resource"]
                   and not a["is-cleared"] for a in found.alarms()):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"no fibre-cut alarm: {found.alarms()}\n{daemon.log_tail()}")
        yield found


def action_xml(alarm: dict[str, Any], state: str) -> str:
    module, _, name = alarm["alarm-type-id"].partition(":")
    return (f'<action xmlns="{YANG}"><alarms xmlns="{AL}"><alarm-list><alarm>'
            f"<resource>{alarm['resource']}</resource>"
            f'<alarm-type-id xmlns:t="urn:sdqn:{module}">t:{name}</alarm-type-id>'
            f"<alarm-type-qualifier>{alarm['alarm-type-qualifier']}</alarm-type-qualifier>"
            f"<set-operator-state><state>{state}</state><text>on it</text>"
            "</set-operator-state></alarm></alarm-list></alarms></action>")


def action_path(alarm: dict[str, Any]) -> str:
    keys = ",".join(quote(alarm[k], safe="") for k in
                    ("resource", "alarm-type-id", "alarm-type-qualifier"))
    return f"/restconf/data/ietf-alarms:alarms/alarm-list/alarm={keys}/set-operator-state"


def test_netconf_acknowledge(setup: Setup) -> None:
    alarm = setup.cut_alarm()
    m = setup.netconf("operator")
    try:
        with pytest.raises(RPCError) as err:
            m.dispatch(etree.fromstring(action_xml(alarm, "ack")))
        assert err.value.tag == "access-denied"
    finally:
        m.close_session()
    assert setup.cut_alarm().get("operator-state-change") == alarm.get(
        "operator-state-change")
    m = setup.netconf("admin")
    try:
        assert m.dispatch(etree.fromstring(action_xml(alarm, "ack"))).ok
    finally:
        m.close_session()
    newest = setup.cut_alarm()["operator-state-change"][0]
    assert (newest["operator"], newest["state"], newest["text"]) == ("admin", "ack", "on it")


def test_restconf_acknowledge(setup: Setup) -> None:
    alarm = setup.cut_alarm()
    missing = {**alarm, "resource": alarm["resource"].replace(CUT_LINK, "no-such-link")}
    body = {"ietf-alarms:input": {"state": "closed"}}
    with setup.http("operator") as c:
        for target in (alarm, missing):   # 403 whether the alarm exists or not
            response = c.post(action_path(target), json=body,
                              headers={"Content-Type": JSON})
            assert response.status_code == 403, response.text
            assert "access-denied" in response.text
    assert setup.cut_alarm() == alarm
    with setup.http("admin") as c:
        response = c.post(action_path(missing), json=body, headers={"Content-Type": JSON})
        assert response.status_code == 404, response.text
        response = c.post(action_path(alarm), json=body, headers={"Content-Type": JSON})
        assert response.status_code == 204, response.text
    newest = setup.cut_alarm()["operator-state-change"][0]
    assert (newest["operator"], newest["state"]) == ("admin", "closed")


def test_grpc_acknowledge(setup: Setup) -> None:
    alarm = setup.cut_alarm()
    pb, stub, channel = setup.stub("admin")
    request = pb.AcknowledgeAlarmRequest(
        resource=alarm["resource"], alarm_type_id=alarm["alarm-type-id"],
        alarm_type_qualifier=alarm["alarm-type-qualifier"], state="ack", text="grpc")
    with channel:
        with pytest.raises(grpc.RpcError) as err:
            stub.AcknowledgeAlarm(request, metadata=(("authorization", "Bearer operator"),),
                                  timeout=60)
        assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED
        assert setup.cut_alarm() == alarm
        answer = stub.AcknowledgeAlarm(request, metadata=(("authorization", "Bearer admin"),),
                                       timeout=60)
        assert (answer.operator, answer.state) == ("admin", "ack")
        request.resource = request.resource.replace(CUT_LINK, "no-such-link")
        with pytest.raises(grpc.RpcError) as err:
            stub.AcknowledgeAlarm(request, metadata=(("authorization", "Bearer admin"),),
                                  timeout=60)
        assert err.value.code() is grpc.StatusCode.NOT_FOUND
    newest = setup.cut_alarm()["operator-state-change"][0]
    assert (newest["operator"], newest["time"]) == ("admin", answer.time)


def calibrate_xml(node: str, force: bool) -> str:
    return (f'<calibrate-apc xmlns="{CTL}"><node-id>{node}</node-id>'
            f"<force>{'true' if force else 'false'}</force></calibrate-apc>")


def test_calibrate_apc_over_every_interface(setup: Setup) -> None:
    m = setup.netconf("admin")
    try:
        reply = etree.fromstring(m.dispatch(etree.fromstring(
            calibrate_xml("apc-1", True))).xml.encode())
        assert reply.findtext(f".//{{{CTL}}}result") == "started"
        assert float(reply.findtext(f".//{{{CTL}}}expected-duration") or 0) > 0
        # a second request while it runs: the device's own answer
        reply = etree.fromstring(m.dispatch(etree.fromstring(
            calibrate_xml("apc-1", True))).xml.encode())
        assert reply.findtext(f".//{{{CTL}}}result") == "busy"
        for node in ("alice", "no-such-node"):   # not an APC
            with pytest.raises(RPCError) as err:
                m.dispatch(etree.fromstring(calibrate_xml(node, False)))
            assert err.value.tag == "invalid-value"
            assert "node-id" in err.value.message
    finally:
        m.close_session()
    m = setup.netconf("operator")
    try:
        with pytest.raises(RPCError) as err:
            m.dispatch(etree.fromstring(calibrate_xml("apc-2", True)))
        assert err.value.tag == "access-denied"
    finally:
        m.close_session()
    with setup.http("admin") as c:
        response = c.post("/restconf/operations/sdqn-controller:calibrate-apc",
                          json={"sdqn-controller:input": {"node-id": "apc-2", "force": True}},
                          headers={"Content-Type": JSON})
        assert response.status_code == 200, response.text
        assert response.json()["sdqn-controller:output"]["result"] == "started"
        response = c.post("/restconf/operations/sdqn-controller:calibrate-apc",
                          json={"sdqn-controller:input": {"node-id": "bob"}},
                          headers={"Content-Type": JSON})
        assert response.status_code == 400 and "invalid-value" in response.text
    with setup.http("operator") as c:
        response = c.post("/restconf/operations/sdqn-controller:calibrate-apc",
                          json={"sdqn-controller:input": {"node-id": "apc-3"}},
                          headers={"Content-Type": JSON})
        assert response.status_code == 403
    with setup.http("operator") as c:
        assert not c.get("/console/api/whoami").json()["may"]["calibrate"]
    with setup.http("admin") as c:
        assert c.get("/console/api/whoami").json()["may"]["calibrate"]
    pb, stub, channel = setup.stub("admin")
    with channel:
        answer = stub.CalibrateApc(pb.CalibrateApcRequest(node_id="apc-3", force=True),
                                   metadata=(("authorization", "Bearer admin"),), timeout=60)
        assert answer.result == "started" and answer.expected_duration_s > 0
        with pytest.raises(grpc.RpcError) as err:
            stub.CalibrateApc(pb.CalibrateApcRequest(node_id="alice"),
                              metadata=(("authorization", "Bearer admin"),), timeout=60)
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_calibration_refused_names_the_device(setup: Setup) -> None:
    """A device that cannot answer (crashed: its NETCONF server is gone) is a failure
    naming it, RESTCONF's 500 operation-failed (RFC 8040 §7)."""
    device = setup.net.devices["apc-2"]
    device.crash()
    try:
        with setup.http("admin") as c:
            response = c.post("/restconf/operations/sdqn-controller:calibrate-apc",
                              json={"sdqn-controller:input": {"node-id": "apc-2",
                                                              "force": True}},
                              headers={"Content-Type": JSON})
        assert response.status_code == 500, response.text
        assert "operation-failed" in response.text and "apc-2" in response.text
    finally:
        device.restart()
