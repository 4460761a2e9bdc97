"""Many servers in one process (one per emulated device): independent stores, unique
session ids, one accept thread each, nothing shared that could leak between them."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.schema import Schema
from controller.netconf.client import RawNetconfClient
from controller.netconf.server import NetconfServer
from tests.controller.netconf.conftest import NC, NW

COUNT = 20


def test_servers_coexist(schema: Schema, tmp_path: Path) -> None:
    threads_before = threading.active_count()
    servers = []
    try:
        for i in range(COUNT):
            store = NmdaStore(schema)
            store.edit_json(Datastore.RUNNING, {"ietf-network:networks": {"network": [
                {"network-id": f"dev{i}"}]}})
            server = NetconfServer(store, users={"admin": "admin"}, nacm=False,
                                   host_key=tmp_path / "key", name=f"dev{i}")
            server.start()
            servers.append(server)
        # one accept thread per server, no per-server helpers (counted by name: other
        # tests' threads may still be winding down while this one runs)
        names = {f"dev{i}" for i in range(COUNT)}
        mine = [t.name for t in threading.enumerate() if t.name.split("-")[-1] in names]
        assert sorted(mine) == sorted(f"netconf-accept-{n}" for n in names), mine
        assert len({s.port for s in servers}) == COUNT
        clients = [RawNetconfClient("127.0.0.1", s.port, "admin", "admin") for s in servers]
        assert len({c.session_id for c in clients}) == COUNT
        for i, client in enumerate(clients):
            reply = client.rpc(f'<get-config xmlns="{NC}"><source><running/></source>'
                               "</get-config>")
            assert [e.text for e in reply.iter(f"{{{NW}}}network-id")] == [f"dev{i}"]
            client.close()
    finally:
        for server in servers:
            server.stop()
    deadline = time.monotonic() + 5  # client transports wind down asynchronously
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert threading.active_count() <= threads_before
    assert not [t for t in threading.enumerate() if t.name.startswith("netconf-accept-dev")]


def test_extra_rpcs_capabilities_and_nacm(store: NmdaStore, tmp_path: Path) -> None:
    """Device emulators add their own rpcs; NACM exec rules apply to them too."""
    from lxml import etree

    from controller.errors import ErrorTag, NetconfError
    from tests.controller.netconf.conftest import AUTH, NACM

    dev = "urn:sdqn:test-device"
    calls: list[tuple[int, str]] = []

    def ping(session: object, op: etree._Element) -> etree._Element:
        calls.append((session.session_id, session.username))  # type: ignore[attr-defined]
        pong = etree.Element(f"{{{dev}}}pong", nsmap={None: dev})
        pong.text = op.findtext(f"{{{dev}}}payload")
        return pong

    def fail(_session: object, _op: etree._Element) -> None:
        raise NetconfError.of(ErrorTag.RESOURCE_DENIED, "laser still warming up",
                              path="/ietf-network:networks")

    store.edit_xml(Datastore.RUNNING, (
        f'<config xmlns="{NC}"><nacm xmlns="{NACM}"><rule-list><name>ops</name>'
        "<group>operator</group><rule><name>no-reset</name><module-name>*</module-name>"
        "<rpc-name>reset</rpc-name><access-operations>exec</access-operations>"
        "<action>deny</action></rule></rule-list></nacm></config>"))
    extra = {f"{{{dev}}}ping": ping, f"{{{dev}}}reset": fail}
    with NetconfServer(store, users=AUTH, host_key=tmp_path / "k", extra_rpcs=extra,
                       capabilities=[f"{dev}?module=test-device"]) as srv:
        assert f"{dev}?module=test-device" in srv.capabilities
        admin = RawNetconfClient("127.0.0.1", srv.port, "admin", "admin")
        operator = RawNetconfClient("127.0.0.1", srv.port, "operator", "operator")
        reply = admin.rpc(f'<ping xmlns="{dev}"><payload>42</payload></ping>')
        assert reply.findtext(f"{{{dev}}}pong") == "42"
        assert calls == [(admin.session_id, "admin")]
        reply = admin.rpc(f'<reset xmlns="{dev}"/>')
        assert reply.findtext(f".//{{{NC}}}error-tag") == "resource-denied"
        path = reply.find(f".//{{{NC}}}error-path")
        assert path is not None and path.text == "/ietf-network:networks"
        assert path.nsmap["ietf-network"] == NW
        reply = operator.rpc(f'<reset xmlns="{dev}"/>')
        assert reply.findtext(f".//{{{NC}}}error-tag") == "access-denied"
        assert operator.rpc(f'<ping xmlns="{dev}"/>').find(f"{{{dev}}}pong") is not None
        admin.close()
        operator.close()
