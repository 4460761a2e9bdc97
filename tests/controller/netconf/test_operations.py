"""Every RFC 6241 / RFC 8526 operation, driven over SSH by ncclient."""

from __future__ import annotations

import time

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError

from controller.datastore.nmda import Datastore, NmdaStore
from controller.netconf.server import NetconfServer
from tests.controller.netconf.conftest import (
    DS,
    NC,
    NMDA,
    NW,
    SVC,
    TOPO,
    Connect,
    leaf_edit,
    t2,
    xml,
)

ALICE_FILTER = (f'<networks xmlns="{NW}"><network><network-id>metro</network-id>'
                "<node><node-id>alice</node-id></node></network></networks>")


def _tags(exc: pytest.ExceptionInfo[RPCError]) -> list[str]:
    errs = getattr(exc.value, "errors", None)
    return [e.tag for e in errs] if errs else [exc.value.tag]


def _rpc_error(exc: pytest.ExceptionInfo[RPCError]) -> etree._Element:
    raw = exc.value.xml
    return raw if isinstance(raw, etree._Element) else etree.fromstring(raw)


def test_hello_capabilities(connect: Connect, server: NetconfServer) -> None:
    mgr = connect()
    caps = set(mgr.server_capabilities)
    for cap in ("urn:ietf:params:netconf:base:1.1",
                "urn:ietf:params:netconf:capability:writable-running:1.0",
                "urn:ietf:params:netconf:capability:candidate:1.0",
                "urn:ietf:params:netconf:capability:confirmed-commit:1.1",
                "urn:ietf:params:netconf:capability:validate:1.1",
                "urn:ietf:params:netconf:capability:startup:1.0",
                "urn:ietf:params:netconf:capability:rollback-on-error:1.0",
                "urn:ietf:params:netconf:capability:xpath:1.0",
                "urn:ietf:params:netconf:capability:notification:1.0",
                "urn:ietf:params:netconf:capability:interleave:1.0"):
        assert cap in caps
    assert any(c.startswith("urn:ietf:params:netconf:capability:with-defaults:1.0?"
                            "basic-mode=explicit") for c in caps)
    yanglib = [c for c in caps if c.startswith(
        "urn:ietf:params:netconf:capability:yang-library:1.1?")]
    assert len(yanglib) == 1
    content_id = yanglib[0].split("content-id=")[1]
    # RFC 8526 §2: the same content-id as /yang-library/content-id in <operational>.
    reply = xml(mgr.get(filter=("subtree", '<yang-library xmlns="urn:ietf:params:xml:ns:yang:'
                                          'ietf-yang-library"><content-id/></yang-library>')))
    found = reply.findtext(".//{urn:ietf:params:xml:ns:yang:ietf-yang-library}content-id")
    assert found == content_id


def test_get_config_subtree_and_xpath(connect: Connect) -> None:
    mgr = connect()
    reply = xml(mgr.get_config("running", filter=("subtree", ALICE_FILTER)))
    nodes = reply.findall(f".//{{{NW}}}node")
    assert [n.findtext(f"{{{NW}}}node-id") for n in nodes] == ["alice"]
    assert nodes[0].findtext(f".//{{{TOPO}}}coherence-time") == "1.5"
    # content match + selection: only the selected leaf (and the keys) come back
    select = (f'<networks xmlns="{NW}"><network><network-id>metro</network-id><node>'
              f'<node-id>bob</node-id><quantum-node xmlns="{TOPO}"><memory-qubits/>'
              "</quantum-node></node></network></networks>")
    reply = xml(mgr.get_config("running", filter=("subtree", select)))
    qnode = reply.find(f".//{{{TOPO}}}quantum-node")
    assert qnode is not None and [etree.QName(c).localname for c in qnode] == ["memory-qubits"]
    reply = xml(mgr.get_config("running", filter=("xpath", (
        {"nw": NW, "svc": SVC},
        "/svc:entanglement-services/svc:request[svc:name='qkd-alice-bob']"))))
    names = [e.text for e in reply.iter(f"{{{SVC}}}name")]
    assert names == ["qkd-alice-bob"]
    assert xml(mgr.get_config("running", filter=("subtree", "<bogus xmlns='urn:x'/>"))
               ).find(f"{{{NC}}}data") is not None


