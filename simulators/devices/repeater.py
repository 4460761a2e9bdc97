"""Emulated quantum repeater (module sdqn-repeater): a device that only swaps.

Link generation and the swap flows are :mod:`simulators.devices.swapping` (shared with the
end node that relays); this module adds the repeater's memory probe, its stored-pairs
list and its health.
"""

from __future__ import annotations

from typing import ClassVar

from simulators.devices.base import (
    DEGRADED,
    UP,
    Health,
    Json,
    Notification,
    prob,
)
from simulators.devices.memory import CoherenceProbe
from simulators.devices.swapping import (
    FlowRun,
    LinkRun,
    Side,
    Swapping,
    effective_fidelity,
    slots_needed,
)

__all__ = ["FlowRun", "LinkRun", "Repeater", "Side", "effective_fidelity", "slots_needed"]


class Repeater(Swapping):
    kind: ClassVar[str] = "repeater"
    supervises_fibres: ClassVar[bool] = True
    craft_edit: ClassVar[Json] = {"swap-success-probability": "0.45"}
    settle_time: ClassVar[float] = 2.0

    def reset(self, now: float) -> None:
        self.probe = CoherenceProbe(self.rng.spawn(1)[0])
        self.reset_swapping()

    def factory_body(self) -> Json:
        return {"memory": self.memory_facts(), "bsm-fidelity": str(self.node.bsm_fidelity),
                "swap-success-probability": str(self.node.swap_success_probability)}

    def on_config(self, old: Json, now: float) -> list[Notification]:
        self._perf_cache.clear()
        return []

    def step(self, now: float, dt: float) -> list[Notification]:
        if not self.configured:
            return []
        self.probe.step(now, self.world.coherence_time(self.node_id), self.rated_coherence())
        return self.step_swapping(dt)

    def health(self, now: float) -> Health:
        problems = self.swap_problems()
        if problems:
            return Health(DEGRADED, False, "; ".join(problems))
        return Health(UP, True, "all links generating")

    def state_body(self, now: float) -> Json:
        registers = int((self.config.get("memory") or {}).get("register-count", 0))
        in_use = len(self.pairs)
        return {
            "memory": {"occupancy": {"registers-in-use": in_use,
                                     "utilisation": prob(in_use / registers if registers
                                                         else 0.0)},
                       **self.probe.leaves(self.clock.iso)},
            **self.swap_state(),
            "stored-pairs": {"pair": self.pairs},
        }
