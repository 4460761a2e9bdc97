"""RESTCONF over real HTTP (httpx): discovery, reads with every query parameter, edits
with every method, YANG Patch, conditional requests, NMDA datastores, operations."""

from __future__ import annotations

import json
from typing import Any

import httpx
from lxml import etree

from controller.datastore.nmda import Datastore, NmdaStore
from tests.controller.restconf.conftest import JSON, REQUEST, XML

SVC = "/restconf/data/sdqn-services:entanglement-services"
ALICE = "/restconf/data/ietf-network:networks/network=metro/node=alice"
NEW = {"name": "new-req", "source-node": "alice", "destination-node": "bob",
       "application": "sdqn-types:qkd", "min-fidelity": "0.8", "demanded-rate": "10.0"}


def running_request(store: NmdaStore, name: str) -> dict[str, Any] | None:
    text = store.get(Datastore.RUNNING,
                     xpath=f"/sdqn-services:entanglement-services/request[name='{name}']")
    doc = json.loads(text) if text.strip() else {}
    found = doc.get("sdqn-services:entanglement-services", {}).get("request", [])
    return found[0] if found else None


def body(doc: Any) -> dict[str, Any]:
    return {"content": json.dumps(doc), "headers": {"Content-Type": JSON}}


def test_discovery(admin: httpx.Client) -> None:
    meta = admin.get("/.well-known/host-meta")
    assert meta.status_code == 200 and meta.headers["content-type"] == "application/xrd+xml"
    link = etree.fromstring(meta.content).find("{http://docs.oasis-open.org/ns/xri/xrd-1.0}Link")
    assert link is not None and link.get("rel") == "restconf" and link.get("href") == "/restconf"
    root = admin.get("/restconf").json()["ietf-restconf:restconf"]
    assert root["yang-library-version"] == "2019-01-04"
    version = admin.get("/restconf/yang-library-version", headers={"Accept": XML})
    assert b"2019-01-04" in version.content
    state = admin.get("/restconf/data/ietf-restconf-monitoring:restconf-state").json()
    streams = state["ietf-restconf-monitoring:restconf-state"]["streams"]["stream"]
    assert streams[0]["access"][0]["location"].endswith("/restconf/streams/NETCONF/json")
    # RFC 8040 §9.3: the stream serves start-time, so it must say it supports replay.
    assert streams[0]["replay-support"] is True and streams[0]["replay-log-creation-time"]
    assert any("yang-patch" in c for c in
               state["ietf-restconf-monitoring:restconf-state"]["capabilities"]["capability"])
    library = admin.get("/restconf/data/ietf-yang-library:yang-library?depth=1")
    assert library.status_code == 200


def test_stream_parameters_on_a_data_resource_are_refused(admin: httpx.Client) -> None:
    """RFC 8040 §4.8.4/§4.8.7: filter and start-time belong to event streams only."""
    for query in ("filter=/x", "start-time=2026-01-01T00:00:00Z"):
        r = admin.get("/restconf/data/sdqn-services:entanglement-services?" + query)
        assert r.status_code == 400, query
        error = r.json()["ietf-restconf:errors"]["error"][0]
        assert error["error-tag"] == "invalid-value"
        assert "only to event stream resources" in error["error-message"]


def test_get_list_entry_json_and_xml(admin: httpx.Client) -> None:
    r = admin.get(REQUEST.format("qkd-alice-bob"))
    assert r.status_code == 200 and r.headers["content-type"] == JSON
    entry = r.json()["sdqn-services:request"]
    assert len(entry) == 1 and entry[0]["min-fidelity"] == "0.9"
    assert r.headers["etag"].startswith('"operational-') and "last-modified" in r.headers
    x = admin.get(REQUEST.format("qkd-alice-bob"), headers={"Accept": XML})
    root = etree.fromstring(x.content)
    assert root.tag == "{urn:sdqn:sdqn-services}request"
    assert root.findtext("{urn:sdqn:sdqn-services}min-fidelity") == "0.9"
    leaf = admin.get(REQUEST.format("qkd-alice-bob") + "/application").json()
    assert leaf == {"sdqn-services:application": "sdqn-types:qkd"}
    every = admin.get(SVC + "/request").json()["sdqn-services:request"]
    assert {e["name"] for e in every} >= {"qkd-alice-bob", "dqc-charlie-dave"}


