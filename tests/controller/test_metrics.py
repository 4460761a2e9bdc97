"""Prometheus metrics from <operational>: values checked against the state written into
the store, served at /metrics on the RESTCONF server, commit latency observed."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

pytest.importorskip("prometheus_client")

from prometheus_client.parser import text_string_to_metric_families

from controller.app.restconf import build_metrics
from controller.datastore.nmda import Datastore, NmdaStore
from controller.grpc_api.whatif import configuration, what_if
from controller.metrics import ControllerMetrics
from controller.restconf import RESTCONF_MODULES
from controller.restconf.access import DataAccess
from controller.restconf.events import read_operational
from controller.restconf.server import RestconfServer
from controller.service.publish import publish_plan
from tests.controller.netconf.conftest import AUTH, METRO
from tests.controller.restconf.conftest import (  # noqa: F401 (fixtures)
    access,
    netconf,
    schema,
    store,
)
from tests.controller.service.conftest import advance, metro_world

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
    assert {"sdqn_service_state", "sdqn_link_qber_ratio", "sdqn_solver_gap_ratio",
            "sdqn_device_sync_state", "sdqn_commit_duration_seconds"} <= names
    values = samples(text)
    assert values[("sdqn_datastore_version", (("datastore", "running"),))] \
        == store.versions[Datastore.RUNNING]
    assert not any(name == "sdqn_solver_gap_ratio" for name, _ in values)   # no solve yet


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
    assert values[("sdqn_service_predicted_fidelity_ratio", (("request", first.request.name),))] \
        == pytest.approx(first.fidelity, abs=1e-6)
    link = (("link", LINK["link-id"]), ("network", "metro"))
    assert values[("sdqn_link_qber_ratio", link)] == 0.04
    assert values[("sdqn_link_measured_fidelity_ratio", link)] == 0.93
    assert values[("sdqn_link_generation_rate_pairs_per_second", link)] == 1200.0
    assert values[("sdqn_link_configured_fidelity_ratio", link)] == float(
        LINK["sdqn-topology:quantum-link"]["link-fidelity"])
    assert values[("sdqn_solver_status", (("status", plan.status.value),))] == 1.0
    assert values[("sdqn_solver_admitted_requests", ())] == len(plan.admitted)
    assert values[("sdqn_solver_gap_ratio", ())] == pytest.approx(plan.gap, abs=1e-6)
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


# -- every qcNOC figure of <operational>, named with its unit, promtool-clean -------------

#: each config-false leaf of the request, link and node state containers → its metric;
#: strings (reasons, the path) are no metrics
SERVICE_LEAVES = {
    "admission": "sdqn_service_admitted",
    "predicted-rate": "sdqn_service_predicted_rate_pairs_per_second",
    "predicted-fidelity": "sdqn_service_predicted_fidelity_ratio",
    "measured-rate": "sdqn_service_measured_rate_pairs_per_second",
    "measured-fidelity": "sdqn_service_measured_fidelity_ratio",
    "measured-qber": "sdqn_service_measured_qber_ratio",
    "utility": "sdqn_service_utility",
    "purification-rounds": "sdqn_service_purification_rounds",
    "link-purification-rounds": "sdqn_service_link_purification_rounds",
    "oper-state": "sdqn_service_state",
    "last-updated": "sdqn_service_last_updated_timestamp_seconds",
    "last-change": "sdqn_service_last_change_timestamp_seconds",
    "stale": "sdqn_service_stale",
}
SERVICE_TEXT = {"rejection-reason", "path", "purification-protocol", "oper-state-reason"}
LINK_LEAVES = {
    "measured-fidelity": "sdqn_link_measured_fidelity_ratio",
    "qber": "sdqn_link_qber_ratio",
    "generation-rate": "sdqn_link_generation_rate_pairs_per_second",
    "loss": "sdqn_link_loss_db",
    "polarisation-drift-rate": "sdqn_link_polarisation_drift_rate_radians_per_second",
    "decoherence-time": "sdqn_link_decoherence_time_seconds",
    "oper-status": "sdqn_link_oper_status",
    "last-updated": "sdqn_link_last_updated_timestamp_seconds",
    "stale": "sdqn_link_stale",
}
NODE_LEAVES = {
    "oper-status": "sdqn_node_oper_status",
    "memory-in-use": "sdqn_node_memory_in_use_qubits",
    "stable": "sdqn_node_stable",
    "last-change": "sdqn_node_last_change_timestamp_seconds",
    "last-updated": "sdqn_node_last_updated_timestamp_seconds",
    "stale": "sdqn_node_stale",
}
STATE_CONTAINERS = {
    "/sdqn-services:entanglement-services/sdqn-services:request/sdqn-services:state":
        set(SERVICE_LEAVES) | SERVICE_TEXT,
    "/ietf-network:networks/ietf-network:network/ietf-network-topology:link/"
    "sdqn-topology:quantum-link/sdqn-topology:state": set(LINK_LEAVES),
    "/ietf-network:networks/ietf-network:network/ietf-network:node/"
    "sdqn-topology:quantum-node/sdqn-topology:state": set(NODE_LEAVES),
}
STAMP = "2026-03-01T12:00:00Z"
EPOCH = 1772366400.0          # STAMP as seconds since the epoch


def promtool_check(text: bytes) -> None:
    """`promtool check metrics` (Debian package prometheus) finds nothing to report."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found: install Debian's prometheus package "
                    "(make system-deps does)")
    done = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                          timeout=60, check=False)
    findings = (done.stdout + done.stderr).decode().strip()
    assert done.returncode == 0 and not findings, findings


