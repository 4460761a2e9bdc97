"""Training drills over gRPC (StartDrill, SubmitLocalisation, EndDrill, ListDrills) on the
same DrillService and NACM as NETCONF and RESTCONF, against a real emulated network: a
drill started over gRPC is the one the other northbounds see and refuse a second of;
errors are the gRPC statuses of NETCONF's error-tags (in-use ABORTED, no emulator
UNIMPLEMENTED, access-denied PERMISSION_DENIED), an unknown drill NOT_FOUND, bad input
INVALID_ARGUMENT naming the field, and a refused call changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations import RPCError
from typer.testing import CliRunner

from controller.cli import app
from controller.datastore.history import CommitLog, RunningHistory
from controller.datastore.nmda import Datastore
from controller.datastore.schema import Schema
from controller.grpc_api.auth import TokenAuth
from controller.grpc_api.server import GrpcServer
from controller.grpc_api.service import ControllerService
from controller.grpc_api.stubs import load
from controller.service.drills import DrillService
from controller.settings import GrpcToken
from simulators.launcher import Network
from tests.controller.grpc_api.conftest import Stub
from tests.controller.netconf.conftest import make_store
from tests.controller.service.test_drills import (  # noqa: F401 (fixtures)
    NS,
    Controller,
    controller,
    network,
    schema,
)

#: "nobody" may read but not run drills (a deny rule on exec of every sdqn-drills rpc)
VIEWERS = {"ietf-netconf-acm:nacm": {
    "groups": {"group": [{"name": "viewer", "user-name": ["nobody"]}]},
    "rule-list": [{"name": "viewer", "group": ["viewer"], "rule": [{
        "name": "no-drills", "module-name": "sdqn-drills", "rpc-name": "*",
        "access-operations": "exec", "action": "deny"}]}]}}


class Northbounds:
    """NETCONF and RESTCONF (the drill tests' Controller) and a gRPC server beside them,
    all over one store, one NACM and one DrillService."""

    def __init__(self, ctl: Controller) -> None:
        self.ctl = ctl
        self.history = RunningHistory(ctl.store, CommitLog(None))
        self.grpc = GrpcServer(ControllerService(
            ctl.access, hub=None, history=self.history, drills=ctl.drills,
            auth=TokenAuth([GrpcToken(user=u, token=f"{u}-token")
                            for u in ("admin", "operator", "nobody")])))
        self.grpc.start()
        self.channel = grpc.insecure_channel(self.grpc.target)
        self.pb = load()[0]

    def stub(self, user: str = "operator") -> Stub:
        return Stub(self.channel, user)

    def close(self) -> None:
        self.channel.close()
        self.grpc.stop(grace=0.1)
        self.history.close()


@pytest.fixture
def northbounds(controller: Controller) -> Iterator[Northbounds]:  # noqa: F811
    """The drill tests' controller (its own emulated network and DrillService), gRPC
    beside it and a viewer who may not run drills."""
    controller.store.edit_json(Datastore.RUNNING, VIEWERS)
    nb = Northbounds(controller)
    try:
        yield nb
    finally:
        nb.close()


def _status(call: Any, request: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as failed:
        call(request)
    return failed.value


def _restconf_drills(nb: Northbounds) -> list[dict[str, Any]]:
    answer = httpx.get(f"{nb.ctl.restconf.url}/restconf/data/sdqn-drills:drills",
                       auth=("operator", "operator"), timeout=30,
                       headers={"Accept": "application/yang-data+json"})
    assert answer.status_code == 200, answer.text
    drills: list[dict[str, Any]] = answer.json()["sdqn-drills:drills"]["drill"]
    return drills


def test_grpc_drill_is_the_one_every_northbound_sees(northbounds: Northbounds,
                                                     network: Network) -> None:  # noqa: F811
    nb, pb, stub = northbounds, northbounds.pb, northbounds.stub()
    started = stub.StartDrill(pb.StartDrillRequest(fault_kind="fibre-cut"))
    [link] = network.world.cut_links
    [seen] = nb.ctl.history()   # NETCONF get-data of /drills
    assert seen.findtext(f"{{{NS}}}id") == started.drill_id
    assert seen.findtext(f"{{{NS}}}state") == "active"
    assert [d["id"] for d in _restconf_drills(nb)] == [started.drill_id]
    with pytest.raises(RPCError) as second:   # one drill at a time, whichever northbound
        nb.ctl.rpc("start-drill")
    assert str(second.value.tag) == "in-use"
    assert _status(stub.StartDrill, pb.StartDrillRequest()).code() == grpc.StatusCode.ABORTED
    [listed] = stub.ListDrills(pb.ListDrillsRequest()).drills
    assert (listed.drill_id, listed.state) == (started.drill_id, "active")
    assert not listed.HasField("fault") and not listed.HasField("score")  # hidden

    score = stub.SubmitLocalisation(pb.SubmitLocalisationRequest(
        drill_id=started.drill_id, resource=link)).score
    assert score.correct and score.credit == 1.0 and 25 <= score.score <= 100
    assert score.time_to_localise_s >= 0
    again = _status(stub.SubmitLocalisation, pb.SubmitLocalisationRequest(
        drill_id=started.drill_id, resource=link))
    assert again.code() == grpc.StatusCode.FAILED_PRECONDITION   # operation-failed

    ended = stub.EndDrill(pb.EndDrillRequest(drill_id=started.drill_id))
    assert (ended.fault.kind, ended.fault.target) == ("fibre-cut", link)
    assert ended.score.correct
    assert network.world.cut_links == set()
    [listed] = stub.ListDrills(pb.ListDrillsRequest()).drills
    assert listed.state == "ended" and listed.ended and listed.answered_resource == link
    assert (listed.fault.target, listed.score.score) == (link, score.score)
    assert _restconf_drills(nb)[0]["fault"] == {"kind": "fibre-cut", "target": link}
    over = _status(stub.EndDrill, pb.EndDrillRequest(drill_id=started.drill_id))
    assert over.code() == grpc.StatusCode.INVALID_ARGUMENT   # NETCONF's invalid-value


def test_netconf_drill_ends_over_grpc_unanswered(northbounds: Northbounds,
                                                 network: Network) -> None:  # noqa: F811
    nb, pb = northbounds, northbounds.pb
    started = nb.ctl.rpc("start-drill", fault_kind="crash")
    drill_id = started.findtext(f".//{{{NS}}}drill-id")
    ended = nb.stub().EndDrill(pb.EndDrillRequest(drill_id=drill_id))
    assert ended.fault.kind == "crash" and not ended.HasField("score")
    assert not network.devices[ended.fault.target].crashed


def test_nacm_and_bad_input_change_nothing(northbounds: Northbounds,
                                           network: Network) -> None:  # noqa: F811
    nb, pb = northbounds, northbounds.pb
    store, drills = nb.ctl.store, nb.ctl.drills
    versions = dict(store.versions)
    viewer = nb.stub("nobody")
    denied = _status(viewer.StartDrill, pb.StartDrillRequest(fault_kind="fibre-cut"))
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "sdqn-drills:start-drill" in (denied.details() or "")
    assert not viewer.ListDrills(pb.ListDrillsRequest()).drills  # may read: nothing ran
    stub = nb.stub()
    for request, field in ((pb.StartDrillRequest(fault_kind="meteor"), "fault_kind"),
                           (pb.EndDrillRequest(), "drill_id")):
        bad = _status(stub.StartDrill if field == "fault_kind" else stub.EndDrill, request)
        assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in (bad.details() or "")
    missing = _status(stub.EndDrill, pb.EndDrillRequest(drill_id="no-such-drill"))
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    assert "no-such-drill" in (missing.details() or "")
    assert not drills.drills and network.world.cut_links == set()
    assert store.versions == versions

    drill_id = stub.StartDrill(pb.StartDrillRequest(fault_kind="timing-skew")).drill_id
    versions = dict(store.versions)
    denied = _status(viewer.SubmitLocalisation, pb.SubmitLocalisationRequest(
        drill_id=drill_id, resource="qr1"))
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    empty = _status(stub.SubmitLocalisation, pb.SubmitLocalisationRequest(
        drill_id=drill_id, resource=" "))
    assert empty.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "resource" in (empty.details() or "")
    unknown = _status(stub.SubmitLocalisation, pb.SubmitLocalisationRequest(
        drill_id="no-such-drill", resource="qr1"))
    assert unknown.code() == grpc.StatusCode.NOT_FOUND
    assert store.versions == versions and drills.drills[0].answer is None
    assert _netconf_decision(nb, "nobody", drill_id) == "access-denied"  # the same there
    stub.EndDrill(pb.EndDrillRequest(drill_id=drill_id))


def _netconf_decision(nb: Northbounds, user: str, drill_id: str) -> str:
    """`user`'s NETCONF end-drill of `drill_id`: its error-tag (the drill must go on)."""
    with (manager.connect(host="127.0.0.1", port=nb.ctl.netconf.port, username=user,
                          password=user, hostkey_verify=False, look_for_keys=False,
                          allow_agent=False, timeout=30) as session,
          pytest.raises(RPCError) as refused):
        session.dispatch(etree.fromstring(
            f'<end-drill xmlns="{NS}"><drill-id>{drill_id}</drill-id></end-drill>'))
    return str(refused.value.tag)


def test_unimplemented_without_an_emulator(schema: Schema, tmp_path: Path) -> None:  # noqa: F811
    store = make_store(schema)
    nb = Northbounds(Controller(store, DrillService(store, None), tmp_path))
    try:
        versions = dict(store.versions)
        refused = _status(nb.stub().StartDrill, nb.pb.StartDrillRequest())
        assert refused.code() == grpc.StatusCode.UNIMPLEMENTED
        assert "emulat" in (refused.details() or "")
        assert store.versions == versions
    finally:
        nb.close()
        nb.ctl.close()


def test_cli_drill_commands(northbounds: Northbounds, network: Network) -> None:  # noqa: F811
    """`sdqn drill start|submit|end|list` over gRPC: JSON for scripts, the status on
    failure."""
    runner = CliRunner()

    def sdqn(*args: str, user: str = "operator", code: int = 0) -> Any:
        result = runner.invoke(app, ["drill", *args, "--json",
                                     "--target", northbounds.grpc.target],
                               env={"SDQN_TOKEN": f"{user}-token", "COLUMNS": "200"})
        assert result.exit_code == code, result.output
        return json.loads(result.output)

    assert sdqn("start", user="nobody", code=1)["error"]["code"] == "PERMISSION_DENIED"
    drill_id = sdqn("start", "--kind", "crash")["drill_id"]
    [crashed] = [n for n, d in network.devices.items() if d.crashed]
    assert sdqn("submit", drill_id, crashed)["score"]["correct"] is True
    assert sdqn("end", drill_id)["fault"] == {"kind": "crash", "target": crashed}
    [listed] = sdqn("list")["drills"]
    assert (listed["drill_id"], listed["state"]) == (drill_id, "ended")
    assert sdqn("end", "no-such-drill", code=1)["error"]["code"] == "NOT_FOUND"
    table = runner.invoke(app, ["drill", "list", "--target", northbounds.grpc.target],
                          env={"SDQN_TOKEN": "operator-token", "COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert drill_id in table.output and f"crash on {crashed}" in table.output