def test_get_datastore_wraps_in_data(admin: httpx.Client) -> None:
    doc = admin.get("/restconf/data?content=config&depth=1").json()["ietf-restconf:data"]
    assert "sdqn-services:entanglement-services" in doc and "ietf-network:networks" in doc
    x = etree.fromstring(admin.get("/restconf/ds/ietf-datastores:running?depth=1",
                                   headers={"Accept": XML}).content)
    assert x.tag == "{urn:ietf:params:xml:ns:yang:ietf-restconf}data"


def test_depth_fields_content_defaults_origin(admin: httpx.Client, store: NmdaStore) -> None:
    shallow = admin.get(SVC + "?depth=2").json()["sdqn-services:entanglement-services"]
    assert shallow["request"][0] == {"name": shallow["request"][0]["name"]}  # keys kept
    picked = admin.get(SVC + "?fields=request(name;min-fidelity)").json()
    assert all(set(r) == {"name", "min-fidelity"}
               for r in picked["sdqn-services:entanglement-services"]["request"])
    store.merge_state(json.dumps({"sdqn-services:entanglement-services": {"request": [
        {"name": "qkd-alice-bob", "state": {"admission": "admitted"}}]}}))
    state_only = admin.get(REQUEST.format("qkd-alice-bob") + "?content=nonconfig").json()
    assert state_only["sdqn-services:request"][0] == {"name": "qkd-alice-bob",
                                                      "state": {"admission": "admitted"}}
    config_only = admin.get(REQUEST.format("qkd-alice-bob") + "?content=config").json()
    assert "state" not in config_only["sdqn-services:request"][0]
    assert "admin-state" not in config_only["sdqn-services:request"][0]
    defaults = admin.get(REQUEST.format("qkd-alice-bob") + "?with-defaults=report-all").json()
    assert defaults["sdqn-services:request"][0]["admin-state"] == "enabled"
    tagged = admin.get(REQUEST.format("qkd-alice-bob") + "/admin-state?with-defaults="
                       "report-all-tagged", headers={"Accept": XML})
    assert b'"urn:ietf:params:xml:ns:netconf:default:1.0"' in tagged.content
    origin = admin.get("/restconf/ds/ietf-datastores:operational/sdqn-services:"
                       "entanglement-services/request=qkd-alice-bob/min-fidelity?with-origin")
    assert origin.json()["@sdqn-services:min-fidelity"] == {
        "ietf-origin:origin": "ietf-origin:intended"}
    refused = admin.get(REQUEST.format("qkd-alice-bob") + "?with-origin")
    assert refused.status_code == 400   # RFC 8527: <operational> only


def test_conditional_get_and_edit(admin: httpx.Client, store: NmdaStore) -> None:
    first = admin.get(REQUEST.format("qkd-alice-bob") + "?content=config")
    etag = first.headers["etag"]
    assert etag.startswith('"running-')
    assert admin.get(REQUEST.format("qkd-alice-bob") + "?content=config",
                     headers={"If-None-Match": etag}).status_code == 304
    since = admin.get(REQUEST.format("qkd-alice-bob") + "?content=config",
                      headers={"If-Modified-Since": first.headers["last-modified"]})
    assert since.status_code == 304
    stale = '"running-0"'
    refused = admin.patch(REQUEST.format("qkd-alice-bob"), headers={
        "Content-Type": JSON, "If-Match": stale}, content=json.dumps(
            {"sdqn-services:request": [{"name": "qkd-alice-bob", "weight": "5.0"}]}))
    assert refused.status_code == 412
    assert running_request(store, "qkd-alice-bob")["weight"] == "1.0"  # type: ignore[index]
    ok = admin.patch(REQUEST.format("qkd-alice-bob"), headers={
        "Content-Type": JSON, "If-Match": etag}, content=json.dumps(
            {"sdqn-services:request": [{"name": "qkd-alice-bob", "weight": "5.0"}]}))
    assert ok.status_code == 204 and ok.headers["etag"] != etag
    assert running_request(store, "qkd-alice-bob")["weight"] == "5.0"  # type: ignore[index]