def test_every_state_leaf_has_its_metric(store: NmdaStore) -> None:  # noqa: F811
    """A figure added to the YANG state containers must be exported (or named here as
    text): the tables above are checked against the modules."""
    for path, covered in STATE_CONTAINERS.items():
        container = next(store.schema.ctx.find_path(path))
        assert {child.name() for child in container.children()} == covered, path


def test_every_family_has_data_and_promtool_finds_nothing(
        served: RestconfServer, store: NmdaStore) -> None:  # noqa: F811
    plan = what_if(configuration(store), time_limit_s=2.0).plan
    assert plan is not None
    publish_plan(store, plan)
    store.merge_state(json.dumps({"sdqn-services:entanglement-services": {"request": [
        {"name": "qkd-alice-bob", "state": {
            "oper-state": "pre-empted", "measured-rate": "42.5", "measured-fidelity": "0.91",
            "measured-qber": "0.06", "last-updated": STAMP, "stale": True,
            "last-change": STAMP}}]}}))
    store.merge_state(json.dumps({"ietf-network:networks": {"network": [{
        "network-id": "metro",
        "node": [{"node-id": "r1", "sdqn-topology:quantum-node": {"state": {
            "oper-status": "sdqn-types:degraded", "memory-in-use": 3, "stable": False,
            "last-change": STAMP, "last-updated": STAMP, "stale": False}}}],
        "ietf-network-topology:link": [{
            "link-id": LINK["link-id"], "sdqn-topology:quantum-link": {"state": {
                "measured-fidelity": "0.93", "qber": "0.04", "generation-rate": "1200",
                "loss": "2.4", "polarisation-drift-rate": "0.0003",
                "decoherence-time": "0.012", "oper-status": "sdqn-types:up",
                "last-updated": STAMP, "stale": True}}}]}]}}))
    store.merge_state(json.dumps({"sdqn-controller:controller": {"southbound": {"device": [
        {"node-id": "r1", "connection-state": "connected", "sync-state": "in-sync"}]}}}))
    with httpx.Client(base_url=served.url, timeout=10) as http:
        assert http.post("/restconf/operations/ietf-netconf:commit",
                         auth=("admin", "admin")).status_code == 204
        text = http.get("/metrics").content
    promtool_check(text)
    families = {f.name: f for f in text_string_to_metric_families(text.decode())}
    assert [name for name, f in families.items() if not f.samples] == []
    values = samples(text)
    req = (("request", "qkd-alice-bob"),)
    assert values[("sdqn_service_state", (*req, ("state", "pre-empted")))] == 1.0
    assert values[("sdqn_service_state", (*req, ("state", "up")))] == 0.0
    assert values[("sdqn_service_measured_qber_ratio", req)] == 0.06
    assert values[("sdqn_service_measured_fidelity_ratio", req)] == 0.91
    assert values[("sdqn_service_stale", req)] == 1.0
    assert values[("sdqn_service_last_updated_timestamp_seconds", req)] == EPOCH
    link = (("link", LINK["link-id"]), ("network", "metro"))
    assert values[("sdqn_link_loss_db", link)] == 2.4
    assert values[("sdqn_link_configured_loss_db", link)] == pytest.approx(
        float(LINK["sdqn-topology:quantum-link"]["fibre-length"])
        * float(LINK["sdqn-topology:quantum-link"]["attenuation"]))
    assert values[("sdqn_link_polarisation_drift_rate_radians_per_second", link)] == 0.0003
    assert values[("sdqn_link_decoherence_time_seconds", link)] == 0.012
    assert values[("sdqn_link_oper_status", (*link, ("status", "up")))] == 1.0
    assert values[("sdqn_link_stale", link)] == 1.0
    node = (("network", "metro"), ("node", "r1"))
    assert values[("sdqn_node_memory_in_use_qubits", node)] == 3.0
    assert values[("sdqn_node_oper_status", (*node, ("status", "degraded")))] == 1.0
    assert values[("sdqn_node_oper_status", (*node, ("status", "up")))] == 0.0
    assert values[("sdqn_node_stable", node)] == 0.0
    assert values[("sdqn_node_stale", node)] == 0.0
    assert values[("sdqn_node_last_change_timestamp_seconds", node)] == EPOCH


