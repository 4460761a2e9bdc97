"""sdqn-controller's `calibrate-apc` rpc on NETCONF and RESTCONF (gRPC: CalibrateApc in
controller/grpc_api/service.py), all answered by controller.service.calibration_request.
The dispatchers have already checked NACM exec access to sdqn-controller:calibrate-apc
(RFC 8341 §3.4.4). Input is checked as RFC 6241 Appendix A and RFC 8040 §7 say (an
element the rpc does not define is unknown-element, a bad value invalid-value); output
is in the module's namespace (RFC 7950 §7.14.4) or "sdqn-controller:output" (RFC 8040
§3.6.2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree

from controller.errors import ErrorTag
from controller.netconf.core import RpcHandler as NetconfRpc
from controller.netconf.core import SessionContext
from controller.netconf.operations import Params
from controller.netconf.xml import bad_element, json_elements
from controller.restconf.operations import RpcHandler as RestconfRpc
from controller.restconf.operations import check_members
from controller.restconf.paths import invalid
from controller.service.calibration import CalibrationScheduler
from controller.service.calibration_request import calibrate_apc

NAMESPACE = "urn:sdqn:sdqn-controller"
MODULE = "sdqn-controller"

#: node-id, force -> output members (what gRPC's CalibrateApc calls too)
Calibrate = Callable[[str, bool], dict[str, Any]]


def calibrator(scheduler: CalibrationScheduler) -> Calibrate:
    return lambda node_id, force: calibrate_apc(scheduler, node_id, force)


def _force(value: object, bad: Callable[[str], Exception]) -> bool:
    if value in (None, False, "false"):
        return False
    if value in (True, "true"):
        return True
    raise bad(f"force is a boolean, not {value!r}")


def netconf_calibrate_rpcs(calibrate: Calibrate) -> dict[str, NetconfRpc]:
    def handler(_session: SessionContext, op: etree._Element) -> list[etree._Element]:
        params = Params(op, {"node-id": NAMESPACE, "force": NAMESPACE})
        params.require("node-id")
        node_id = (params.text("node-id") or "").strip()
        force = _force(params.text("force"), lambda message: bad_element(
            "force", message, ErrorTag.INVALID_VALUE))
        return json_elements(calibrate(node_id, force), NAMESPACE)

    return {f"{{{NAMESPACE}}}calibrate-apc": handler}


def restconf_calibrate_rpcs(calibrate: Calibrate) -> dict[str, RestconfRpc]:
    def handler(_user: str, args: dict[str, Any]) -> dict[str, Any]:
        check_members(args, {"node-id", "force"}, "calibrate-apc")
        node_id = args.get("node-id")
        if not isinstance(node_id, str) or not node_id:
            raise invalid("calibrate-apc needs node-id, a string")
        return calibrate(node_id, _force(args.get("force"), invalid))

    return {f"{MODULE}:calibrate-apc": handler}
