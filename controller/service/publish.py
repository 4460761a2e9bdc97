"""What the controller decided, as learned state in <operational>."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from controller.datastore.nmda import NmdaStore
from qnum.plan import Plan

REQUEST_STATE = "/sdqn-services:entanglement-services/request/state"
LAST_SOLVE = "/sdqn-controller:controller/optimiser/last-solve"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def publish_plan(store: NmdaStore, plan: Plan) -> None:
    """Per request: admission, path, rounds, predictions, utility (sdqn-services state),
    and the solve's status/objective/bound/gap (sdqn-controller last-solve)."""
    body = plan.to_json()["sdqn-qnum:plan"]
    schema = store.schema
    entries: list[dict[str, Any]] = []
    for item in body["request"]:
        admitted = item["admission"] == "admitted"
        state: dict[str, Any] = {"admission": item["admission"], "last-change": _now(),
                                 "oper-state": "provisioning" if admitted else "down"}
        if admitted:
            for key in ("path", "purification-rounds", "purification-protocol"):
                if item.get(key) is not None:
                    state[key] = item[key]
            for key in ("predicted-rate", "predicted-fidelity", "utility"):
                if item.get(key) not in (None, "inf"):
                    state[key] = schema.decimal(f"{REQUEST_STATE}/{key}", float(item[key]))
        else:
            state["rejection-reason"] = str(item.get("rejection-reason", ""))[:250]
        entries.append({"name": item["name"], "state": state})
    # Replace, not merge: a re-routed request loses its old path, a withdrawn one its state.
    store.delete_state("/sdqn-services:entanglement-services")
    if entries:
        store.merge_state(json.dumps({"sdqn-services:entanglement-services":
                                      {"request": entries}}))
    last: dict[str, Any] = {"status": body["status"], "timestamp": _now(),
                            "admitted": body["admitted"], "rejected": body["rejected"]}
    for key in ("objective", "bound", "gap", "solve-time"):
        if body.get(key) not in (None, "inf"):
            last[key] = schema.decimal(f"{LAST_SOLVE}/{key}", float(body[key]))
    store.delete_state("/sdqn-controller:controller/optimiser/last-solve")
    store.merge_state(json.dumps({"sdqn-controller:controller": {"optimiser": {
        "last-solve": last}}}))

