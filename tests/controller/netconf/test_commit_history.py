"""The commit history over NETCONF (ncclient over SSH, the daemon's server wiring): a
commit's label and comment (sdqn-controller augments ietf-netconf <commit>), the rpcs
list-commits, show-commit, diff-commits and rollback-to, their errors, and NACM."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError

from controller.daemon import build_server
from controller.datastore.history import RunningHistory
from controller.datastore.nmda import NmdaStore
from controller.netconf.server import NetconfServer
from controller.paths import CONFIG_DIR
from controller.settings import ControllerSettings, DatastoreSettings, NetconfSettings
from tests.controller.netconf.conftest import AUTH, NACM, NC, Connect, leaf_edit, t2, xml

CTL = "urn:sdqn:sdqn-controller"
ALICE_T2 = ("/ietf-network:networks/network/[network-id=metro]/node/[node-id=alice]"
            "/sdqn-topology:quantum-node/coherence-time")


@pytest.fixture
def server(store: NmdaStore, history: RunningHistory, tmp_path: Path
           ) -> Iterator[NetconfServer]:
    """The daemon's NETCONF server (commit-history rpcs included) on a free port."""
    settings = ControllerSettings(
        datastore=DatastoreSettings(data_dir=tmp_path),
        netconf=NetconfSettings(port=0, auth=AUTH, nacm_file=CONFIG_DIR / "nacm.json",
                                hello_timeout=3.0, send_timeout=5.0))
    srv = build_server(settings, store, history)
    srv.start()
    yield srv
    srv.stop()


def rpc(mgr: manager.Manager, body: str) -> etree._Element:
    """One rpc (its operation element as XML text); the <rpc-reply> as an element."""
    return xml(mgr.dispatch(etree.fromstring(body)))


def commit(mgr: manager.Manager, label: str | None = None, comment: str | None = None,
           extra: str = "") -> etree._Element:
    notes = "".join(f'<{name} xmlns="{CTL}">{value}</{name}>'
                    for name, value in (("label", label), ("comment", comment))
                    if value is not None)
    return rpc(mgr, f'<commit xmlns="{NC}">{notes}{extra}</commit>')


def leaves(element: etree._Element) -> dict[str, str]:
    return {etree.QName(c).localname: c.text or "" for c in element
            if etree.QName(c).namespace == CTL and len(c) == 0}


def list_commits(mgr: manager.Manager, limit: int | None = None) -> list[dict[str, str]]:
    arg = f"<limit>{limit}</limit>" if limit is not None else ""
    reply = rpc(mgr, f'<list-commits xmlns="{CTL}">{arg}</list-commits>')
    return [leaves(c) for c in reply.iter(f"{{{CTL}}}commit")]


def changes(reply: etree._Element) -> list[dict[str, Any]]:
    """The change list of a reply, values decoded from their RFC 7951 JSON text."""
    return [{k: json.loads(v) if k in ("value", "previous") else v
             for k, v in leaves(c).items()} for c in reply.iter(f"{{{CTL}}}change")]


def error(exc: pytest.ExceptionInfo[RPCError]) -> tuple[str, str, str]:
    """(error-tag, error-message, bad-element) of the reply's first rpc-error."""
    raw = exc.value.xml
    el = raw if isinstance(raw, etree._Element) else etree.fromstring(raw)
    return (el.findtext(f".//{{{NC}}}error-tag") or "",
            el.findtext(f".//{{{NC}}}error-message") or "",
            el.findtext(f".//{{{NC}}}bad-element") or "")


def test_commit_carries_label_and_comment(connect: Connect, store: NmdaStore) -> None:
    mgr = connect()
    mgr.edit_config(target="candidate", config=leaf_edit("2.5"))
    reply = commit(mgr, "t2-alice", "measured T2 is 2.5 s since the new cryostat")
    assert reply.find(f"{{{NC}}}ok") is not None and t2(store) == "2.5"
    newest = list_commits(mgr, limit=1)
    assert len(newest) == 1
    record = newest[0]
    assert {k: record[k] for k in ("label", "comment", "user", "kind", "source-host")} == {
        "label": "t2-alice", "comment": "measured T2 is 2.5 s since the new cryostat",
        "user": "admin", "kind": "commit", "source-host": "127.0.0.1"}
    assert record["timestamp"].endswith("Z") and int(record["seq"]) >= 1
    # a plain commit (no label) is a commit too, and an empty one records nothing
    mgr.edit_config(target="candidate", config=leaf_edit("3.0"))
    mgr.commit()
    mgr.commit()
    assert [(c["kind"], c["label"]) for c in list_commits(mgr, limit=2)] == [
        ("commit", ""), ("commit", "t2-alice")]


