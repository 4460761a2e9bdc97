"""Bad input over real HTTP: each gets a precise RESTCONF error, nothing in the store
changes, and the server goes on serving (same connection where HTTP allows it)."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import pytest

from controller.datastore.nmda import Datastore, NmdaStore
from controller.restconf.server import RestconfServer
from tests.controller.restconf.conftest import JSON, REQUEST, XML

TARGET = REQUEST.format("qkd-alice-bob")
ENTRY = {"sdqn-services:request": [{"name": "qkd-alice-bob", "weight": "2.0"}]}


def error(r: httpx.Response) -> dict[str, Any]:
    errors = r.json()["ietf-restconf:errors"]["error"]
    assert len(errors) >= 1
    return dict(errors[0])


@pytest.fixture
def versions(store: NmdaStore) -> dict[Datastore, int]:
    return dict(store.versions)


def unchanged(store: NmdaStore, before: dict[Datastore, int], admin: httpx.Client) -> None:
    assert store.versions == before
    alive = admin.get(TARGET + "/weight")
    assert alive.status_code == 200 and alive.json() == {"sdqn-services:weight": "1.0"}


@pytest.mark.parametrize(("content", "ctype", "status", "tag"), [
    (b'{"sdqn-services:request": [{"name": "qkd-alice-bob",', JSON, 400, "malformed-message"),
    (b"[1, 2]", JSON, 400, "malformed-message"),
    (b"", JSON, 400, "malformed-message"),
    (b"\xff\xfe{}", JSON, 400, "malformed-message"),
    (b'{"sdqn-services:request": [], "sdqn-services:request": []}', JSON, 400,
     "malformed-message"),
    (json.dumps(ENTRY).encode(), "text/plain", 415, "invalid-value"),
    (json.dumps(ENTRY).encode(), "application/json", 415, "invalid-value"),
    (json.dumps(ENTRY).encode(), None, 415, "invalid-value"),
    (b"<request xmlns='urn:sdqn:sdqn-services'><name>qkd-alice-bob", XML, 400,
     "malformed-message"),
    (b'<!DOCTYPE x [<!ENTITY e "boom">]><request/>', XML, 400, "malformed-message"),
    (b"<request xmlns='urn:sdqn:sdqn-services'><name>qkd-alice-bob</name>"
     b"<weight>lots</weight></request>", XML, 400, "invalid-value"),
    (json.dumps({"sdqn-services:request": [{"name": "qkd-alice-bob", "weight": {"x": 1}}]})
     .encode(), JSON, 400, "invalid-value"),
    (json.dumps({"sdqn-services:request": [{"name": "qkd-alice-bob", "colour": "red"}]})
     .encode(), JSON, 400, "unknown-element"),
])
def test_bad_bodies(admin: httpx.Client, store: NmdaStore, versions: dict[Datastore, int],
                    content: bytes, ctype: str | None, status: int, tag: str) -> None:
    headers = {"Accept": JSON, **({"Content-Type": ctype} if ctype else {})}
    r = admin.patch(TARGET, content=content, headers=headers)
    assert r.status_code == status, r.text
    assert error(r)["error-tag"] == tag
    unchanged(store, versions, admin)


@pytest.mark.parametrize(("path", "status", "tag"), [
    ("/restconf/data/sdqn-services:entanglement-services/request=%G1", 400, "invalid-value"),
    ("/restconf/data/sdqn-services:entanglement-services/request=%C3%28", 400,
     "invalid-value"),
    ("/restconf/data/sdqn-services:entanglement-services/request=a,b", 400, "invalid-value"),
    ("/restconf/data/sdqn-services:no-such-node", 400, "unknown-element"),
    ("/restconf/data/nope:x", 400, "unknown-namespace"),
    ("/restconf/data/sdqn-services:entanglement-services/request=nobody-has-this", 404,
     "invalid-value"),
    ("/restconf/nothing-here", 404, "invalid-value"),
    ("/elsewhere", 404, "invalid-value"),
    ("/restconf/ds/running", 404, "invalid-value"),
])
def test_bad_paths(admin: httpx.Client, store: NmdaStore, versions: dict[Datastore, int],
                   path: str, status: int, tag: str) -> None:
    r = admin.get(path)
    assert r.status_code == status
    assert error(r)["error-tag"] == tag
    put = admin.put(path, content=json.dumps(ENTRY), headers={"Content-Type": JSON})
    assert put.status_code in (400, 404, 405)
    unchanged(store, versions, admin)


def test_oversized_body(admin: httpx.Client, store: NmdaStore, restconf: RestconfServer,
                        versions: dict[Datastore, int]) -> None:
    big = b'{"x": "' + b"a" * (restconf.max_body + 10) + b'"}'
    r = admin.put(TARGET, content=big, headers={"Content-Type": JSON})
    assert r.status_code == 413
    assert error(r)["error-tag"] == "too-big"
    assert r.headers["connection"] == "close"
    unchanged(store, versions, admin)


def test_chunked_upload_needs_length(admin: httpx.Client, store: NmdaStore,
                                     versions: dict[Datastore, int]) -> None:
    def chunks() -> Any:
        yield json.dumps(ENTRY).encode()

    r = admin.patch(TARGET, content=chunks(), headers={"Content-Type": JSON})
    assert r.status_code == 411
    unchanged(store, versions, admin)


def test_unacceptable_accept(admin: httpx.Client) -> None:
    r = admin.get(TARGET, headers={"Accept": "text/html"})
    assert r.status_code == 406 and error(r)["error-tag"] == "invalid-value"
    xml_error = admin.get("/restconf/data/sdqn-services:nope", headers={"Accept": XML})
    assert xml_error.status_code == 400 and xml_error.content.startswith(b"<?xml")


def test_bad_query_and_method(admin: httpx.Client, store: NmdaStore,
                              versions: dict[Datastore, int]) -> None:
    assert error(admin.get(TARGET + "?depth=0"))["error-tag"] == "invalid-value"
    assert admin.get(TARGET + "?unknown=1").status_code == 400
    r = admin.patch(TARGET + "?depth=1", content=json.dumps(ENTRY),
                    headers={"Content-Type": JSON})
    assert r.status_code == 400
    assert admin.request("TRACE", TARGET).status_code == 501
    unchanged(store, versions, admin)


def test_raw_garbage_does_not_hurt_the_server(restconf: RestconfServer, admin: httpx.Client,
                                              store: NmdaStore,
                                              versions: dict[Datastore, int]) -> None:
    for garbage in (b"\x00\x01\x02 nonsense\r\n\r\n", b"GET /restconf HTTP/9.9\r\n\r\n",
                    b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", restconf.port), timeout=5) as sock:
            sock.sendall(garbage)
            reply = sock.recv(4096)
            assert reply.startswith(b"HTTP/1.") and b" 200 " not in reply[:20]
    with socket.create_connection(("127.0.0.1", restconf.port), timeout=5) as sock:
        sock.sendall(b"PATCH " + TARGET.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 100\r\n\r\n{\"half")  # then hang up mid-body
    unchanged(store, versions, admin)
