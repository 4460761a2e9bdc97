"""Prometheus metrics from <operational>: values checked against the state written into
the store, served at /metrics on the RESTCONF server, commit latency observed."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

pytest.importorskip("prometheus_client")

from prometheus_client.parser import text_string_to_metric_families

from controller.app.restconf import build_metrics
from controller.datastore.nmda import Datastore, NmdaStore
from controller.grpc_api.whatif import configuration, what_if
from controller.metrics import ControllerMetrics
from controller.restconf.access import DataAccess
from controller.restconf.server import RestconfServer
from controller.service.publish import publish_plan
from tests.controller.netconf.conftest import METRO
from tests.controller.restconf.conftest import (  # noqa: F401 (fixtures)
    access,
    netconf,
    schema,
    store,
)

LINK = METRO["ietf-network:networks"]["network"][0]["ietf-network-topology:link"][0]


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_families_exist_without_sources(store: NmdaStore) -> None:  # noqa: F811
    text = ControllerMetrics(store).render()
    names = {f.name for f in text_string_to_metric_families(text.decode())}
    assert {"sdqn_service_state", "sdqn_link_qber", "sdqn_solver_gap",
            "sdqn_device_sync_state", "sdqn_commit_duration_seconds"} <= names
    values = samples(text)
    assert values[("sdqn_datastore_version", (("datastore", "running"),))] \
        == store.versions[Datastore.RUNNING]
    assert not any(name == "sdqn_solver_gap" for name, _ in values)   # no solve yet


def test_values_follow_operational_state(store: NmdaStore) -> None:  # noqa: F811
    plan = what_if(configuration(store), time_limit_s=2.0).plan
    assert plan is not None
    publish_plan(store, plan)
    store.merge_state(json.dumps({"sdqn-services:entanglement-services": {"request": [
        {"name": "qkd-alice-bob", "state": {"oper-state": "up", "measured-rate": "42.5"}}]}}))
    store.merge_state(json.dumps({"ietf-network:networks": {"network": [{
        "network-id": "metro", "ietf-network-topology:link": [{
            "link-id": LINK["link-id"], "sdqn-topology:quantum-link": {"state": {
                "measured-fidelity": "0.93", "qber": "0.04", "generation-rate": "1200"}}}]}]}}))
    store.merge_state(json.dumps({"sdqn-controller:controller": {"southbound": {"device": [
        {"node-id": "alice", "connection-state": "connected", "sync-state": "out-of-sync"}]}}}))
    values = samples(ControllerMetrics(store).render())
    req = (("request", "qkd-alice-bob"),)
    assert values[("sdqn_service_state", (*req, ("state", "up")))] == 1.0
    assert values[("sdqn_service_state", (*req, ("state", "down")))] == 0.0
    assert values[("sdqn_service_measured_rate_pairs_per_second", req)] == 42.5
    admitted = {a.request.name for a in plan.admitted}
    for name in ("qkd-alice-bob", "dqc-charlie-dave", "dqs-alice-dave", "teleport-bob-charlie"):
        assert values[("sdqn_service_admitted", (("request", name),))] == float(
            name in admitted)
    first = plan.admitted[0]
    assert values[("sdqn_service_predicted_fidelity", (("request", first.request.name),))] \
        == pytest.approx(first.fidelity, abs=1e-6)
    link = (("link", LINK["link-id"]), ("network", "metro"))
    assert values[("sdqn_link_qber", link)] == 0.04
    assert values[("sdqn_link_measured_fidelity", link)] == 0.93
    assert values[("sdqn_link_generation_rate_pairs_per_second", link)] == 1200.0
    assert values[("sdqn_link_configured_fidelity", link)] == float(
        LINK["sdqn-topology:quantum-link"]["link-fidelity"])
    assert values[("sdqn_solver_status", (("status", plan.status.value),))] == 1.0
    assert values[("sdqn_solver_admitted_requests", ())] == len(plan.admitted)
    assert values[("sdqn_solver_gap", ())] == pytest.approx(plan.gap, abs=1e-6)
    node = (("node", "alice"),)
    assert values[("sdqn_device_connection_state", (*node, ("state", "connected")))] == 1.0
    assert values[("sdqn_device_sync_state", (*node, ("state", "out-of-sync")))] == 1.0
    assert values[("sdqn_device_sync_state", (*node, ("state", "in-sync")))] == 0.0


@pytest.fixture
def served(access: DataAccess) -> Iterator[RestconfServer]:  # noqa: F811
    server = RestconfServer(access, metrics=build_metrics(access))
    server.start()
    yield server
    server.stop()


def test_metrics_endpoint_and_commit_latency(served: RestconfServer, store: NmdaStore,  # noqa: F811
                                             access: DataAccess) -> None:  # noqa: F811
    with httpx.Client(base_url=served.url, timeout=10) as http:
        page = http.get("/metrics")     # no credentials needed by default
        assert page.status_code == 200 and page.headers["content-type"].startswith(
            "text/plain; version=0.0.4")
        assert samples(page.content)[("sdqn_commit_duration_seconds_count", ())] == 0
        edit = http.patch("/restconf/ds/ietf-datastores:candidate/sdqn-services:"
                          "entanglement-services/request=qkd-alice-bob",
                          auth=("admin", "admin"),
                          headers={"Content-Type": "application/yang-data+json"},
                          content=json.dumps({"sdqn-services:request": [
                              {"name": "qkd-alice-bob", "priority": 5}]}))
        assert edit.status_code == 204
        assert http.post("/restconf/operations/ietf-netconf:commit",
                         auth=("admin", "admin")).status_code == 204
        after = samples(http.get("/metrics").content)
        assert after[("sdqn_commit_duration_seconds_count", ())] == 1
        assert after[("sdqn_commit_duration_seconds_sum", ())] > 0
        assert after[("sdqn_datastore_version", (("datastore", "running"),))] \
            == store.versions[Datastore.RUNNING]
        assert http.post("/metrics").status_code == 405
    served.metrics_auth = True
    with httpx.Client(base_url=served.url, timeout=10) as http:
        assert http.get("/metrics").status_code == 401
        assert http.get("/metrics", auth=("operator", "operator")).status_code == 200
