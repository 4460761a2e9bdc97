"""sdqn-history's get-history and get-snapshot, once for every northbound: input
checks, NACM, and the answer as RFC 7951 members (NETCONF turns them into XML, gRPC
into protobuf).

Bad input is invalid-value naming the leaf (RFC 6241 Appendix A, bad-element in
error-info), and nothing changes. What a user may not read is left out (RFC 8341
§3.4.5: denied data is as if absent): a link, a network node, a service request or an
alarm-list entry is kept only when the user may read the data node it comes from, decided
by pruning a copy of those nodes with the user's read rules — the same walk as a <get> — and commit
events only for a user who may run list-commits (RFC 8341 §3.4.4).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from controller.datastore.schema import Schema
from controller.errors import ErrorTag, ErrorType, NetconfError, RpcError
from controller.netconf.nacm import UserAccess
from controller.service.history_store import (
    KINDS,
    HistoryStore,
    OutOfWindow,
    Sample,
    Snapshot,
    iso,
    parse_time,
)

AccessOf = Callable[[str], UserAccess | None]
#: (kind, list in ietf-network's network, its key, the sdqn-topology container with `state`)
TOPOLOGY = (("node", "node", "node-id", "sdqn-topology:quantum-node"),
            ("link", "ietf-network-topology:link", "link-id", "sdqn-topology:quantum-link"))


def _topology_probe(network: str, sampled: dict[str, dict[str, set[str]]]
                    ) -> dict[str, Any]:
    """One network of the copy NACM prunes: each sampled node and link with a state leaf,
    so what survives the user's read rules names what the user may see."""
    out: dict[str, Any] = {"network-id": network}
    for kind, entries, key, container in TOPOLOGY:
        names = sampled[kind].get(network)
        if names:
            out[entries] = [{key: name, container: {"state": {"stale": False}}}
                            for name in sorted(names)]
    return out


def invalid_leaf(leaf: str, message: str) -> NetconfError:
    """RFC 6241 Appendix A invalid-value, with the leaf as bad-element."""
    return NetconfError(RpcError(tag=ErrorTag.INVALID_VALUE, type=ErrorType.APPLICATION,
                                 message=message, info=(("bad-element", leaf),)))


def _time(leaf: str, text: object) -> float | None:
    if text is None:
        return None
    try:
        return parse_time(str(text))
    except ValueError as exc:
        raise invalid_leaf(leaf, f"{leaf}: {text!r} is not a date-and-time "
                                 f"(RFC 3339): {exc}") from exc