def test_the_emulated_network_is_exported_as_operational_says() -> None:
    """The metro network running on emulated devices, scraped over HTTP: promtool finds
    nothing, and every figure <operational> holds for a service, link or node is a
    sample of its metric with the same value."""
    with metro_world(extra_modules=RESTCONF_MODULES) as (world, manager, net, clock):
        access = DataAccess(world, users=AUTH, nacm=False)
        server = RestconfServer(access, metrics=build_metrics(access))
        server.start()
        try:
            advance(net, clock, 400)
            manager.telemetry.poll_once()
            advance(net, clock, 30)
            manager.telemetry.poll_once()
            with httpx.Client(base_url=server.url, timeout=10) as http:
                text = http.get("/metrics").content
            services = read_operational(world, "/sdqn-services:entanglement-services")
            networks = read_operational(world, "/ietf-network:networks")
        finally:
            server.stop()
            access.close()
    promtool_check(text)
    values = samples(text)
    by_name: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for (name, labels), value in values.items():
        by_name.setdefault(name, {})[labels] = value

    def exported(metric: str, labels: dict[str, str], leaf: str, value: Any) -> None:
        if metric.endswith(("_state", "_oper_status")):
            key = "state" if metric.endswith("_state") else "status"
            labels = {**labels, key: str(value).rsplit(":", 1)[-1]}
            expected = 1.0
        elif leaf in ("last-updated", "last-change"):
            expected = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        elif leaf == "admission":
            expected = float(value == "admitted")
        else:
            expected = float(value)
        found = by_name.get(metric, {}).get(tuple(sorted(labels.items())))
        assert found == pytest.approx(expected), (metric, labels, leaf, value)

    checked: set[str] = set()
    for request in services["sdqn-services:entanglement-services"]["request"]:
        for leaf, value in request.get("state", {}).items():
            if leaf in SERVICE_LEAVES:
                exported(SERVICE_LEAVES[leaf], {"request": request["name"]}, leaf, value)
                checked.add(SERVICE_LEAVES[leaf])
    for network in networks["ietf-network:networks"]["network"]:
        ids = {"network": network["network-id"]}
        for link in network["ietf-network-topology:link"]:
            for leaf, value in link["sdqn-topology:quantum-link"].get("state", {}).items():
                exported(LINK_LEAVES[leaf], {**ids, "link": link["link-id"]}, leaf, value)
                checked.add(LINK_LEAVES[leaf])
        for node in network["node"]:
            for leaf, value in node["sdqn-topology:quantum-node"].get("state", {}).items():
                exported(NODE_LEAVES[leaf], {**ids, "node": node["node-id"]}, leaf, value)
                checked.add(NODE_LEAVES[leaf])
    # What the emulated network measures today (the drift of the APC-compensated fibres
    # and the loss of the fibres a repeater generates on directly among them).
    assert {"sdqn_link_loss_db", "sdqn_link_polarisation_drift_rate_radians_per_second",
            "sdqn_link_qber_ratio", "sdqn_link_generation_rate_pairs_per_second",
            "sdqn_node_memory_in_use_qubits", "sdqn_node_oper_status", "sdqn_node_stable",
            "sdqn_service_measured_rate_pairs_per_second", "sdqn_service_state",
            "sdqn_service_predicted_fidelity_ratio"} <= checked
