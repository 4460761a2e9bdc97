"""A list entry named twice in one RESTCONF body is refused (RFC 7950 §7.8.2: the keys
identify one entry), not merged: invalid-value and 400, or data-exists and 409 inside a
POST, which creates (RFC 8040 §7, §4.4.1); nothing changes and the server goes on
serving."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from controller.datastore.nmda import Datastore, NmdaStore
from tests.controller.restconf.conftest import JSON, REQUEST, XML

SERVICES = "/restconf/data/sdqn-services:entanglement-services"
SVC_NS = "urn:sdqn:sdqn-services"
DUP_PATH = "/sdqn-services:entanglement-services/request[name='dup']"


def entry(source: str, destination: str) -> dict[str, Any]:
    return {"name": "dup", "source-node": source, "destination-node": destination,
            "application": "sdqn-types:qkd", "min-fidelity": "0.9", "demanded-rate": "1.0"}


def error(r: httpx.Response) -> dict[str, Any]:
    errors = r.json()["ietf-restconf:errors"]["error"]
    assert len(errors) == 1, errors
    return dict(errors[0])


TWICE = [entry("alice", "bob"), entry("bob", "charlie")]


@pytest.mark.parametrize(("method", "url", "body", "status", "tag"), [
    ("PUT", SERVICES, {"sdqn-services:entanglement-services": {"request": TWICE}},
     400, "invalid-value"),
    ("PATCH", SERVICES, {"sdqn-services:entanglement-services": {"request": TWICE}},
     400, "invalid-value"),
    ("PATCH", "/restconf/data", {"ietf-restconf:data": {
        "sdqn-services:entanglement-services": {"request": TWICE}}}, 400, "invalid-value"),
    ("POST", "/restconf/data/ietf-network:networks", {"ietf-network:network": [
        {"network-id": "dup", "node": [{"node-id": "n1"}, {"node-id": "n1"}]}]},
     409, "data-exists"),   # POST creates: two creations of one entry
])
def test_duplicate_entry_in_a_json_body(admin: httpx.Client, store: NmdaStore, method: str,
                                        url: str, body: dict[str, Any], status: int,
                                        tag: str) -> None:
    before = dict(store.versions)
    r = admin.request(method, url, content=json.dumps(body), headers={"Content-Type": JSON})
    assert r.status_code == status, r.text
    err = error(r)
    path = (DUP_PATH if method != "POST" else
            "/ietf-network:networks/network[network-id='dup']/node[node-id='n1']")
    assert (err["error-tag"], err["error-path"]) == (tag, path)
    assert store.versions == before
    assert admin.get(REQUEST.format("qkd-alice-bob")).status_code == 200


def test_duplicate_entry_in_an_xml_body(admin: httpx.Client, store: NmdaStore) -> None:
    def xml_entry(destination: str) -> str:
        return (f"<request><name>dup</name><source-node>alice</source-node>"
                f"<destination-node>{destination}</destination-node>"
                f'<application xmlns:t="urn:sdqn:sdqn-types">t:qkd</application>'
                "<min-fidelity>0.9</min-fidelity><demanded-rate>1.0</demanded-rate>"
                "</request>")

    before = dict(store.versions)
    body = (f'<entanglement-services xmlns="{SVC_NS}">{xml_entry("bob")}'
            f'{xml_entry("charlie")}</entanglement-services>')
    r = admin.put(SERVICES, content=body, headers={"Content-Type": XML,
                                                   "Accept": JSON})
    assert r.status_code == 400, r.text
    assert error(r)["error-tag"] == "invalid-value"
    assert store.versions == before
    assert "dup" not in (store.get(Datastore.RUNNING) or "")
