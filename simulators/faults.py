"""Fault injection into a running emulated network, and the channel other processes use.

Faults act on the plant or a device, never on the NETCONF layer directly, so each one
shows up the way it would in a real network: in the operational state of every device it
affects and in the notifications they raise.

=================  =====================================================================
fault              effect
=================  =====================================================================
fibre-cut          the fibre carries no light: link generation stops at both ends, the
                   q-ROADM's cross-connects on it go down, its APC loses signal
crash              the device's NETCONF server stops answering; neighbours lose the span;
                   ``clear`` (or ``duration``) powers it back: warm-up/calibration again,
                   running loaded from startup (factory configuration if none was saved)
restart            a reboot of a live device (same as crash + immediate power-up)
session-loss       the management plane fails: every NETCONF session drops and new ones
                   are refused until ``clear`` (or ``duration``); the device keeps its
                   configuration and physics, so neighbours and services see nothing
drift-surge        an APC's fibre drifts ``factor`` times faster until cleared (its
                   polarisation-drift-rate shows it at once): the tracking error, then
                   the QBER of everything crossing the fibre, rises
apc-out-of-spec    an APC's polarisation actuator fails: ``offset`` rad of misalignment stays
                   uncorrected whatever tracking or a calibration (which no longer
                   converges) does, without the drift rate changing: the APC reports
                   out-of-spec at once and the QBER of everything crossing its fibre
                   rises; ``clear`` repairs the actuator (back within spec at once)
timing-skew        a q-ROADM's quantum channels drift ``skew`` ps from their timing
                   companions (beyond its 50 ps tolerance by default): coincidences fall
                   outside the detection window; ``clear`` recalibrates the delay
detector-failure   an end-node detector dies (``mode=dead``) or turns noisy (dark counts)
memory-degradation a repeater's or end node's memories keep coherence for 1/``factor``
                   (default 10) of their rated time until cleared: what is stored there
                   decoheres faster, and the node's T2 probe measures it
oob-edit           a configuration change made on the device, behind the controller's
                   back (RFC 6470 netconf-config-change, changed-by server)
stall              the device's management plane hangs: each NETCONF rpc named in
                   ``operations`` (all when absent; "confirming-commit" is a <commit>
                   with <persist-id>) is held ``seconds`` wall seconds, then runs — so a
                   client that timed out may still get its lock or commit applied
=================  =====================================================================

Control channel: newline-delimited JSON over a localhost TCP socket.  Chosen over a file
queue because the caller gets a synchronous answer (an unknown link is an error at the
command line, not a line in a log), there is no polling delay and no stale-file clean-up,
and it needs nothing but the standard library.  The socket binds to loopback only and every
request must carry the random token the launcher writes (mode 0600) into its inventory.
"""

from __future__ import annotations

import contextlib
import copy
import hmac
import json
import socket
import threading
from enum import StrEnum
from typing import Any, Literal, Protocol, TypeVar

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from controller.errors import NetconfError
from simulators.devices.apc import DEFAULT_ACTUATOR_OFFSET, DEFAULT_SURGE, MAX_ANGLE, Apc
from simulators.devices.base import DeviceModel
from simulators.devices.endnode import EndNode
from simulators.devices.qroadm import SKEW_TOLERANCE_PS, QRoadm
from simulators.devices.repeater import Repeater
from simulators.devices.runtime import SimDevice, Ticker
from simulators.devices.world import World


class FaultTarget(Protocol):
    """The emulated network as the fault injector sees it (simulators/launcher.py's
    Network implements it; the launcher imports this module, not the other way)."""

    devices: dict[str, SimDevice]
    world: World
    ticker: Ticker

    def wall(self, sim_seconds: float) -> float: ...

    def status(self) -> list[dict[str, Any]]: ...

log = structlog.get_logger(__name__)
#: a device model kind a fault applies to
M = TypeVar("M", bound=DeviceModel)

MAX_REQUEST = 1 << 20
#: the timing-skew fault's default offset: well past the q-ROADM's tolerance, so the
#: cross-connects' own wander (a fraction of a ps per √s) cannot bring it back within
DEFAULT_SKEW_FAULT_PS = 2 * SKEW_TOLERANCE_PS
#: the memory-degradation fault's default factor: a memory warmed up or unshielded holds
#: coherence an order of magnitude shorter
DEFAULT_MEMORY_DEGRADATION = 10.0


class FaultKind(StrEnum):
    FIBRE_CUT = "fibre-cut"
    CRASH = "crash"
    RESTART = "restart"
    SESSION_LOSS = "session-loss"
    DRIFT_SURGE = "drift-surge"
    APC_OUT_OF_SPEC = "apc-out-of-spec"
    DETECTOR_FAILURE = "detector-failure"
    MEMORY_DEGRADATION = "memory-degradation"
    TIMING_SKEW = "timing-skew"
    OOB_EDIT = "oob-edit"
    STALL = "stall"


