"""Slice partitions: the device resources each dedicated network slice owns.

A dedicated slice (sdqn-slices ``isolation dedicated``, RFC 9543 §5.2 isolation) reserves
memory qubits per node and a time share per link.  The optimiser keeps them apart in the
plan (qnum.slicing: a slice's members use its reservation plus the common pool, and what
they take counts as max(use, reservation)); the devices must keep them apart too, so no
flow of another slice can store a pair half in a register the slice owns, however loaded
the device is.  This module turns the plan and the slicing into the ``slice-partition``
entries of the repeater and end-node models:

* one partition per dedicated slice and memory device on which the slice reserves memory
  or the time share of an attached fibre; a shared slice gets none;
* its registers: max(reserved, members' slots on the device) — the optimiser's
  max(M_k, R_k) — for a slice that does not lend; a borrowing slice lends what its members
  leave idle, so it keeps max(members' slots, as much of the reservation as the other
  users of the device leave free);
* registers are concrete indices, packed from register 0 in slice-name order (so the same
  plan always gives the same indices); the registers after them are the unpartitioned
  pool every other flow uses;
* its fibre shares: per reserved fibre attached to the device, max(reserved share, the
  members' share of it), rounded up to the model's six digits (an endpoint's time-share
  is rounded up alike, sdqn-end-node's ``must`` compares them).

A plan whose partitions and unpartitioned flows do not fit the device's registers, or
whose partitions own more than a fibre's whole time, would put a member outside its
partition: :class:`PartitionError` names the slice and the device.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal

from qnum.io import DeviceKind, Network
from qnum.plan import Plan
from qnum.slices import Isolation, Slice, Slicing

#: Device kinds whose model has slice partitions (memory nodes).
PARTITIONED_KINDS = frozenset({DeviceKind.REPEATER.value, DeviceKind.END_NODE.value})
MEMORY_REGISTERS, LINK_TIME_SHARE = "memory-registers", "link-time-share"
SHARE_QUANTUM = Decimal("0.000001")     # the time-share leaves' fraction-digits 6


class PartitionError(ValueError):
    """The plan cannot keep a dedicated slice's members inside its partition."""


@dataclass(frozen=True)
class Partition:
    """What one slice owns on one device."""

    slice: str
    registers: tuple[int, ...] = ()
    shares: Mapping[str, Decimal] = field(default_factory=dict)   # fibre → time share

    def json(self) -> dict[str, object]:
        """The sdqn-repeater / sdqn-end-node ``slice-partition`` entry (RFC 7951)."""
        out: dict[str, object] = {"slice": self.slice}
        if self.registers:
            out["register"] = list(self.registers)
        if self.shares:
            out["link-share"] = [{"link-id": lk, "time-share": _text(s)}
                                 for lk, s in sorted(self.shares.items())]
        return out


@dataclass(frozen=True)
class OwnedResource:
    """One device resource a slice owns (the slice state's ``owned-resource`` entry)."""

    device: str
    kind: str                        # MEMORY_REGISTERS or LINK_TIME_SHARE
    amount: Decimal                  # registers, or the time share
    registers: tuple[int, ...] = ()  # MEMORY_REGISTERS: their indices
    link: str | None = None          # LINK_TIME_SHARE: the fibre


def _text(share: Decimal) -> str:
    text = f"{share:f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _up(value: float) -> Decimal:
    return min(Decimal(1), Decimal(repr(value)).quantize(SHARE_QUANTUM, ROUND_CEILING))


def _dedicated(slicing: Slicing | None) -> list[Slice]:
    if slicing is None:
        return []
    return sorted((s for s in slicing.slices if s.isolation is Isolation.DEDICATED),
                  key=lambda s: s.name)


