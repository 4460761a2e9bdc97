"""What the controller decided and what it measured, per request, in <operational>.

One writer for each request's `state` container (sdqn-services): the plan's decision
(admission, path, purification, predictions, utility) and the service state machine's
view (oper-state and its reason and last change, measured rate, fidelity and QBER with
the time they were read and whether they are stale). The subtree is replaced as a whole,
so a re-routed request loses its old path and a withdrawn one its state.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from controller.datastore.nmda import NmdaStore
from controller.service.service_state import ServiceRecord
from qnum.plan import Plan

REQUEST_STATE = "/sdqn-services:entanglement-services/request/state"
LAST_SOLVE = "/sdqn-controller:controller/optimiser/last-solve"
SERVICES = "/sdqn-services:entanglement-services"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def plan_entries(store: NmdaStore, plan: Plan) -> dict[str, dict[str, Any]]:
    """Per request: the plan's part of its state (RFC 7951, decimals as the schema
    prints them)."""
    body = plan.to_json()["sdqn-qnum:plan"]
    schema = store.schema
    entries: dict[str, dict[str, Any]] = {}
    for item in body["request"]:
        admitted = item["admission"] == "admitted"
        state: dict[str, Any] = {"admission": item["admission"]}
        if admitted:
            for key in ("path", "purification-rounds", "purification-protocol",
                        "link-purification-rounds"):
                if item.get(key) is not None:
                    state[key] = item[key]
            for key in ("predicted-rate", "predicted-fidelity", "utility"):
                if item.get(key) not in (None, "inf"):
                    state[key] = schema.decimal(f"{REQUEST_STATE}/{key}", float(item[key]))
        else:
            state["rejection-reason"] = str(item.get("rejection-reason", ""))[:250]
        entries[item["name"]] = state
    return entries


def record_entry(store: NmdaStore, record: ServiceRecord) -> dict[str, Any]:
    """The state machine's part of a request's state."""
    schema = store.schema
    state: dict[str, Any] = {"oper-state": record.state,
                             "oper-state-reason": record.reason[:250],
                             "last-change": record.last_change}
    for key, value in (("measured-rate", record.rate), ("measured-fidelity", record.fidelity),
                       ("measured-qber", record.qber)):
        if value is not None:
            state[key] = schema.decimal(f"{REQUEST_STATE}/{key}", value)
    if record.last_updated is not None:
        state["last-updated"] = record.last_updated
        state["stale"] = record.stale
    return state


def publish_services(store: NmdaStore, plan_part: Mapping[str, dict[str, Any]],
                     records: Mapping[str, ServiceRecord]) -> None:
    entries = [{"name": name, "state": {**part, **(record_entry(store, records[name])
                                                   if name in records else {})}}
               for name, part in sorted(plan_part.items())]
    with store.atomic():
        if entries:
            store.replace_state(SERVICES, json.dumps(
                {"sdqn-services:entanglement-services": {"request": entries}}))
        else:
            store.delete_state(SERVICES)


def publish_solve(store: NmdaStore, plan: Plan) -> None:
    """The solve's status, objective, bound and gap (sdqn-controller last-solve)."""
    body = plan.to_json()["sdqn-qnum:plan"]
    last: dict[str, Any] = {"status": body["status"], "timestamp": _now(),
                            "admitted": body["admitted"], "rejected": body["rejected"]}
    for key in ("objective", "bound", "gap", "solve-time"):
        if body.get(key) not in (None, "inf"):
            last[key] = store.schema.decimal(f"{LAST_SOLVE}/{key}", float(body[key]))
    store.replace_state("/sdqn-controller:controller/optimiser/last-solve",
                        json.dumps({"sdqn-controller:controller": {"optimiser": {
                            "last-solve": last}}}))


def publish_plan(store: NmdaStore, plan: Plan,
                 records: Mapping[str, ServiceRecord] | None = None) -> None:
    """Per request its decision (and the state machine's view, when given), and the
    solve's figures."""
    publish_services(store, plan_entries(store, plan), records or {})
    publish_solve(store, plan)