class FaultRequest(BaseModel):
    """One fault to inject (or clear)."""

    model_config = ConfigDict(extra="forbid")

    kind: FaultKind
    target: str = Field(description="link-id (fibre-cut) or node-id (every other fault)")
    clear: bool = False
    duration: float | None = Field(default=None, gt=0,
                                   description="simulated seconds until automatic clear")
    factor: float | None = Field(
        default=None, gt=0, description="drift-surge factor (default DEFAULT_SURGE) or "
        "memory-degradation factor (default DEFAULT_MEMORY_DEGRADATION)")
    offset: float = Field(default=DEFAULT_ACTUATOR_OFFSET, gt=0, le=MAX_ANGLE,
                          description="apc-out-of-spec: rad of misalignment the failed "
                                      "actuator leaves uncorrected")
    skew: float = Field(default=DEFAULT_SKEW_FAULT_PS,
                        description="timing-skew: ps added to each timed cross-connect")
    detector: str | None = None
    mode: Literal["dead", "noisy"] = "dead"
    data: dict[str, Any] | None = Field(default=None,
                                        description="RFC 7951 edit for oob-edit")
    seconds: float = Field(default=5.0, gt=0,
                           description="stall: wall seconds each matching rpc is held")
    operations: list[str] | None = Field(
        default=None, description="stall: the rpcs held (simulators.devices.runtime."
        "STALLABLE names); every rpc when absent")


class FaultError(ValueError):
    """A fault request that cannot apply (unknown target, wrong device kind, ...)."""


class FaultInjector:
    """Applies `FaultRequest`s to the emulated network; remembers what is active."""

    def __init__(self, network: FaultTarget) -> None:
        self.network = network
        self.active: dict[tuple[str, str], FaultRequest] = {}
        self._timers: list[threading.Timer] = []
        self._lock = threading.Lock()

    def apply(self, request: FaultRequest) -> str:
        handler = {
            FaultKind.FIBRE_CUT: self._fibre_cut,
            FaultKind.CRASH: self._crash,
            FaultKind.RESTART: self._restart,
            FaultKind.SESSION_LOSS: self._session_loss,
            FaultKind.DRIFT_SURGE: self._drift_surge,
            FaultKind.APC_OUT_OF_SPEC: self._actuator,
            FaultKind.DETECTOR_FAILURE: self._detector,
            FaultKind.MEMORY_DEGRADATION: self._memory_degradation,
            FaultKind.TIMING_SKEW: self._timing_skew,
            FaultKind.OOB_EDIT: self._oob_edit,
            FaultKind.STALL: self._stall,
        }[request.kind]
        with self._lock:
            message = handler(request)
            key = (request.kind.value, request.target)
            if request.clear:
                self.active.pop(key, None)
            elif request.kind not in (FaultKind.RESTART, FaultKind.OOB_EDIT):
                self.active[key] = request
        log.info("fault", kind=request.kind.value, target=request.target, clear=request.clear,
                 result=message)
        if request.duration is not None and not request.clear:
            self._schedule_clear(request)
        self.network.ticker.tick_once()  # show it now, not at the next period
        return message

    def _schedule_clear(self, request: FaultRequest) -> None:
        clear = request.model_copy(update={"clear": True, "duration": None})
        timer = threading.Timer(self.network.wall(request.duration or 0.0), self.apply,
                                args=(clear,))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def cancel_timers(self) -> None:
        for timer in self._timers:
            timer.cancel()

    # -- targets -------------------------------------------------------------------------

    def _device(self, node_id: str) -> SimDevice:
        device = self.network.devices.get(node_id)
        if device is None:
            raise FaultError(f"no emulated device {node_id!r}")
        return device

    def _model(self, node_id: str, kind: type[M], what: str) -> tuple[SimDevice, M]:
        """The device and its model, which must be a `kind` (else the fault cannot apply:
        "`node_id` is not `what`")."""
        device = self._device(node_id)
        if not isinstance(device.model, kind):
            raise FaultError(f"{node_id} is not {what}")
        return device, device.model

    # -- faults --------------------------------------------------------------------------

    def _fibre_cut(self, req: FaultRequest) -> str:
        try:
            self.network.world.set_cut(req.target, not req.clear)
        except KeyError as exc:
            raise FaultError(f"no fibre {req.target!r}") from exc
        return f"fibre {req.target} {'repaired' if req.clear else 'cut'}"

    def _crash(self, req: FaultRequest) -> str:
        device = self._device(req.target)
        if req.clear:
            if device.crashed:
                device.restart()
            return f"{req.target} powered up on port {device.port}"
        device.crash()
        return f"{req.target} crashed"

    def _restart(self, req: FaultRequest) -> str:
        device = self._device(req.target)
        device.restart()
        return f"{req.target} restarted on port {device.port}"

    def _session_loss(self, req: FaultRequest) -> str:
        device = self._device(req.target)
        if req.clear:
            device.restore_sessions()
            return f"{req.target} accepts sessions again on port {device.port}"
        device.lose_sessions()
        return f"{req.target} management sessions lost (data plane running)"

    def _drift_surge(self, req: FaultRequest) -> str:
        device, model = self._model(req.target, Apc, "an APC")
        with device.lock:
            model.surge = 1.0 if req.clear else req.factor or DEFAULT_SURGE
        return f"{req.target} drift x{model.surge:g}"

    def _actuator(self, req: FaultRequest) -> str:
        device, model = self._model(req.target, Apc, "an APC")
        with device.lock:
            model.actuator_offset = 0.0 if req.clear else req.offset
        return (f"{req.target} actuator repaired" if req.clear
                else f"{req.target} actuator stuck {req.offset:g} rad off")

    def _detector(self, req: FaultRequest) -> str:
        device, model = self._model(req.target, EndNode, "an end node")
        detector = req.detector or "d1"
        with device.lock:
            if req.clear:
                model.repair_detector(detector)
            else:
                model.fail_detector(detector, req.mode)
        return f"{req.target} detector {detector} {'repaired' if req.clear else req.mode}"

    def _memory_degradation(self, req: FaultRequest) -> str:
        device = self._device(req.target)
        if not isinstance(device.model, Repeater | EndNode) \
                or device.model.node.coherence_time is None:
            raise FaultError(f"{req.target} has no quantum memory")
        factor = 1.0 if req.clear else req.factor or DEFAULT_MEMORY_DEGRADATION
        with device.lock:
            self.network.world.set_memory_degradation(req.target, factor)
        return f"{req.target} memory coherence time /{factor:g}"

    def _timing_skew(self, req: FaultRequest) -> str:
        device, model = self._model(req.target, QRoadm, "a q-ROADM")
        with device.lock:
            model.skew_offset = 0.0 if req.clear else req.skew
        return f"{req.target} timing skew offset {model.skew_offset:g} ps"

    def _oob_edit(self, req: FaultRequest) -> str:
        device = self._device(req.target)
        data = req.data or default_oob_edit(device)
        try:
            device.edit_out_of_band(data)
        except NetconfError as exc:
            raise FaultError(f"edit rejected by {req.target}: {exc}") from exc
        return f"{req.target} running changed out of band"


    def _stall(self, req: FaultRequest) -> str:
        device = self._device(req.target)
        if req.clear:
            device.unstall()
            return f"{req.target} answers again"
        try:
            device.stall(req.seconds, req.operations)
        except ValueError as exc:
            raise FaultError(str(exc)) from exc
        held = ", ".join(req.operations) if req.operations is not None else "every rpc"
        return f"{req.target} stalls {req.seconds:g} s on {held}"


