"""Prometheus metrics of the controller, read from <operational> at every scrape.

Nothing is sampled in the background: a scrape reads the datastores, so the figures are
exactly what NETCONF/RESTCONF clients see. Every qcNOC figure the topology and services
models hold in <operational> is exported, per service, link and node: measured and
predicted values, staleness (`stale` 0/1 and the time of the last refresh), and the
states as one 0/1 series per value. Families whose source does not exist yet (no solve
has run, no device is managed, no link reports measurements) are exposed without
samples. Commit latency is the one figure that is not state: `DataAccess` reports the
duration of each commit it runs (RESTCONF and gRPC commits) into a histogram.

Names follow the Prometheus conventions: the unit is the last word (`_seconds`,
`_pairs_per_second`, `_radians_per_second`, `_db`, `_qubits`; `_ratio` for a value
between 0 and 1 such as a fidelity or a QBER; `_timestamp_seconds` for a point in time
as seconds since the epoch). The enumerations come from the YANG modules, so a state
added there is exported without a change here.

Served at /metrics by the RESTCONF HTTP server (text exposition format 0.0.4).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import libyang
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.schema import Schema
from controller.netconf.nacm import Nacm
from controller.restconf.events import read_operational

SERVICES = "/sdqn-services:entanglement-services"
NETWORKS = "/ietf-network:networks"
OPTIMISER = "/sdqn-controller:controller/optimiser/last-solve"
SOUTHBOUND = "/sdqn-controller:controller/southbound"
SLICING = "/sdqn-slices:slicing"
_SVC, _CTL = "sdqn-services", "sdqn-controller"
SERVICE_STATE_LEAF = f"/{_SVC}:entanglement-services/{_SVC}:request/{_SVC}:state/{_SVC}:oper-state"
CONNECTION_LEAF = (f"/{_CTL}:controller/{_CTL}:southbound/{_CTL}:device/"
                   f"{_CTL}:connection-state")
SYNC_LEAF = f"/{_CTL}:controller/{_CTL}:southbound/{_CTL}:device/{_CTL}:sync-state"
SOLVE_STATUS_LEAF = f"/{_CTL}:controller/{_CTL}:optimiser/{_CTL}:last-solve/{_CTL}:status"
#: identities derived from sdqn-types:oper-status (identityref: read from the YANG text
#: would need libyang identity support the Python binding lacks; an unknown derived
#: identity still gets its own series)
OPER_STATUSES = ("up", "down", "degraded", "testing", "unknown")

#: (YANG leaf in request/state, metric name without the sdqn_service_ prefix, help)
_REQUEST_FIGURES = (
    ("predicted-rate", "predicted_rate_pairs_per_second", "Delivered rate predicted by the "
     "optimiser"),
    ("predicted-fidelity", "predicted_fidelity_ratio", "End-to-end fidelity predicted by "
     "the optimiser"),
    ("measured-rate", "measured_rate_pairs_per_second", "Delivered rate measured at the end "
     "nodes (the lower end)"),
    ("measured-fidelity", "measured_fidelity_ratio", "End-to-end fidelity measured at the "
     "end nodes (the lower end)"),
    ("measured-qber", "measured_qber_ratio", "Quantum bit error rate measured at the end "
     "nodes (the higher end)"),
    ("utility", "utility", "Utility R q(F) of the request at the predicted operating point"),
    ("purification-rounds", "purification_rounds", "End-to-end purification rounds of the "
     "plan"),
    ("link-purification-rounds", "link_purification_rounds", "Per-link purification rounds "
     "of the plan"),
)
_LINK_FIGURES = (
    ("measured-fidelity", "measured_fidelity_ratio", "Fidelity of heralded pairs, measured"),
    ("qber", "qber_ratio", "Quantum bit error rate, measured"),
    ("generation-rate", "generation_rate_pairs_per_second", "Rate of heralded pairs, "
     "measured"),
    ("loss", "loss_db", "Optical loss of the fibre, measured from the heralding counters"),
    ("polarisation-drift-rate", "polarisation_drift_rate_radians_per_second",
     "Drift rate of the fibre's polarisation transformation, measured"),
    ("decoherence-time", "decoherence_time_seconds", "Lifetime of the link's stored pairs, "
     "measured"),
)
_NODE_FIGURES = (
    ("memory-in-use", "memory_in_use_qubits", "Memory qubits holding a pair half"),
)
_SOLVE_FIGURES = (("solve-time", "solve_seconds"), ("gap", "gap_ratio"),
                  ("objective", "objective"), ("bound", "bound"),
                  ("admitted", "admitted_requests"), ("rejected", "rejected_requests"))


def enum_values(schema: Schema, path: str) -> tuple[str, ...]:
    """The values of the enumeration leaf at `path` (empty when the schema lacks it)."""
    try:
        node = next(schema.ctx.find_path(path))
    except (libyang.LibyangError, StopIteration):
        return ()
    if not isinstance(node, libyang.SLeaf):
        return ()
    return tuple(e.name() for e in node.type().all_enums())


def timestamp(value: str) -> float:
    """yang:date-and-time (RFC 3339) as seconds since the epoch."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _state_set(family: GaugeMetricFamily, labels: Sequence[str], values: Iterable[str],
               current: str) -> None:
    """One 0/1 series per possible value; a value the list lacks gets its own series."""
    current = current.rsplit(":", 1)[-1]      # identities: without their module prefix
    known = list(values)
    for value in [*known, *([] if current in known else [current])]:
        family.add_metric([*labels, value], float(value == current))