def test_post_put_patch_delete(admin: httpx.Client, store: NmdaStore) -> None:
    created = admin.post(SVC, **body({"sdqn-services:request": [NEW]}))
    assert created.status_code == 201
    assert created.headers["location"].endswith(
        "/restconf/data/sdqn-services:entanglement-services/request=new-req")
    assert running_request(store, "new-req")["min-fidelity"] == "0.8"  # type: ignore[index]
    again = admin.post(SVC, **body({"sdqn-services:request": [NEW]}))
    assert again.status_code == 409
    assert again.json()["ietf-restconf:errors"]["error"][0]["error-tag"] == "data-exists"
    replaced = admin.put(REQUEST.format("new-req"), **body(
        {"sdqn-services:request": [{**NEW, "demanded-rate": "20.0"}]}))
    assert replaced.status_code == 204
    assert running_request(store, "new-req")["demanded-rate"] == "20.0"  # type: ignore[index]
    put_new = admin.put(REQUEST.format("other"), **body(
        {"sdqn-services:request": [{**NEW, "name": "other"}]}))
    assert put_new.status_code == 201
    leaf = admin.put(REQUEST.format("other") + "/weight", **body({"sdqn-services:weight": "2.5"}))
    assert leaf.status_code == 201 and running_request(store, "other")["weight"] == "2.5"  # type: ignore[index]
    patched = admin.patch(REQUEST.format("new-req"), **body(
        {"sdqn-services:request": [{"name": "new-req", "priority": 3}]}))
    assert patched.status_code == 204
    entry = running_request(store, "new-req")
    assert entry is not None and entry["priority"] == 3 and entry["demanded-rate"] == "20.0"
    missing = admin.patch(REQUEST.format("ghost"), **body(
        {"sdqn-services:request": [{"name": "ghost", "priority": 3}]}))
    assert missing.status_code == 409 and running_request(store, "ghost") is None
    assert admin.delete(REQUEST.format("new-req")).status_code == 204
    assert running_request(store, "new-req") is None
    gone = admin.delete(REQUEST.format("new-req"))
    assert gone.status_code == 409
    assert gone.json()["ietf-restconf:errors"]["error"][0]["error-tag"] == "data-missing"


def test_put_key_mismatch_and_wrong_member(admin: httpx.Client, store: NmdaStore) -> None:
    before = store.versions[Datastore.RUNNING]
    mismatch = admin.put(REQUEST.format("qkd-alice-bob"), **body(
        {"sdqn-services:request": [{**NEW, "name": "not-the-uri"}]}))
    assert mismatch.status_code == 400
    wrong = admin.put(REQUEST.format("qkd-alice-bob"), **body({"sdqn-services:weight": "1"}))
    assert wrong.status_code == 400
    invalid = admin.put(REQUEST.format("qkd-alice-bob") + "/min-fidelity",
                        **body({"sdqn-services:min-fidelity": "1.5"}))
    assert invalid.status_code == 400
    assert store.versions[Datastore.RUNNING] == before


def test_xml_edits(admin: httpx.Client, store: NmdaStore) -> None:
    entry = ('<request xmlns="urn:sdqn:sdqn-services" xmlns:t="urn:sdqn:sdqn-types">'
             "<name>xml-req</name><source-node>alice</source-node>"
             "<destination-node>bob</destination-node><application>t:qkd</application>"
             "<min-fidelity>0.85</min-fidelity><demanded-rate>5</demanded-rate></request>")
    created = admin.post(SVC, content=entry, headers={"Content-Type": XML})
    assert created.status_code == 201, created.text
    got = running_request(store, "xml-req")
    assert got is not None and got["application"] == "sdqn-types:qkd"
    merge = admin.patch(REQUEST.format("xml-req"), headers={"Content-Type": XML},
                        content='<request xmlns="urn:sdqn:sdqn-services"><name>xml-req</name>'
                                "<priority>7</priority></request>")
    assert merge.status_code == 204
    assert running_request(store, "xml-req")["priority"] == 7  # type: ignore[index]
    bad = admin.patch(REQUEST.format("xml-req"), headers={"Content-Type": XML,
                                                          "Accept": XML},
                      content='<request xmlns="urn:sdqn:sdqn-services"><name>xml-req</name>'
                              "<colour>7</colour></request>")
    assert bad.status_code == 400
    error = etree.fromstring(bad.content)
    assert error.tag == "{urn:ietf:params:xml:ns:yang:ietf-restconf}errors"