def default_oob_edit(device: SimDevice) -> dict[str, Any]:
    """A harmless but visible local change (the kind's ``DeviceModel.craft_edit``)."""
    return {device.model.qname: copy.deepcopy(device.model.craft_edit)}


# ---------------------------------------------------------------------------------------
# control channel


class ControlServer:
    """Newline-delimited JSON requests on a loopback TCP socket (see module docstring)."""

    def __init__(self, injector: FaultInjector, token: str, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.injector = injector
        self.token = token
        self._sock = socket.create_server((host, port))
        self.host, self.port = host, int(self._sock.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, daemon=True, name="sim-control")
        self._stopping = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as stream:
            conn.settimeout(30)
            try:
                reply = self.answer(stream.readline(MAX_REQUEST))
            except OSError:
                return
            stream.write(json.dumps(reply).encode() + b"\n")
            stream.flush()

    def answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
        except ValueError:
            return {"ok": False, "error": "request is not JSON"}
        if not isinstance(request, dict) or not hmac.compare_digest(
                str(request.get("token", "")), self.token):
            return {"ok": False, "error": "bad token"}
        op = request.get("op")
        if op == "status":
            return {"ok": True, "result": self.injector.network.status()}
        if op != "fault":
            return {"ok": False, "error": f"unknown op {op!r}"}
        try:
            message = self.injector.apply(FaultRequest.model_validate(request.get("fault")))
        except (ValidationError, FaultError) as exc:
            return {"ok": False, "error": str(exc)}
        return {"ok": True, "result": message}


def send(host: str, port: int, token: str, payload: dict[str, Any], timeout: float = 30.0
         ) -> dict[str, Any]:
    """One request to a running launcher's control channel; returns its JSON answer."""
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.sendall(json.dumps({"token": token, **payload}).encode() + b"\n")
        with conn.makefile("rb") as stream:
            line = stream.readline(MAX_REQUEST)
    if not line:
        raise ConnectionError("the launcher closed the control channel without answering")
    answer: dict[str, Any] = json.loads(line)
    return answer
