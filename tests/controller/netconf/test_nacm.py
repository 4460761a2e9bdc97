"""NACM (RFC 8341) enforced on read, write and exec, with the default rules of
config/nacm.json and rules changed at run time over NETCONF."""

from __future__ import annotations

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError

from controller.datastore.nmda import Datastore, NmdaStore
from controller.netconf.nacm import Policy, path_matches
from controller.netconf.paths import parse_path
from tests.controller.netconf.conftest import (
    DS,
    NACM,
    NC,
    NMDA,
    NW,
    SVC,
    Connect,
    leaf_edit,
    t2,
    xml,
)

NACM_FILTER = f'<nacm xmlns="{NACM}"/>'
WRITERS = (f'<config xmlns="{NC}"><nacm xmlns="{NACM}">'
           "<groups><group><name>writers</name><user-name>writer</user-name></group></groups>"
           "<rule-list><name>writers</name><group>writers</group>"
           "<rule><name>no-topology-writes</name><module-name>ietf-network</module-name>"
           "<path>/ietf-network:networks</path>"
           "<access-operations>create update delete</access-operations>"
           "<action>deny</action></rule>"
           "<rule><name>services</name><module-name>sdqn-services</module-name>"
           "<access-operations>*</access-operations><action>permit</action></rule>"
           "</rule-list></nacm></config>")
SERVICE_EDIT = (f'<config xmlns="{NC}"><entanglement-services xmlns="{SVC}"><request>'
                "<name>qkd-alice-bob</name><demanded-rate>55.0</demanded-rate></request>"
                "</entanglement-services></config>")


def _access_denied(exc: pytest.ExceptionInfo[RPCError], error_type: str) -> None:
    assert exc.value.tag == "access-denied"
    assert exc.value.type == error_type


def test_operator_reads_but_never_writes(connect: Connect, store: NmdaStore) -> None:
    operator = connect("operator")
    reply = xml(operator.get_config("running"))
    assert reply.find(f".//{{{NW}}}networks") is not None
    # /nacm is default-deny-all (RFC 8341 §3.5.1): silently omitted
    assert reply.find(f".//{{{NACM}}}nacm") is None
    assert xml(operator.get(filter=("subtree", NACM_FILTER))).find(f".//{{{NACM}}}nacm") is None
    before = store.get(Datastore.RUNNING)
    for call in (lambda: operator.edit_config(target="running", config=leaf_edit("2.5")),
                 lambda: operator.lock("running"),
                 lambda: operator.commit(),
                 lambda: operator.copy_config(source="running", target="startup")):
        with pytest.raises(RPCError) as exc:
            call()
        _access_denied(exc, "protocol")
    config = leaf_edit("2.5").replace(f'<config xmlns="{NC}">', "<config>")
    edit = (f'<edit-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:running</datastore>'
            f"{config}</edit-data>")
    with pytest.raises(RPCError) as exc:
        operator.dispatch(etree.fromstring(edit))
    _access_denied(exc, "protocol")
    get_data = (f'<get-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:operational'
                f'</datastore><subtree-filter><networks xmlns="{NW}"/></subtree-filter>'
                "</get-data>")
    assert xml(operator.dispatch(etree.fromstring(get_data))).find(f".//{{{NW}}}node") \
        is not None
    assert store.get(Datastore.RUNNING) == before
    # the admin sees the denials counted (RFC 8341 §3.5.1 denied-operations)
    admin = connect("admin")
    counters = xml(admin.get(filter=("subtree", f'<nacm xmlns="{NACM}"><denied-operations/>'
                                                "</nacm>")))
    assert int(counters.findtext(f".//{{{NACM}}}denied-operations") or 0) >= 4


