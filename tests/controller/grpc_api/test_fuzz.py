"""A bounded, seeded fuzz run of the three northbounds over one store (it lives with the
gRPC tests for their fixtures: NETCONF, RESTCONF and gRPC servers sharing one core).

Valid requests are mutated deterministically (random.Random with a fixed seed: byte
flips, control characters, character references, cut or repeated ranges, huge numbers,
swapped markup) and sent as a client would: NETCONF rpcs over SSH in RFC 6242 chunked
framing (and a few with the framing itself broken), RESTCONF requests with httpx, gRPC
requests as raw bytes to every unary method path. Every input must get a well-formed
answer (an <rpc-reply>, an HTTP response whose error body is RFC 8040 §7 JSON, a gRPC
status other than UNKNOWN, which is what an escaped exception becomes), a failed input
must leave every datastore version unchanged, the servers keep serving, and no session
thread dies.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import httpx
import pytest
from lxml import etree

from controller.datastore.nmda import NmdaStore
from controller.grpc_api.stubs import load
from controller.netconf.client import RawNetconfClient
from controller.netconf.framing import FramingError, PeerClosed
from controller.netconf.server import NetconfServer
from controller.restconf.server import RestconfServer
from tests.controller.grpc_api.conftest import Stub

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SEED = 18
BUDGET_S = 15.0  # per interface; the run stops early rather than overrun
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NW = "urn:ietf:params:xml:ns:yang:ietf-network"
TOPO = "urn:sdqn:sdqn-topology"
SVC = "urn:sdqn:sdqn-services"
NMDA = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
DS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
LEAF = (f'<networks xmlns="{NW}"><network><network-id>metro</network-id><node>'
        f'<node-id>alice</node-id><quantum-node xmlns="{TOPO}"><coherence-time>12'
        "</coherence-time></quantum-node></node></network></networks>")
NETCONF_SEEDS = [
    f'<get-config xmlns="{NC}"><source><running/></source></get-config>',
    f'<get-config xmlns="{NC}"><source><candidate/></source><filter type="subtree">'
    f'<networks xmlns="{NW}"><network><network-id>metro</network-id></network></networks>'
    "</filter></get-config>",
    f'<get xmlns="{NC}"><filter type="xpath" xmlns:nw="{NW}" '
    "select=\"/nw:networks/nw:network[nw:network-id='metro']/nw:node\"/></get>",
    f'<edit-config xmlns="{NC}"><target><candidate/></target><default-operation>merge'
    f"</default-operation><config>{LEAF}</config></edit-config>",
    f'<edit-config xmlns="{NC}"><target><candidate/></target><test-option>test-only'
    f'</test-option><config><entanglement-services xmlns="{SVC}"><request>'
    "<name>fuzz</name><weight>2.5</weight></request></entanglement-services></config>"
    "</edit-config>",
    f'<validate xmlns="{NC}"><source><candidate/></source></validate>',
    f'<lock xmlns="{NC}"><target><candidate/></target></lock>',
    f'<unlock xmlns="{NC}"><target><candidate/></target></unlock>',
    f'<discard-changes xmlns="{NC}"/>',
    f'<commit xmlns="{NC}"><confirmed/><confirm-timeout>4294967296</confirm-timeout>'
    "</commit>",
    f'<get-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:operational</datastore>'
    f'<subtree-filter><networks xmlns="{NW}"/></subtree-filter><max-depth>3</max-depth>'
    "</get-data>",
    f'<kill-session xmlns="{NC}"><session-id>999999</session-id></kill-session>',
]
RESTCONF_SEEDS: list[tuple[str, str, bytes, str]] = [
    ("GET", "/restconf/data/ietf-network:networks/network=metro/node=alice", b"", ""),
    ("GET", "/restconf/data/sdqn-services:entanglement-services?depth=2&fields=request/name",
     b"", ""),
    ("GET", "/restconf/ds/ietf-datastores:operational/ietf-network:networks?content=config",
     b"", ""),
    ("PATCH", "/restconf/data/sdqn-services:entanglement-services/request=qkd-alice-bob",
     b'{"sdqn-services:request":[{"name":"qkd-alice-bob","weight":"1.0"}]}',
     "application/yang-data+json"),
    ("PUT", "/restconf/ds/ietf-datastores:candidate/sdqn-services:entanglement-services/"
     "request=fuzz", b'{"sdqn-services:request":[{"name":"fuzz","source-node":"alice",'
     b'"destination-node":"bob","application":"sdqn-types:qkd"}]}',
     "application/yang-data+json"),
    ("POST", "/restconf/operations/ietf-netconf:commit",
     b'{"ietf-netconf:input":{"confirmed":[null],"confirm-timeout":4294967296}}',
     "application/yang-data+json"),
    ("POST", "/restconf/operations/ietf-netconf:validate",
     b'<input xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><source><candidate/>'
     b"</source></input>", "application/yang-data+xml"),
    ("DELETE", "/restconf/ds/ietf-datastores:candidate/sdqn-services:entanglement-services/"
     "request=nothing", b"", ""),
]
NOISE = [b"\x00", b"\x01", b"\x1b", b"\x7f", b"\xff", b"&#1;", b"&#x0;", b"<", b">", b"&",
         b"'", b'"', b"]]>]]>", b"\n#", b"99999999999999999999", b"-1", b"%00", b"%",
         b"\xc3\x28", b"\xf0\x9f\x98\x80", b"//*[count(//*[count(//*)>0])>0]"]


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One to three random edits of `data`."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        where = rng.randrange(len(out) + 1)
        kind = rng.randrange(6)
        if kind == 0 and out:  # flip a byte
            out[min(where, len(out) - 1)] = rng.randrange(256)
        elif kind == 1:  # insert noise
            out[where:where] = rng.choice(NOISE)
        elif kind == 2:  # cut a range
            del out[where:where + rng.randint(1, 40)]
        elif kind == 3:  # repeat a range
            out[where:where] = out[where:where + rng.randint(1, 60)] * rng.randint(2, 20)
        elif kind == 4:  # replace a number
            out[where:where] = str(rng.choice([0, -1, 2**32, 2**64, 10**30])).encode()
        else:  # swap two ranges
            other = rng.randrange(len(out) + 1)
            a, b = sorted((where, other))
            out[a:b] = bytes(reversed(out[a:b]))
    return bytes(out)


def versions(store: NmdaStore) -> dict[Any, int]:
    return dict(store.versions)


class NetconfFuzz:
    def __init__(self, server: NetconfServer) -> None:
        self.server = server
        self.client: RawNetconfClient | None = None

    def connect(self) -> RawNetconfClient:
        if self.client is None:
            self.client = RawNetconfClient("127.0.0.1", self.server.port, "admin", "admin",
                                           timeout=10)
        return self.client

    def drop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None


@pytest.fixture
def fuzz_netconf(netconf: NetconfServer) -> Iterator[NetconfFuzz]:
    fuzz = NetconfFuzz(netconf)
    yield fuzz
    fuzz.drop()


def test_fuzz_netconf(fuzz_netconf: NetconfFuzz, netconf: NetconfServer,
                      store: NmdaStore) -> None:
    rng = random.Random(SEED)
    end = time.monotonic() + BUDGET_S
    sent = replies = closed = 0
    while time.monotonic() < end and sent < 1500:
        seed = rng.choice(NETCONF_SEEDS)
        message = f'<rpc xmlns="{NC}" message-id="{sent}">{seed}</rpc>'.encode()
        broken_framing = rng.random() < 0.05
        body = mutate(rng, message)
        before = versions(store)
        client = fuzz_netconf.connect()
        sent += 1
        try:
            if broken_framing:
                client.send_raw(mutate(rng, b"\n#%d\n" % len(body)) + body + b"\n##\n")
            else:
                client.send(body)
            raw_reply = client.receive()
            reply = etree.fromstring(raw_reply)
        except (PeerClosed, FramingError, OSError, EOFError):
            closed += 1  # the server ended the session (framing lost): start a new one
            fuzz_netconf.drop()
            continue
        replies += 1
        assert etree.QName(reply).localname == "rpc-reply"
        if reply.find(f"{{{NC}}}rpc-error") is not None:
            assert versions(store) == before, body
        # a session that killed or closed itself is replaced
        if b"close-session" in body or b"kill-session" in body:
            fuzz_netconf.drop()
    fuzz_netconf.drop()
    assert replies > sent // 2
    assert netconf.session_thread_deaths == 0
    fresh = RawNetconfClient("127.0.0.1", netconf.port, "admin", "admin", timeout=10)
    try:  # still serving
        assert fresh.rpc(NETCONF_SEEDS[0]).find(f"{{{NC}}}data") is not None
    finally:
        fresh.close()


def _error_body_ok(response: httpx.Response) -> bool:
    if not response.content:
        return True
    kind = response.headers.get("content-type", "")
    if "json" in kind:
        errors = response.json().get("ietf-restconf:errors", {}).get("error", [])
        return bool(errors) and all("error-tag" in e for e in errors)
    if "xml" in kind:
        return etree.QName(etree.fromstring(response.content)).localname == "errors"
    return True


def test_fuzz_restconf(restconf: RestconfServer, store: NmdaStore,
                       netconf: NetconfServer) -> None:
    rng = random.Random(SEED)
    end = time.monotonic() + BUDGET_S
    sent = 0
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=restconf.url, timeout=10, auth=("admin", "admin")) as http:
        while time.monotonic() < end and sent < 1500:
            method, path, body, kind = rng.choice(RESTCONF_SEEDS)
            if rng.random() < 0.5:
                path = mutate(rng, path.encode()).decode("latin-1")
            if body and rng.random() < 0.8:
                body = mutate(rng, body)
            headers = {"Content-Type": kind} if kind else {}
            before = versions(store)
            try:
                response = http.request(method, path, content=body or None, headers=headers)
            except (httpx.InvalidURL, httpx.UnsupportedProtocol, UnicodeEncodeError):
                continue  # the client refused to send it
            sent += 1
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            assert response.status_code < 500 or response.status_code == 503, (
                method, path, body, response.text)
            if response.status_code >= 400:
                assert _error_body_ok(response), (method, path, body, response.text)
                assert versions(store) == before, (method, path, body)
        assert http.get("/restconf/data/ietf-network:networks").status_code == 200
    assert sent > 100 and netconf.session_thread_deaths == 0


def test_fuzz_grpc(stub: Callable[[str | None], Stub], channel: grpc.Channel,
                   store: NmdaStore, netconf: NetconfServer, pb: Any) -> None:
    rng = random.Random(SEED)
    service = load()[0].DESCRIPTOR.services_by_name["ControllerService"]
    unary = [m for m in service.methods if not m.server_streaming
             and m.name not in ("WhatIf", "DryRun", "Optimise")]  # solves: see the budget test
    samples: dict[str, bytes] = {
        "ModifyRequest": pb.ModifyRequestRequest(request=pb.EntanglementRequest(
            name="qkd-alice-bob", weight=1.5)).SerializeToString(),
        "SubmitRequest": pb.SubmitRequestRequest(request=pb.EntanglementRequest(
            name="fuzz", source_node="alice", destination_node="bob")).SerializeToString(),
        "GetRequest": pb.GetRequestRequest(name="qkd-alice-bob").SerializeToString(),
        "Commit": pb.CommitRequest(label="fuzz", comment="x").SerializeToString(),
    }
    end = time.monotonic() + BUDGET_S
    sent = 0
    codes: dict[str, int] = {}
    while time.monotonic() < end and sent < 1500:
        method = rng.choice(unary)
        call = channel.unary_unary(f"/{service.full_name}/{method.name}")
        raw = samples.get(method.name, b"")
        if rng.random() < 0.3:
            raw = bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
        elif raw or rng.random() < 0.5:
            raw = mutate(rng, raw)
        user = rng.choice(["admin", "operator"])
        before = versions(store)
        sent += 1
        try:
            call(raw, metadata=(("authorization", f"Bearer {user}-token"),), timeout=10)
            codes["OK"] = codes.get("OK", 0) + 1
        except grpc.RpcError as err:
            code = err.code()
            codes[code.name] = codes.get(code.name, 0) + 1
            assert code not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED), (
                method.name, raw, err.details())
            assert versions(store) == before, (method.name, raw)
    assert sent > 100 and codes.get("OK", 0) > 0
    with contextlib.suppress(grpc.RpcError):
        stub("admin").GetRequest(pb.GetRequestRequest(name="qkd-alice-bob"))
    assert stub("admin").ListRequests(pb.ListRequestsRequest()) is not None
    assert netconf.session_thread_deaths == 0
