"""The tenant scope generated from /sdqn-slices:slicing: who owns what, what a tenant user
reads (other tenants' data absent, RFC 8341 §3.4.5), what it may write, which
notifications reach it, and when the scope is recomputed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from controller.datastore.editnode import Operation
from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.schema import Schema
from controller.errors import ErrorTag, NetconfError
from controller.netconf.nacm import Nacm
from controller.netconf.tenant_scope import Tenancy, TenantScope, tenant_group
from tests.controller.netconf.conftest import make_store

A_REQUEST, B_REQUEST = "qkd-alice-bob", "dqc-charlie-dave"
UNSLICED = "dqs-alice-dave"
SLICING: dict[str, Any] = {
    "sdqn-slices:slicing": {
        "tenant": [{"name": "tenant-a", "user": ["ta"]}, {"name": "tenant-b", "user": ["tb"]}],
        "slice": [{"name": "slice-a", "tenant": "tenant-a"},
                  {"name": "slice-a2", "tenant": "tenant-a"},
                  {"name": "slice-b", "tenant": "tenant-b"}]},
    "sdqn-services:entanglement-services": {"request": [
        {"name": A_REQUEST, "sdqn-slices:slice": "slice-a"},
        {"name": B_REQUEST, "sdqn-slices:slice": "slice-b"}]}}


def request_path(name: str) -> str:
    return f"/sdqn-services:entanglement-services/request[name='{name}']"


def _alarm(resource: str) -> dict[str, Any]:
    return {"resource": resource, "alarm-type-id": "sdqn-alarms:slice-sla-violation",
            "alarm-type-qualifier": "", "time-created": "2026-01-01T00:00:00Z",
            "is-cleared": False, "last-raised": "2026-01-01T00:00:00Z",
            "last-changed": "2026-01-01T00:00:00Z", "perceived-severity": "major",
            "alarm-text": "slice SLO violated"}


def add_tenants(store: NmdaStore) -> None:
    """Tenants A (user ta: slices slice-a, slice-a2; request qkd-alice-bob) and B (user
    tb: slice-b; dqc-charlie-dave) on the metro test store, one alarm each."""
    store.edit_json(Datastore.RUNNING, SLICING)
    store.merge_state(json.dumps({"ietf-alarms:alarms": {"alarm-list": {"alarm": [
        _alarm(request_path(A_REQUEST)),
        _alarm("/sdqn-slices:slicing/slice[name='slice-b']")]}}}))


@pytest.fixture
def tenant_store(schema: Schema) -> NmdaStore:
    store = make_store(schema)
    add_tenants(store)
    return store


@pytest.fixture
def nacm(tenant_store: NmdaStore) -> Nacm:
    return Nacm(tenant_store, recovery_users=["admin"])


def _read(nacm: Nacm, user: str, ds: Datastore = Datastore.OPERATIONAL) -> dict[str, Any]:
    forest = nacm.store.view(ds)
    try:
        nacm.access(user).prune_read(forest)
        return forest.to_dict()
    finally:
        forest.free()


def _requests(doc: dict[str, Any]) -> set[str]:
    return {r["name"] for r in doc.get("sdqn-services:entanglement-services", {}).get(
        "request", [])}


def test_generation_maps_users_slices_and_requests() -> None:
    tenancy = Tenancy.from_json(SLICING, [SLICING, {"sdqn-services:entanglement-services": {
        "request": [{"name": "draft", "sdqn-slices:slice": "slice-b"}]}}])
    a, b = tenancy.scope("ta"), tenancy.scope("tb")
    assert a == TenantScope("tenant-a", frozenset({"slice-a", "slice-a2"}),
                            frozenset({A_REQUEST}))
    assert b is not None and b.requests == {B_REQUEST, "draft"}   # a candidate-only request
    assert b.group == tenant_group("tenant-b") == "tenant-tenant-b"
    assert tenancy.scope("operator") is None and tenancy.scope("admin") is None


def test_resources_and_notifications_by_content() -> None:
    scope = TenantScope("tenant-a", frozenset({"slice-a"}), frozenset({A_REQUEST}))
    assert scope.owns_resource(request_path(A_REQUEST))
    assert not scope.owns_resource(request_path(B_REQUEST))
    assert scope.owns_resource("/sdqn-slices:slicing/slice[name='slice-a']")
    assert not scope.owns_resource("/sdqn-slices:slicing/slice[name='slice-b']")
    assert not scope.owns_resource("/ietf-network:networks/network[network-id='metro']")
    # a slice named like a request path is still a slice
    assert not scope.owns_resource(
        f"/sdqn-slices:slicing/slice[name=\"{request_path(A_REQUEST)}\"]")
    visible = scope.notification_visible
    assert visible("sdqn-services", "service-state-change", {"name": A_REQUEST})
    assert not visible("sdqn-services", "service-state-change", {"name": B_REQUEST})
    assert visible("ietf-alarms", "alarm-notification", {"resource": request_path(A_REQUEST)})
    assert not visible("ietf-alarms", "alarm-notification", {"resource": "link-1"})
    own = {"target": f"{request_path(A_REQUEST)}/weight", "operation": "replace"}
    other = {"target": request_path(B_REQUEST), "operation": "delete"}
    config = ("ietf-netconf-notifications", "netconf-config-change")
    assert visible(*config, {"edit": [own]})
    assert not visible(*config, {"edit": [own, other]})
    assert not visible(*config, {"edit": []})
    # the XML prefix form NETCONF puts in a target
    assert visible(*config, {"edit": [{"target": "/svc:entanglement-services/svc:request"
                                                 "[svc:name='qkd-alice-bob']"}]})
    assert not visible("ietf-netconf-notifications", "netconf-session-start", {})
    assert visible("ietf-subscribed-notifications", "subscription-started", {})


def test_tenant_reads_only_its_own(nacm: Nacm) -> None:
    for ds in (Datastore.RUNNING, Datastore.OPERATIONAL):
        a = _read(nacm, "ta", ds)
        assert _requests(a) == {A_REQUEST}
        assert "ietf-network:networks" in a            # the shared topology
        assert "ietf-netconf-acm:nacm" not in a
        slicing = a["sdqn-slices:slicing"]
        assert [t["name"] for t in slicing["tenant"]] == ["tenant-a"]
        assert {s["name"] for s in slicing["slice"]} == {"slice-a", "slice-a2"}
    alarms = _read(nacm, "ta")["ietf-alarms:alarms"]
    assert [x["resource"] for x in alarms["alarm-list"]["alarm"]] == [request_path(A_REQUEST)]
    assert set(alarms) == {"alarm-list"} and set(alarms["alarm-list"]) == {"alarm"}
    b = _read(nacm, "tb")
    assert _requests(b) == {B_REQUEST}
    assert [x["resource"] for x in b["ietf-alarms:alarms"]["alarm-list"]["alarm"]] == [
        "/sdqn-slices:slicing/slice[name='slice-b']"]
    operator = _read(nacm, "operator")
    assert {A_REQUEST, B_REQUEST, UNSLICED} <= _requests(operator)
    assert len(operator["ietf-alarms:alarms"]["alarm-list"]["alarm"]) == 2
    assert _requests(_read(nacm, "admin")) == _requests(operator)


def test_tenant_operations(nacm: Nacm) -> None:
    ta = nacm.access("ta")
    for name in ("list-commits", "show-commit", "diff-commits", "rollback-to", "optimise",
                 "dry-run"):
        assert not ta.rpc_allowed("sdqn-controller", name)
    assert ta.rpc_allowed("ietf-netconf", "edit-config")
    assert ta.rpc_allowed("ietf-netconf", "commit")
    assert nacm.access("operator").rpc_allowed("sdqn-controller", "list-commits")


def _edit(store: NmdaStore, request: dict[str, Any], op: str = "merge",
          container_op: str | None = None) -> Any:
    entry = request if container_op else {**request, "@": {"ietf-netconf:operation": op}}
    doc: dict[str, Any] = {"sdqn-services:entanglement-services": {"request": [entry]}}
    if container_op:
        doc["sdqn-services:entanglement-services"]["@"] = {
            "ietf-netconf:operation": container_op}
    return store.parse_json(doc)


def _denied(nacm: Nacm, user: str, nodes: Any, ds: Datastore = Datastore.RUNNING
            ) -> NetconfError:
    with pytest.raises(NetconfError) as exc:
        nacm.access(user).check_edit(nacm.store.forest(ds), nodes, Operation.MERGE)
    return exc.value


def test_tenant_edits(nacm: Nacm, tenant_store: NmdaStore) -> None:
    ta, store = nacm.access("ta"), tenant_store
    running = store.forest(Datastore.RUNNING)
    # own request: update, move to another own slice, delete
    ta.check_edit(running, _edit(store, {"name": A_REQUEST, "weight": "2.0"}), Operation.MERGE)
    ta.check_edit(running, _edit(store, {"name": A_REQUEST, "sdqn-slices:slice": "slice-a2"}),
                  Operation.MERGE)
    ta.check_edit(running, _edit(store, {"name": A_REQUEST}, "delete"), Operation.MERGE)
    # create in an own slice
    ta.check_edit(running, _edit(store, {"name": "new-a", "source-node": "alice",
                                         "destination-node": "bob",
                                         "sdqn-slices:slice": "slice-a"}, "create"),
                  Operation.MERGE)
    # create in B's slice, in no slice, or in a slice that does not exist: the same error
    messages = set()
    for slice_ in ("slice-b", None, "no-such-slice"):
        entry = {"name": "new-a", "source-node": "alice", "destination-node": "bob"}
        if slice_:
            entry["sdqn-slices:slice"] = slice_
        err = _denied(nacm, "ta", _edit(store, entry, "create"))
        assert err.first.tag is ErrorTag.ACCESS_DENIED
        messages.add(err.first.message)
    assert len(messages) == 1 and "tenant-a" in messages.pop()
    # moving an own request into B's slice, or out of every slice
    assert _denied(nacm, "ta", _edit(store, {"name": A_REQUEST, "sdqn-slices:slice":
                                             "slice-b"})).first.tag is ErrorTag.ACCESS_DENIED
    slice_delete = store.parse_json({"sdqn-services:entanglement-services": {"request": [
        {"name": A_REQUEST, "sdqn-slices:slice": "slice-a",
         "@sdqn-slices:slice": {"ietf-netconf:operation": "delete"}}]}})
    assert _denied(nacm, "ta", slice_delete).first.tag is ErrorTag.ACCESS_DENIED
    # B's request: delete answers as for an absent request; an edit as for a create
    gone = _denied(nacm, "ta", _edit(store, {"name": B_REQUEST}, "delete"))
    with pytest.raises(NetconfError) as absent:
        store.edit(Datastore.RUNNING, _edit(store, {"name": "no-such"}, "delete"))
    assert gone.first.tag is absent.value.first.tag is ErrorTag.DATA_MISSING
    assert gone.first.message == absent.value.first.message.replace("no-such", B_REQUEST)
    assert gone.first.type is absent.value.first.type
    assert _denied(nacm, "ta", _edit(store, {"name": B_REQUEST, "weight": "9.0"})
                   ).first.message == _denied(nacm, "ta", _edit(
                       store, {"name": "no-such", "weight": "9.0"})).first.message.replace(
                           "no-such", B_REQUEST)
    # the one collision that cannot be hidden: a create naming an own slice
    collision = _denied(nacm, "ta", _edit(store, {"name": B_REQUEST,
                                                  "sdqn-slices:slice": "slice-a"}, "create"))
    assert collision.first.tag is ErrorTag.DATA_EXISTS
    # remove of B's request is silently dropped from the edit (RFC 6241 §7.2)
    nodes = _edit(store, {"name": B_REQUEST}, "remove")
    ta.check_edit(running, nodes, Operation.MERGE)
    assert nodes[0].children == []
    # the whole container, and anything outside requests
    for container_op in ("replace", "delete"):
        assert _denied(nacm, "ta", _edit(store, {"name": A_REQUEST, "sdqn-slices:slice":
                                                 "slice-a"}, container_op=container_op)
                       ).first.tag is ErrorTag.ACCESS_DENIED
    slicing = store.parse_json({"sdqn-slices:slicing": {"slice": [
        {"name": "slice-a", "priority": 3}]}})
    assert _denied(nacm, "ta", slicing).first.tag is ErrorTag.ACCESS_DENIED
    # the operator's rules are untouched: it writes nothing
    assert _denied(nacm, "operator", _edit(store, {"name": A_REQUEST, "weight": "2.0"})
                   ).first.tag is ErrorTag.ACCESS_DENIED


def test_whole_datastore_writes(nacm: Nacm, tenant_store: NmdaStore) -> None:
    store = tenant_store
    ta = nacm.access("ta")

    def replaced(edit: dict[str, Any]) -> Any:
        """The candidate after `edit` (edits accumulate, as in a shared candidate)."""
        store.edit(Datastore.CANDIDATE, store.parse_json(edit))
        return store.view(Datastore.CANDIDATE)

    old = store.view(Datastore.RUNNING)
    own = replaced({"sdqn-services:entanglement-services": {"request": [
        {"name": A_REQUEST, "weight": "3.0"}]}})
    ta.check_replace(old, own)
    with pytest.raises(NetconfError) as exc:     # the candidate also carries B's edit
        ta.check_replace(old, replaced({"sdqn-services:entanglement-services": {
            "request": [{"name": B_REQUEST, "weight": "3.0"}]}}))
    assert exc.value.first.tag is ErrorTag.ACCESS_DENIED and exc.value.first.path is None
    assert B_REQUEST not in exc.value.first.message


def test_scope_follows_the_data(nacm: Nacm, tenant_store: NmdaStore) -> None:
    store = tenant_store
    assert _requests(_read(nacm, "tb")) == {B_REQUEST}
    store.edit_json(Datastore.RUNNING, {"sdqn-services:entanglement-services": {"request": [
        {"name": UNSLICED, "sdqn-slices:slice": "slice-b"}]}})
    assert Nacm.affected_by(Datastore.RUNNING, [("replace", request_path(UNSLICED), None)])
    assert Nacm.affected_by(Datastore.CANDIDATE, [("create", request_path("x"), None)])
    assert not Nacm.affected_by(Datastore.RUNNING, [("replace", "/ietf-network:networks",
                                                     None)])
    assert not Nacm.affected_by(Datastore.OPERATIONAL, [("reset", None, None)])
    nacm.invalidate()
    assert _requests(_read(nacm, "tb")) == {B_REQUEST, UNSLICED}
