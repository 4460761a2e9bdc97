"""Which managed devices the plan may use: the operator's admin-state, and whether the
controller has reached the device yet (pre-provisioning).

A device of the topology is *in service* once the controller has reached it; only then
do plans place services on it or through it (a fibre it compensates, for an APC) and do
pushes go to it. Two things keep a device out (sdqn-topology `management/admin-state`):

* ``locked`` (the operator's word, like Cisco NSO's southbound-locked): the controller
  opens no session to it at all and pushes nothing;
* ``unreachable``: unlocked, but not reached since it joined the topology or was
  unlocked. The commit that adds it (or gives it a new management endpoint while it waits)
  tries it once, bounded by the device timeout, in parallel with every other new device
  (a refused connection answers at once); a device that does not answer is committed all
  the same and reached later in the background (controller/service/provisioning.py),
  which pushes its intended configuration and re-expands so later plans may use it. Later
  commits do not wait for it: they judge it by its session as it is. A just-unlocked
  device is not contacted by the commit that unlocks it (that commit may still fail): it
  is reached right after.

Either way the device's configuration is still computed (for a plan that places nothing on
it) and kept in <intended>. A device already in service whose management session is lost
stays in service, at whatever endpoint: the data plane probably still carries its
services, so the plan keeps them there, and a commit that must change the device fails
naming it (sdqn-alarms device-unreachable).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

from qnum.io import Network
from southbound.model import DeviceEndpoint, Exclusion

#: devices → node → None when it answers, else why not (southbound SessionPool.reachable)
Reachability = Callable[[Sequence[DeviceEndpoint]], Mapping[str, str | None]]


def locked_nodes(running: Mapping[str, Any]) -> set[str]:
    """Nodes of the topology in running whose management admin-state is locked."""
    out: set[str] = set()
    for net in running.get("ietf-network:networks", {}).get("network", []):
        for node in net.get("node", []):
            mgmt = node.get("sdqn-topology:quantum-node", {}).get("management") or {}
            if mgmt.get("admin-state") == "locked":
                out.add(str(node["node-id"]))
    return out


def exclusions(endpoints: Sequence[DeviceEndpoint], locked: Collection[str], *,
               in_service: Collection[str],
               before: Mapping[str, Exclusion],
               reachability: Reachability | None) -> dict[str, Exclusion]:
    """The managed devices (`endpoints`) the plan may not use, and why (module docstring).

    `in_service`: the devices in service after the last commit; `before`: that commit's
    exclusions; `reachability` judges the devices not reached yet (None: every device
    counts as reachable)."""
    out: dict[str, Exclusion] = {}
    trying: list[DeviceEndpoint] = []
    for ep in endpoints:
        node = ep.node_id
        if node in locked:
            out[node] = Exclusion.LOCKED
        elif node in in_service:
            continue                                # in service (a lost session included)
        elif before.get(node) is Exclusion.LOCKED:
            out[node] = Exclusion.UNREACHABLE       # unlocked now: reached after the commit
        else:
            trying.append(ep)                       # new, or not reached yet
    if trying and reachability is not None:
        answers = reachability(trying)
        out.update({ep.node_id: Exclusion.UNREACHABLE for ep in trying
                    if answers.get(ep.node_id, "no answer") is not None})
    return out


def dependent_links(network: Network, nodes: Collection[str]) -> frozenset[str]:
    """Fibres that need one of `nodes`: an end of it, or its polarisation compensator."""
    return frozenset(link_id for link_id, link in network.links.items()
                     if link.a in nodes or link.b in nodes or link.compensator in nodes)


def without(network: Network, nodes: Collection[str]) -> Network:
    """The network the plan may use when `nodes` are out of service: their fibres go (the
    nodes stay, so a request ending at one gets a reason)."""
    if not nodes:
        return network
    gone = dependent_links(network, nodes)
    return replace(network, links={k: v for k, v in network.links.items() if k not in gone})