def partitions(network: Network, plan: Plan, slicing: Slicing | None,
               kinds: Mapping[str, str]) -> dict[str, list[Partition]]:
    """Device → its slice partitions, sorted by slice name (module docstring)."""
    slices = _dedicated(slicing)
    if not slices:
        return {}
    owner = {r: s.name for s in slices for r in s.requests}
    slots: dict[str, dict[str | None, int]] = {}         # device → slice (None: pool) → slots
    share: dict[tuple[str, str], float] = {}              # (slice, fibre) → members' share
    for a in plan.admitted:
        cand = a.candidate
        if cand is None:
            continue
        sl = owner.get(a.request.name)
        for node, used in cand.memory.items():
            per = slots.setdefault(node, {})
            per[sl] = per.get(sl, 0) + int(used)
        if sl is not None:
            for lk in cand.links:      # the share of every fibre the route uses
                share[(sl, lk)] = share.get((sl, lk), 0.0) + a.share
    out: dict[str, list[Partition]] = {}
    for device in sorted(kinds):
        if kinds[device] not in PARTITIONED_KINDS or device not in network.nodes:
            continue
        fibres = {lk.link_id for lk in network.links.values() if device in (lk.a, lk.b)}
        here = [s for s in slices if s.reserved_memory.get(device)
                or any(lk in fibres for lk in s.reserved_share)]
        if here:
            out[device] = _device(network, device, here, slots.get(device, {}), share, fibres)
    return out


def _device(network: Network, device: str, here: list[Slice],
            used: Mapping[str | None, int], share: Mapping[tuple[str, str], float],
            fibres: set[str]) -> list[Partition]:
    capacity = network.nodes[device].memory_qubits
    outside = sum(n for s, n in used.items() if s not in {sl.name for sl in here})
    size = {s.name: max(s.reserved_memory.get(device, 0), used.get(s.name, 0))
            for s in here if not s.borrowing}
    for s in (s for s in here if s.borrowing):   # lends what its members leave idle
        others = sum(size.get(o.name, used.get(o.name, 0)) for o in here if o is not s)
        free = max(0, capacity - outside - others)
        size[s.name] = max(used.get(s.name, 0), min(s.reserved_memory.get(device, 0), free))
    out: list[Partition] = []
    first = 0
    for s in here:
        if first + size[s.name] + outside > capacity:
            raise PartitionError(
                f"slice {s.name} on device {device}: its partition of {size[s.name]} "
                f"registers from register {first} and the {outside} slots of flows outside "
                f"the partitions exceed the {capacity} registers")
        shares = {lk: max(_up(r), _up(share.get((s.name, lk), 0.0)))
                  for lk, r in sorted(s.reserved_share.items()) if lk in fibres}
        out.append(Partition(s.name, tuple(range(first, first + size[s.name])), shares))
        first += size[s.name]
    for lk in sorted(fibres):
        total = sum((p.shares.get(lk, Decimal(0)) for p in out), Decimal(0))
        if total > 1:
            names = ", ".join(p.slice for p in out if lk in p.shares)
            raise PartitionError(f"slices {names} on device {device}: their partitions own "
                                 f"{_text(total)} of fibre {lk}'s generation time, over 1")
    return out


def owned_resources(docs: Mapping[str, str]) -> dict[str, list[OwnedResource]]:
    """Slice → the device resources it owns, read from the devices' configurations
    (node → canonical RFC 7951 JSON) as rendered: the record is what the devices enforce,
    not what the plan intended.  By device, registers before fibre shares."""
    out: dict[str, list[OwnedResource]] = {}
    for device, text in sorted(docs.items()):
        for top, body in json.loads(text).items():
            if not isinstance(body, dict) or top.split(":", 1)[-1] not in PARTITIONED_KINDS:
                continue
            for p in body.get("slice-partition", []):
                mine = out.setdefault(str(p["slice"]), [])
                registers = tuple(sorted(int(r) for r in p.get("register", [])))
                if registers:
                    mine.append(OwnedResource(device, MEMORY_REGISTERS,
                                              Decimal(len(registers)), registers))
                mine.extend(OwnedResource(device, LINK_TIME_SHARE,
                                          Decimal(str(e["time-share"])), link=str(e["link-id"]))
                            for e in sorted(p.get("link-share", []),
                                            key=lambda e: str(e["link-id"])))
    return out
