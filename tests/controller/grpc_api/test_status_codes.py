"""Precise gRPC status codes. Names that match nothing are NOT_FOUND and bad enum values
INVALID_ARGUMENT
(https://grpc.github.io/grpc/core/md_doc_statuscode.html), each with a message that
names what was not found, and none of them changes anything.

The client knows nothing of the generated modules: it learns the messages from server
reflection, as grpcurl or Postman would, and calls each method by its path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from controller.datastore.nmda import Datastore, NmdaStore

SERVICE = "sdqn.v1.ControllerService"


class ReflectedClient:
    """Request and response classes from reflection; calls by method path."""

    def __init__(self, channel: grpc.Channel, user: str = "admin") -> None:
        self.channel = channel
        self.metadata = (("authorization", f"Bearer {user}-token"),)
        self.pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
        self.service = self.pool.FindServiceByName(SERVICE)


    def call(self, method: str, **fields: Any) -> Any:
        rpc = self.service.FindMethodByName(method)
        request = message_factory.GetMessageClass(rpc.input_type)(**fields)
        reply = message_factory.GetMessageClass(rpc.output_type)
        unary = self.channel.unary_unary(f"/{SERVICE}/{method}",
                                         request_serializer=lambda m: m.SerializeToString(),
                                         response_deserializer=reply.FromString)
        return unary(request, metadata=self.metadata, timeout=10)

    def enum(self, name: str) -> int:
        value: int = self.pool.FindEnumTypeByName("sdqn.v1.Target").values_by_name[name].number
        return value


@pytest.fixture
def reflected(channel: grpc.Channel) -> Iterator[ReflectedClient]:
    yield ReflectedClient(channel)


def failure(client: ReflectedClient, method: str, **fields: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as exc:
        client.call(method, **fields)
    return exc.value


def test_known_names_answer(reflected: ReflectedClient) -> None:
    """The control: the names the failures below miss by exist in the fixture."""
    topology = reflected.call("GetTopology", network_id="metro")
    assert topology.nodes and {n.network_id for n in topology.nodes} == {"metro"}
    assert reflected.call("GetRequest", name="qkd-alice-bob").request.name == "qkd-alice-bob"
    what_if = reflected.call("WhatIf", withdraw=["qkd-alice-bob"], time_limit_s=1.0)
    assert all(r.name != "qkd-alice-bob" for r in what_if.requests)


@pytest.mark.parametrize(("method", "fields", "named"), [
    ("GetTopology", {"network_id": "atlantis"}, "network 'atlantis'"),
    ("GetRequest", {"name": "ghost"}, "'ghost'"),
    ("WithdrawRequest", {"name": "ghost", "target": 1}, "request[name='ghost']"),
    ("ModifyRequest", {"request": {"name": "ghost", "weight": 2.0}}, "'ghost'"),
    ("WhatIf", {"withdraw": ["qkd-alice-bob", "ghost"]}, "request[name='ghost']"),
    ("ShowCommit", {"commit_id": "c-nope"}, "c-nope"),
    ("DiffCommits", {"from_commit_id": "c-nope"}, "c-nope"),
    ("Rollback", {"commit_id": "c-nope"}, "c-nope"),
])
def test_unknown_names_are_not_found(reflected: ReflectedClient, store: NmdaStore,
                                     method: str, fields: dict[str, Any], named: str) -> None:
    before = dict(store.versions)
    err = failure(reflected, method, **fields)
    assert err.code() == grpc.StatusCode.NOT_FOUND, err.details()
    assert named in err.details()
    assert store.versions == before
    assert reflected.call("GetRequest", name="qkd-alice-bob").request.name  # still serving


def test_unknown_target_is_invalid(reflected: ReflectedClient, store: NmdaStore) -> None:
    """proto3 enums are open: a Target number the proto does not define reaches the
    server, which refuses it instead of editing the candidate."""
    before = dict(store.versions)
    assert reflected.enum("TARGET_UNSPECIFIED") == 0
    err = failure(reflected, "WithdrawRequest", name="qkd-alice-bob", target=7)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "target 7" in err.details()
    assert store.versions == before
    assert reflected.call("GetRequest", name="qkd-alice-bob").request.name == "qkd-alice-bob"


@pytest.mark.parametrize(("method", "fields", "said"), [
    ("WhatIf", {"upsert": [{"name": "qkd-alice-bob", "weight": 2.0},
                           {"name": "qkd-alice-bob", "weight": 3.0}]},
     "request[name='qkd-alice-bob']"),
    ("Rollback", {"commit_id": "c-any", "steps": 2}, "not both"),
])
def test_ambiguous_input_is_invalid(reflected: ReflectedClient, store: NmdaStore,
                                    method: str, fields: dict[str, Any], said: str) -> None:
    """Input that could mean two things is refused rather than resolved silently."""
    before = dict(store.versions)
    err = failure(reflected, method, **fields)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and said in err.details()
    assert store.versions == before


@pytest.mark.parametrize(("method", "fields", "said"), [
    ("WhatIf", {"time_limit_s": 1e6}, "above the server's cap"),
    ("ListCommits", {"limit": 1001}, "at most 1000"),
])
def test_limits_above_the_cap_are_refused_not_cut(reflected: ReflectedClient, store: NmdaStore,
                                                  method: str, fields: dict[str, Any],
                                                  said: str) -> None:
    """A limit the server will not honour is an error, so the caller never believes a
    solve ran for as long as asked or that the history holds no more than it got."""
    before = dict(store.versions)
    err = failure(reflected, method, **fields)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and said in err.details()
    assert store.versions == before


def test_history_and_what_if_follow_nacm_exec_rules(
        channel: grpc.Channel, store: NmdaStore) -> None:
    """With exec-default deny, a user no rule permits sdqn-controller:dry-run or
    list-commits over NETCONF is denied WhatIf and ListCommits over gRPC too
    (RFC 8341 §3.4.4)."""
    store.edit_json(Datastore.RUNNING, {"ietf-netconf-acm:nacm": {"exec-default": "deny"}})
    before = dict(store.versions)
    nobody = ReflectedClient(channel, user="nobody")
    for method, fields in (("WhatIf", {}), ("ListCommits", {"limit": 1}),
                           ("ShowCommit", {"commit_id": "c-any"}),
                           ("DiffCommits", {"from_commit_id": "c-any"})):
        err = failure(nobody, method, **fields)
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED, (method, err.details())
    assert store.versions == before
    ReflectedClient(channel, user="operator").call("ListCommits", limit=1)  # a rule permits


def test_the_former_service_name_still_answers(reflected: ReflectedClient,
                                               channel: grpc.Channel) -> None:
    """Stubs generated from the proto before the lint rename call /sdqn.v1.Controller/…:
    the same methods answer there, byte for byte the same messages."""
    rpc = reflected.service.FindMethodByName("GetRequest")
    request = message_factory.GetMessageClass(rpc.input_type)(name="qkd-alice-bob")
    reply = message_factory.GetMessageClass(rpc.output_type)
    legacy = channel.unary_unary("/sdqn.v1.Controller/GetRequest",
                                 request_serializer=lambda m: m.SerializeToString(),
                                 response_deserializer=reply.FromString)
    answer = legacy(request, metadata=reflected.metadata, timeout=10)
    assert answer == reflected.call("GetRequest", name="qkd-alice-bob")
