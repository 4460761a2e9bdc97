"""Hostile and broken input over raw SSH channels (paramiko): each bad session gets an
rpc-error or is closed, while another session keeps working, no datastore changes and
the server keeps accepting connections."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from ncclient import manager

from controller.datastore.nmda import Datastore, NmdaStore
from controller.netconf.client import CLIENT_HELLO, RawNetconfClient
from controller.netconf.core import Limits
from controller.netconf.framing import EOM, PeerClosed, frame
from controller.netconf.server import NetconfServer
from tests.controller.netconf.conftest import AUTH, NC, Connect

HELLO_10 = CLIENT_HELLO.replace(b"<capability>urn:ietf:params:netconf:base:1.1</capability>",
                                b"")
GET_CONFIG = f'<get-config xmlns="{NC}"><source><running/></source></get-config>'


@pytest.fixture
def guard(connect: Connect, server: NetconfServer, store: NmdaStore) -> Iterator[None]:
    """Around each case: a bystander session, and nothing in the store may change."""
    bystander = connect()
    before = store.get(Datastore.RUNNING)
    versions = dict(store.versions)
    yield
    assert bystander.get_config("running").ok
    assert store.get(Datastore.RUNNING) == before and store.versions == versions
    fresh = connect()
    assert fresh.get_config("running", filter=("subtree", "<x xmlns='urn:x'/>")).ok


def raw(server: NetconfServer, hello: bytes | None = CLIENT_HELLO) -> RawNetconfClient:
    return RawNetconfClient("127.0.0.1", server.port, "admin", "admin", timeout=5,
                            hello=hello)


def expect_closed(client: RawNetconfClient) -> None:
    with pytest.raises(PeerClosed):
        while True:
            client.receive()  # whatever was still queued, then EOF


def error_of(reply: bytes) -> tuple[str | None, str | None]:
    root = etree.fromstring(reply)
    return root.get("message-id"), root.findtext(f".//{{{NC}}}error-tag")


@pytest.mark.usefixtures("guard")
class TestBadInput:
    def test_garbage_before_hello(self, server: NetconfServer) -> None:
        client = raw(server, hello=None)
        client.send_raw(b"\x00\xffGARBAGE<<<" + CLIENT_HELLO + EOM)
        expect_closed(client)
        assert server.core.stats.in_bad_hellos >= 1

    def test_rpc_instead_of_hello(self, server: NetconfServer) -> None:
        client = raw(server, hello=None)
        client.send_raw(frame(f'<rpc xmlns="{NC}" message-id="1">{GET_CONFIG}</rpc>'.encode(),
                              chunked=False))
        expect_closed(client)

    def test_end_of_message_framing_after_chunked_was_negotiated(
            self, server: NetconfServer) -> None:
        client = raw(server)
        client.send_raw(f'<rpc xmlns="{NC}" message-id="1">{GET_CONFIG}</rpc>'.encode() + EOM)
        expect_closed(client)

    @pytest.mark.parametrize("header", [b"\n#0\n", b"\n#012\n", b"\n#abc\n", b"#5\nhello",
                                        b"\n##\n"])
    def test_invalid_chunk_headers(self, server: NetconfServer, header: bytes) -> None:
        client = raw(server)
        client.send_raw(header + b"<rpc/>" * 4)
        expect_closed(client)

    @pytest.mark.parametrize("chunked", [True, False])
    def test_hundred_megabyte_message(self, server: NetconfServer, chunked: bool) -> None:
        """The server answers too-big after max_message_size (1 MiB here) and closes;
        the client cannot push its 100 MB through."""
        client = raw(server, hello=CLIENT_HELLO if chunked else HELLO_10)
        total = 100 * 1024 * 1024
        head = f'<rpc xmlns="{NC}" message-id="77"><edit-config><config>'.encode()
        filler = b"<x>" + b"y" * 65530 + b"</x>"
        sent = [0]

        def flood() -> None:
            try:
                if chunked:
                    client.send_raw(b"\n#%d\n" % total)
                client.send_raw(head)
                while sent[0] < total:
                    client.send_raw(filler)
                    sent[0] += len(filler)
            except (OSError, EOFError):
                pass  # the server closed the channel on us

        thread = threading.Thread(target=flood, daemon=True)
        thread.start()
        assert error_of(client.receive()) == ("77", "too-big")
        expect_closed(client)
        thread.join(timeout=20)
        assert not thread.is_alive() and sent[0] < total // 4

    def test_malformed_xml_gets_malformed_message_and_session_survives(
            self, server: NetconfServer) -> None:
        client = raw(server)
        client.send(f'<rpc xmlns="{NC}" message-id="9"><get></rpc>'.encode())
        assert error_of(client.receive()) == ("9", "malformed-message")
        assert client.rpc(GET_CONFIG).find(f"{{{NC}}}data") is not None

    def test_malformed_xml_on_base_10_closes(self, server: NetconfServer) -> None:
        client = raw(server, hello=HELLO_10)
        assert client.rpc(GET_CONFIG).find(f"{{{NC}}}data") is not None
        client.send(b"<rpc message-id='2'><get></rpc")
        expect_closed(client)

    def test_deep_nesting_and_entities(self, server: NetconfServer) -> None:
        client = raw(server)
        depth = 5000
        deep = "<a>" * depth + "</a>" * depth
        client.send(f'<rpc xmlns="{NC}" message-id="3"><get><filter>{deep}</filter></get>'
                    f"</rpc>".encode())
        assert error_of(client.receive()) == ("3", "malformed-message")
        bomb = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
                '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
                f'<rpc xmlns="{NC}" message-id="4"><get><filter>&b;</filter></get></rpc>')
        client.send(bomb.encode())
        assert error_of(client.receive())[1] == "malformed-message"
        assert client.rpc(GET_CONFIG).find(f"{{{NC}}}data") is not None

    def test_protocol_errors_keep_the_session(self, server: NetconfServer) -> None:
        client = raw(server)
        client.send(f'<rpc xmlns="{NC}">{GET_CONFIG}</rpc>'.encode())
        reply = etree.fromstring(client.receive())
        assert reply.findtext(f".//{{{NC}}}error-tag") == "missing-attribute"
        assert reply.findtext(f".//{{{NC}}}bad-attribute") == "message-id"
        reply = client.rpc('<frobnicate xmlns="urn:example:nothing"/>')
        assert reply.findtext(f".//{{{NC}}}error-tag") == "unknown-namespace"
        reply = client.rpc(GET_CONFIG + GET_CONFIG)
        assert reply.findtext(f".//{{{NC}}}error-tag") == "unknown-element"
        client.send(f'<hello xmlns="{NC}"/>'.encode())
        assert error_of(client.receive())[1] == "malformed-message"
        assert client.rpc(GET_CONFIG).find(f"{{{NC}}}data") is not None


def test_client_disconnect_mid_rpc(connect: Connect, server: NetconfServer,
                                   store: NmdaStore) -> None:
    """A client that vanishes mid-rpc or mid-message loses its lock; nothing else."""
    other = connect()
    client = raw(server)
    reply = client.rpc(f'<lock xmlns="{NC}"><target><running/></target></lock>')
    assert reply.find(f"{{{NC}}}ok") is not None
    # a request whose reply it never reads, then half of another message
    client.send(f'<rpc xmlns="{NC}" message-id="50">{GET_CONFIG}</rpc>'.encode())
    client.send_raw(b"\n#500\n<rpc xmlns=")
    client.close()
    deadline = time.monotonic() + 5
    while store.locks.holder("running") is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    other.lock("running")
    other.unlock("running")
    assert other.get_config("running").ok


def test_silent_client_is_dropped_after_hello_timeout(store: NmdaStore,
                                                      tmp_path: Path) -> None:
    limits = Limits(max_message_size=1 << 16, hello_timeout=0.3, send_timeout=2.0)
    with NetconfServer(store, users=AUTH, host_key=tmp_path / "k", limits=limits) as srv:
        client = raw(srv, hello=None)
        expect_closed(client)
        mgr = manager.connect(host="127.0.0.1", port=srv.port, username="admin",
                              password="admin", hostkey_verify=False, look_for_keys=False,
                              allow_agent=False, timeout=10)
        assert mgr.get_config("running").ok
        mgr.close_session()


def test_wrong_password_and_session_limit(store: NmdaStore, tmp_path: Path) -> None:
    import paramiko

    limits = Limits(max_sessions=1, hello_timeout=2.0)
    with NetconfServer(store, users=AUTH, host_key=tmp_path / "k", limits=limits) as srv:
        first = raw(srv)
        with pytest.raises((paramiko.SSHException, OSError, EOFError)):
            raw(srv)  # over the limit: refused at TCP accept
        assert first.rpc(GET_CONFIG).find(f"{{{NC}}}data") is not None
        first.close()
        deadline = time.monotonic() + 5
        while srv.connections and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(paramiko.AuthenticationException):
            RawNetconfClient("127.0.0.1", srv.port, "admin", "wrong", timeout=5)