class _Freshness:
    """`stale` (0/1), `last-updated` and (where the model has it) `last-change` of one
    kind of entity."""

    def __init__(self, prefix: str, what: str, labels: list[str], *,
                 last_change: bool = True) -> None:
        self.stale = GaugeMetricFamily(
            f"{prefix}_stale", f"1 while the {what}'s measured values are stale (not "
            "refreshed for stale-after-rounds telemetry rounds)", labels=labels)
        self.updated = GaugeMetricFamily(
            f"{prefix}_last_updated_timestamp_seconds",
            f"When the {what}'s measured values were last read from the devices",
            labels=labels)
        self.changed = GaugeMetricFamily(
            f"{prefix}_last_change_timestamp_seconds",
            f"When the {what}'s state last changed", labels=labels) if last_change else None

    def add(self, labels: list[str], state: Mapping[str, Any]) -> None:
        if "stale" in state:
            self.stale.add_metric(labels, float(bool(state["stale"])))
        if "last-updated" in state:
            self.updated.add_metric(labels, timestamp(state["last-updated"]))
        if self.changed is not None and "last-change" in state:
            self.changed.add_metric(labels, timestamp(state["last-change"]))

    def families(self) -> list[GaugeMetricFamily]:
        return [f for f in (self.stale, self.updated, self.changed) if f is not None]


