"""Operators' intent from files into <running>: a topology, pointed at the emulated
devices of an `sdqn sim run` inventory, and service requests.

`sdqn demo` (emulators in its own process) and `sdqn controller run --inventory
--services` (emulators in another process) both load their intent here. Everything goes
through the validated edit path an engineer's <edit-config> takes, so the commit solves
Q-NUM, expands the plan and pushes the devices like any other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from controller.datastore.nmda import Datastore, NmdaStore


def point_at_emulators(topology: dict[str, Any], inventory: dict[str, Any]) -> dict[str, Any]:
    """The emulators listen where the launcher put them: use its inventory's ports."""
    ports = {d["node-id"]: d["port"] for d in inventory["devices"]}
    for net in topology["ietf-network:networks"]["network"]:
        for node in net.get("node", []):
            mgmt = node.get("sdqn-topology:quantum-node", {}).get("management")
            if mgmt is not None and node["node-id"] in ports:
                mgmt["port"] = ports[node["node-id"]]
                mgmt["address"] = "127.0.0.1"
    return topology


def inventory_topology(inventory: dict[str, Any]) -> dict[str, Any]:
    """The topology file the emulators were started from, with their actual ports."""
    if "topology" not in inventory:
        raise ValueError("the inventory names no topology file (written by an older "
                         "`sdqn sim run`?)")
    return point_at_emulators(json.loads(Path(inventory["topology"]).read_text()), inventory)


def inventory_credentials(inventory: dict[str, Any]) -> tuple[str, str | None]:
    """The one account every emulated device accepts (the service layer logs in to all
    devices with one account)."""
    accounts = {(d["username"], d.get("password")) for d in inventory["devices"]}
    if len(accounts) != 1:
        raise ValueError(f"the inventory's devices use {len(accounts)} accounts; "
                         "the controller logs in to every device with one")
    return accounts.pop()


def load_intent(store: NmdaStore, topology: dict[str, Any] | None,
                services: Path | None) -> None:
    """Operators' intent into <running>, validated like any <edit-config> (a merge: what
    running already holds and these files do not mention stays)."""
    if topology is not None:
        store.edit_json(Datastore.RUNNING, topology)
    if services is not None:
        store.edit_json(Datastore.RUNNING, json.loads(services.read_text()))
