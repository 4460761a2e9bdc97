"""An operator's APC calibration (sdqn-controller rpc calibrate-apc), one answer for every
northbound: the device's own reply to its sdqn-apc `calibrate` action (RFC 7950 §7.15),
sent through the calibration scheduler so that its hold-off and periodic cycle count
from it. Refusals follow RFC 6241 Appendix A: a node that is not an APC of the committed
topology is invalid-value naming the node-id leaf; a device that refuses or cannot be
reached is operation-failed naming the device. A refused request changes nothing."""

from __future__ import annotations

from typing import Any

from controller.errors import ErrorTag, ErrorType, NetconfError, RpcError
from controller.service.calibration import CalibrationScheduler

RPC_PATH = "/sdqn-controller:calibrate-apc"


def calibrate_apc(scheduler: CalibrationScheduler, node_id: str, force: bool
                  ) -> dict[str, Any]:
    """The rpc's output members (RFC 7951), or a NetconfError."""
    if not node_id:
        raise NetconfError(RpcError(tag=ErrorTag.MISSING_ELEMENT, type=ErrorType.PROTOCOL,
                                    message="calibrate-apc needs node-id",
                                    info=(("bad-element", "node-id"),)))
    try:
        event = scheduler.requested(node_id, force)
    except KeyError:
        raise NetconfError(RpcError(
            tag=ErrorTag.INVALID_VALUE, type=ErrorType.APPLICATION,
            path=f"{RPC_PATH}/node-id",
            message=f"node-id {node_id!r} is not an APC of the committed topology",
            info=(("bad-element", "node-id"),))) from None
    if event.result == "failed":
        raise NetconfError(RpcError(
            tag=ErrorTag.OPERATION_FAILED, type=ErrorType.APPLICATION,
            message=f"APC {node_id} did not calibrate: {event.error or 'no answer'}",
            info=(("bad-element", "node-id"),)))
    output: dict[str, Any] = {"result": event.result}
    if event.expected_duration is not None:
        # decimal64 (RFC 7951 §6.1: a JSON string), fraction-digits 9
        text = f"{event.expected_duration:.9f}".rstrip("0").rstrip(".")
        output["expected-duration"] = text or "0"
    return output