def test_get_returns_state_and_monitoring(connect: Connect) -> None:
    mgr = connect()
    reply = xml(mgr.get(filter=("subtree", '<netconf-state xmlns="urn:ietf:params:xml:ns:'
                                          'yang:ietf-netconf-monitoring"><sessions/>'
                                          "</netconf-state>")))
    ids = [e.text for e in reply.iter("{*}session-id")]
    assert str(mgr.session_id) in ids


def test_edit_config_operations(connect: Connect, store: NmdaStore) -> None:
    mgr = connect()
    mgr.edit_config(target="running", config=leaf_edit("2.5"))
    assert t2(store) == "2.5"
    mgr.edit_config(target="running", config=leaf_edit("3.5", operation="replace"))
    assert t2(store) == "3.5"
    with pytest.raises(RPCError) as exc:  # create on an existing leaf
        mgr.edit_config(target="running", config=leaf_edit("4.5", operation="create"))
    assert exc.value.tag == "data-exists"
    request = (f'<config xmlns="{NC}"><entanglement-services xmlns="{SVC}"><request '
               f'xmlns:nc="{NC}" nc:operation="{{op}}"><name>qkd-alice-bob</name>'
               "</request></entanglement-services></config>")
    mgr.edit_config(target="running", config=request.format(op="delete"))
    with pytest.raises(RPCError) as exc:
        mgr.edit_config(target="running", config=request.format(op="delete"))
    assert exc.value.tag == "data-missing"
    mgr.edit_config(target="running", config=request.format(op="remove"))  # no error
    # test-only validates without changing anything
    mgr.edit_config(target="running", config=leaf_edit("9.5"), test_option="test-only")
    assert t2(store) == "3.5"
    # default-operation none with an explicit merge deeper down
    mgr.edit_config(target="running", config=leaf_edit("6.5", operation="merge"),
                    default_operation="none")
    assert t2(store) == "6.5"
    # delete would break the must "memory-qubits = 0 or coherence-time": nothing changes
    before = store.get(Datastore.RUNNING)
    with pytest.raises(RPCError) as exc:
        mgr.edit_config(target="running", config=leaf_edit("", operation="delete"))
    assert "operation-failed" in _tags(exc) and store.get(Datastore.RUNNING) == before


def test_error_options(connect: Connect, store: NmdaStore) -> None:
    mgr = connect()
    bad_and_good = (f'<config xmlns="{NC}" xmlns:nc="{NC}"><networks xmlns="{NW}"><network>'
                    "<network-id>metro</network-id>"
                    f'<node><node-id>alice</node-id><quantum-node xmlns="{TOPO}">'
                    "<coherence-time>7.5</coherence-time></quantum-node></node>"
                    f'<node nc:operation="delete"><node-id>no-such-node</node-id></node>'
                    "</network></networks></config>")
    version = store.versions[Datastore.RUNNING]
    for option in ("rollback-on-error", "stop-on-error"):
        with pytest.raises(RPCError) as exc:
            mgr.edit_config(target="running", config=bad_and_good, error_option=option)
        assert exc.value.tag == "data-missing"
        assert t2(store) == "1.5" and store.versions[Datastore.RUNNING] == version
    # continue-on-error applies what it can and reports the rest
    with pytest.raises(RPCError) as exc:
        mgr.edit_config(target="running", config=bad_and_good, error_option="continue-on-error")
    assert exc.value.tag == "data-missing"
    assert t2(store) == "7.5"


