"""Read ``sdqn-slices`` instance data into :class:`qnum.slices.Slicing` and check it.

Like :mod:`qnum.io`, this reads RFC 7951 JSON with plain :mod:`json` (qnum runs without
libyang) and names the exact instance path of every wrong leaf.  Two steps:

* :func:`parse_slicing` reads ``/sdqn-slices:slicing`` and each request's
  ``sdqn-slices:slice`` leaf, enforcing what the YANG module states (leafrefs to tenants and
  slices, reservations only on dedicated slices, ranges);
* :func:`check_slicing` checks what YANG cannot say with a useful message: dedicated
  reservations within a node's memory and a link's time, requests within their slice's
  quota, reservations naming nodes and links of the optimised network.  The message says
  by how much, so an operator knows what to change.

Sums are taken in :class:`~decimal.Decimal` over the decimal64 strings so that shares
such as 0.7 + 0.3 are exactly 1, as the YANG value space says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

# The leaf readers of qnum.io are reused so paths and messages read the same.
from qnum.io import _REQUIRED, InputError, Network, _Obj
from qnum.slices import Isolation, Slice, SliceObjective, SliceSlo, Slicing

SLICES_NS = "sdqn-slices"
SLICING = f"/{SLICES_NS}:slicing"
REQUESTS = "/sdqn-services:entanglement-services/request"


def slice_path(name: str) -> str:
    """Instance path of one slice entry (the form :mod:`qnum.io` uses for list entries)."""
    return f"{SLICING}/slice[name='{name}']"


def request_path(name: str) -> str:
    return f"{REQUESTS}[name='{name}']"


def parse_slicing(data: Any) -> Slicing:
    """The slices of ``data`` (running's content), with each slice's member requests.

    Without ``/sdqn-slices:slicing`` there are no slices; a request naming a slice then
    is an error, as its leafref would be.
    """
    root = _Obj(data, "")
    top = root.child(f"{SLICES_NS}:slicing", required=False)
    members = _members(root)
    if top is None:
        _no_dangling(members, set())
        return Slicing()
    tenants = {name for name, _obj in top.items("tenant", "name")}
    slices = tuple(_parse_slice(name, obj, tenants, members.get(name, ()))
                   for name, obj in top.items("slice", "name"))
    _no_dangling(members, {s.name for s in slices})
    return Slicing(slices=slices,
                   objective=top.enum("objective", SliceObjective, "weighted-sum"))


def _members(root: _Obj) -> dict[str, tuple[str, ...]]:
    """Slice name -> names of the requests whose ``sdqn-slices:slice`` leaf names it."""
    services = root.child("sdqn-services:entanglement-services", required=False)
    out: dict[str, list[str]] = {}
    if services is not None:
        for name, obj in services.items("request", "name"):
            if obj.has(f"{SLICES_NS}:slice"):
                out.setdefault(obj.string(f"{SLICES_NS}:slice"), []).append(name)
    return {name: tuple(reqs) for name, reqs in out.items()}


def _no_dangling(members: Mapping[str, Sequence[str]], slices: set[str]) -> None:
    for slice_name, requests in members.items():
        if slice_name not in slices:
            raise InputError(f"{request_path(requests[0])}/{SLICES_NS}:slice",
                             f"refers to unknown slice '{slice_name}'")


def _parse_slice(name: str, obj: _Obj, tenants: set[str], requests: tuple[str, ...]) -> Slice:
    tenant = obj.string("tenant", _REQUIRED)
    if tenant not in tenants:
        raise InputError(f"{obj.path}/tenant", f"refers to unknown tenant '{tenant}'")
    isolation = obj.enum("isolation", Isolation, "shared")
    memory: dict[str, int] = {}
    share: dict[str, float] = {}
    reservation = obj.child("reservation", required=False)
    if reservation is not None:
        for node, entry in reservation.items("node", "node-id"):
            memory[node] = entry.integer("memory-qubits", _REQUIRED, low=1)
        for link, entry in reservation.items("link", "link-id"):
            share[link] = entry.decimal("time-share", _REQUIRED, low=0.0, high=1.0,
                                        low_open=True)
        if (memory or share) and isolation is not Isolation.DEDICATED:
            kind = "node" if memory else "link"
            raise InputError(f"{reservation.path}/{kind}",
                             f"slice '{name}' is {isolation.value}: only a dedicated slice "
                             "reserves resources")
    borrowing = obj.boolean("borrowing", False)
    if borrowing and isolation is not Isolation.DEDICATED:
        raise InputError(f"{obj.path}/borrowing", "borrowing applies to dedicated slices only")
    quota = obj.child("quota", required=False)
    return Slice(
        name=name,
        tenant=tenant,
        priority=obj.integer("priority", 0, high=255),
        weight=obj.decimal("weight", 1.0, low=0.0),
        slo=_parse_slo(obj.child("slo", required=False)),
        isolation=isolation,
        reserved_memory=memory,
        reserved_share=share,
        borrowing=borrowing,
        max_requests=(quota.integer("max-requests")
                      if quota is not None and quota.has("max-requests") else None),
        max_rate_hz=(quota.decimal("max-rate", low=0.0)
                     if quota is not None and quota.has("max-rate") else None),
        requests=requests,
    )


def _parse_slo(slo: _Obj | None) -> SliceSlo:
    if slo is None:
        return SliceSlo()

    def leaf(key: str, high: float = float("inf"), low_open: bool = False) -> float | None:
        assert slo is not None
        return slo.decimal(key, low=0.0, high=high, low_open=low_open) if slo.has(key) else None

    return SliceSlo(
        guaranteed_rate_hz=leaf("guaranteed-rate"),
        aggregate_rate_hz=leaf("aggregate-rate"),
        min_fidelity=leaf("min-fidelity", 1.0),
        max_latency_s=leaf("max-latency", low_open=True),
        availability=leaf("availability", 1.0),
    )


def check_slicing(slicing: Slicing, network: Network, data: Any) -> None:
    """Refuse what no plan could honour, naming the leaf and by how much.

    ``data`` is the document :func:`parse_slicing` read: time shares and rates are summed
    exactly from its decimal64 strings.  Checks, in order: reservations name nodes and
    links of ``network``; per node, dedicated memory-qubits within the node's
    memory-qubits; per link, time shares within 1; per slice, the number of its requests
    and the sum of their demanded rates within its quota (the request that goes beyond is
    named, taking the requests in the order they are configured).
    """
    for member in slicing.slices:
        for node in member.reserved_memory:
            if node not in network.nodes:
                raise InputError(f"{slice_path(member.name)}/reservation/node[node-id='{node}']"
                                 "/node-id", f"refers to unknown node '{node}' of network "
                                 f"'{network.network_id}'")
        for link in member.reserved_share:
            if link not in network.links:
                raise InputError(f"{slice_path(member.name)}/reservation/link[link-id='{link}']"
                                 "/link-id", f"refers to unknown link '{link}' of network "
                                 f"'{network.network_id}'")
    _check_memory(slicing, network)
    _check_shares(slicing, data)
    _check_quotas(slicing, data)


def _check_memory(slicing: Slicing, network: Network) -> None:
    reserved: dict[str, list[tuple[str, int]]] = {}
    for member in slicing.slices:
        for node, qubits in member.reserved_memory.items():
            reserved.setdefault(node, []).append((member.name, qubits))
    for node, claims in reserved.items():
        total = sum(q for _name, q in claims)
        capacity = network.nodes[node].memory_qubits
        if total > capacity:
            last = claims[-1][0]
            parts = ", ".join(f"{name}: {q}" for name, q in claims)
            raise InputError(
                f"{slice_path(last)}/reservation/node[node-id='{node}']/memory-qubits",
                f"dedicated reservations on node '{node}' total {total} memory qubits "
                f"({parts}), {total - capacity} more than its memory-qubits {capacity}")


def _check_shares(slicing: Slicing, data: Any) -> None:
    exact = _exact_shares(data)
    reserved: dict[str, list[tuple[str, Decimal]]] = {}
    for member in slicing.slices:
        for link in member.reserved_share:
            reserved.setdefault(link, []).append((member.name, exact[(member.name, link)]))
    for link, claims in reserved.items():
        total = sum((s for _name, s in claims), Decimal(0))
        if total > 1:
            last = claims[-1][0]
            parts = ", ".join(f"{name}: {s}" for name, s in claims)
            raise InputError(
                f"{slice_path(last)}/reservation/link[link-id='{link}']/time-share",
                f"time shares reserved on link '{link}' total {total} ({parts}), "
                f"{total - 1} more than 1")


def _exact_shares(data: Any) -> dict[tuple[str, str], Decimal]:
    """(slice, link) -> the time-share as the exact decimal64 (already range-checked)."""
    top = data.get(f"{SLICES_NS}:slicing", {}) if isinstance(data, dict) else {}
    return {(s["name"], lk["link-id"]): Decimal(lk["time-share"])
            for s in top.get("slice", [])
            for lk in s.get("reservation", {}).get("link", [])}


def _check_quotas(slicing: Slicing, data: Any) -> None:
    rates = _exact_rates(data)
    for member in slicing.slices:
        where = f"{slice_path(member.name)}/quota"
        if member.max_requests is not None and len(member.requests) > member.max_requests:
            beyond = member.requests[member.max_requests]
            raise InputError(
                f"{request_path(beyond)}/{SLICES_NS}:slice",
                f"request '{beyond}' is beyond the quota of slice '{member.name}': "
                f"{len(member.requests)} requests, max-requests {member.max_requests} "
                f"({where}/max-requests)")
        limit = _exact_max_rate(data, member.name)
        if limit is None:
            continue
        total = Decimal(0)
        for name in member.requests:
            total += rates.get(name, Decimal(0))
            if total > limit:
                raise InputError(
                    f"{request_path(name)}/{SLICES_NS}:slice",
                    f"request '{name}' is beyond the quota of slice '{member.name}': "
                    f"demanded rates total {total} pairs/s, {total - limit} more than "
                    f"max-rate {limit} ({where}/max-rate)")


def _exact_rates(data: Any) -> dict[str, Decimal]:
    """Request name -> demanded-rate as the exact decimal64 (already checked by qnum.io)."""
    services = data.get("sdqn-services:entanglement-services", {})
    return {r["name"]: Decimal(r["demanded-rate"]) for r in services.get("request", [])
            if isinstance(r.get("demanded-rate"), str)}


def _exact_max_rate(data: Any, slice_name: str) -> Decimal | None:
    for entry in data.get(f"{SLICES_NS}:slicing", {}).get("slice", []):
        if entry["name"] == slice_name and "max-rate" in entry.get("quota", {}):
            return Decimal(entry["quota"]["max-rate"])
    return None
