"""RESTCONF conformance over real HTTP (httpx): per-resource entity tags and
last-modified times with every precondition (RFC 8040 §3.4.1, §3.5; RFC 7232), YANG
Patch error reports (RFC 8072 §2.3, §2.5)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from controller.datastore.nmda import Datastore, NmdaStore
from tests.controller.restconf.conftest import JSON, REQUEST
from tests.controller.restconf.test_resources import NEW, SVC, running_request

PATCH_JSON = "application/yang-patch+json"
ALICE_BOB = REQUEST.format("qkd-alice-bob")
CHARLIE_DAVE = REQUEST.format("dqc-charlie-dave")


def weight(value: str, name: str = "qkd-alice-bob") -> dict[str, Any]:
    return {"content": json.dumps({"sdqn-services:request": [{"name": name,
                                                                "weight": value}]}),
            "headers": {"Content-Type": JSON}}


def test_get_then_patch_with_if_match_on_the_datastore(admin: httpx.Client,
                                                       store: NmdaStore) -> None:
    tag = admin.get("/restconf/data").headers["etag"]
    assert tag == admin.get("/restconf/data?content=config").headers["etag"]
    doc = {"ietf-restconf:data": {"sdqn-services:entanglement-services": {"request": [
        {"name": "qkd-alice-bob", "weight": "2.0"}]}}}
    ok = admin.patch("/restconf/data", content=json.dumps(doc),
                     headers={"Content-Type": JSON, "If-Match": tag})
    assert ok.status_code == 204, ok.text
    assert ok.headers["etag"] != tag
    assert ok.headers["etag"] == admin.get("/restconf/data").headers["etag"]
    assert running_request(store, "qkd-alice-bob")["weight"] == "2.0"  # type: ignore[index]
    stale = admin.patch("/restconf/data", content=json.dumps(doc),
                        headers={"Content-Type": JSON, "If-Match": tag})
    assert stale.status_code == 412
    assert stale.json()["ietf-restconf:errors"]["error"][0]["error-tag"] == "operation-failed"


def test_get_then_patch_with_if_match_on_a_list_entry(admin: httpx.Client,
                                                      store: NmdaStore) -> None:
    for query in ("", "?content=config"):   # an <operational> tag and a running one
        tag = admin.get(ALICE_BOB + query).headers["etag"]
        value = "3.0" if query else "2.5"
        ok = admin.patch(ALICE_BOB, **_with(weight(value), {"If-Match": tag}))
        assert ok.status_code == 204, ok.text
        assert running_request(store, "qkd-alice-bob")["weight"] == value  # type: ignore[index]
        again = admin.patch(ALICE_BOB, **_with(weight("9.0"), {"If-Match": tag}))
        assert again.status_code == 412
        assert running_request(store, "qkd-alice-bob")["weight"] == value  # type: ignore[index]


def test_an_edit_elsewhere_keeps_a_resource_tag(admin: httpx.Client) -> None:
    before = admin.get(ALICE_BOB + "?content=config")
    other = admin.get(CHARLIE_DAVE + "?content=config").headers["etag"]
    assert admin.patch(CHARLIE_DAVE, **weight("7.0", "dqc-charlie-dave")).status_code == 204
    after = admin.get(ALICE_BOB + "?content=config")
    assert after.headers["etag"] == before.headers["etag"]
    assert after.headers["last-modified"] == before.headers["last-modified"]
    assert admin.get(CHARLIE_DAVE + "?content=config").headers["etag"] != other
    # the unrelated resource's tag still opens the conditional edit
    ok = admin.patch(ALICE_BOB, **_with(weight("1.5"), {
        "If-Match": before.headers["etag"],
        "If-Unmodified-Since": before.headers["last-modified"]}))
    assert ok.status_code == 204, ok.text


def test_stale_preconditions_change_nothing(admin: httpx.Client, store: NmdaStore) -> None:
    first = admin.get(ALICE_BOB + "?content=config")
    assert admin.patch(ALICE_BOB, **weight("6.0")).status_code == 204
    version = store.versions[Datastore.RUNNING]
    stale = first.headers["etag"]
    attempts = [
        admin.patch(ALICE_BOB, **_with(weight("8.0"), {"If-Match": stale})),
        admin.put(ALICE_BOB, **_with(weight("8.0"), {"If-Match": stale})),
        admin.delete(ALICE_BOB, headers={"If-Match": stale}),
        admin.post(SVC, **_with({"content": json.dumps({"sdqn-services:request": [NEW]}),
                                 "headers": {"Content-Type": JSON}},
                                {"If-Match": '"running-0"'})),
        admin.put(ALICE_BOB, **_with(weight("8.0"), {"If-None-Match": "*"})),
        admin.delete(ALICE_BOB, headers={
            "If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}),
        admin.patch(SVC, content=json.dumps({"ietf-yang-patch:yang-patch": {
            "patch-id": "p", "edit": [{"edit-id": "e1", "operation": "remove",
                                       "target": "/request=qkd-alice-bob"}]}}),
            headers={"Content-Type": PATCH_JSON, "If-Match": '"running-0"'}),
    ]
    for response in attempts:
        assert response.status_code == 412, (response.request.method, response.text)
        error = response.json()["ietf-restconf:errors"]["error"][0]
        assert error["error-tag"] == "operation-failed"
    assert store.versions[Datastore.RUNNING] == version
    assert running_request(store, "qkd-alice-bob")["weight"] == "6.0"  # type: ignore[index]
    assert running_request(store, "new-req") is None
    # If-None-Match: * creates only what is not there yet (RFC 7232 §3.2)
    created = admin.put(REQUEST.format("new-req"), **_with(
        {"content": json.dumps({"sdqn-services:request": [NEW]}),
         "headers": {"Content-Type": JSON}}, {"If-None-Match": "*"}))
    assert created.status_code == 201 and created.headers["etag"].startswith('"running-')


def test_conditional_get(admin: httpx.Client) -> None:
    first = admin.get(ALICE_BOB)
    tag, modified = first.headers["etag"], first.headers["last-modified"]
    assert admin.get(ALICE_BOB, headers={"If-None-Match": tag}).status_code == 304
    assert admin.get(ALICE_BOB, headers={"If-Modified-Since": modified}).status_code in (
        200, 304)
    assert admin.get(ALICE_BOB, headers={"If-Match": '"operational-0"'}).status_code == 412
    assert admin.get(ALICE_BOB, headers={"If-Match": tag}).status_code == 200
    missing = admin.get(REQUEST.format("nobody"), headers={"If-Match": tag})
    assert missing.status_code == 404
    # {+restconf}/data is tagged with running's configuration, but serves <operational>:
    # its tag never answers a full GET with 304
    data = admin.get("/restconf/data?depth=1")
    assert admin.get("/restconf/data?depth=1",
                     headers={"If-None-Match": data.headers["etag"]}).status_code == 200
    config = admin.get("/restconf/data?content=config&depth=1")
    assert admin.get("/restconf/data?content=config&depth=1",
                     headers={"If-None-Match": config.headers["etag"]}).status_code == 304


def test_candidate_tags_follow_their_resource(admin: httpx.Client) -> None:
    cand = "/restconf/ds/ietf-datastores:candidate/sdqn-services:entanglement-services"
    entry = cand + "/request=qkd-alice-bob"
    tag = admin.get(entry).headers["etag"]
    assert tag.startswith('"candidate-')
    assert admin.patch(cand + "/request=dqc-charlie-dave",
                       **weight("4.0", "dqc-charlie-dave")).status_code == 204
    assert admin.get(entry).headers["etag"] == tag
    assert admin.patch(entry, **_with(weight("4.0"), {"If-Match": tag})).status_code == 204
    assert admin.patch(entry, **_with(weight("5.0"), {"If-Match": tag})).status_code == 412


def _with(kwargs: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    return {**kwargs, "headers": {**kwargs.get("headers", {}), **headers}}


# -- YANG Patch ------------------------------------------------------------------------


def _patch(admin: httpx.Client, edits: list[dict[str, Any]]) -> httpx.Response:
    return admin.patch(SVC, content=json.dumps({"ietf-yang-patch:yang-patch": {
        "patch-id": "p", "edit": edits}}), headers={"Content-Type": PATCH_JSON})


def test_yang_patch_names_the_failing_edit_only(admin: httpx.Client,
                                                store: NmdaStore) -> None:
    version = store.versions[Datastore.RUNNING]
    # e1 edits the patch's whole target, which holds every later edit's node
    good = [{"edit-id": "e1", "operation": "merge", "target": "/",
             "value": {"sdqn-services:entanglement-services": {"request": [
                 {**NEW, "name": "yp1"}]}}},
            {"edit-id": "e2", "operation": "merge", "target": "/request=qkd-alice-bob",
             "value": {"sdqn-services:request": [{"name": "qkd-alice-bob",
                                                  "weight": "3.0"}]}}]
    bad_node = {"edit-id": "e3", "operation": "create", "target": "/request=yp3",
                "value": {"sdqn-services:request": [{**NEW, "name": "yp3",
                                                     "source-node": "nowhere"}]}}
    duplicate = {"edit-id": "e3", "operation": "create", "target": "/request=yp1",
                 "value": {"sdqn-services:request": [{**NEW, "name": "yp1"}]}}
    for third in (bad_node, duplicate):
        failed = _patch(admin, [*good, third])
        assert failed.status_code in (400, 409), failed.text
        status = failed.json()["ietf-yang-patch:yang-patch-status"]
        assert "errors" not in status
        edits = status["edit-status"]["edit"]
        assert [e["edit-id"] for e in edits] == ["e3"], status
        errors = edits[0]["errors"]["error"]
        assert len(errors) == 1, json.dumps(errors, indent=1)
        assert "must differ" not in json.dumps(errors)
        assert store.versions[Datastore.RUNNING] == version       # all or nothing
        assert running_request(store, "yp1") is None
        assert running_request(store, "qkd-alice-bob")["weight"] == "1.0"  # type: ignore[index]
    assert _patch(admin, good).status_code == 200


# -- event stream (RFC 8040 §4.8.4, §4.8.7-8, §6.4) --------------------------------------

STREAM = "/restconf/streams/NETCONF/json"


def test_stream_query_errors(admin: httpx.Client) -> None:
    for query in ("?filter=%5B%5B", "?filter=/nope:x", "?stop-time=2030-01-01T00:00:00Z",
                  "?start-time=yesterday", "?depth=1"):
        bad = admin.get(STREAM + query, headers={"Accept": "text/event-stream"})
        assert bad.status_code == 400, query
        assert bad.json()["ietf-restconf:errors"]["error"][0]["error-tag"] == "invalid-value"
    bad = admin.get(STREAM, headers={"Accept": "text/event-stream", "Last-Event-ID": "x"})
    assert bad.status_code == 400
