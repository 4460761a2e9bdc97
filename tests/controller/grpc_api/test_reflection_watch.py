"""Server reflection (grpcio-reflection's own client) and the Watch stream."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from controller.datastore.nmda import NmdaStore
from controller.restconf.events import Event, EventHub
from tests.controller.grpc_api.conftest import Stub


def test_reflection_lists_the_service(channel: grpc.Channel) -> None:
    database = ProtoReflectionDescriptorDatabase(channel)
    services = database.get_services()
    assert "sdqn.v1.ControllerService" in services
    assert "grpc.reflection.v1alpha.ServerReflection" in services
    service = database.FindFileContainingSymbol("sdqn.v1.ControllerService")
    methods = {m.name for m in service.service[0].method}
    assert {"SubmitRequest", "WhatIf", "Commit", "Rollback", "Watch"} <= methods


def test_watch_streams_service_alarm_config_and_link_events(
        stub: Callable[..., Stub], pb: Any, store: NmdaStore, hub: EventHub) -> None:
    events: list[Any] = []
    arrived = threading.Condition()
    stream = stub("operator").Watch(pb.WatchRequest())

    def read() -> None:
        try:
            for event in stream:
                with arrived:
                    events.append(event)
                    arrived.notify_all()
        except grpc.RpcError:
            pass  # cancelled at the end of the test

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def wait_for(kind: str) -> Any:
        with arrived:
            assert arrived.wait_for(lambda: any(e.WhichOneof("event") == kind
                                                for e in events), 5), events
            return next(e for e in events if e.WhichOneof("event") == kind)

    while hub.subscribers == 0:  # the stream is open once the server subscribed
        threading.Event().wait(0.01)
    store.merge_state(json.dumps({"sdqn-services:entanglement-services": {"request": [
        {"name": "qkd-alice-bob", "state": {"oper-state": "degraded"}}]}}))
    service = wait_for("service").service
    assert (service.name, service.oper_state) == ("qkd-alice-bob", "degraded")
    hub.publish(Event("ietf-alarms", "alarm-notification",
                      {"resource": "link-1", "perceived-severity": "critical"}, "t"))
    assert wait_for("alarm").alarm.perceived_severity == "critical"
    stub().ModifyRequest(pb.ModifyRequestRequest(request=pb.EntanglementRequest(
        name="qkd-alice-bob", weight=3.0), target=pb.TARGET_RUNNING))
    change = wait_for("config").config
    assert change.datastore == "running" and any("qkd-alice-bob" in p for p in change.paths)
    assert (change.user, change.source_host) == ("admin", "127.0.0.1")   # RFC 6470 changed-by
    store.merge_state(link_state("sdqn-types:down"))       # the telemetry's fibre state
    link = wait_for("link").link
    assert (link.network_id, link.link_id, link.oper_status) == (
        "metro", "alice-r1", "sdqn-types:down")
    stream.cancel()
    reader.join(5)
    assert not reader.is_alive()


def link_state(status: str) -> str:
    """A fibre's oper-status as the network-state publisher writes it to <operational>."""
    return json.dumps({"ietf-network:networks": {"network": [
        {"network-id": "metro", "ietf-network-topology:link": [
            {"link-id": "alice-r1", "sdqn-topology:quantum-link": {"state": {
                "oper-status": status}}}]}]}})


def test_watch_filters_by_kind(stub: Callable[..., Stub], pb: Any, hub: EventHub) -> None:
    stream = stub().Watch(pb.WatchRequest(alarms=True))
    while hub.subscribers == 0:
        threading.Event().wait(0.01)
    hub.publish(Event("sdqn-services", "service-state-change", {"name": "x"}, "t"))
    hub.publish(Event("ietf-alarms", "alarm-notification", {"resource": "r"}, "t"))
    first = next(iter(stream))
    assert first.WhichOneof("event") == "alarm" and first.alarm.resource == "r"
    stream.cancel()


def test_watch_of_links_only(stub: Callable[..., Stub], pb: Any, store: NmdaStore,
                             hub: EventHub) -> None:
    stream = stub().Watch(pb.WatchRequest(links=True))
    while hub.subscribers == 0:
        threading.Event().wait(0.01)
    hub.publish(Event("ietf-alarms", "alarm-notification", {"resource": "r"}, "t"))
    store.merge_state(link_state("sdqn-types:up"))
    first = next(iter(stream))
    assert first.WhichOneof("event") == "link", first
    assert (first.link.link_id, first.link.oper_status) == ("alice-r1", "sdqn-types:up")
    stream.cancel()