class HistoryApi:
    def __init__(self, store: HistoryStore, schema: Schema, access: AccessOf) -> None:
        self.store = store
        self.schema = schema
        self.access = access

    # -- the rpcs ------------------------------------------------------------------------

    def get_history(self, user: str, *, start: object = None, end: object = None,
                    kinds: Sequence[object] | None = None, resource: object = None
                    ) -> dict[str, Any]:
        wanted = [str(k) for k in kinds] if kinds else list(KINDS)
        for kind in wanted:
            if kind not in KINDS:
                raise invalid_leaf("kind", f"kind {kind!r} is not one of {', '.join(KINDS)}")
        try:
            first, last = self.store.check_range(_time("start", start), _time("end", end))
        except OutOfWindow as exc:
            raise invalid_leaf(exc.leaf, str(exc)) from exc
        samples = self.store.query(first, last, kinds=wanted,
                                   resource=None if resource is None else str(resource))
        samples = self.readable(user, samples)
        return {**self._window(), "sample": [s.members() for s in samples]}

    def get_snapshot(self, user: str, *, time: object) -> dict[str, Any]:
        t = _time("time", time)
        if t is None:
            raise NetconfError(RpcError(tag=ErrorTag.MISSING_ELEMENT,
                                        type=ErrorType.PROTOCOL, message="time is mandatory",
                                        info=(("bad-element", "time"),)))
        try:
            self.store.check_time(t)
        except OutOfWindow as exc:
            raise invalid_leaf(exc.leaf, str(exc)) from exc
        snap = self.readable_snapshot(user, self.store.snapshot(t))
        return {**self._window(), "time": iso(t),
                "link": [{"link-id": name, "sampled": iso(s.time), **s.values}
                         for name, s in sorted(snap.links.items())],
                "node": [{"node-id": name, "sampled": iso(s.time), **s.values}
                         for name, s in sorted(snap.nodes.items())],
                "service": [{"name": name, "sampled": iso(s.time), **s.values}
                            for name, s in sorted(snap.services.items())],
                "alarm": [{"resource": s.resource, "sampled": iso(s.time), "event": s.event,
                           **s.values} for s in snap.alarms]}

    def _window(self) -> dict[str, str]:
        first, now = self.store.window()
        return {"window-start": iso(first), "window-end": iso(now)}

    # -- NACM ----------------------------------------------------------------------------

    def readable(self, user: str, samples: list[Sample]) -> list[Sample]:
        access = self.access(user)
        if access is None or access.unrestricted:
            return samples
        allowed = self._allowed(access, samples)
        return [s for s in samples if (s.kind, s.resource) in allowed]

    def readable_snapshot(self, user: str, snap: Snapshot) -> Snapshot:
        access = self.access(user)
        if access is None or access.unrestricted:
            return snap
        every = [*snap.links.values(), *snap.nodes.values(), *snap.services.values(),
                 *snap.alarms]
        allowed = self._allowed(access, every)
        return Snapshot(snap.time,
                        {k: s for k, s in snap.links.items() if ("link", k) in allowed},
                        {k: s for k, s in snap.nodes.items() if ("node", k) in allowed},
                        {k: s for k, s in snap.services.items() if ("service", k) in allowed},
                        [s for s in snap.alarms if ("alarm", s.resource) in allowed])

    def _allowed(self, access: UserAccess, samples: Iterable[Sample]) -> set[tuple[str, str]]:
        """(kind, resource) pairs whose data node the user may read."""
        topology: dict[str, dict[str, set[str]]] = {"link": {}, "node": {}}  # kind→net→ids
        services: set[str] = set()
        alarms: dict[tuple[str, str, str], None] = {}
        commits: set[str] = set()
        for s in samples:
            if s.kind in topology:
                network = str(s.values.get("network-id", ""))
                topology[s.kind].setdefault(network, set()).add(s.resource)
            elif s.kind == "service":
                services.add(s.resource)
            elif s.kind == "alarm":
                alarms[(s.resource, str(s.values.get("alarm-type-id", "")),
                        str(s.values.get("alarm-type-qualifier", "")))] = None
            else:
                commits.add(s.resource)
        allowed: set[tuple[str, str]] = set()
        if commits and access.rpc_allowed("sdqn-controller", "list-commits"):
            allowed |= {("commit", c) for c in commits}
        doc: dict[str, Any] = {}
        networks = sorted({net for by_net in topology.values() for net in by_net})
        if networks:
            doc["ietf-network:networks"] = {"network": [
                _topology_probe(net, topology) for net in networks]}
        if services:
            doc["sdqn-services:entanglement-services"] = {"request": [
                {"name": name, "state": {"stale": False}} for name in sorted(services)]}
        if alarms:
            doc["ietf-alarms:alarms"] = {"alarm-list": {"alarm": [
                {"resource": r, "alarm-type-id": t, "alarm-type-qualifier": q,
                 "alarm-text": ""} for r, t, q in alarms]}}
        if not doc:
            return allowed
        kept = access.readable(self.schema, json.dumps(doc), config_only=False)
        for network in kept.get("ietf-network:networks", {}).get("network", []):
            for kind, entries, key, container in TOPOLOGY:
                for entry in network.get(entries, []):
                    if entry.get(container, {}).get("state"):
                        allowed.add((kind, entry[key]))
        for request in kept.get("sdqn-services:entanglement-services", {}).get("request", []):
            if request.get("state"):
                allowed.add(("service", request["name"]))
        for entry in kept.get("ietf-alarms:alarms", {}).get("alarm-list", {}).get("alarm", []):
            if "alarm-text" in entry:
                allowed.add(("alarm", entry["resource"]))
        return allowed
