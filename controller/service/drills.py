"""Operator training drills: a hidden fault on the emulated network, localised and scored.

A drill asks the emulator (through a `FaultChannel` the application layer provides: the
emulator's control socket or, in the demo, its in-process injector) to inject one fault
of the drill matrix on a random target, and tells the operator only the drill id. The
operator names the resource they believe is faulted; the answer is scored at once
(correctness and time-to-localise, rules in yang/sdqn-drills.yang) and the fault stays
until end-drill clears and reveals it. The service keeps a bounded history in
<operational> (/sdqn-drills:drills, config false), so every northbound reads it the same
way. Errors are RFC 6241 Appendix A rpc-errors: no channel is operation-not-supported,
a second drill while one is active in-use, an unknown or finished drill invalid-value.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from controller.datastore.nmda import NmdaStore
from controller.errors import ErrorTag, ErrorType, NetconfError, RpcError

log = structlog.get_logger(__name__)

MODULE = "sdqn-drills"
DRILLS = f"/{MODULE}:drills"
#: the fault matrix a drill draws from (the emulator's fault kinds an operator can localise
#: from the controller's view; session-loss, stall and oob-edit are management-plane tests)
DRILL_KINDS = ("fibre-cut", "crash", "drift-surge", "apc-out-of-spec", "detector-failure",
               "memory-degradation", "timing-skew")
#: drills kept in /drills/drill (the active one included)
DEFAULT_HISTORY = 20
#: credit for naming a resource next to the fault (see the module's scoring rules)
ADJACENT_CREDIT = 0.5
#: full marks up to this many seconds, then linearly down to FLOOR at SLOW_S
GRACE_S, SLOW_S, FLOOR = 60.0, 600.0, 0.25


class FaultChannelError(Exception):
    """The emulator refused or did not answer a fault request (its reason)."""


class FaultChannel(Protocol):
    """The emulated network as a drill needs it."""

    def targets(self) -> Mapping[str, Sequence[str]]:
        """Drill kind -> the link-ids or node-ids it can be injected on."""
        ...

    def adjacent(self, resource: str) -> set[str]:
        """The plant resources next to `resource` (a fibre's ends and compensator; a
        device's fibres)."""
        ...

    def inject(self, kind: str, target: str, *, clear: bool = False) -> str:
        """Inject (or clear) one fault; raises FaultChannelError with the reason."""
        ...


@dataclass
class Score:
    correct: bool
    credit: float
    seconds: float
    score: int

    def to_json(self) -> dict[str, Any]:
        return {"correct": self.correct, "credit": f"{self.credit:.2f}",
                "time-to-localise": f"{self.seconds:.3f}", "score": self.score}


@dataclass
class Drill:
    drill_id: str
    kind: str
    target: str
    started: str
    started_mono: float
    ended: str | None = None
    answer: str | None = None
    result: Score | None = None

    def to_json(self) -> dict[str, Any]:
        """The /drills/drill entry: the fault only once the drill has ended."""
        out: dict[str, Any] = {"id": self.drill_id,
                               "state": "active" if self.ended is None else "ended",
                               "started": self.started}
        if self.ended is not None:
            out["ended"] = self.ended
            out["fault"] = self.fault_json()
        if self.answer is not None:
            out["answered-resource"] = self.answer
        if self.result is not None:
            out.update(self.result.to_json())
        return out

    def fault_json(self) -> dict[str, str]:
        return {"kind": self.kind, "target": self.target}


def resource_id(resource: str) -> str:
    """The id an answer names: a plain node-id/link-id, or the value of the last key of
    an instance-identifier (RFC 7950 §9.13: .../node[node-id='r1'] names r1)."""
    text = resource.strip()
    if "[" not in text:
        return text.rsplit("/", 1)[-1].split(":")[-1] if text.startswith("/") else text
    last = text.rsplit("[", 1)[-1].rstrip("]")
    return last.split("=", 1)[-1].strip().strip("'\"") if "=" in last else text


def time_factor(seconds: float) -> float:
    if seconds <= GRACE_S:
        return 1.0
    return max(FLOOR, 1.0 - (1.0 - FLOOR) * (seconds - GRACE_S) / (SLOW_S - GRACE_S))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _error(tag: ErrorTag, message: str, element: str | None = None) -> RpcError:
    return RpcError(tag=tag, type=ErrorType.APPLICATION, message=message,
                    info=(("bad-element", element),) if element else ())


def _failed(tag: ErrorTag, message: str, element: str | None = None) -> NetconfError:
    return NetconfError(_error(tag, message, element))


class UnknownDrill(NetconfError):
    """No drill has this id (never started, or gone from the bounded history). NETCONF and
    RESTCONF answer it as the module says (invalid-value); a subclass so that gRPC, whose
    status codes tell a missing thing apart, can answer NOT_FOUND."""


class DrillService:
    """One drill at a time; `history` most recent drills in <operational>."""

    def __init__(self, store: NmdaStore, channel: FaultChannel | None, *,
                 seed: int | None = None, history: int = DEFAULT_HISTORY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.channel = channel
        self.random = random.Random(seed)
        self.clock = clock
        self.drills: deque[Drill] = deque(maxlen=history)
        self._lock = threading.Lock()

    # -- rpcs ------------------------------------------------------------------------------

    def start(self, kind: str | None = None) -> Drill:
        channel = self._channel()
        with self._lock:
            if self._active() is not None:
                raise _failed(ErrorTag.IN_USE, "a drill is already active: end it first")
            targets = channel.targets()
            if kind is not None and kind not in DRILL_KINDS:
                raise _failed(ErrorTag.INVALID_VALUE, f"no drill fault {kind!r}", "fault-kind")
            kinds = [kind] if kind is not None else [k for k in DRILL_KINDS if targets.get(k)]
            candidates = [(k, t) for k in kinds for t in targets.get(k, ())]
            if not candidates:
                raise _failed(ErrorTag.INVALID_VALUE, f"the emulated network has no target "
                              f"for {kind or 'any drill fault'}", "fault-kind")
            self.random.shuffle(candidates)
            reasons = []
            for fault, target in candidates:  # a target may refuse (no memory, say)
                try:
                    channel.inject(fault, target)
                except FaultChannelError as exc:
                    reasons.append(str(exc))
                    continue
                drill = Drill(uuid.UUID(int=self.random.getrandbits(128)).hex[:12], fault,
                              target, _now(), self.clock())
                self.drills.append(drill)
                log.info("drill started", drill=drill.drill_id)  # the fault stays hidden
                self._publish()
                return drill
            raise _failed(ErrorTag.OPERATION_FAILED,
                          f"the emulator refused every target: {'; '.join(reasons)[:300]}")

    def submit(self, drill_id: str, resource: str) -> Score:
        self._channel()
        with self._lock:
            drill = self._running(drill_id)
            if drill.answer is not None:
                raise _failed(ErrorTag.OPERATION_FAILED,
                              f"drill {drill_id} was already answered", "resource")
            if not resource.strip():
                raise _failed(ErrorTag.INVALID_VALUE, "resource is empty", "resource")
            seconds = max(0.0, self.clock() - drill.started_mono)
            named = resource_id(resource)
            correct = named == drill.target
            credit = 1.0 if correct else (
                ADJACENT_CREDIT if named in self._adjacent(drill.target) else 0.0)
            drill.answer = resource
            drill.result = Score(correct, credit, seconds,
                                 round(100 * credit * time_factor(seconds)))
            log.info("drill answered", drill=drill_id, correct=correct, seconds=seconds)
            self._publish()
            return drill.result

    def end(self, drill_id: str) -> Drill:
        channel = self._channel()
        with self._lock:
            drill = self._running(drill_id)
            try:
                channel.inject(drill.kind, drill.target, clear=True)
            except FaultChannelError as exc:
                raise _failed(ErrorTag.OPERATION_FAILED,
                              f"the emulator did not clear the fault: {exc}") from exc
            drill.ended = _now()
            log.info("drill ended", drill=drill_id, kind=drill.kind, target=drill.target)
            self._publish()
            return drill

    def close(self) -> None:
        """Clear an active drill's fault (the controller stops; the emulator may not)."""
        with self._lock:
            drill = self._active()
        if drill is not None and self.channel is not None:
            try:
                self.end(drill.drill_id)
            except NetconfError as exc:
                log.warning("drill fault not cleared", drill=drill.drill_id, error=str(exc))

    # -- internals -------------------------------------------------------------------------

    def _channel(self) -> FaultChannel:
        if self.channel is None:
            raise _failed(ErrorTag.OPERATION_NOT_SUPPORTED,
                          "drills need the emulated network: this controller has no "
                          "fault-injection channel to an emulator")
        return self.channel

    def _active(self) -> Drill | None:
        return next((d for d in self.drills if d.ended is None), None)

    def _running(self, drill_id: str) -> Drill:
        drill = next((d for d in self.drills if d.drill_id == drill_id), None)
        if drill is None:
            raise UnknownDrill(_error(ErrorTag.INVALID_VALUE, f"no drill {drill_id!r}",
                                      "drill-id"))
        if drill.ended is not None:
            raise _failed(ErrorTag.INVALID_VALUE, f"drill {drill_id} has ended", "drill-id")
        return drill

    def _adjacent(self, target: str) -> set[str]:
        assert self.channel is not None
        return self.channel.adjacent(target)

    def _publish(self) -> None:
        self.store.replace_state(DRILLS, json.dumps(
            {f"{MODULE}:drills": {"drill": [d.to_json() for d in self.drills]}}))