class ControllerMetrics(Collector):
    def __init__(self, store: NmdaStore, *, nacm: Nacm | None = None) -> None:
        self.store = store
        self.nacm = nacm
        schema = store.schema
        self.service_states = enum_values(schema, SERVICE_STATE_LEAF)
        self.connection_states = enum_values(schema, CONNECTION_LEAF)
        self.sync_states = enum_values(schema, SYNC_LEAF)
        self.solve_statuses = enum_values(schema, SOLVE_STATUS_LEAF)
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
        networks = read_operational(self.store, NETWORKS)
        yield from self._links(networks)
        yield from self._nodes(networks)
        yield from self._solver(read_operational(self.store, OPTIMISER))
        yield from self._devices(read_operational(self.store, SOUTHBOUND))
        yield from self._slices(read_operational(self.store, SLICING))
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
        figures = {key: GaugeMetricFamily(f"sdqn_service_{name}", text, labels=["request"])
                   for key, name, text in _REQUEST_FIGURES}
        freshness = _Freshness("sdqn_service", "request", ["request"])
        for request in requests:
            name = request["name"]
            current = request.get("state", {})
            if "oper-state" in current:
                _state_set(state, [name], self.service_states, current["oper-state"])
            if "admission" in current:
                admitted.add_metric([name], float(current["admission"] == "admitted"))
            for key, family in figures.items():
                if key in current:
                    family.add_metric([name], float(current[key]))
            freshness.add([name], current)
        yield state
        yield admitted
        yield from figures.values()
        yield from freshness.families()

    @staticmethod
    def _slices(doc: Mapping[str, Any]) -> Iterator[Metric]:
        """Per slice: compliance of each measured SLO, its measured value and target,
        suspended guarantees, and reserved capacity its members leave idle. Without
        slices configured the families are left out (a network not sliced has no slice
        figures to expect)."""
        slices = doc.get("sdqn-slices:slicing", {}).get("slice", [])
        if not slices:
            return
        labels = ["slice", "tenant", "slo"]
        compliant = GaugeMetricFamily("sdqn_slice_compliant", "1 while the slice meets the "
                                      "objective by measurement, 0 when it misses it",
                                      labels=labels)
        rate = GaugeMetricFamily("sdqn_slice_measured_rate_pairs_per_second",
                                 "Measured rate an SLO is judged on (lowest member for "
                                 "guaranteed-rate, sum for aggregate-rate)", labels=labels)
        fidelity = GaugeMetricFamily("sdqn_slice_measured_fidelity_ratio",
                                     "Lowest measured fidelity of the slice's members",
                                     labels=labels)
        target = GaugeMetricFamily("sdqn_slice_objective", "The SLO's target (pairs/s or "
                                   "fidelity)", labels=labels)
        measured_at = GaugeMetricFamily("sdqn_slice_measured_timestamp_seconds",
                                        "When the newest measurement an SLO is judged on "
                                        "was read", labels=labels)
        suspended = GaugeMetricFamily("sdqn_slice_guarantee_suspended", "1 while a failure "
                                      "keeps the slice's guarantees suspended",
                                      labels=["slice", "tenant"])
        qubits = GaugeMetricFamily("sdqn_slice_reserved_idle_qubits", "Reserved memory "
                                   "qubits the slice's members leave idle",
                                   labels=["slice", "tenant", "node"])
        share = GaugeMetricFamily("sdqn_slice_reserved_idle_share_ratio", "Reserved time "
                                  "share of a link the slice's members leave idle",
                                  labels=["slice", "tenant", "link"])
        for sl in slices:
            name, tenant = sl["name"], sl.get("tenant", "")
            current = sl.get("state", {})
            for slo in current.get("slo", []):
                key = [name, tenant, slo["objective"]]
                target.add_metric(key, float(slo["target"]))
                if "compliant" in slo:
                    compliant.add_metric(key, float(bool(slo["compliant"])))
                if "measured" in slo:
                    family = fidelity if slo["objective"] == "min-fidelity" else rate
                    family.add_metric(key, float(slo["measured"]))
                if "measured-at" in slo:
                    measured_at.add_metric(key, timestamp(slo["measured-at"]))
            guarantee = current.get("guarantee", {})
            if "suspended" in guarantee:
                suspended.add_metric([name, tenant], float(bool(guarantee["suspended"])))
            frag = current.get("fragmentation", {})
            for node in frag.get("node", []):
                qubits.add_metric([name, tenant, node["node-id"]], float(node["idle-qubits"]))
            for link in frag.get("link", []):
                share.add_metric([name, tenant, link["link-id"]], float(link["idle-share"]))
        yield from (compliant, rate, fidelity, target, measured_at, suspended, qubits, share)

    @staticmethod
    def _networks(doc: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        yield from doc.get("ietf-network:networks", {}).get("network", [])

    def _links(self, doc: Mapping[str, Any]) -> Iterator[Metric]:
        labels = ["network", "link"]
        figures = {key: GaugeMetricFamily(f"sdqn_link_{name}", text, labels=labels)
                   for key, name, text in _LINK_FIGURES}
        configured = GaugeMetricFamily("sdqn_link_configured_fidelity_ratio",
                                       "Fidelity of a freshly heralded pair (configured)",
                                       labels=labels)
        configured_loss = GaugeMetricFamily(
            "sdqn_link_configured_loss_db",
            "Optical loss of the fibre from its configured attenuation and length",
            labels=labels)
        status = GaugeMetricFamily("sdqn_link_oper_status", "1 for the link's current "
                                   "operational status", labels=[*labels, "status"])
        freshness = _Freshness("sdqn_link", "link", labels, last_change=False)
        for network in self._networks(doc):
            for link in network.get("ietf-network-topology:link", []):
                ids = [network["network-id"], link["link-id"]]
                quantum = link.get("sdqn-topology:quantum-link", {})
                if "link-fidelity" in quantum:
                    configured.add_metric(ids, float(quantum["link-fidelity"]))
                if "fibre-length" in quantum:   # attenuation: its YANG default if unset
                    configured_loss.add_metric(ids, round(
                        float(quantum["fibre-length"]) * float(quantum.get("attenuation", 0.2)),
                        6))
                state = quantum.get("state", {})
                for key, family in figures.items():
                    if key in state:
                        family.add_metric(ids, float(state[key]))
                if "oper-status" in state:
                    _state_set(status, ids, OPER_STATUSES, state["oper-status"])
                freshness.add(ids, state)
        yield configured
        yield configured_loss
        yield from figures.values()
        yield status
        yield from freshness.families()

    def _nodes(self, doc: Mapping[str, Any]) -> Iterator[Metric]:
        labels = ["network", "node"]
        figures = {key: GaugeMetricFamily(f"sdqn_node_{name}", text, labels=labels)
                   for key, name, text in _NODE_FIGURES}
        status = GaugeMetricFamily("sdqn_node_oper_status", "1 for the device's current "
                                   "operational status", labels=[*labels, "status"])
        stable = GaugeMetricFamily("sdqn_node_stable", "1 once the device reports its last "
                                   "configuration in full effect", labels=labels)
        freshness = _Freshness("sdqn_node", "node", labels)
        for network in self._networks(doc):
            for node in network.get("node", []):
                ids = [network["network-id"], node["node-id"]]
                state = node.get("sdqn-topology:quantum-node", {}).get("state", {})
                for key, family in figures.items():
                    if key in state:
                        family.add_metric(ids, float(state[key]))
                if "oper-status" in state:
                    _state_set(status, ids, OPER_STATUSES, state["oper-status"])
                if "stable" in state:
                    stable.add_metric(ids, float(bool(state["stable"])))
                freshness.add(ids, state)
        yield from figures.values()
        yield status
        yield stable
        yield from freshness.families()

    def _solver(self, doc: Mapping[str, Any]) -> Iterator[Metric]:
        last = doc.get("sdqn-controller:controller", {}).get("optimiser", {}).get(
            "last-solve", {})
        for key, name in _SOLVE_FIGURES:
            family = GaugeMetricFamily(f"sdqn_solver_{name}", f"Last Q-NUM solve: {key}")
            if key in last:
                family.add_metric([], float(last[key]))
            yield family
        finished = GaugeMetricFamily("sdqn_solver_last_solve_timestamp_seconds",
                                     "When the last Q-NUM solve finished")
        if "timestamp" in last:
            finished.add_metric([], timestamp(last["timestamp"]))
        yield finished
        status = GaugeMetricFamily("sdqn_solver_status", "1 for the last solve's status",
                                   labels=["status"])
        if "status" in last:
            _state_set(status, [], self.solve_statuses, last["status"])
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
            for family, key, states in ((connection, "connection-state",
                                         self.connection_states),
                                        (sync, "sync-state", self.sync_states)):
                if key in device:
                    _state_set(family, [node], states, device[key])
        yield connection
        yield sync
