"""RFC 7951 instance data ↔ sdqn.v1 messages.

Requests become YANG edits (decimals rounded to the leaf's fraction-digits by the
schema, so a double never carries more precision than the model stores); reads turn
<operational> JSON into messages. The protobuf classes are generated at run time, so
messages are typed `Any` here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from controller.datastore.schema import Schema
from controller.errors import ErrorTag, NetconfError
from controller.grpc_api.applications import APPLICATION_CODES, APPLICATIONS
from qnum.plan import Plan

SVC = "sdqn-services"
REQUEST = f"/{SVC}:entanglement-services/{SVC}:request"
_DECIMALS = (("min_fidelity", "min-fidelity"), ("demanded_rate", "demanded-rate"),
             ("weight", "weight"))


def bad(message: str) -> NetconfError:
    return NetconfError.of(ErrorTag.INVALID_VALUE, message)


def _finite(value: float, field: str) -> float:
    if not math.isfinite(value):
        raise bad(f"{field} must be a finite number")
    return value


def request_to_yang(schema: Schema, msg: Any, *, full: bool) -> dict[str, Any]:
    """An EntanglementRequest as a YANG list entry: every set field (`full`: the
    mandatory ones must be set, as for a new request)."""
    if not msg.name:
        raise bad("request name is empty")
    entry: dict[str, Any] = {"name": msg.name}
    for field, leaf in (("source_node", "source-node"), ("destination_node",
                                                          "destination-node")):
        if msg.HasField(field):
            entry[leaf] = getattr(msg, field)
    if msg.application:
        if msg.application not in APPLICATIONS:
            raise bad(f"unknown application code {msg.application}")
        entry["application"] = f"sdqn-types:{APPLICATIONS[msg.application]}"
    for field, leaf in _DECIMALS:
        if msg.HasField(field):
            entry[leaf] = schema.decimal(f"{REQUEST}/{SVC}:{leaf}",
                                         _finite(getattr(msg, field), field))
    if msg.HasField("priority"):
        if msg.priority > 255:
            raise bad("priority must be 0..255")
        entry["priority"] = msg.priority
    if msg.HasField("enabled"):
        entry["admin-state"] = "enabled" if msg.enabled else "disabled"
    if msg.HasField("slice"):
        entry["sdqn-slices:slice"] = msg.slice
    utility = {}
    for field, leaf in (("threshold_fidelity", "threshold-fidelity"),
                        ("steepness", "steepness")):
        if msg.HasField(field):
            utility[leaf] = schema.decimal(f"{REQUEST}/{SVC}:utility/{SVC}:{leaf}",
                                           _finite(getattr(msg, field), field))
    if utility:
        entry["utility"] = utility
    if full:
        missing = [leaf for leaf in ("source-node", "destination-node", "application",
                                     "min-fidelity", "demanded-rate") if leaf not in entry]
        if missing:
            raise bad(f"a new request needs {', '.join(missing)}")
    return entry


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _set(msg: Any, **values: Any) -> None:
    """Assign the values that exist (optional fields stay unset otherwise)."""
    for name, value in values.items():
        if value is not None:
            setattr(msg, name, value)


def request_from_yang(pb: Any, entry: Mapping[str, Any]) -> Any:
    msg = pb.EntanglementRequest(name=entry["name"])
    application = str(entry.get("application", "")).rpartition(":")[2]
    msg.application = APPLICATION_CODES.get(application, 0)
    utility = entry.get("utility", {})
    _set(msg, source_node=entry.get("source-node"),
         destination_node=entry.get("destination-node"),
         min_fidelity=_float(entry.get("min-fidelity")),
         demanded_rate=_float(entry.get("demanded-rate")),
         weight=_float(entry.get("weight")), priority=entry.get("priority"),
         enabled=(entry["admin-state"] == "enabled") if "admin-state" in entry else None,
         threshold_fidelity=_float(utility.get("threshold-fidelity")),
         steepness=_float(utility.get("steepness")),
         slice=entry.get("sdqn-slices:slice"))
    return msg


def state_from_yang(pb: Any, state: Mapping[str, Any]) -> Any:
    msg = pb.RequestState(admission=state.get("admission", ""),
                          rejection_reason=state.get("rejection-reason", ""),
                          path=list(state.get("path", [])),
                          purification_rounds=int(state.get("purification-rounds", 0)),
                          purification_protocol=str(state.get("purification-protocol", ""))
                          .rpartition(":")[2],
                          oper_state=state.get("oper-state", ""),
                          last_change=state.get("last-change", ""))
    _set(msg, **{f.replace("-", "_"): _float(state.get(f)) for f in (
        "predicted-rate", "predicted-fidelity", "measured-rate", "measured-fidelity",
        "utility")})
    return msg


def status_from_yang(pb: Any, entry: Mapping[str, Any], cls: Any = None) -> Any:
    """A request with its state: a RequestStatus, or `cls` (GetRequestResponse has the
    same fields)."""
    return (cls or pb.RequestStatus)(request=request_from_yang(pb, entry),
                                     state=state_from_yang(pb, entry.get("state", {})))


def requests_from(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = doc.get(f"{SVC}:entanglement-services", {}).get(
        "request", [])
    return entries


def network_ids(doc: Mapping[str, Any]) -> list[str]:
    return [str(net.get("network-id")) for net in
            doc.get("ietf-network:networks", {}).get("network", [])]


def topology_from(pb: Any, doc: Mapping[str, Any], network_id: str = "") -> Any:
    topo = pb.GetTopologyResponse()
    for net in doc.get("ietf-network:networks", {}).get("network", []):
        if network_id and net.get("network-id") != network_id:
            continue
        for node in net.get("node", []):
            q = node.get("sdqn-topology:quantum-node", {})
            msg = topo.nodes.add(network_id=net["network-id"], node_id=node["node-id"],
                                 device_kind=str(q.get("device-kind", "")).rpartition(":")[2],
                                 memory_qubits=int(q.get("memory-qubits", 0)),
                                 oper_status=_status(q.get("state", {})))
            _set(msg, coherence_time=_float(q.get("coherence-time")))
        for link in net.get("ietf-network-topology:link", []):
            topo.links.append(link_from(pb, net["network-id"], link))
    return topo


def _status(state: Mapping[str, Any]) -> str:
    return str(state.get("oper-status", "")).rpartition(":")[2]


def link_from(pb: Any, network_id: str, link: Mapping[str, Any]) -> Any:
    q = link.get("sdqn-topology:quantum-link", {})
    state = q.get("state", {})
    msg = pb.Link(network_id=network_id, link_id=link["link-id"],
                  source=link.get("source", {}).get("source-node", ""),
                  destination=link.get("destination", {}).get("dest-node", ""),
                  oper_status=_status(state))
    _set(msg, fibre_length_km=_float(q.get("fibre-length")),
         link_fidelity=_float(q.get("link-fidelity")),
         measured_fidelity=_float(state.get("measured-fidelity")),
         qber=_float(state.get("qber")), generation_rate=_float(state.get("generation-rate")))
    return msg


def solve_from_yang(pb: Any, last: Mapping[str, Any]) -> Any:
    msg = pb.SolveSummary(status=last.get("status", ""), admitted=int(last.get("admitted", 0)),
                          rejected=int(last.get("rejected", 0)),
                          timestamp=last.get("timestamp", ""))
    _set(msg, objective=_float(last.get("objective")), bound=_float(last.get("bound")),
         gap=_float(last.get("gap")), solve_time_s=_float(last.get("solve-time")))
    return msg


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def solve_from_plan(pb: Any, plan: Plan) -> Any:
    msg = pb.SolveSummary(status=plan.status.value, admitted=len(plan.admitted),
                          rejected=len(plan.assignments) - len(plan.admitted))
    _set(msg, objective=_finite_or_none(plan.objective), bound=_finite_or_none(plan.bound),
         gap=_finite_or_none(plan.gap), solve_time_s=plan.solve_time_s)
    return msg


def planned_from(pb: Any, plan: Plan) -> list[Any]:
    out = []
    for item in plan.to_json()["sdqn-qnum:plan"]["request"]:
        msg = pb.PlannedRequest(name=item["name"],
                                admitted=item["admission"] == "admitted",
                                path=list(item.get("path") or []),
                                purification_rounds=int(item.get("purification-rounds") or 0),
                                rejection_reason=str(item.get("rejection-reason") or ""))
        _set(msg, predicted_rate=_float(item.get("predicted-rate")),
             predicted_fidelity=_float(item.get("predicted-fidelity")),
             utility=_float(item.get("utility")))
        out.append(msg)
    return out


def leaf_change(pb: Any, change: Mapping[str, Any]) -> Any:
    def text(value: Any) -> str:
        return "" if value is None else json.dumps(value)

    return pb.LeafChange(operation=change["operation"], path=change["path"],
                         value=text(change["value"]), previous=text(change["previous"]))


def device_diff(pb: Any, device: Mapping[str, Any]) -> Any:
    """A device entry (impact `device`, show-commit `device`: change members whose values
    are RFC 7951 JSON text already) as a DeviceDiff."""
    return pb.DeviceDiff(
        node_id=device["node-id"], network_commit=device.get("network-commit", ""),
        network_label=device.get("network-label", ""),
        changes=[pb.LeafChange(operation=c["operation"], path=c["path"],
                               value=c.get("value", ""), previous=c.get("previous", ""))
                 for c in device["change"]])


def alarm_from_yang(pb: Any, alarm: Mapping[str, Any]) -> Any:
    return pb.Alarm(resource=str(alarm.get("resource", "")),
                    alarm_type_id=str(alarm.get("alarm-type-id", "")),
                    alarm_type_qualifier=str(alarm.get("alarm-type-qualifier", "")),
                    perceived_severity=str(alarm.get("perceived-severity", "")),
                    is_cleared=bool(alarm.get("is-cleared", False)),
                    alarm_text=str(alarm.get("alarm-text", "")),
                    last_changed=str(alarm.get("last-changed", "")))


def impact_from(pb: Any, impact: Mapping[str, Any], cls: Any) -> Any:
    """The `impact` container (controller/service/impact.py) as `cls`: DryRunResponse or
    OptimiseResponse (the same fields)."""
    def figures(entry: Mapping[str, Any] | None) -> Any:
        if entry is None:
            return None
        return pb.ServiceFigures(**{k: float(entry[k]) for k in ("rate", "fidelity",
                                                                 "utility")})

    body = impact["impact"]
    out = cls()
    for s in body.get("service", []):
        msg = out.services.add(name=s["name"], change=s["change"], live_move=s["live-move"],
                               old_path=s.get("old-path", "").split(),
                               new_path=s.get("new-path", "").split(),
                               switch_kind=s.get("switch", ""), reason=s.get("reason", ""))
        if "expected-interruption" in s:
            msg.expected_interruption_s = float(s["expected-interruption"])
        for name in ("before", "after"):
            value = figures(s.get(name))
            if value is not None:
                getattr(msg, name).CopyFrom(value)
    out.devices.extend(device_diff(pb, device) for device in body.get("device", []))
    totals = body["totals"]
    out.totals.CopyFrom(pb.ImpactTotals(
        **{k.replace("-", "_"): int(totals[k]) for k in
           ("added", "removed", "moved", "hard-switches", "retuned", "rejected", "devices")},
        utility_before=float(totals["utility-before"]),
        utility_after=float(totals["utility-after"])))
    return out


def drill_score(pb: Any, answer: Mapping[str, Any]) -> Any:
    """The sdqn-drills answer members (a Score's JSON, or a /drills/drill entry) as a
    DrillScore; None when the drill was not answered."""
    if "score" not in answer:
        return None
    return pb.DrillScore(correct=bool(answer.get("correct", False)),
                         credit=float(answer.get("credit", 0)),
                         time_to_localise_s=float(answer.get("time-to-localise", 0)),
                         score=int(answer["score"]))


def drill_fault(pb: Any, fault: Mapping[str, Any] | None) -> Any:
    """The revealed-fault container as a DrillFault; None while it is hidden."""
    if fault is None:
        return None
    return pb.DrillFault(kind=str(fault.get("kind", "")), target=str(fault.get("target", "")))


def drill_from_yang(pb: Any, entry: Mapping[str, Any]) -> Any:
    """A /drills/drill entry as a Drill."""
    return pb.Drill(drill_id=str(entry.get("id", "")), state=str(entry.get("state", "")),
                    started=str(entry.get("started", "")), ended=str(entry.get("ended", "")),
                    fault=drill_fault(pb, entry.get("fault")),
                    answered_resource=str(entry.get("answered-resource", "")),
                    score=drill_score(pb, entry))
