"""Per-device diffs and the impact of past commits end to end: the daemon managing the
emulated metro network; the operator's commit of the intent pushed a configuration to
every device and admitted the services, and show-commit of that change of running —
asked later, over NETCONF (ncclient), RESTCONF (httpx) and gRPC — lists what it did to
each device and to each service, the same on all three. A user whose NACM rules hide
/sdqn-controller:controller/devices sees the change but no device."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from lxml import etree

from controller.bench.change import members
from controller.grpc_api.stubs import load
from southbound.transport import connect
from tests.controller.e2e import NC, Daemon, northbound_daemon

CTL = "urn:sdqn:sdqn-controller"
ACM = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"
JSON = "application/yang-data+json"
SHOW = "/restconf/operations/sdqn-controller:show-commit"


class Setup:
    def __init__(self, daemon: Daemon, restconf: str, grpc_target: str) -> None:
        self.daemon, self.url, self.grpc_target = daemon, f"http://{restconf}", grpc_target
        self.intent_commit = ""

    def http(self, user: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=(user, user), timeout=60,
                            headers={"Accept": JSON, "Content-Type": JSON})

    def restconf_show(self, user: str, commit_id: str) -> dict[str, Any]:
        with self.http(user) as c:
            response = c.post(SHOW, json={"sdqn-controller:input": {"id": commit_id}})
        assert response.status_code == 200, response.text
        out: dict[str, Any] = response.json()["sdqn-controller:output"]
        return out


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("commit-devices")
    with northbound_daemon(tmp, "commit-devices") as served:
        assert served.grpc_target is not None
        found = Setup(served.daemon, served.restconf, served.grpc_target)
        m = served.daemon.manager()
        try:
            reply = etree.fromstring(m.dispatch(etree.fromstring(
                f'<list-commits xmlns="{CTL}"><limit>1</limit></list-commits>')).xml.encode())
            found.intent_commit = reply.findtext(f".//{{{CTL}}}commit/{{{CTL}}}id") or ""
        finally:
            m.close_session()
        assert found.intent_commit
        yield found


def netconf_devices(setup: Setup, user: str) -> list[dict[str, Any]]:
    """show-commit's device entries over NETCONF, values decoded."""
    m = connect(host="127.0.0.1", port=setup.daemon.port, username=user, password=user,
                timeout=60)
    try:
        raw = m.dispatch(etree.fromstring(
            f'<show-commit xmlns="{CTL}"><id>{setup.intent_commit}</id></show-commit>')).xml
    finally:
        m.close_session()
    reply = etree.fromstring(raw.encode())
    out = []
    for device in reply.findall(f"{{{CTL}}}device"):    # not the impact's devices
        entry: dict[str, Any] = {etree.QName(c).localname: c.text for c in device
                                 if etree.QName(c).localname != "change"}
        entry["change"] = [{etree.QName(leaf).localname: leaf.text for leaf in change}
                           for change in device.iter(f"{{{CTL}}}change")]
        out.append(entry)
    return out


def test_show_commit_lists_what_the_commit_did_to_each_device(setup: Setup) -> None:
    devices = setup.restconf_show("admin", setup.intent_commit)["device"]
    nodes = [d["node-id"] for d in devices]
    # every kind of the metro network got its first configuration from this commit
    assert {"alice", "r1", "apc-1", "qr1"} <= set(nodes), nodes
    network_commits = {d["network-commit"] for d in devices}
    assert len(network_commits) == 1, network_commits
    assert all(d["network-label"].startswith("datastore commit") for d in devices)
    for device in devices:
        assert device["change"], device
        for change in device["change"]:
            assert change["path"].startswith("/sdqn-"), change   # by the device's schema
            assert change["operation"] in ("create", "replace", "delete")
            json.loads(change.get("value", "null"))              # RFC 7951 JSON text
    assert netconf_devices(setup, "admin") == devices


def test_grpc_show_commit_carries_the_same_devices(setup: Setup) -> None:
    expected = setup.restconf_show("admin", setup.intent_commit)["device"]
    pb, grpc_module = load()[0], load()[1]
    with grpc.insecure_channel(setup.grpc_target) as channel:
        stub = grpc_module.ControllerServiceStub(channel)
        shown = stub.ShowCommit(pb.ShowCommitRequest(commit_id=setup.intent_commit),
                                metadata=(("authorization", "Bearer admin"),), timeout=60)
    got = [{"node-id": d.node_id, "network-commit": d.network_commit,
            "network-label": d.network_label,
            "change": [{k: v for k, v in (("operation", c.operation), ("path", c.path),
                                          ("value", c.value), ("previous", c.previous)) if v}
                       for c in d.changes]} for d in shown.devices]
    assert got == expected


def test_show_commit_gives_the_impact_the_commit_had(setup: Setup) -> None:
    impact = setup.restconf_show("admin", setup.intent_commit)["impact"]
    added = {s["name"] for s in impact["service"] if s["change"] == "added"}
    assert {"qkd-alice-bob", "teleport-bob-charlie"} <= added, impact["service"]
    assert int(impact["totals"]["added"]) == len(added)
    assert {d["node-id"] for d in impact["device"]} >= {"alice", "r1"}
    m = connect(host="127.0.0.1", port=setup.daemon.port, username="admin",
                password="admin", timeout=60)
    try:
        raw = m.dispatch(etree.fromstring(
            f'<show-commit xmlns="{CTL}"><id>{setup.intent_commit}</id></show-commit>')).xml
    finally:
        m.close_session()
    over_netconf = members(etree.fromstring(raw.encode()).find(f"{{{CTL}}}impact"))
    assert {s["name"]: s["change"] for s in over_netconf["service"]} \
        == {s["name"]: s["change"] for s in impact["service"]}
    assert over_netconf["totals"] == {k: str(v) for k, v in impact["totals"].items()}
    pb, grpc_module = load()[0], load()[1]
    with grpc.insecure_channel(setup.grpc_target) as channel:
        shown = grpc_module.ControllerServiceStub(channel).ShowCommit(
            pb.ShowCommitRequest(commit_id=setup.intent_commit),
            metadata=(("authorization", "Bearer admin"),), timeout=60)
    assert {s.name: s.change for s in shown.impact.services} \
        == {s["name"]: s["change"] for s in impact["service"]}
    assert shown.impact.totals.added == int(impact["totals"]["added"])


def test_a_user_who_may_not_read_devices_sees_none(setup: Setup) -> None:
    rule = (f'<config xmlns="{NC}"><nacm xmlns="{ACM}"><rule-list>'
            "<name>operator</name><rule><name>hide-devices</name>"
            "<path>/sdqn-controller:controller/devices</path>"
            "<access-operations>read</access-operations><action>deny</action></rule>"
            "</rule-list></nacm></config>")
    m = setup.daemon.manager()
    try:
        m.edit_config(target="running", config=rule)
    finally:
        m.close_session()
    whole = setup.restconf_show("admin", setup.intent_commit)
    assert whole["device"] and int(whole["impact"]["totals"]["devices"]) > 0
    shown = setup.restconf_show("operator", setup.intent_commit)
    assert shown["id"] == setup.intent_commit and "device" not in shown
    assert "device" not in shown["impact"] and shown["impact"]["service"]
    # the totals count what is shown: no device, the services all readable
    assert int(shown["impact"]["totals"]["devices"]) == 0
    assert shown["impact"]["totals"]["added"] == whole["impact"]["totals"]["added"]
    assert netconf_devices(setup, "operator") == []