def test_commit_rejects_what_it_does_not_define(connect: Connect, store: NmdaStore) -> None:
    """RFC 6241 Appendix A: an element <commit> does not define is unknown-element, in
    the augmenting module's namespace as in any other; nothing is committed."""
    mgr = connect()
    mgr.edit_config(target="candidate", config=leaf_edit("2.5"))
    for extra in (f'<colour xmlns="{CTL}">red</colour>', '<label xmlns="urn:x">x</label>',
                  f'<label xmlns="{NC}">x</label>'):
        with pytest.raises(RPCError) as exc:
            commit(mgr, extra=extra)
        assert error(exc)[0] == "unknown-element"
    with pytest.raises(RPCError) as long_label:
        commit(mgr, "x" * 257)
    assert error(long_label)[0] == "invalid-value" and error(long_label)[2] == "label"
    assert t2(store) == "1.5" and store.candidate_dirty


def test_show_and_diff_commits(connect: Connect) -> None:
    mgr = connect()
    ids = []
    for value, label in (("2.5", "first"), ("3.5", "second")):
        mgr.edit_config(target="candidate", config=leaf_edit(value))
        commit(mgr, label)
        ids.append(list_commits(mgr, limit=1)[0]["id"])
    shown = rpc(mgr, f'<show-commit xmlns="{CTL}"><id>{ids[1]}</id></show-commit>')
    assert {k: v for k, v in leaves(shown).items() if k in ("id", "label", "kind")} == {
        "id": ids[1], "label": "second", "kind": "commit"}
    assert changes(shown) == [{"operation": "replace", "path": ALICE_T2, "value": "3.5",
                               "previous": "2.5"}]
    between = rpc(mgr, f'<diff-commits xmlns="{CTL}"><from>{ids[0]}</from><to>{ids[1]}</to>'
                       "</diff-commits>")
    assert changes(between) == changes(shown)
    mgr.edit_config(target="running", config=leaf_edit("4.5"))     # an edit, not a commit
    to_now = rpc(mgr, f'<diff-commits xmlns="{CTL}"><from>{ids[0]}</from></diff-commits>')
    assert changes(to_now) == [{"operation": "replace", "path": ALICE_T2, "value": "4.5",
                                "previous": "2.5"}]
    same = rpc(mgr, f'<diff-commits xmlns="{CTL}"><from>{ids[1]}</from><to>{ids[1]}</to>'
                    "</diff-commits>")
    assert changes(same) == []


def test_rollback_to_restores_running_and_says_who_and_why(connect: Connect,
                                                           store: NmdaStore) -> None:
    mgr = connect()
    mgr.edit_config(target="candidate", config=leaf_edit("2.5"))
    commit(mgr, "bad idea")
    bad = list_commits(mgr, limit=1)[0]["id"]
    mgr.edit_config(target="candidate", config=leaf_edit("3.5"))
    commit(mgr, "worse idea")
    assert t2(store) == "3.5"
    reply = rpc(mgr, f'<rollback-to xmlns="{CTL}"><id>{bad}</id><label>undo</label>'
                     "<comment>alice lost fidelity after both changes</comment>"
                     "</rollback-to>")
    assert t2(store) == "1.5"
    out = leaves(reply)
    assert out["changed"] == "true"
    record = list_commits(mgr, limit=1)[0]
    assert record == {k: v for k, v in out.items() if k != "changed"}
    assert {k: record[k] for k in ("kind", "user", "source-host", "label", "comment")} == {
        "kind": "rollback", "user": "admin", "source-host": "127.0.0.1", "label": "undo",
        "comment": "alice lost fidelity after both changes"}
    shown = rpc(mgr, f'<show-commit xmlns="{CTL}"><id>{record["id"]}</id></show-commit>')
    assert changes(shown) == [{"operation": "replace", "path": ALICE_T2, "value": "1.5",
                               "previous": "3.5"}]
    # rolling back to the same point again changes nothing and records nothing
    again = leaves(rpc(mgr, f'<rollback-to xmlns="{CTL}"><id>{bad}</id></rollback-to>'))
    assert again == {"changed": "false"}
    assert list_commits(mgr, limit=1)[0]["id"] == record["id"]
    # without a label, the record says what was rolled back
    worse = list_commits(mgr, limit=2)[1]
    assert worse["label"] == "worse idea"
    rpc(mgr, f'<rollback-to xmlns="{CTL}"><id>{worse["id"]}</id></rollback-to>')
    assert t2(store) == "2.5"
    assert list_commits(mgr, limit=1)[0]["label"] == f"rollback to before {worse['id']}"


