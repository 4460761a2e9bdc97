"""What every emulated device model shares: status, settling, notifications, formatting.

A model is pure physics and bookkeeping, independent of NETCONF: it is told its running
configuration (`apply_config`), advanced in simulated time (`tick`) and asked for its
`config false` state as RFC 7951 JSON (`state`).  The runtime (`simulators.devices.runtime`)
connects it to a datastore and a NETCONF server.  Keeping the two apart lets the physics
be tested deterministically with a manual clock.
"""

from __future__ import annotations

import math
import zlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from simulators.clock import Clock
from simulators.devices.ports import FibrePorts
from simulators.devices.world import PhysNode, World
from southbound.kinds import DeviceKindSpec, kind_spec

UP = "sdqn-types:up"
DOWN = "sdqn-types:down"
DEGRADED = "sdqn-types:degraded"
TESTING = "sdqn-types:testing"
UNKNOWN = "sdqn-types:unknown"

#: QBER at which the BB84 secret fraction vanishes (qnum/README.md, "QKD"; Shor–Preskill) and
#: Werner fidelity with that QBER, F = 1 − 3e/2.  Devices alarm below it.
QBER_ALARM = 0.11
FIDELITY_ALARM = 1.0 - 1.5 * QBER_ALARM

Json = dict[str, Any]


@dataclass(frozen=True)
class Notification:
    """One YANG notification of the device's module, content in RFC 7951 form."""

    module: str
    name: str
    content: Json

    def rfc7951(self) -> Json:
        return {f"{self.module}:{self.name}": self.content}


@dataclass(frozen=True)
class Health:
    """What a model says about itself each tick; the base class turns it into status."""

    oper: str
    stable: bool
    reason: str


def clamp(x: float, low: float = 0.0, high: float = 1.0) -> float:
    return low if math.isnan(x) else min(high, max(low, x))


def dec(x: float, digits: int) -> str:
    """A decimal64 JSON value with exactly ``digits`` fraction digits (RFC 7951 §6.1)."""
    return f"{x:.{digits}f}"


def prob(x: float) -> str:
    """fidelity / probability (decimal64, 6 digits, 0..1)."""
    return dec(clamp(x), 6)


def freq(x: float) -> str:
    """frequency (decimal64, 3 digits, ≥ 0)."""
    return dec(max(0.0, x), 3)


def rate(x: float) -> str:
    """rate in pairs/s (decimal64, 6 digits, ≥ 0)."""
    return dec(max(0.0, x), 6)


def seconds(x: float) -> str:
    """duration-seconds (decimal64, 9 digits, ≥ 0)."""
    return dec(max(0.0, x), 9)


def counter(n: int) -> str:
    """yang:counter64 (a JSON string, RFC 7951 §6.1)."""
    return str(int(n))


def device_seed(seed: int, node_id: str) -> np.random.Generator:
    """A per-device random stream: reproducible for a seed, independent across devices."""
    return np.random.default_rng([seed, zlib.crc32(node_id.encode())])


#: The emulator of each device kind (a row of ``southbound.kinds``): every model class that
#: sets ``kind`` registers itself here when its module is imported.
MODELS: dict[str, type[DeviceModel]] = {}