def test_yang_patch_is_atomic(admin: httpx.Client, store: NmdaStore) -> None:
    before = store.versions[Datastore.RUNNING]
    patch = {"ietf-yang-patch:yang-patch": {"patch-id": "p1", "edit": [
        {"edit-id": "e1", "operation": "create", "target": "/request=yp",
         "value": {"sdqn-services:request": [{**NEW, "name": "yp"}]}},
        {"edit-id": "e2", "operation": "delete", "target": "/request=ghost"}]}}
    failed = admin.patch(SVC, content=json.dumps(patch),
                         headers={"Content-Type": "application/yang-patch+json"})
    assert failed.status_code == 409
    status = failed.json()["ietf-yang-patch:yang-patch-status"]
    assert status["edit-status"]["edit"][0]["edit-id"] == "e2"
    assert store.versions[Datastore.RUNNING] == before and running_request(store, "yp") is None
    patch["ietf-yang-patch:yang-patch"]["edit"][1] = {
        "edit-id": "e2", "operation": "merge", "target": "/request=qkd-alice-bob/weight",
        "value": {"sdqn-services:weight": "4.0"}}
    ok = admin.patch(SVC, content=json.dumps(patch),
                     headers={"Content-Type": "application/yang-patch+json"})
    assert ok.status_code == 200
    assert ok.json() == {"ietf-yang-patch:yang-patch-status": {"patch-id": "p1",
                                                               "ok": [None]}}
    assert running_request(store, "yp") is not None
    assert running_request(store, "qkd-alice-bob")["weight"] == "4.0"  # type: ignore[index]
    xml_patch = ('<yang-patch xmlns="urn:ietf:params:xml:ns:yang:ietf-yang-patch">'
                 "<patch-id>p2</patch-id><edit><edit-id>x</edit-id><operation>replace"
                 "</operation><target>/request=yp/priority</target><value>"
                 '<priority xmlns="urn:sdqn:sdqn-services">9</priority></value></edit>'
                 "<edit><edit-id>y</edit-id><operation>remove</operation>"
                 "<target>/request=ghost</target></edit></yang-patch>")
    xr = admin.patch(SVC, content=xml_patch,
                     headers={"Content-Type": "application/yang-patch+xml"})
    assert xr.status_code == 200 and b"<ok/>" in xr.content
    assert running_request(store, "yp")["priority"] == 9  # type: ignore[index]


def test_candidate_workflow_over_nmda(admin: httpx.Client, store: NmdaStore) -> None:
    cand = "/restconf/ds/ietf-datastores:candidate/sdqn-services:entanglement-services"
    assert admin.post(cand, **body({"sdqn-services:request": [NEW]})).status_code == 201
    assert running_request(store, "new-req") is None
    ops = admin.get("/restconf/operations").json()["ietf-restconf:operations"]
    assert {"ietf-netconf:commit", "ietf-netconf:validate",
            "ietf-netconf:discard-changes"} <= set(ops)
    valid = admin.post("/restconf/operations/ietf-netconf:validate", **body(
        {"ietf-netconf:input": {"source": {"candidate": [None]}}}))
    assert valid.status_code == 204
    assert admin.post("/restconf/operations/ietf-netconf:commit").status_code == 204
    assert running_request(store, "new-req") is not None
    admin.delete("/restconf/ds/ietf-datastores:candidate/sdqn-services:entanglement-services"
                 "/request=new-req")
    assert admin.post("/restconf/operations/ietf-netconf:discard-changes").status_code == 204
    assert store.candidate_dirty is False and running_request(store, "new-req") is not None
    bad_input = admin.post("/restconf/operations/ietf-netconf:commit", **body(
        {"ietf-netconf:input": {"colour": "red"}}))
    assert bad_input.status_code == 400
    assert bad_input.json()["ietf-restconf:errors"]["error"][0]["error-tag"] == \
        "unknown-element"
    xml_validate = admin.post("/restconf/operations/ietf-netconf:validate",
                              headers={"Content-Type": XML}, content=(
                                  '<input xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
                                  "<source><running/></source></input>"))
    assert xml_validate.status_code == 204


