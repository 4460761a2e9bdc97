"""sdqn.v1 over a real gRPC channel: request life cycle through the candidate, what-if,
commit with label, rollback, reads, and the same data seen over RESTCONF and NETCONF."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import grpc
import httpx
import ncclient.transport.session
import pytest
from lxml import etree
from ncclient import manager

from controller.datastore.editnode import Operation
from controller.datastore.nmda import Datastore, NmdaStore
from controller.netconf.server import NetconfServer
from controller.restconf.access import DataAccess
from tests.controller.grpc_api.conftest import Stub
from tests.controller.netconf.conftest import DS, METRO, NMDA, SVC

NEW = {"name": "grpc-req", "source_node": "alice", "destination_node": "dave",
       "application": 1, "min_fidelity": 0.8, "demanded_rate": 50.0}
REST = "/restconf/data/sdqn-services:entanglement-services/request={}"


def running_names(store: NmdaStore) -> set[str]:
    doc = json.loads(store.get(Datastore.RUNNING, xpath="/sdqn-services:entanglement-services"))
    return {r["name"] for r in doc["sdqn-services:entanglement-services"]["request"]}


def code(exc: pytest.ExceptionInfo[grpc.RpcError]) -> grpc.StatusCode:
    return exc.value.code()  # type: ignore[no-any-return]


def test_request_life_cycle_with_commit_and_rollback(
        stub: Callable[..., Stub], pb: Any, store: NmdaStore) -> None:
    s = stub()
    edit = s.SubmitRequest(pb.SubmitRequestRequest(request=pb.EntanglementRequest(**NEW)))
    assert edit.datastore == "candidate" and edit.candidate_dirty
    assert "grpc-req" not in running_names(store)
    dry = s.WhatIf(pb.WhatIfRequest(time_limit_s=2.0))
    assert not dry.pushed and dry.solve.status in ("optimal", "feasible")
    assert "grpc-req" in {r.name for r in dry.requests}
    assert not dry.device_diff_available and "service layer" in dry.notes[0]
    assert "grpc-req" not in running_names(store)          # a dry run changes nothing
    first = s.Commit(pb.CommitRequest(label="add grpc-req"))
    assert first.changed and first.commit_id and first.label == "add grpc-req"
    assert "grpc-req" in running_names(store)
    s.ModifyRequest(pb.ModifyRequestRequest(request=pb.EntanglementRequest(
        name="grpc-req", weight=2.5, priority=4)))
    second = s.Commit(pb.CommitRequest(label="reweigh"))
    got = s.GetRequest(pb.GetRequestRequest(name="grpc-req")).request
    assert got.weight == 2.5 and got.priority == 4 and got.min_fidelity == 0.8
    assert got.application == pb.APPLICATION_QKD and got.destination_node == "dave"
    nothing = s.Commit(pb.CommitRequest(label="empty"))
    assert not nothing.changed and not nothing.commit_id
    history = s.ListCommits(pb.ListCommitsRequest()).commits
    assert [c.label for c in history] == ["reweigh", "add grpc-req"]
    assert history[0].user == "admin" and history[0].seq == second.seq
    back = s.Rollback(pb.RollbackRequest(commit_id=first.commit_id))
    assert back.changed and "grpc-req" not in running_names(store)
    again = s.Rollback(pb.RollbackRequest(steps=1))        # undo the rollback itself
    assert again.changed and "grpc-req" in running_names(store)
    assert s.GetRequest(pb.GetRequestRequest(name="grpc-req")).request.weight == 2.5
    s.WithdrawRequest(pb.WithdrawRequestRequest(name="grpc-req", target=pb.TARGET_RUNNING))
    assert "grpc-req" not in running_names(store)
    history = s.ListCommits(pb.ListCommitsRequest(limit=3)).commits
    assert [(c.kind, c.user) for c in history] == [
        ("edit", "admin"), ("rollback", "admin"), ("rollback", "admin")]
    s.Rollback(pb.RollbackRequest())          # any change can be undone, not only commits
    assert "grpc-req" in running_names(store)


def test_what_if_hypotheses_touch_nothing(stub: Callable[..., Stub], pb: Any,
                                          store: NmdaStore) -> None:
    before = dict(store.versions)
    result = stub().WhatIf(pb.WhatIfRequest(
        upsert=[pb.EntanglementRequest(**NEW),
                pb.EntanglementRequest(name="qkd-alice-bob", demanded_rate=1.0)],
        withdraw=["dqs-alice-dave"], time_limit_s=2.0))
    names = {r.name for r in result.requests}
    assert "grpc-req" in names and "dqs-alice-dave" not in names
    assert store.versions == before


def test_reads(stub: Callable[..., Stub], pb: Any, store: NmdaStore) -> None:
    s = stub("operator")
    listed = s.ListRequests(pb.ListRequestsRequest()).requests
    assert {r.request.name for r in listed} == running_names(store)
    store.merge_state(json.dumps({"sdqn-services:entanglement-services": {"request": [
        {"name": "qkd-alice-bob", "state": {"admission": "admitted", "oper-state": "up",
                                            "path": ["alice", "r1", "bob"],
                                            "predicted-rate": "12.5"}}]}}))
    state = s.GetRequest(pb.GetRequestRequest(name="qkd-alice-bob")).state
    assert (state.admission, state.oper_state, list(state.path), state.predicted_rate) == (
        "admitted", "up", ["alice", "r1", "bob"], 12.5)
    assert not state.HasField("measured_rate")
    topology = s.GetTopology(pb.GetTopologyRequest(network_id="metro"))
    metro = METRO["ietf-network:networks"]["network"][0]
    assert len(topology.nodes) == len(metro["node"])
    assert len(topology.links) == len(metro["ietf-network-topology:link"])
    link = topology.links[0]
    assert link.fibre_length_km > 0 and link.source and link.destination
    metrics = s.GetMetrics(pb.GetMetricsRequest())
    assert metrics.running_version == store.versions[Datastore.RUNNING]
    assert {r.request.name for r in metrics.requests} == running_names(store)
    store.merge_state(json.dumps({"ietf-alarms:alarms": {"alarm-list": {"alarm": [
        {"resource": "alice", "alarm-type-id": "sdqn-test-alarms:fibre-cut",
         "alarm-type-qualifier": "", "time-created": "2026-01-01T00:00:00Z",
         "is-cleared": False, "last-raised": "2026-01-01T00:00:00Z",
         "last-changed": "2026-01-01T00:00:00Z", "perceived-severity": "major",
         "alarm-text": "fibre cut"}]}}}))
    alarms = s.ListAlarms(pb.ListAlarmsRequest()).alarms
    assert [(a.resource, a.perceived_severity, a.alarm_text) for a in alarms] == [
        ("alice", "major", "fibre cut")]


def test_grpc_and_restconf_see_each_other(stub: Callable[..., Stub], pb: Any,
                                          admin: httpx.Client) -> None:
    s = stub()
    s.SubmitRequest(pb.SubmitRequestRequest(request=pb.EntanglementRequest(**NEW),
                                            target=pb.TARGET_RUNNING))
    seen = admin.get(REST.format("grpc-req") + "/demanded-rate").json()
    assert seen == {"sdqn-services:demanded-rate": "50.0"}
    r = admin.patch(REST.format("grpc-req"), headers={"Content-Type":
                                                      "application/yang-data+json"},
                    content=json.dumps({"sdqn-services:request": [
                        {"name": "grpc-req", "min-fidelity": "0.85"}]}))
    assert r.status_code == 204
    assert s.GetRequest(pb.GetRequestRequest(name="grpc-req")).request.min_fidelity == 0.85


def test_edit_errors_keep_their_meaning(stub: Callable[..., Stub], pb: Any,
                                        store: NmdaStore) -> None:
    s = stub()
    before = dict(store.versions)
    with pytest.raises(grpc.RpcError) as exists:
        s.SubmitRequest(pb.SubmitRequestRequest(request=pb.EntanglementRequest(
            **{**NEW, "name": "qkd-alice-bob"}), target=pb.TARGET_RUNNING))
    assert code(exists) == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(grpc.RpcError) as missing:
        s.ModifyRequest(pb.ModifyRequestRequest(request=pb.EntanglementRequest(
            name="ghost", weight=1.0)))
    assert code(missing) == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as gone:
        s.WithdrawRequest(pb.WithdrawRequestRequest(name="ghost", target=pb.TARGET_RUNNING))
    assert code(gone) == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as unknown:
        s.GetRequest(pb.GetRequestRequest(name="ghost"))
    assert code(unknown) == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as no_history:
        s.Rollback(pb.RollbackRequest(steps=3))
    assert code(no_history) == grpc.StatusCode.NOT_FOUND
    assert store.versions == before


def test_grpc_change_seen_over_netconf_and_back(stub: Callable[..., Stub], pb: Any,
                                                netconf: NetconfServer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ncclient.transport.session, "TICK", 0.002)
    s = stub()
    s.SubmitRequest(pb.SubmitRequestRequest(request=pb.EntanglementRequest(**NEW),
                                            target=pb.TARGET_RUNNING))
    with manager.connect(host="127.0.0.1", port=netconf.port, username="admin",
                         password="admin", hostkey_verify=False, look_for_keys=False,
                         allow_agent=False, timeout=10) as nc:
        rpc = (f'<get-data xmlns="{NMDA}" xmlns:ds="{DS}" xmlns:svc="{SVC}">'
               "<datastore>ds:operational</datastore><xpath-filter>"
               "/svc:entanglement-services/svc:request[svc:name='grpc-req']"
               "</xpath-filter></get-data>")
        reply = etree.fromstring(nc.dispatch(etree.fromstring(rpc)).xml.encode())
        assert reply.findtext(f".//{{{SVC}}}demanded-rate") == "50.0"
        nc.edit_config(target="running", config=(
            f'<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
            f'<entanglement-services xmlns="{SVC}"><request><name>grpc-req</name>'
            "<priority>9</priority></request></entanglement-services></config>"))
    assert s.GetRequest(pb.GetRequestRequest(name="grpc-req")).request.priority == 9
    latest = s.ListCommits(pb.ListCommitsRequest(limit=1)).commits[0]
    assert (latest.kind, latest.user) == ("edit", "admin")   # the NETCONF session's user


def test_history_names_who_changed_running(stub: Callable[..., Stub], pb: Any,
                                           store: NmdaStore, access: DataAccess) -> None:
    """Every change of running in the history names its author (RFC 6470 §2.1
    changed-by): the user and the host of a gRPC or RESTCONF client, or the server with
    what it was doing."""
    s = stub()
    s.ModifyRequest(pb.ModifyRequestRequest(request=pb.EntanglementRequest(
        name="qkd-alice-bob", weight=2.0)))
    s.Commit(pb.CommitRequest(label="reweigh"))
    with access.from_host("192.0.2.7"):     # a RESTCONF request from that client
        access.edit(Datastore.RUNNING, store.parse_json({"sdqn-services:entanglement-services": {
            "request": [{"name": "qkd-alice-bob", "weight": "3.0"}]}}), "admin",
            default_operation=Operation.MERGE)
    with store.sessions.server_change("self-healing after link failure"):
        store.edit_json(Datastore.RUNNING, {"sdqn-services:entanglement-services": {
            "request": [{"name": "qkd-alice-bob", "weight": "4.0"}]}})
    history = s.ListCommits(pb.ListCommitsRequest(limit=3)).commits
    assert [(c.kind, c.user, c.source_host, c.label) for c in history] == [
        ("edit", "server", "", "self-healing after link failure"),
        ("edit", "admin", "192.0.2.7", ""),
        ("commit", "admin", "127.0.0.1", "reweigh")]
