"""Register allocation of an emulated memory node under slice partitions.

A device with ``slice-partition`` entries (sdqn-repeater, sdqn-end-node) keeps each
dedicated slice's registers to the slice: a pair half of a flow placed in a partition
(its ``slice`` leaf) is stored only in that partition's registers, a flow in no partition
only in the registers no partition lists.  When its pool is full the half is not stored
(the flow waits, as a real node whose register is taken would), even while another
slice's registers are free: isolation holds under any load.  Registers are taken
lowest-index first, so the state is reproducible.  A device without partitions numbers
the halves in order, as before partitions existed (its flows' memory-slots, bounded by
register-count in the model, bound them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]


@dataclass
class Allocation:
    """The stored pairs with their registers, and per flow the halves no register took."""

    pairs: list[Json] = field(default_factory=list)
    refused: dict[str, int] = field(default_factory=dict)


def pools(config: Mapping[str, Any]) -> dict[str | None, list[int]]:
    """Slice → its registers (None: the unpartitioned pool), from the device config."""
    count = int((config.get("memory") or {}).get("register-count", 0))
    owned: dict[str | None, list[int]] = {
        str(p["slice"]): sorted(int(r) for r in p.get("register", []) if int(r) < count)
        for p in config.get("slice-partition") or []}
    taken = {r for regs in owned.values() for r in regs}
    owned[None] = [r for r in range(count) if r not in taken]
    return owned


def allocate(config: Mapping[str, Any], flows: Sequence[Mapping[str, Any]],
             halves: Sequence[Json]) -> Allocation:
    """Give each pair half (its ``flow-id`` names the flow) a register from its flow's
    pool, in order; ``flows``: the configured flows (their ``slice`` leaf)."""
    if not config.get("slice-partition"):   # unpartitioned: the flows' slots bound them
        return Allocation([{"register": i, **h} for i, h in enumerate(halves)])
    slice_of = {str(f["flow-id"]): f.get("slice") for f in flows}
    free = {k: list(v) for k, v in pools(config).items()}
    out = Allocation()
    for half in halves:
        flow = str(half["flow-id"])
        sl = slice_of.get(flow)
        pool = free.get(None if sl is None else str(sl), [])
        if not pool:
            out.refused[flow] = out.refused.get(flow, 0) + 1
            continue
        register = pool.pop(0)
        out.pairs.append({"register": register, **half,
                          **({"slice": str(sl)} if sl is not None else {})})
    out.pairs.sort(key=lambda p: int(p["register"]))
    return out