def test_read_only_datastores_and_methods(admin: httpx.Client) -> None:
    for ds in ("intended", "operational"):
        url = f"/restconf/ds/ietf-datastores:{ds}/sdqn-services:entanglement-services"
        assert admin.get(url).status_code == 200
        refused = admin.delete(url + "/request=qkd-alice-bob")
        assert refused.status_code == 405 and refused.headers["allow"] == "OPTIONS, HEAD, GET"
    options = admin.options(SVC)
    assert options.status_code == 200 and "PATCH" in options.headers["allow"]
    assert "application/yang-patch+json" in options.headers["accept-patch"]
    head = admin.head(REQUEST.format("qkd-alice-bob"))
    assert head.status_code == 200 and head.content == b"" and "etag" in head.headers
    assert admin.delete("/restconf/data").status_code == 405
    assert admin.get("/restconf/ds/ietf-datastores:nowhere").status_code == 404
    assert admin.get("/restconf/operations/ietf-netconf:commit").status_code == 405
    assert admin.post("/restconf/operations/x:nothing").status_code == 404


def test_put_whole_datastore(admin: httpx.Client, store: NmdaStore) -> None:
    cand = "/restconf/ds/ietf-datastores:candidate"
    current = admin.get(cand + "?content=config").json()
    data = current["ietf-restconf:data"]
    data["sdqn-services:entanglement-services"]["request"] = [NEW]
    assert admin.put(cand, **body({"ietf-restconf:data": data})).status_code == 204
    names = [r["name"] for r in json.loads(store.get(Datastore.CANDIDATE, xpath=(
        "/sdqn-services:entanglement-services")))["sdqn-services:entanglement-services"][
        "request"]]
    assert names == ["new-req"]
    assert admin.put(cand, **body({"sdqn-services:x": {}})).status_code == 400


def test_insert_into_ordered_by_user_list(admin: httpx.Client, store: NmdaStore) -> None:
    """RFC 8040 §4.8.5-6 on the NACM rule-list (ordered-by user)."""
    lists = "/restconf/data/ietf-netconf-acm:nacm"

    def order() -> list[str]:
        # <running>: the engine's replay into <intended> does not keep user order yet
        doc = admin.get("/restconf/ds/ietf-datastores:running/ietf-netconf-acm:nacm"
                        "?fields=rule-list/name").json()
        return [r["name"] for r in doc["ietf-netconf-acm:nacm"]["rule-list"]]

    assert order() == ["admin", "operator"]
    first = admin.post(lists + "?insert=first", **body(
        {"ietf-netconf-acm:rule-list": [{"name": "a,b", "group": ["x"]}]}))
    assert first.status_code == 201, first.text
    assert first.headers["location"].endswith("rule-list=a%2Cb")
    after = admin.post(lists + "?insert=after&point=/ietf-netconf-acm:nacm/rule-list=a%2Cb",
                       **body({"ietf-netconf-acm:rule-list": [{"name": "c", "group": ["x"]}]}))
    assert after.status_code == 201, after.text
    assert order() == ["a,b", "c", "admin", "operator"]
    bad_point = admin.post(lists + "?insert=before&point=/ietf-netconf-acm:nacm/groups",
                           **body({"ietf-netconf-acm:rule-list": [{"name": "d"}]}))
    assert bad_point.status_code == 400
    assert admin.get(SVC + "?filter=/x").status_code == 400