def test_path_rules_and_default_write_deny(connect: Connect, store: NmdaStore) -> None:
    admin, nobody = connect("admin"), connect("nobody")
    # no group at all: exec permitted by default, writes denied by write-default
    with pytest.raises(RPCError) as exc:
        nobody.edit_config(target="running", config=SERVICE_EDIT)
    _access_denied(exc, "application")
    admin.edit_config(target="running", config=WRITERS)  # rules change at run time
    writer = connect("writer")
    writer.edit_config(target="running", config=SERVICE_EDIT)
    assert '"demanded-rate":"55.0"' in store.get(Datastore.RUNNING)
    with pytest.raises(RPCError) as exc:
        writer.edit_config(target="running", config=leaf_edit("2.5"))
    _access_denied(exc, "application")
    assert exc.value.path is not None and "coherence-time" in exc.value.path
    assert t2(store) == "1.5"
    # commit checks the whole candidate diff: the writer may not commit topology edits
    admin.edit_config(target="candidate", config=leaf_edit("2.5"))
    with pytest.raises(RPCError) as exc:
        writer.commit()
    _access_denied(exc, "application")
    assert t2(store) == "1.5"
    admin.discard_changes()
    writer.edit_config(target="candidate", config=SERVICE_EDIT.replace("55.0", "66.0"))
    writer.commit()
    assert '"demanded-rate":"66.0"' in store.get(Datastore.RUNNING)


def test_kill_session_is_default_deny(connect: Connect) -> None:
    nobody, other = connect("nobody"), connect("nobody")
    with pytest.raises(RPCError) as exc:
        nobody.kill_session(str(other.session_id))
    _access_denied(exc, "protocol")
    connect("admin").kill_session(str(other.session_id))


def test_recovery_user_cannot_be_locked_out(connect: Connect, store: NmdaStore) -> None:
    admin = connect("admin")
    lockout = (f'<config xmlns="{NC}"><nacm xmlns="{NACM}"><rule-list><name>aaa-lockout'
               "</name><group>*</group><rule><name>deny-everything</name>"
               "<module-name>*</module-name><access-operations>*</access-operations>"
               "<action>deny</action></rule></rule-list></nacm></config>")
    admin.edit_config(target="running", config=lockout)
    # rule-lists are ordered by name here only by insertion: move ours first
    admin.edit_config(target="running", config=lockout.replace(
        "<rule-list>", '<rule-list xmlns:yang="urn:ietf:params:xml:ns:yang:1" '
                       'yang:insert="first">'))
    operator = connect("operator")
    with pytest.raises(RPCError) as exc:
        operator.get_config("running")
    _access_denied(exc, "protocol")
    admin.edit_config(target="running", config=leaf_edit("2.5"))
    assert t2(store) == "2.5"
    assert xml(admin.get_config("running", filter=("subtree", NACM_FILTER))).find(
        f".//{{{NACM}}}nacm") is not None


def test_policy_and_path_matching() -> None:
    policy = Policy.from_json({"ietf-netconf-acm:nacm": {
        "groups": {"group": [{"name": "g", "user-name": ["u"]}]},
        "rule-list": [
            {"name": "a", "group": ["g"], "rule": [
                {"name": "r1", "rpc-name": "edit-config", "access-operations": "exec",
                 "action": "deny"},
                {"name": "r2", "path": "/ietf-network:networks/network[network-id='m']",
                 "access-operations": "read", "action": "permit"}]},
            {"name": "b", "group": ["other"], "rule": [{"name": "r3", "action": "permit"}]},
        ]}})
    assert [r.name for r in policy.rules_for("u")] == ["r1", "r2"]
    assert policy.rules_for("stranger") == ()
    assert not policy.write_default and policy.read_default and policy.exec_default
    rule = parse_path("/ietf-network:networks/network[network-id='m']")
    assert path_matches(rule, parse_path(
        "/ietf-network:networks/network[network-id='m']/node[node-id='a']"))
    assert not path_matches(rule, parse_path("/ietf-network:networks/network[network-id='x']"))
    assert not path_matches(rule, parse_path("/ietf-network:networks"))
    assert path_matches(parse_path("/ietf-network:networks/network"),
                        parse_path("/ietf-network:networks/network[network-id='x']/node"))
