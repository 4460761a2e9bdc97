"""The two inputs that used to end a session thread or a revert timer: a control
character in a message-id and a confirm-timeout beyond uint32. Each gets an rpc-error,
nothing changes, the session keeps working and no session thread dies."""

from __future__ import annotations

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError

from controller.datastore.nmda import Datastore, NmdaStore
from controller.netconf.client import RawNetconfClient
from controller.netconf.server import NetconfServer
from tests.controller.netconf.conftest import NC, Connect, leaf_edit

GET_CONFIG = f'<get-config xmlns="{NC}"><source><running/></source></get-config>'


def raw(server: NetconfServer) -> RawNetconfClient:
    return RawNetconfClient("127.0.0.1", server.port, "admin", "admin", timeout=5)


def error_tag(reply: bytes) -> str | None:
    tag: str | None = etree.fromstring(reply).findtext(f".//{{{NC}}}error-tag")
    return tag


def test_control_character_in_message_id(server: NetconfServer, store: NmdaStore) -> None:
    before = store.get(Datastore.RUNNING)
    client = raw(server)
    try:
        for bad in (b"a\x01b", b"&#1;", b"\x1b[31m", b"x\x00y"):
            client.send(b'<rpc xmlns="' + NC.encode() + b'" message-id="' + bad + b'">'
                        + GET_CONFIG.encode() + b"</rpc>")
            reply = client.receive()
            assert error_tag(reply) == "malformed-message"
            assert etree.fromstring(reply).get("message-id") is None
        assert client.rpc(GET_CONFIG).find(f"{{{NC}}}data") is not None
    finally:
        client.close()
    assert store.get(Datastore.RUNNING) == before
    assert server.session_thread_deaths == 0


def test_confirm_timeout_above_uint32(server: NetconfServer, store: NmdaStore,
                                      connect: Connect) -> None:
    mgr = connect()
    mgr.edit_config(target="candidate", config=leaf_edit("777"))
    before, versions = store.get(Datastore.RUNNING), dict(store.versions)
    for timeout in ("4294967296", "99999999999999999999999", "0", "-1", "١٢", "1e3"):
        with pytest.raises(RPCError) as exc:
            mgr.dispatch(etree.fromstring(
                f'<commit xmlns="{NC}"><confirmed/>'
                f"<confirm-timeout>{timeout}</confirm-timeout></commit>"))
        assert exc.value.tag == "invalid-value", timeout
        assert store.get(Datastore.RUNNING) == before and store.versions == versions
    # the top of the uint32 range is accepted, and cancel-commit reverts it
    ok = mgr.dispatch(etree.fromstring(
        f'<commit xmlns="{NC}"><confirmed/><confirm-timeout>4294967295</confirm-timeout>'
        "</commit>"))
    assert ok.ok
    assert mgr.dispatch(etree.fromstring(f'<cancel-commit xmlns="{NC}"/>')).ok
    assert store.get(Datastore.RUNNING) == before
    assert server.session_thread_deaths == 0


def test_non_ascii_attribute_name_is_echoed_well_formed(server: NetconfServer) -> None:
    """RFC 6241 §4.2 echoes every <rpc> attribute; a name outside ASCII must still make
    a well-formed reply (found by the fuzz run)."""
    client = raw(server)
    try:
        client.send(f'<rpc xmlns="{NC}" message-id="5" x\u00e9\U0001f600="v">'
                    f"{GET_CONFIG}</rpc>".encode())
        reply = etree.fromstring(client.receive())
        assert reply.get("message-id") == "5" and reply.get("x\u00e9\U0001f600") == "v"
        assert reply.find(f"{{{NC}}}data") is not None
    finally:
        client.close()
