"""Per-slice state in <operational> and the `slice-sla-violation` alarm (RFC 8632).

One writer for every slice's `state` container (sdqn-slices), replaced as a whole after
each commit, self-healing round and telemetry round, so a deleted slice loses its state
and a measurement is never older in the slice view than in its members' request/state.
The alarm is raised on the slice when a guaranteed objective is measured unmet or its
guarantees are suspended, naming the physical faults behind it as root causes
(RFC 8632 §3.2), and cleared when the slice is compliant again (§3.5.1).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import structlog

from controller.datastore.nmda import NmdaStore
from controller.service.alarms import AlarmKey, AlarmManager, Severity
from controller.service.health import NetworkHealth
from controller.service.partitions import OwnedResource
from controller.service.service_state import ServiceRecord
from controller.service.slice_state import SliceState, slice_states
from qnum.plan import Plan
from qnum.slices import Slicing
from qnum.slices_io import slice_path

log = structlog.get_logger(__name__)

SLICING = "/sdqn-slices:slicing"
SLICE_STATE = f"{SLICING}/slice/state"
SLA_ALARM = "sdqn-alarms:slice-sla-violation"


def slice_resource(name: str) -> str:
    """The alarm resource of a slice: the instance-identifier of its list entry."""
    return slice_path(name)


def state_json(store: NmdaStore, state: SliceState,
               owned: Sequence[OwnedResource] = ()) -> dict[str, Any]:
    """A slice's `state` container (RFC 7951, decimals as the schema prints them);
    `owned`: the device resources its partitions own (controller/service/partitions.py)."""
    decimal = store.schema.decimal
    slos = []
    for slo in state.slos:
        entry: dict[str, Any] = {"objective": slo.objective,
                                 "target": decimal(f"{SLICE_STATE}/slo/target", slo.target)}
        if slo.measured is not None:
            entry["measured"] = decimal(f"{SLICE_STATE}/slo/measured", slo.measured)
            entry["compliant"] = bool(slo.compliant)
            if slo.measured_at is not None:
                entry["measured-at"] = slo.measured_at
        slos.append(entry)
    out: dict[str, Any] = {"guarantee": {"suspended": state.suspended is not None}}
    if state.suspended is not None:
        out["guarantee"]["reason"] = state.suspended[:250]
    if slos:
        out["slo"] = slos
    nodes = [{"node-id": n, "reserved-qubits": r, "idle-qubits": i}
             for n, (r, i) in state.idle_qubits.items()]
    links = [{"link-id": lk,
              "reserved-share": decimal(f"{SLICE_STATE}/fragmentation/link/reserved-share", r),
              "idle-share": decimal(f"{SLICE_STATE}/fragmentation/link/idle-share", i)}
             for lk, (r, i) in state.idle_share.items()]
    if owned:
        out["owned-resource"] = [
            {"device": r.device, "kind": r.kind,
             "resource": "registers" if r.link is None else r.link,
             **({"register": list(r.registers)} if r.registers else {}),
             "amount": decimal(f"{SLICE_STATE}/owned-resource/amount", float(r.amount))}
            for r in owned]
    if nodes or links:
        out["fragmentation"] = {**({"node": nodes} if nodes else {}),
                                **({"link": links} if links else {})}
    return out


class SlicePublisher:
    """Keeps the slices' operational state and SLA alarms in line with the service layer.

    `root_causes(request)` names what explains a member's degradation (the service
    assurance's view); `health()` the failures the healer currently knows, which explain a
    suspension (the failure that made the guarantee impossible)."""

    def __init__(self, store: NmdaStore, *, alarms: AlarmManager | None,
                 health: Callable[[], NetworkHealth],
                 root_causes: Callable[[str], list[str]],
                 node_resource: Callable[[str], str],
                 link_resource: Callable[[str], str]) -> None:
        self.store = store
        self.alarms = alarms
        self.health = health
        self.root_causes = root_causes
        self.node_resource = node_resource
        self.link_resource = link_resource
        self.slicing: Slicing | None = None
        self.suspended: dict[str, str] = {}
        self.plan: Plan | None = None
        self.states: list[SliceState] = []
        self.owned: dict[str, list[OwnedResource]] = {}
        self._alarmed: set[str] = set()
        self._lock = threading.Lock()

    def adopt(self, slicing: Slicing | None, suspended: Mapping[str, str],
              plan: Plan | None,
              owned: Mapping[str, list[OwnedResource]] | None = None) -> None:
        """A commit or self-healing round was adopted with this slicing and plan, and
        `owned`: slice → the device resources its partitions own in the pushed
        configurations."""
        with self._lock:
            self.slicing, self.suspended, self.plan = slicing, dict(suspended), plan
            self.owned = dict(owned or {})

    def publish(self, records: Mapping[str, ServiceRecord], *,
                rate_tolerance: float = 0.0) -> list[SliceState]:
        """Recompute, write every slice's state, and raise or clear its SLA alarm. The
        caller holds the store's lock (lock order store → publisher, as assurance)."""
        with self._lock:
            slicing = self.slicing
            states = ([] if slicing is None else
                      slice_states(slicing, self.plan, records, suspended=self.suspended,
                                   rate_tolerance=rate_tolerance))
            self.states = states
            if states:
                self.store.replace_state(SLICING, json.dumps({"sdqn-slices:slicing": {
                    "slice": [{"name": s.name,
                               "state": state_json(self.store, s, self.owned.get(s.name, ()))}
                              for s in states]}}))
            else:
                self.store.delete_state(SLICING)
            members = {sl.name: sl.requests for sl in slicing.slices} if slicing else {}
            self._alarm(states, members)
        return states

    def _alarm(self, states: list[SliceState], members: Mapping[str, tuple[str, ...]]
               ) -> None:
        if self.alarms is None:
            return
        live = set()
        for state in states:
            live.add(state.name)
            key = AlarmKey(slice_resource(state.name), SLA_ALARM)
            if state.violated:
                roots = self._roots(state, members.get(state.name, ()))
                self.alarms.raise_alarm(key, Severity.MAJOR, state.violation_text(),
                                        root_causes=roots,
                                        impacted=[slice_resource(state.name)])
                self._alarmed.add(state.name)
            elif state.name in self._alarmed:
                self.alarms.clear_alarm(key, f"slice {state.name} meets its SLA again")
                self._alarmed.discard(state.name)
        for gone in sorted(self._alarmed - live):
            self.alarms.clear_alarm(AlarmKey(slice_resource(gone), SLA_ALARM),
                                    f"slice {gone} removed")
            self._alarmed.discard(gone)

    def _roots(self, state: SliceState, requests: tuple[str, ...]) -> list[str]:
        """The members' root causes; for a suspension also every failure the healer knows
        (one of them made the guarantee impossible)."""
        roots = [r for name in requests for r in self.root_causes(name)]
        if state.suspended is not None:
            health = self.health()
            roots += [self.link_resource(lk) for lk in sorted(health.failed_links)]
            roots += [self.node_resource(n) for n in sorted(health.failed_nodes)]
        return list(dict.fromkeys(roots))
