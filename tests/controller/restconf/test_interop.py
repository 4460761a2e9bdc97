"""One store, one set of users and NACM rules behind NETCONF and RESTCONF: changes made
over either are seen by the other; NACM decides the same way for both."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import ncclient.transport.session
import pytest
from lxml import etree
from ncclient import manager

from controller.netconf.server import NetconfServer
from tests.controller.netconf.conftest import DS, NACM, NMDA, NODE_XPATH, NW, TOPO, leaf_edit
from tests.controller.restconf.conftest import JSON, REQUEST, Client

COHERENCE = ("/restconf/data/ietf-network:networks/network=metro/node=alice/"
             "sdqn-topology:quantum-node/coherence-time")


@pytest.fixture
def nc(netconf: NetconfServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[manager.Manager]:
    monkeypatch.setattr(ncclient.transport.session, "TICK", 0.002)
    mgr = manager.connect(host="127.0.0.1", port=netconf.port, username="admin",
                          password="admin", hostkey_verify=False, look_for_keys=False,
                          allow_agent=False, timeout=10)
    yield mgr
    mgr.close_session()


def get_data_t2(mgr: manager.Manager) -> str | None:
    rpc = (f'<get-data xmlns="{NMDA}" xmlns:ds="{DS}" xmlns:ietf-network="{NW}" '
           f'xmlns:sdqn-topology="{TOPO}"><datastore>ds:running</datastore>'
           f"<xpath-filter>{NODE_XPATH.format('alice')}/sdqn-topology:quantum-node/"
           "coherence-time</xpath-filter></get-data>")
    reply = etree.fromstring(mgr.dispatch(etree.fromstring(rpc)).xml.encode())
    found = reply.find(".//{urn:sdqn:sdqn-topology}coherence-time")
    return None if found is None else found.text


def test_restconf_change_seen_by_netconf(admin: httpx.Client, nc: manager.Manager) -> None:
    r = admin.put(COHERENCE, content=json.dumps({"sdqn-topology:coherence-time": "2.25"}),
                  headers={"Content-Type": JSON})
    assert r.status_code == 204
    assert get_data_t2(nc) == "2.25"


def test_netconf_change_seen_by_restconf(admin: httpx.Client, nc: manager.Manager) -> None:
    nc.edit_config(target="running", config=leaf_edit("3.5"))
    assert admin.get(COHERENCE).json() == {"sdqn-topology:coherence-time": "3.5"}


def test_nacm_denies_operator_writes(client: Client, admin: httpx.Client) -> None:
    operator = client("operator")
    assert operator.get(REQUEST.format("qkd-alice-bob")).status_code == 200
    denied = operator.patch(REQUEST.format("qkd-alice-bob"), headers={"Content-Type": JSON},
                            content=json.dumps({"sdqn-services:request": [
                                {"name": "qkd-alice-bob", "weight": "9.0"}]}))
    assert denied.status_code == 403
    assert denied.json()["ietf-restconf:errors"]["error"][0]["error-tag"] == "access-denied"
    # an rpc rule (no ietf-netconf operations for operators) applies to RESTCONF too
    assert operator.post("/restconf/operations/ietf-netconf:commit").status_code == 403
    nobody = client("nobody")
    assert nobody.delete(REQUEST.format("qkd-alice-bob")).status_code == 403
    assert admin.get(REQUEST.format("qkd-alice-bob") + "/weight").json() == {
        "sdqn-services:weight": "1.0"}
    counters = admin.get("/restconf/data/ietf-netconf-acm:nacm/denied-data-writes").json()
    assert counters["ietf-netconf-acm:denied-data-writes"] >= 2


def test_nacm_rule_added_over_netconf_hides_data_over_restconf(
        client: Client, nc: manager.Manager) -> None:
    operator = client("operator")
    assert operator.get(REQUEST.format("qkd-alice-bob")).status_code == 200
    rule = (f'<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><nacm xmlns="{NACM}">'
            "<rule-list><name>operator</name><rule><name>hide-services</name>"
            "<module-name>sdqn-services</module-name><access-operations>read"
            "</access-operations><action>deny</action></rule></rule-list></nacm></config>")
    nc.edit_config(target="running", config=rule)
    hidden = operator.get(REQUEST.format("qkd-alice-bob"))
    assert hidden.status_code == 404   # RFC 8341 §3.4.5: denied data is absent
    assert "qkd" not in hidden.text.split("error-message")[0]


def test_authentication(client: Client, restconf: object) -> None:
    bad = client("admin", "wrong").get("/restconf/data")
    assert bad.status_code == 401 and bad.headers["www-authenticate"].startswith("Basic")
    assert bad.json()["ietf-restconf:errors"]["error"][0]["error-tag"] == "access-denied"
    anonymous = httpx.get(client("admin").base_url.join("/restconf/data"))
    assert anonymous.status_code == 401
    assert client("ghost", "ghost").get("/restconf").status_code == 401
