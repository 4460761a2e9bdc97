"""Authentication, NACM and bad input over gRPC: precise status codes, nothing changed,
the server keeps serving."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import grpc
import pytest

from controller.datastore.nmda import Datastore, NmdaStore
from tests.controller.grpc_api.conftest import Stub

NEW = {"name": "bad-req", "source_node": "alice", "destination_node": "bob",
       "application": 1, "min_fidelity": 0.8, "demanded_rate": 10.0}
SUBMIT = "/sdqn.v1.ControllerService/SubmitRequest"


def status(call: Callable[[], Any]) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as exc:
        call()
    return exc.value.code()  # type: ignore[no-any-return]


def still_serving(stub: Callable[..., Stub], pb: Any) -> None:
    names = {r.request.name for r in stub().ListRequests(pb.ListRequestsRequest()).requests}
    assert "qkd-alice-bob" in names and "bad-req" not in names


def test_authentication(stub: Callable[..., Stub], pb: Any) -> None:
    assert status(lambda: stub(None).ListRequests(pb.ListRequestsRequest())) \
        == grpc.StatusCode.UNAUTHENTICATED
    assert status(lambda: stub("intruder").ListRequests(pb.ListRequestsRequest())) \
        == grpc.StatusCode.UNAUTHENTICATED


def test_nacm(stub: Callable[..., Stub], pb: Any, store: NmdaStore) -> None:
    before = dict(store.versions)
    operator = stub("operator")
    assert operator.ListRequests(pb.ListRequestsRequest()).requests   # reads permitted
    denied = operator.SubmitRequest
    assert status(lambda: denied(pb.SubmitRequestRequest(
        request=pb.EntanglementRequest(**NEW), target=pb.TARGET_RUNNING))) \
        == grpc.StatusCode.PERMISSION_DENIED
    assert status(lambda: operator.Commit(pb.CommitRequest(label="x"))) \
        == grpc.StatusCode.PERMISSION_DENIED
    assert status(lambda: stub("nobody").WithdrawRequest(pb.WithdrawRequestRequest(
        name="qkd-alice-bob", target=pb.TARGET_RUNNING))) == grpc.StatusCode.PERMISSION_DENIED
    assert store.versions == before


@pytest.mark.parametrize("fields", [
    {"name": ""},
    {"min_fidelity": math.nan},
    {"demanded_rate": math.inf},
    {"min_fidelity": 1.5},                         # YANG range of sdqn-types:fidelity
    {"demanded_rate": -3.0},
    {"application": 9},                            # open proto3 enum, unknown value
    {"application": 0},                            # required for a new request
    {"priority": 300},
    {"name": "x" * 65},                            # YANG length 1..64
    {"destination_node": "nowhere"},               # leafref to a node that is not there
    {"destination_node": "alice"},                 # must: source != destination
])
def test_invalid_request_fields(stub: Callable[..., Stub], pb: Any, store: NmdaStore,
                                fields: dict[str, Any]) -> None:
    before = dict(store.versions)
    request = pb.EntanglementRequest(**{**NEW, **fields})
    got = status(lambda: stub().SubmitRequest(pb.SubmitRequestRequest(request=request,
                                                                       target=pb.TARGET_RUNNING)))
    assert got == grpc.StatusCode.INVALID_ARGUMENT
    assert store.versions == before
    still_serving(stub, pb)


def test_invalid_protobuf_bytes(channel: grpc.Channel, stub: Callable[..., Stub],
                                pb: Any) -> None:
    raw = channel.unary_unary(SUBMIT)
    metadata = (("authorization", "Bearer admin-token"),)
    for garbage in (b"\xff\xff\xff\xff", b"\x0a\x05ab", b"\x08" + b"\xff" * 11):
        with pytest.raises(grpc.RpcError) as exc:
            raw(garbage, metadata=metadata, timeout=5)
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    still_serving(stub, pb)


def test_oversized_and_other_limits(stub: Callable[..., Stub], pb: Any,
                                    store: NmdaStore) -> None:
    before = dict(store.versions)
    huge = pb.SubmitRequestRequest(request=pb.EntanglementRequest(
        **{**NEW, "name": "x" * (128 * 1024)}))
    assert status(lambda: stub().SubmitRequest(huge)) == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert status(lambda: stub().Commit(pb.CommitRequest(label="l" * 300))) \
        == grpc.StatusCode.INVALID_ARGUMENT
    assert status(lambda: stub().WhatIf(pb.WhatIfRequest(time_limit_s=-1.0))) \
        == grpc.StatusCode.INVALID_ARGUMENT
    assert status(lambda: stub().Rollback(pb.RollbackRequest(commit_id="nope"))) \
        == grpc.StatusCode.NOT_FOUND
    assert store.versions == before
    assert store.versions[Datastore.RUNNING] == before[Datastore.RUNNING]
    still_serving(stub, pb)