class DeviceModel(ABC):
    """Base of the emulated device kinds.

    A subclass names its ``kind``; the kind's row in ``southbound.kinds`` gives it its YANG
    module and top container, and the subclass registers as that kind's emulator.
    """

    kind: ClassVar[str]
    spec: ClassVar[DeviceKindSpec]
    module: ClassVar[str]
    top: ClassVar[str]
    #: Simulated seconds a configuration change needs before the device may report stable.
    settle_time: ClassVar[float] = 0.0
    #: A harmless but visible local change (what a technician at the craft terminal might
    #: do): the body under the top container that `sdqn sim fault oob-edit` merges.
    craft_edit: ClassVar[Json] = {}
    #: Whether the kind terminates fibres and reports their signal (``fibre-ports``).
    supervises_fibres: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("kind")
        if kind is None:
            return  # a shared base, not a kind's emulator
        spec = kind_spec(kind)
        if spec is None:
            raise TypeError(f"{cls.__name__}: {kind!r} is not a device kind of southbound.kinds")
        if kind in MODELS:
            raise TypeError(f"{cls.__name__}: {MODELS[kind].__name__} emulates {kind!r} already")
        cls.spec, cls.module, cls.top = spec, spec.module, spec.top
        MODELS[kind] = cls

    def __init__(self, node: PhysNode, world: World, clock: Clock, *, seed: int = 0) -> None:
        self.node = node
        self.world = world
        self.clock = clock
        self.rng = device_seed(seed, node.node_id)
        self.config: Json = {}
        self._last: float | None = clock.now()
        self._changed_at = clock.now()
        self._status: tuple[str, bool] | None = None
        self._status_since = clock.now()
        self._pending_reason: str | None = None
        self.ports = FibrePorts(node.node_id, world, clock)
        #: when the device last booted (status/boot-datetime): a manager tells a reboot by it
        self.booted_at = clock.now()
        self.hardware()
        self.reset(clock.now())

    def hardware(self) -> None:  # noqa: B027 - optional hook, most kinds need nothing
        """Set up hardware conditions that survive restarts (failures, fibre character)."""

    @property
    def node_id(self) -> str:
        return self.node.node_id

    @property
    def qname(self) -> str:
        return f"{self.module}:{self.top}"

    # -- configuration -------------------------------------------------------------------

    def factory_config(self) -> Json:
        """Running configuration the device ships with: its identity and hardware facts."""
        return {self.qname: {"node-id": self.node_id, **self.factory_body()}}

    def factory_body(self) -> Json:
        return {}

    def memory_facts(self) -> Json:
        """The ``memory`` container describing the node's registers (from the topology)."""
        memory: Json = {"register-count": self.node.memory_qubits,
                        "efficiency": str(self.node.memory_efficiency)}
        if self.node.coherence_time is not None:
            memory["coherence-time"] = str(self.node.coherence_time)
        return memory

    def rated_coherence(self) -> float | None:
        """The memories' T2 as configured (the plan's assumption), else as rated in the
        topology: where the device's coherence probe first looks."""
        t2 = (self.config.get("memory") or {}).get("coherence-time")
        return self.node.coherence_time if t2 is None else float(t2)

    def apply_config(self, data: Json, now: float) -> list[Notification]:
        """Take a new running configuration (RFC 7951, defaults included) into effect."""
        old, self.config = self.config, dict(data.get(self.qname) or {})
        self._changed_at = now
        return self.on_config(old, now)

    def on_config(self, old: Json, now: float) -> list[Notification]:
        return []

    def action(self, name: str, inputs: Mapping[str, str], now: float) -> Json | None:
        """Run the YANG action `name` of the top container (RFC 7950 §7.15) with its input
        leaves (lexical values); its output leaves (RFC 7951), or None when the kind has
        no such action (most have none)."""
        return None

    @property
    def configured(self) -> bool:
        return bool(self.config)

    # -- time ----------------------------------------------------------------------------

    def tick(self, now: float) -> list[Notification]:
        """Advance the physics to ``now`` and report what changed."""
        dt = 0.0 if self._last is None else max(0.0, now - self._last)
        self._last = now
        notes = self.step(now, dt)
        notes.extend(self._refresh_status(now))
        return notes

    def tick_down(self, now: float) -> None:
        """Time passing while the device is crashed (no state is served)."""
        self._last = now

    def restart(self, now: float) -> list[Notification]:
        """Power-cycle: physics starts over. The configuration it then runs is the
        runtime's business (what the boot loads, simulators.devices.runtime)."""
        self.booted_at = now
        self.reset(now)
        self._last = now
        self._changed_at = now
        self._status = None
        self._pending_reason = "restarted"
        return self.on_config(self.config, now) if self.configured else []

    @abstractmethod
    def reset(self, now: float) -> None:
        """Forget all physical state (counters, stored pairs, warm-up)."""

    @abstractmethod
    def step(self, now: float, dt: float) -> list[Notification]:
        """Advance the physics by ``dt`` simulated seconds ending at ``now``."""

    @abstractmethod
    def health(self, now: float) -> Health:
        """Current oper-status, whether the physics is settled, and why."""

    @abstractmethod
    def state_body(self, now: float) -> Json:
        """The ``config false`` content under the top container (status excluded)."""

    # -- status --------------------------------------------------------------------------

    def settled(self, now: float) -> bool:
        return now - self._changed_at >= self.settle_time

    def _current(self, now: float) -> Health:
        if not self.configured:
            return Health(DOWN, False, "not configured")
        health = self.health(now)
        if health.stable and not self.settled(now):
            return Health(health.oper, False, "settling after configuration change")
        return health

    def _refresh_status(self, now: float) -> list[Notification]:
        health = self._current(now)
        key = (health.oper, health.stable)
        if key == self._status:
            return []
        self._status = key
        self._status_since = now
        reason = health.reason
        if self._pending_reason is not None:
            reason, self._pending_reason = f"{self._pending_reason}; {reason}", None
        return [Notification(self.module, "status-change", {
            "oper-status": health.oper, "stable": health.stable, "reason": reason})]

    def current_status(self) -> tuple[str, bool]:
        """(oper-status identity, stable) as of the last tick."""
        return self._status or (UNKNOWN, False)

    def state(self, now: float) -> Json:
        """All ``config false`` data of the device, RFC 7951, for ``merge_state``."""
        body = self.state_body(now) if self.configured else {}
        if self.supervises_fibres:      # hardware: works unconfigured
            body["fibre-ports"] = self.ports.state(now)
        oper, stable = self.current_status()
        body["status"] = {"oper-status": oper, "stable": stable,
                          "last-change": self.clock.iso(self._status_since),
                          "boot-datetime": self.clock.iso(self.booted_at)}
        return {self.qname: body}

    def alarm(self, notification: str, raised: bool, severity: str, text: str, /,
              **extra: Any) -> Notification:
        """An alarm notification (sdqn-device-common alarm-content): raised or cleared."""
        content: Json = {"severity": severity if raised else "cleared", "text": text}
        content.update({k.replace("_", "-"): v for k, v in extra.items() if v is not None})
        return Notification(self.module, notification, content)


class AlarmLatch:
    """Raise/clear edge detection so an alarm is notified once per transition."""

    def __init__(self) -> None:
        self.active: set[str] = set()

    def update(self, key: str, condition: bool) -> bool | None:
        """True when the alarm just rose, False when it just cleared, None otherwise."""
        if condition and key not in self.active:
            self.active.add(key)
            return True
        if not condition and key in self.active:
            self.active.discard(key)
            return False
        return None

    def forget(self, keep: set[str]) -> None:
        self.active &= keep
