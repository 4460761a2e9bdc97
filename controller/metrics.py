"""Prometheus metrics of the controller, read from <operational> at every scrape.

Nothing is sampled in the background: a scrape reads the datastores, so the figures are
exactly what NETCONF/RESTCONF clients see. Families whose source does not exist yet (no
solve has run, no device is managed, no link reports measurements) are exposed without
samples. Commit latency is the one figure that is not state: `DataAccess` reports the
duration of each commit it runs (RESTCONF and gRPC commits) into a histogram.

Served at /metrics by the RESTCONF HTTP server (text exposition format 0.0.4).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from controller.datastore.nmda import Datastore, NmdaStore
from controller.netconf.nacm import Nacm
from controller.restconf.events import read_operational

SERVICES = "/sdqn-services:entanglement-services"
NETWORKS = "/ietf-network:networks"
OPTIMISER = "/sdqn-controller:controller/optimiser/last-solve"
SOUTHBOUND = "/sdqn-controller:controller/southbound"
SERVICE_STATES = ("provisioning", "stabilising", "up", "degraded", "down")
CONNECTION_STATES = ("connected", "connecting", "unreachable", "disconnected")
SYNC_STATES = ("in-sync", "out-of-sync", "unknown")
SOLVE_STATUSES = ("optimal", "feasible", "infeasible", "time-limit", "error")
_REQUEST_FIGURES = (("predicted-rate", "predicted_rate_pairs_per_second"),
                    ("predicted-fidelity", "predicted_fidelity"),
                    ("measured-rate", "measured_rate_pairs_per_second"),
                    ("measured-fidelity", "measured_fidelity"), ("utility", "utility"))
_LINK_FIGURES = (("measured-fidelity", "measured_fidelity"), ("qber", "qber"),
                 ("generation-rate", "generation_rate_pairs_per_second"),
                 ("loss", "loss_db"))
_SOLVE_FIGURES = (("solve-time", "solve_seconds"), ("gap", "gap"),
                  ("objective", "objective"), ("bound", "bound"),
                  ("admitted", "admitted_requests"), ("rejected", "rejected_requests"))


class ControllerMetrics(Collector):
    def __init__(self, store: NmdaStore, *, nacm: Nacm | None = None) -> None:
        self.store = store
        self.nacm = nacm
        self.registry = CollectorRegistry(auto_describe=False)
        self.commit_seconds = Histogram(
            "sdqn_commit_duration_seconds",
            "Duration of candidate commits run by RESTCONF/gRPC (validation, Q-NUM "
            "expansion, device push, persistence)",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
                     30, 60), registry=self.registry)
        self.registry.register(self)

    def observe_commit(self, seconds: float) -> None:
        self.commit_seconds.observe(seconds)

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))

    # -- the collector -----------------------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        yield from self._services(read_operational(self.store, SERVICES))
        yield from self._links(read_operational(self.store, NETWORKS))
        yield from self._solver(read_operational(self.store, OPTIMISER))
        yield from self._devices(read_operational(self.store, SOUTHBOUND))
        versions = GaugeMetricFamily("sdqn_datastore_version",
                                     "Change counter of each NMDA datastore",
                                     labels=["datastore"])
        for ds in Datastore:
            versions.add_metric([ds.value], self.store.versions[ds])
        yield versions
        if self.nacm is not None:
            for name, value in self.nacm.state().items():
                yield CounterMetricFamily(f"sdqn_nacm_{name.replace('-', '_')}",
                                          f"RFC 8341 {name} counter", value=value)

    def _services(self, doc: Mapping[str, Any]) -> Iterator[Metric]:
        requests = doc.get("sdqn-services:entanglement-services", {}).get("request", [])
        state = GaugeMetricFamily("sdqn_service_state", "1 for the request's current "
                                  "service oper-state", labels=["request", "state"])
        admitted = GaugeMetricFamily("sdqn_service_admitted",
                                     "1 if the last solve admitted the request",
                                     labels=["request"])
        figures = {key: GaugeMetricFamily(f"sdqn_service_{name}",
                                          f"Request {key} (sdqn-services state)",
                                          labels=["request"])
                   for key, name in _REQUEST_FIGURES}
        for request in requests:
            name = request["name"]
            current = request.get("state", {})
            if "oper-state" in current:
                for value in SERVICE_STATES:
                    state.add_metric([name, value], float(current["oper-state"] == value))
            if "admission" in current:
                admitted.add_metric([name], float(current["admission"] == "admitted"))
            for key, family in figures.items():
                if key in current:
                    family.add_metric([name], float(current[key]))
        yield state
        yield admitted
        yield from figures.values()

    def _links(self, doc: Mapping[str, Any]) -> Iterator[Metric]:
        figures = {key: GaugeMetricFamily(f"sdqn_link_{name}",
                                          f"Quantum link {key} (sdqn-topology state)",
                                          labels=["network", "link"])
                   for key, name in _LINK_FIGURES}
        configured = GaugeMetricFamily("sdqn_link_configured_fidelity",
                                       "Link fidelity of a freshly heralded pair (config)",
                                       labels=["network", "link"])
        for network in doc.get("ietf-network:networks", {}).get("network", []):
            for link in network.get("ietf-network-topology:link", []):
                labels = [network["network-id"], link["link-id"]]
                quantum = link.get("sdqn-topology:quantum-link", {})
                if "link-fidelity" in quantum:
                    configured.add_metric(labels, float(quantum["link-fidelity"]))
                for key, family in figures.items():
                    if key in quantum.get("state", {}):
                        family.add_metric(labels, float(quantum["state"][key]))
        yield configured
        yield from figures.values()

    def _solver(self, doc: Mapping[str, Any]) -> Iterator[Metric]:
        last = doc.get("sdqn-controller:controller", {}).get("optimiser", {}).get(
            "last-solve", {})
        for key, name in _SOLVE_FIGURES:
            family = GaugeMetricFamily(f"sdqn_solver_{name}", f"Last Q-NUM solve: {key}")
            if key in last:
                family.add_metric([], float(last[key]))
            yield family
        status = GaugeMetricFamily("sdqn_solver_status", "1 for the last solve's status",
                                   labels=["status"])
        if "status" in last:
            for value in SOLVE_STATUSES:
                status.add_metric([value], float(last["status"] == value))
        yield status

    def _devices(self, doc: Mapping[str, Any]) -> Iterator[Metric]:
        devices = doc.get("sdqn-controller:controller", {}).get("southbound", {}).get(
            "device", [])
        connection = GaugeMetricFamily("sdqn_device_connection_state",
                                       "1 for the device session's current state",
                                       labels=["node", "state"])
        sync = GaugeMetricFamily("sdqn_device_sync_state",
                                 "1 for the device's configuration sync state",
                                 labels=["node", "state"])
        for device in devices:
            node = device["node-id"]
            for family, key, states in ((connection, "connection-state", CONNECTION_STATES),
                                        (sync, "sync-state", SYNC_STATES)):
                if key in device:
                    for value in states:
                        family.add_metric([node, value], float(device[key] == value))
        yield connection
        yield sync

