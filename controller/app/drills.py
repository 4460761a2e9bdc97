"""Drill wiring: the controller's fault channel to the emulator, and the sdqn-drills rpcs.

The channel is the emulator's own fault API: in-process (`sdqn demo` and tests own the
`Network`) or its loopback control socket named in an `sdqn sim run` inventory
(`sdqn controller run --inventory`). Without either, the rpcs answer
operation-not-supported (controller/service/drills.py).

NETCONF and RESTCONF call the same DrillService. The dispatchers have already checked
NACM exec access to sdqn-drills:<rpc> (RFC 8341 §3.4.4). Input is checked like the other
product rpcs (RFC 6241 Appendix A: an element the rpc does not define is unknown-element,
a missing mandatory one missing-element; RFC 8040 §7 on RESTCONF); output is in the
module's namespace (RFC 7950 §7.14.4) or inside "sdqn-drills:output" (RFC 8040 §3.6.2).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lxml import etree

from controller.errors import ErrorTag
from controller.netconf.core import RpcHandler as NetconfRpc
from controller.netconf.core import SessionContext
from controller.netconf.operations import Params
from controller.netconf.xml import json_elements
from controller.restconf.operations import RpcHandler as RestconfRpc
from controller.restconf.operations import check_members
from controller.restconf.paths import invalid
from controller.service.drills import MODULE, Drill, DrillService, FaultChannelError, Score
from simulators.devices.world import Topology
from simulators.faults import FaultError, FaultInjector, FaultRequest, send

NAMESPACE = "urn:sdqn:sdqn-drills"
#: device kind -> the drill faults its emulator supports (simulators/faults.py)
KIND_FAULTS: dict[str, tuple[str, ...]] = {
    "apc": ("crash", "drift-surge", "apc-out-of-spec"),
    "end-node": ("crash", "detector-failure", "memory-degradation"),
    "repeater": ("crash", "memory-degradation"),
    "q-roadm": ("crash", "timing-skew"),
}


class EmulatorChannel:
    """Targets from the plant (the topology and the emulated devices' kinds); faults
    sent through `submit` (the injector or the control socket)."""

    def __init__(self, topology: Topology, device_kinds: Mapping[str, str],
                 submit: Callable[[FaultRequest], str]) -> None:
        self.topology = topology
        self.device_kinds = dict(device_kinds)
        self.submit = submit

    def targets(self) -> Mapping[str, Sequence[str]]:
        out: dict[str, list[str]] = {"fibre-cut": sorted(self.topology.links)}
        for node, kind in sorted(self.device_kinds.items()):
            for fault in KIND_FAULTS.get(kind, ("crash",)):
                if fault == "memory-degradation" and \
                        self.topology.nodes[node].coherence_time is None:
                    continue
                out.setdefault(fault, []).append(node)
        return out

    def adjacent(self, resource: str) -> set[str]:
        link = self.topology.links.get(resource)
        if link is not None:
            return {link.a, link.b, *([link.compensator] if link.compensator else [])}
        if resource in self.topology.nodes:
            return ({lk.link_id for lk in self.topology.links_of(resource)}
                    | {lk.link_id for lk in self.topology.compensated_by(resource)})
        return set()

    def inject(self, kind: str, target: str, *, clear: bool = False) -> str:
        try:
            return self.submit(FaultRequest.model_validate(
                {"kind": kind, "target": target, "clear": clear}))
        except (FaultError, ValueError, OSError) as exc:
            raise FaultChannelError(str(exc)) from exc

    @classmethod
    def in_process(cls, topology: Topology, injector: FaultInjector) -> EmulatorChannel:
        """The demo's and the tests' own emulated network."""
        kinds = {node: device.kind for node, device in injector.network.devices.items()}
        return cls(topology, kinds, injector.apply)

    @classmethod
    def from_inventory(cls, inventory: Mapping[str, Any]) -> EmulatorChannel | None:
        """The control socket an `sdqn sim run` inventory names (None without one)."""
        control, topology = inventory.get("control"), inventory.get("topology")
        if control is None or topology is None:
            return None
        address, port, token = str(control["address"]), int(control["port"]), \
            str(control["token"])

        def submit(request: FaultRequest) -> str:
            answer = send(address, port, token, {"op": "fault",
                                                 "fault": request.model_dump(mode="json")})
            if not answer.get("ok"):
                raise FaultChannelError(str(answer.get("error")))
            return str(answer.get("result"))

        kinds = {str(d["node-id"]): str(d["kind"]) for d in inventory.get("devices", [])}
        return cls(Topology.load(Path(topology)), kinds, submit)


def _answer(score: Score | None) -> dict[str, Any]:
    return score.to_json() if score is not None else {}


def _started(drill: Drill) -> dict[str, Any]:
    return {"drill-id": drill.drill_id, "started": drill.started}


def _ended(drill: Drill) -> dict[str, Any]:
    return {"fault": drill.fault_json(), **_answer(drill.result)}


def netconf_drill_rpcs(drills: DrillService) -> dict[str, NetconfRpc]:
    """Handlers keyed "{namespace}name", as `NetconfServer(extra_rpcs=...)` wants."""

    def start(_session: SessionContext, op: etree._Element) -> list[etree._Element]:
        params = Params(op, {"fault-kind": NAMESPACE})
        return json_elements(_started(drills.start(params.text("fault-kind"))), NAMESPACE)

    def submit(_session: SessionContext, op: etree._Element) -> list[etree._Element]:
        params = Params(op, {"drill-id": NAMESPACE, "resource": NAMESPACE})
        drill_id = params.text(_mandatory(params, "drill-id"))
        resource = params.text(_mandatory(params, "resource"))
        return json_elements(drills.submit(drill_id or "", resource or "").to_json(),
                             NAMESPACE)

    def end(_session: SessionContext, op: etree._Element) -> list[etree._Element]:
        params = Params(op, {"drill-id": NAMESPACE})
        drill_id = params.text(_mandatory(params, "drill-id")) or ""
        return json_elements(_ended(drills.end(drill_id)), NAMESPACE)

    return {f"{{{NAMESPACE}}}start-drill": start,
            f"{{{NAMESPACE}}}submit-localisation": submit,
            f"{{{NAMESPACE}}}end-drill": end}


def _mandatory(params: Params, name: str) -> str:
    params.require(name)  # RFC 6241 Appendix A missing-element
    return name


def restconf_drill_rpcs(drills: DrillService) -> dict[str, RestconfRpc]:
    """Handlers keyed "module:name" (RFC 8040 §3.6), output members."""

    def text(args: dict[str, Any], name: str, rpc: str) -> str:
        value = args.get(name)
        if value is None:
            raise invalid(f"{rpc} needs {name}", tag=ErrorTag.MISSING_ELEMENT)
        if not isinstance(value, str):
            raise invalid(f"{name} is a string")
        return value

    def start(_user: str, args: dict[str, Any]) -> dict[str, Any]:
        check_members(args, {"fault-kind"}, "start-drill")
        kind = args.get("fault-kind")
        if kind is not None and not isinstance(kind, str):
            raise invalid("fault-kind is an enumeration")
        return _started(drills.start(kind))

    def submit(_user: str, args: dict[str, Any]) -> dict[str, Any]:
        check_members(args, {"drill-id", "resource"}, "submit-localisation")
        return drills.submit(text(args, "drill-id", "submit-localisation"),
                             text(args, "resource", "submit-localisation")).to_json()

    def end(_user: str, args: dict[str, Any]) -> dict[str, Any]:
        check_members(args, {"drill-id"}, "end-drill")
        return _ended(drills.end(text(args, "drill-id", "end-drill")))

    return {f"{MODULE}:start-drill": start, f"{MODULE}:submit-localisation": submit,
            f"{MODULE}:end-drill": end}