def test_bad_input_is_a_precise_error_and_changes_nothing(connect: Connect,
                                                          store: NmdaStore) -> None:
    mgr = connect()
    mgr.edit_config(target="candidate", config=leaf_edit("2.5"))
    commit(mgr, "known")
    before = (dict(store.versions), list_commits(mgr))
    for body in (f'<rollback-to xmlns="{CTL}"><id>c0ffee000000</id></rollback-to>',
                 f'<show-commit xmlns="{CTL}"><id>c0ffee000000</id></show-commit>',
                 f'<diff-commits xmlns="{CTL}"><from>c0ffee000000</from></diff-commits>'):
        with pytest.raises(RPCError) as unknown:
            rpc(mgr, body)
        assert error(unknown)[:2] == ("data-missing", "no commit 'c0ffee000000' in the history")
    cases = {
        f'<rollback-to xmlns="{CTL}"/>': ("missing-element", "id"),
        f'<show-commit xmlns="{CTL}"><id/></show-commit>': ("invalid-value", "id"),
        f'<list-commits xmlns="{CTL}"><limit>0</limit></list-commits>': ("invalid-value",
                                                                         "limit"),
        f'<list-commits xmlns="{CTL}"><limit>many</limit></list-commits>': ("invalid-value",
                                                                            "limit"),
        f'<list-commits xmlns="{CTL}"><colour>red</colour></list-commits>': (
            "unknown-element", "colour"),
        f'<diff-commits xmlns="{CTL}"><to>x</to></diff-commits>': ("missing-element", "from"),
    }
    for body, (tag, element) in cases.items():
        with pytest.raises(RPCError) as exc:
            rpc(mgr, body)
        assert (error(exc)[0], error(exc)[2]) == (tag, element), body
    assert (dict(store.versions), list_commits(mgr)) == before


def test_read_only_user_reads_the_history_but_cannot_roll_back(
        connect: Connect, store: NmdaStore) -> None:
    """config/nacm.json: operators may list, show and diff; rollback-to needs write
    permission, like a commit (RFC 8341 §3.4.4 exec rule on sdqn-controller)."""
    admin = connect()
    admin.edit_config(target="candidate", config=leaf_edit("2.5"))
    commit(admin, "admin's change")
    operator = connect("operator")
    record = list_commits(operator, limit=1)[0]
    assert record["label"] == "admin's change"
    shown = rpc(operator, f'<show-commit xmlns="{CTL}"><id>{record["id"]}</id></show-commit>')
    assert [c["path"] for c in changes(shown)] == [ALICE_T2]
    rpc(operator, f'<diff-commits xmlns="{CTL}"><from>{record["id"]}</from></diff-commits>')
    before = dict(store.versions)
    with pytest.raises(RPCError) as denied:
        rpc(operator, f'<rollback-to xmlns="{CTL}"><id>{record["id"]}</id></rollback-to>')
    assert error(denied)[0] == "access-denied"
    assert dict(store.versions) == before and t2(store) == "2.5"
    assert list_commits(admin, limit=1)[0]["id"] == record["id"]


def test_a_diff_shows_only_what_the_user_may_read(connect: Connect) -> None:
    """/nacm is default-deny-all (RFC 8341 §3.5.1): a change of the NACM rules is in
    everyone's history list, but only its readers see what it changed."""
    admin = connect()
    admin.edit_config(target="running", config=(
        f'<config xmlns="{NC}"><nacm xmlns="{NACM}"><groups><group><name>auditors</name>'
        "<user-name>nobody</user-name></group></groups></nacm></config>"))
    record = list_commits(admin, limit=1)[0]
    assert (record["kind"], record["user"]) == ("edit", "admin")
    show = f'<show-commit xmlns="{CTL}"><id>{record["id"]}</id></show-commit>'
    assert [c["operation"] for c in changes(rpc(admin, show))] == ["create"]
    operator_view = rpc(connect("operator"), show)
    assert leaves(operator_view)["id"] == record["id"] and changes(operator_view) == []


def test_impact_totals_count_only_what_the_caller_may_read() -> None:
    """show-commit's impact for a user who may read one of two moved services and no
    device: the counts are of the entries shown, so they tell nothing of hidden ones."""
    from controller.netconf.commits import _recounted

    found = {"service": [{"name": "a", "change": "moved", "switch": "hard-switch"},
                         {"name": "b", "change": "moved", "switch": "make-before-break"}],
             "device": [{"node-id": "r1"}, {"node-id": "r2"}]}
    totals = {"added": 0, "removed": 0, "moved": 2, "retuned": 0, "rejected": 0,
              "hard-switches": 1, "devices": 2, "utility-before": "1.000000",
              "utility-after": "1.500000"}
    shown = _recounted(totals, found, [found["service"][1]], [])
    assert shown == {**totals, "moved": 1, "hard-switches": 0, "devices": 0}
    assert _recounted(totals, found, found["service"], found["device"]) == totals