def test_error_path_is_namespace_qualified_xpath(connect: Connect) -> None:
    """RFC 6241 §4.3: error-path is an XPath the client can evaluate on its own data."""
    mgr = connect()
    with pytest.raises(RPCError) as exc:
        mgr.edit_config(target="running", config=leaf_edit("4.5", operation="create"))
    error = _rpc_error(exc)
    path_el = error.find(f"{{{NC}}}error-path")
    assert path_el is not None and path_el.text is not None
    assert path_el.nsmap["ietf-network"] == NW and path_el.nsmap["sdqn-topology"] == TOPO
    data = xml(mgr.get_config("running")).find(f"{{{NC}}}data")
    assert data is not None
    root = etree.Element("root")
    root.extend(list(data))
    nsmap = {k: v for k, v in path_el.nsmap.items() if k}
    found = etree.ElementTree(root).xpath("/root" + path_el.text, namespaces=nsmap)
    assert len(found) == 1 and found[0].text == "1.5"
    for tag in ("error-type", "error-tag", "error-severity", "error-message"):
        assert error.find(f"{{{NC}}}{tag}") is not None


def test_candidate_commit_discard_validate(connect: Connect, store: NmdaStore) -> None:
    mgr = connect()
    mgr.edit_config(target="candidate", config=leaf_edit("2.5"))
    assert t2(store) == "1.5" and t2(store, Datastore.CANDIDATE) == "2.5"
    mgr.validate(source="candidate")
    mgr.discard_changes()
    assert t2(store, Datastore.CANDIDATE) == "1.5"
    mgr.edit_config(target="candidate", config=leaf_edit("3.5"))
    mgr.commit()
    assert t2(store) == "3.5"
    # validate of inline content that breaks a must constraint
    broken = (f'<config xmlns="{NC}"><networks xmlns="{NW}"><network><network-id>x</network-id>'
              f'<node><node-id>n</node-id><quantum-node xmlns="{TOPO}"><memory-qubits>4'
              "</memory-qubits></quantum-node></node></network></networks></config>")
    with pytest.raises(RPCError) as exc:
        mgr.validate(source=etree.fromstring(broken))
    assert exc.value.tag == "operation-failed"


def test_copy_and_delete_config(connect: Connect, store: NmdaStore) -> None:
    mgr = connect()
    mgr.copy_config(source="running", target="startup")
    assert t2(store, Datastore.STARTUP) == "1.5"
    mgr.delete_config(target="startup")
    assert store.get(Datastore.STARTUP) == "{}"
    with pytest.raises(RPCError) as exc:
        mgr.delete_config(target="running")
    assert exc.value.tag == "operation-not-supported"
    # inline config replaces the candidate whole
    copy = (f'<copy-config xmlns="{NC}"><target><candidate/></target><source><config>'
            f'<entanglement-services xmlns="{SVC}"/></config></source></copy-config>')
    mgr.dispatch(etree.fromstring(copy))
    assert t2(store, Datastore.CANDIDATE) is None
    mgr.discard_changes()


def test_lock_contention_and_release(connect: Connect, store: NmdaStore) -> None:
    first, second = connect(), connect()
    first.lock("running")
    with pytest.raises(RPCError) as exc:
        second.lock("running")
    assert exc.value.tag == "lock-denied"
    assert exc.value.info and str(first.session_id) in exc.value.info
    with pytest.raises(RPCError) as exc:
        second.edit_config(target="running", config=leaf_edit("2.5"))
    assert exc.value.tag == "in-use" and t2(store) == "1.5"
    first.edit_config(target="running", config=leaf_edit("2.5"))
    with pytest.raises(RPCError):
        second.unlock("running")
    first.unlock("running")
    second.lock("running")
    second.unlock("running")


