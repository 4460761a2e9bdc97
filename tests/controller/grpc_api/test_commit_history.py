"""The commit history over gRPC: comments on Commit and Rollback, ShowCommit and
DiffCommits, errors, NACM, and one history whichever interface made the change."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from lxml import etree
from ncclient import manager

from controller.datastore.nmda import Datastore, NmdaStore
from controller.netconf.server import NetconfServer
from tests.controller.grpc_api.conftest import Stub
from tests.controller.netconf.conftest import NC

CTL = "urn:sdqn:sdqn-controller"
WEIGHT = ("/sdqn-services:entanglement-services/request/[name=qkd-alice-bob]/weight")


def weight(store: NmdaStore) -> str:
    doc = json.loads(store.get(Datastore.RUNNING, xpath="/sdqn-services:entanglement-services"))
    found = [r for r in doc["sdqn-services:entanglement-services"]["request"]
             if r["name"] == "qkd-alice-bob"]
    return str(found[0].get("weight", ""))


def reweigh(s: Stub, pb: Any, value: float, label: str, comment: str = "") -> Any:
    s.ModifyRequest(pb.ModifyRequestRequest(request=pb.EntanglementRequest(
        name="qkd-alice-bob", weight=value)))
    return s.Commit(pb.CommitRequest(label=label, comment=comment))


def code(call: Callable[[], Any]) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as exc:
        call()
    return exc.value.code()


def test_comments_show_and_diff(stub: Callable[..., Stub], pb: Any) -> None:
    s = stub()
    first = reweigh(s, pb, 2.0, "reweigh", "fairness review")
    assert (first.label, first.comment, first.changed) == ("reweigh", "fairness review", True)
    second = reweigh(s, pb, 3.0, "reweigh again")
    records = s.ListCommits(pb.ListCommitsRequest(limit=2)).commits
    assert [(c.commit_id, c.label, c.comment, c.kind) for c in records] == [
        (second.commit_id, "reweigh again", "", "commit"),
        (first.commit_id, "reweigh", "fairness review", "commit")]
    shown = s.ShowCommit(pb.ShowCommitRequest(commit_id=first.commit_id))
    assert shown.commit == records[1]
    assert [(c.operation, c.path, c.value, c.previous) for c in shown.changes] == [
        ("replace", WEIGHT, '"2.0"', '"1.0"')]
    diff = s.DiffCommits(pb.DiffCommitsRequest(from_commit_id=first.commit_id,
                                               to_commit_id=second.commit_id))
    assert [(c.operation, c.value, c.previous) for c in diff.changes] == [
        ("replace", '"3.0"', '"2.0"')]
    now = s.DiffCommits(pb.DiffCommitsRequest(from_commit_id=second.commit_id))
    assert list(now.changes) == []


def test_rollback_comment_errors_and_nacm(stub: Callable[..., Stub], pb: Any,
                                          store: NmdaStore) -> None:
    s = stub()
    change = reweigh(s, pb, 2.0, "reweigh")
    before = dict(store.versions)
    operator = stub("operator")
    assert operator.ShowCommit(pb.ShowCommitRequest(commit_id=change.commit_id)).changes
    assert code(lambda: operator.Rollback(pb.RollbackRequest(
        commit_id=change.commit_id))) == grpc.StatusCode.PERMISSION_DENIED
    assert code(lambda: s.ShowCommit(pb.ShowCommitRequest(
        commit_id="c0ffee000000"))) == grpc.StatusCode.NOT_FOUND
    assert code(lambda: s.DiffCommits(pb.DiffCommitsRequest(
        from_commit_id=change.commit_id, to_commit_id="c0ffee000000"))) \
        == grpc.StatusCode.NOT_FOUND
    assert code(lambda: s.ShowCommit(pb.ShowCommitRequest())) \
        == grpc.StatusCode.INVALID_ARGUMENT
    assert code(lambda: s.DiffCommits(pb.DiffCommitsRequest())) \
        == grpc.StatusCode.INVALID_ARGUMENT
    assert code(lambda: s.Rollback(pb.RollbackRequest(
        commit_id=change.commit_id, comment="c" * 4097))) == grpc.StatusCode.INVALID_ARGUMENT
    assert code(lambda: s.Commit(pb.CommitRequest(comment="c" * 4097))) \
        == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(store.versions) == before and weight(store) == "2.0"
    back = s.Rollback(pb.RollbackRequest(commit_id=change.commit_id,
                                         comment="weights stay equal"))
    assert back.changed and back.comment == "weights stay equal"
    assert back.label == f"rollback to before {change.commit_id}"
    record = s.ListCommits(pb.ListCommitsRequest(limit=1)).commits[0]
    assert (record.commit_id, record.kind, record.user, record.comment) == (
        back.commit_id, "rollback", "admin", "weights stay equal")
    assert not s.Rollback(pb.RollbackRequest(commit_id=change.commit_id)).changed


def test_one_history_for_every_interface(stub: Callable[..., Stub], pb: Any,
                                         netconf: NetconfServer) -> None:
    """A NETCONF commit's label and comment (sdqn-controller's augment of <commit>)
    are in the history gRPC reads."""
    with manager.connect(host="127.0.0.1", port=netconf.port, username="admin",
                         password="admin", hostkey_verify=False, look_for_keys=False,
                         allow_agent=False, timeout=10) as nc:
        nc.edit_config(target="candidate", config=(
            f'<config xmlns="{NC}"><entanglement-services xmlns="urn:sdqn:sdqn-services">'
            "<request><name>qkd-alice-bob</name><weight>5.0</weight></request>"
            "</entanglement-services></config>"))
        nc.dispatch(etree.fromstring(
            f'<commit xmlns="{NC}"><label xmlns="{CTL}">from netconf</label>'
            f'<comment xmlns="{CTL}">same history</comment></commit>'))
    record = stub().ListCommits(pb.ListCommitsRequest(limit=1)).commits[0]
    assert (record.kind, record.user, record.label, record.comment, record.source_host) == (
        "commit", "admin", "from netconf", "same history", "127.0.0.1")
