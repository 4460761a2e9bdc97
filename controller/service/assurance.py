"""Service assurance: each request's state in <operational> stays true, and says why.

Feeds the service state machine (controller/service/service_state.py) with the plans the
store adopts and the telemetry rounds, writes every request's state (plan decision plus
state, reason, measurements with their time and staleness) through one writer
(controller/service/publish.py), sends an sdqn-services `service-state-change`
notification on every transition, and keeps the `service-degraded` alarm (RFC 8632) in
line with the degraded state.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Callable, Collection, Mapping
from typing import Any

import structlog
from lxml import etree

from controller.datastore.nmda import Datastore, NmdaStore
from controller.service.alarms import (
    AlarmKey,
    AlarmManager,
    Severity,
    service_resource,
)
from controller.service.expansion import Expansion
from controller.service.health import NetworkHealth
from controller.service.publish import plan_entries, publish_services, publish_solve
from controller.service.render import service_parts
from controller.service.service_state import (
    DEGRADED,
    Assurance,
    Observation,
    ServiceRecord,
    ServiceStates,
    Transition,
    no_candidates,
)
from controller.service.slice_publish import SlicePublisher
from qnum.io import Network
from qnum.plan import Assignment

log = structlog.get_logger(__name__)

SETTINGS_PATH = "/sdqn-controller:controller/service-assurance"
DEGRADED_ALARM = "sdqn-alarms:service-degraded"


#: store → (running version read, its settings): a telemetry round asks three times
#: (assurance, healer, network state) and running rarely changes
_SETTINGS: weakref.WeakKeyDictionary[NmdaStore, tuple[int, Assurance]] = \
    weakref.WeakKeyDictionary()


def read_settings(store: NmdaStore) -> Assurance:
    """service-assurance from running (the YANG defaults where not set)."""
    version = store.versions[Datastore.RUNNING]
    cached = _SETTINGS.get(store)
    if cached is not None and cached[0] == version:
        return cached[1]
    data = json.loads(store.get(Datastore.RUNNING, xpath=SETTINGS_PATH) or "{}")
    cfg = data.get("sdqn-controller:controller", {}).get("service-assurance", {})
    defaults = Assurance()
    settings = Assurance(
        stabilisation_timeout_s=float(cfg.get("stabilisation-timeout",
                                              defaults.stabilisation_timeout_s)),
        rate_tolerance=float(cfg.get("rate-tolerance", defaults.rate_tolerance)),
        stale_after_rounds=int(cfg.get("stale-after-rounds", defaults.stale_after_rounds)),
        drift_alarm_threshold=float(cfg.get("polarisation-drift-alarm-threshold",
                                            defaults.drift_alarm_threshold)),
        drift_clear_threshold=float(cfg.get("polarisation-drift-clear-threshold",
                                            defaults.drift_clear_threshold)),
        memory_coherence_fraction=float(cfg.get("memory-coherence-fraction",
                                                defaults.memory_coherence_fraction)))
    _SETTINGS[store] = (version, settings)
    return settings


class ServiceAssurance:
    def __init__(self, store: NmdaStore, *, alarms: AlarmManager | None = None,
                 notify: Callable[[etree._Element], None] | None = None,
                 health: Callable[[], NetworkHealth] = NetworkHealth,
                 node_resource: Callable[[str], str] = lambda node: node,
                 network: Callable[[], Network | None] = lambda: None,
                 link_resource: Callable[[str], str] = lambda link: link,
                 impairments: Callable[[], Mapping[str, str]] = dict,
                 impaired_links: Callable[[], Mapping[str, str]] = dict) -> None:
        self.store = store
        self.alarms = alarms
        self.notify = notify
        self.health = health
        self.node_resource = node_resource
        self.network = network
        self.link_resource = link_resource
        self.impairments = impairments
        self.impaired_links = impaired_links
        self.states = ServiceStates()
        self._plan: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()    # a commit and a telemetry round never interleave
        self.slices = SlicePublisher(store, alarms=alarms, health=health,
                                     root_causes=self._root_causes,
                                     node_resource=node_resource,
                                     link_resource=link_resource)

    def on_adopted(self, expansion: Expansion, previous: Expansion, *,
                   pushed: Collection[str], healing: bool) -> None:
        """A commit of running succeeded with this expansion (pipeline phase 7)."""
        plan, network = expansion.plan, expansion.network
        if plan is None:
            return
        changed = {n for n, doc in expansion.docs.items() if previous.docs.get(n) != doc}
        inline: dict[str, list[str]] = {}
        if network is not None:
            for link_id, link in network.links.items():
                if link.compensator is not None:
                    inline.setdefault(link_id, []).append(link.compensator)
        before = previous.plan
        hit = set(expansion.health.failed_links) | set(expansion.health.failed_nodes)
        dropped = {n for n, a in plan.assignments.items() if not a.admitted and before
                   is not None and n in before.assignments and before.assignments[n].admitted}
        preempted = {n for n in dropped if healing and before is not None
                     and not hit & _elements(before.assignments[n])}
        rejected = no_candidates(
            expansion.problem.candidates if expansion.problem is not None else None,
            plan.assignments)
        touched = self._touched(expansion, previous, inline)
        with self._lock:
            transitions = self.states.on_plan(
                plan, before, changed=changed, pushed=pushed, inline=inline, touched=touched,
                failed_links=expansion.health.failed_links,
                failed_nodes=expansion.health.failed_nodes,
                preempted=preempted, rejected=rejected)
            self._plan = plan_entries(self.store, plan)
            publish_services(self.store, self._plan, self.states.records)
            publish_solve(self.store, plan)
            self.slices.adopt(expansion.slicing, expansion.suspended, plan,
                              owned=expansion.owned)
        self._announce(transitions)
        self._publish_slices()

    def _failing_at(self, health: NetworkHealth) -> set[str]:
        """Devices that keep reporting a failed fibre: its two ends, and every device
        watching it through a q-ROADM (its generation entry named "fibre>neighbour")."""
        network = self.network()
        failed = set(health.failed_links)
        ends = {node for link in failed if network is not None and link in network.links
                for node in (network.links[link].a, network.links[link].b)}
        return ends | {node for node, entry in health.watch
                       if entry.split(">", 1)[0] in failed}

    @staticmethod
    def _touched(expansion: Expansion, previous: Expansion,
                 inline: Mapping[str, list[str]]) -> dict[str, set[str]]:
        """Per admitted service, the devices on its path whose part serving it changed."""
        out: dict[str, set[str]] = {}
        plan = expansion.plan
        if plan is None:
            return out
        for name, a in plan.assignments.items():
            if not a.admitted or a.candidate is None:
                continue
            route = a.candidate.route
            devices = {*route.nodes, *(d for lk in route.links for d in inline.get(lk, ()))}
            out[name] = set()
            for node in devices:
                new, old = expansion.docs.get(node), previous.docs.get(node)
                if new == old:
                    continue
                if new is None or old is None or service_parts(json.loads(new), name) \
                        != service_parts(json.loads(old), name):
                    out[name].add(node)
        return out

    def on_round(self, seen: dict[str, Observation]) -> dict[str, dict[str, Any]]:
        """A telemetry round (the TelemetryLoop's `decide`)."""
        health = self.health()
        settings = read_settings(self.store)
        # Lock order store → assurance, as on_adopted (called by a commit holding the
        # store's lock): the other order deadlocks a telemetry round against a commit.
        with self.store.atomic(), self._lock:
            transitions = self.states.on_round(seen, settings=settings,
                                               failed_links=health.failed_links,
                                               failed_nodes=health.failed_nodes,
                                               failing_at=self._failing_at(health),
                                               impaired=self.impairments(),
                                               impaired_links=self.impaired_links())
            if self._plan:
                publish_services(self.store, self._plan, self.states.records)
            result = {name: _summary(r) for name, r in self.states.records.items()
                      if r.admitted}
        self._announce(transitions)
        self._refresh_root_causes({t.name for t in transitions})
        self._publish_slices()
        return result

    def _publish_slices(self) -> None:
        """The slices' state and SLA alarms, after the members' alarms are current (their
        root causes are the slice alarm's)."""
        tolerance = read_settings(self.store).rate_tolerance
        with self.store.atomic(), self._lock:     # lock order: see on_round
            records = dict(self.states.records)
        with self.store.atomic():
            self.slices.publish(records, rate_tolerance=tolerance)

    def _refresh_root_causes(self, announced: set[str]) -> None:
        """A degraded service's alarm keeps its root causes current (RFC 8632 §3.6: the
        complete list), not only those active when it was raised: a root alarm raised or
        cleared later while the service stays degraded is added or removed silently."""
        if self.alarms is None:
            return
        for name, record in list(self.states.records.items()):
            if name in announced or record.state != DEGRADED:
                continue
            key = AlarmKey(service_resource(name), DEGRADED_ALARM)
            alarm = self.alarms.get(key)
            if alarm is None or alarm.cleared:
                continue
            roots = self._root_causes(name)
            if tuple(roots) != tuple(alarm.root_causes):
                self.alarms.raise_alarm(key, alarm.severity, alarm.text, root_causes=roots,
                                        impacted=alarm.impacted)

    def on_repushed(self, node: str) -> None:
        """A device got its whole configuration again (restart, out-of-band revert)."""
        with self.store.atomic(), self._lock:       # lock order: see on_round
            transitions = self.states.on_repushed(node)
            if transitions and self._plan:
                publish_services(self.store, self._plan, self.states.records)
        self._announce(transitions)

    # -- notifications and alarms ------------------------------------------------------------
    def _announce(self, transitions: list[Transition]) -> None:
        for t in transitions:
            log.info("service state", service=t.name, old=t.old, new=t.new, reason=t.reason)
            self._alarm(t)
            if self.notify is not None:
                try:
                    self.notify(self._notification(t))
                except Exception as exc:  # a consumer's failure must not stop assurance
                    log.error("service-state-change notification failed", error=str(exc))

    def _alarm(self, t: Transition) -> None:
        if self.alarms is None:
            return
        key = AlarmKey(service_resource(t.name), DEGRADED_ALARM)
        if t.new == DEGRADED:
            roots = self._root_causes(t.name)
            self.alarms.raise_alarm(key, Severity.MINOR, t.reason, root_causes=roots,
                                    impacted=[service_resource(t.name)])
        elif t.old == DEGRADED:
            self.alarms.clear_alarm(key, f"service {t.new}: {t.reason}")

    def _root_causes(self, name: str) -> list[str]:
        """What explains a degraded service: the devices that overran their settling, and
        every active root-cause alarm on a node or link of its path, or on a device inline
        on one of its fibres (an APC) (RFC 8632 §3.2: 'root-cause-resource' of a derived
        alarm)."""
        record = self.states.records.get(name)
        if record is None:
            return []
        roots = [self.node_resource(n) for n in record.overran]
        network = self.network()
        inline = {apc for lk in record.route_links if network is not None
                  and lk in network.links for apc in [network.links[lk].compensator]
                  if apc is not None}
        path = {*(self.node_resource(n) for n in (*record.route_nodes, *inline)),
                *(self.link_resource(lk) for lk in record.route_links)}
        if self.alarms is not None:
            roots += sorted({a.key.resource for a in self.alarms.active()
                             if a.key.resource in path and not a.root_causes})
        return list(dict.fromkeys(roots))

    def _notification(self, t: Transition) -> etree._Element:
        """sdqn-services service-state-change, built and validated by libyang."""
        body = {"name": t.name, "oper-state": t.new, "reason": t.reason[:250]}
        xml = self.store.schema.notification_xml({"sdqn-services:service-state-change": body})
        return etree.fromstring(xml)

    def records(self) -> Mapping[str, ServiceRecord]:
        return self.states.records


def _elements(a: Assignment) -> set[str]:
    cand = a.candidate
    return set() if cand is None else {*cand.route.links, *cand.route.nodes}


def _summary(record: ServiceRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"oper-state": record.state, "reason": record.reason,
                           "stale": record.stale}
    for key, value in (("measured-rate", record.rate), ("measured-fidelity", record.fidelity),
                       ("measured-qber", record.qber)):
        if value is not None:
            out[key] = value
    return out