def test_kill_session_releases_locks(connect: Connect, server: NetconfServer,
                                     store: NmdaStore) -> None:
    victim, killer = connect(), connect()
    victim.lock("running")
    victim.lock("candidate")
    killer.kill_session(str(victim.session_id))
    assert store.locks.holder("running") is None and store.locks.holder("candidate") is None
    killer.lock("running")
    deadline = time.monotonic() + 5
    while victim.session_id in server.session_ids() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert victim.session_id not in server.session_ids()
    with pytest.raises(RPCError) as exc:
        killer.kill_session(str(killer.session_id))
    assert exc.value.tag == "invalid-value"
    with pytest.raises(RPCError) as exc:
        killer.kill_session("999999")
    assert exc.value.tag == "invalid-value"


def test_confirmed_commit_times_out_and_reverts(connect: Connect, store: NmdaStore) -> None:
    mgr = connect()
    mgr.edit_config(target="candidate", config=leaf_edit("2.5"))
    mgr.commit(confirmed=True, timeout="1")
    assert t2(store) == "2.5"
    deadline = time.monotonic() + 5
    while t2(store) != "1.5" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert t2(store) == "1.5" and not store.confirm_pending


def test_confirmed_commit_persist_and_cancel(connect: Connect, store: NmdaStore) -> None:
    first = connect()
    first.edit_config(target="candidate", config=leaf_edit("2.5"))
    first.commit(confirmed=True, timeout="60", persist="token-1")
    first.close_session()
    assert t2(store) == "2.5"  # persist: survives the session (RFC 6241 §8.4.1)
    second = connect()
    with pytest.raises(RPCError):
        second.commit(persist_id="wrong")
    second.commit(persist_id="token-1")  # confirming commit from another session
    assert t2(store) == "2.5" and not store.confirm_pending
    second.edit_config(target="candidate", config=leaf_edit("3.5"))
    second.commit(confirmed=True, timeout="60")
    second.cancel_commit()
    assert t2(store) == "2.5"


def test_unconfirmed_commit_reverts_when_session_ends(connect: Connect,
                                                      store: NmdaStore) -> None:
    mgr = connect()
    mgr.edit_config(target="candidate", config=leaf_edit("2.5"))
    mgr.commit(confirmed=True, timeout="60")
    mgr.close_session()
    deadline = time.monotonic() + 5
    while t2(store) != "1.5" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert t2(store) == "1.5"


def test_get_schema_returns_every_module(connect: Connect, server: NetconfServer) -> None:
    mgr = connect()
    for info in server.core.library.modules:
        reply = mgr.get_schema(info.name)
        assert f"module {info.name}" in reply.data
    with pytest.raises(RPCError) as exc:
        mgr.get_schema("no-such-module")
    assert exc.value.tag == "invalid-value"


def _get_data(mgr: object, inner: str) -> etree._Element:
    rpc = (f'<get-data xmlns="{NMDA}" xmlns:ds="{DS}" '
           f'xmlns:or="urn:ietf:params:xml:ns:yang:ietf-origin">{inner}</get-data>')
    return xml(mgr.dispatch(etree.fromstring(rpc)))  # type: ignore[attr-defined]


def test_get_data_nmda(connect: Connect, store: NmdaStore) -> None:
    mgr = connect()
    for ds in ("running", "candidate", "intended", "operational"):
        reply = _get_data(mgr, f"<datastore>ds:{ds}</datastore><xpath-filter xmlns:nw='{NW}'>"
                               "/nw:networks/nw:network/nw:node[nw:node-id='alice']"
                               "</xpath-filter>")
        assert [e.text for e in reply.iter(f"{{{NW}}}node-id")] == ["alice"], ds
    reply = _get_data(mgr, "<datastore>ds:operational</datastore><with-origin/>"
                           f"<subtree-filter><networks xmlns='{NW}'/></subtree-filter>")
    networks = reply.find(f".//{{{NW}}}networks")
    assert networks is not None
    assert networks.get("{urn:ietf:params:xml:ns:yang:ietf-origin}origin") == "or:intended"
    # yang-library is served in operational (origin system) and only there
    reply = _get_data(mgr, "<datastore>ds:operational</datastore><origin-filter>or:system"
                           "</origin-filter>")
    tops = {etree.QName(e).localname for e in reply[0]}
    assert "yang-library" in tops and "networks" not in tops
    reply = _get_data(mgr, "<datastore>ds:running</datastore><config-filter>false"
                           "</config-filter>")
    assert len(reply[0]) == 0
    # max-depth 1 keeps only the selected nodes
    reply = _get_data(mgr, f"<datastore>ds:running</datastore><max-depth>1</max-depth>"
                           f"<subtree-filter><networks xmlns='{NW}'/></subtree-filter>")
    networks = reply.find(f".//{{{NW}}}networks")
    assert networks is not None and len(networks) == 0
    reply = _get_data(mgr, "<datastore>ds:running</datastore>"
                           "<with-defaults>report-all</with-defaults>"
                           "<subtree-filter><nacm xmlns='urn:ietf:params:xml:ns:yang:"
                           "ietf-netconf-acm'><enable-external-groups/></nacm></subtree-filter>")
    assert reply.findtext(".//{*}enable-external-groups") == "true"
    with pytest.raises(RPCError) as exc:
        _get_data(mgr, "<datastore>ds:running</datastore><with-origin/>")
    assert exc.value.tag == "invalid-value"


def test_edit_data(connect: Connect, store: NmdaStore) -> None:
    mgr = connect()
    config = leaf_edit("4.5").replace(f'<config xmlns="{NC}">', "<config>")
    edit = (f'<edit-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:candidate</datastore>'
            f"{config}</edit-data>")
    mgr.dispatch(etree.fromstring(edit))
    assert t2(store, Datastore.CANDIDATE) == "4.5"
    mgr.commit()
    assert t2(store) == "4.5"
    with pytest.raises(RPCError) as exc:
        mgr.dispatch(etree.fromstring(edit.replace("ds:candidate", "ds:operational")))
    assert exc.value.tag == "invalid-value"


def test_unknown_rpc_and_bad_parameters(connect: Connect) -> None:
    mgr = connect()
    with pytest.raises(RPCError) as exc:
        mgr.dispatch(etree.fromstring(f'<frobnicate xmlns="{NC}"/>'))
    assert exc.value.tag == "operation-not-supported"
    with pytest.raises(RPCError) as exc:
        mgr.dispatch(etree.fromstring('<frobnicate xmlns="urn:nowhere"/>'))
    assert exc.value.tag == "unknown-namespace"
    with pytest.raises(RPCError) as exc:
        mgr.dispatch(etree.fromstring(f'<get-config xmlns="{NC}"/>'))
    assert exc.value.tag == "missing-element"
    with pytest.raises(RPCError) as exc:
        mgr.dispatch(etree.fromstring(f'<get-config xmlns="{NC}"><source><running/></source>'
                                      "<colour>blue</colour></get-config>"))
    assert exc.value.tag == "unknown-element"
    with pytest.raises(RPCError) as exc:
        mgr.dispatch(etree.fromstring(f'<lock xmlns="{NC}"><target><url>x</url></target></lock>'))
    assert exc.value.tag == "operation-not-supported"


def test_with_defaults_on_get_config(connect: Connect) -> None:
    """RFC 6243: basic mode explicit; report-all adds defaults, tagged marks them."""
    mgr = connect()
    nacm_filter = ("subtree", '<nacm xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-acm">'
                              "<enable-external-groups/></nacm>")
    assert xml(mgr.get_config("running", filter=nacm_filter)).findtext(
        ".//{*}enable-external-groups") is None
    tagged = xml(mgr.get_config("running", filter=nacm_filter,
                                with_defaults="report-all-tagged"))
    leaf = tagged.find(".//{*}enable-external-groups")
    assert leaf is not None and leaf.text == "true"
    assert leaf.get("{urn:ietf:params:xml:ns:netconf:default:1.0}default") == "true"
