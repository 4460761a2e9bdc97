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


def with_slicing(services: dict[str, Any], slicing: dict[str, Any]) -> dict[str, Any]:
    """The service requests and a slicing file as one document, so tenants, slices and
    the requests' slice membership commit together with the requests (a slice's
    guarantees and quotas are checked against the very requests they govern).

    The slicing file names a request by its key and adds its `sdqn-slices:slice` leaf;
    such an entry is merged into the request of that name. An entry naming no request of
    the services file is kept as it is, so validation refuses it (its mandatory leaves
    are missing) instead of it being dropped silently."""
    merged = {**services, **{k: v for k, v in slicing.items()
                             if k != "sdqn-services:entanglement-services"}}
    extra = slicing.get("sdqn-services:entanglement-services", {}).get("request", [])
    if extra:
        requests = [dict(r) for r in
                    services.get("sdqn-services:entanglement-services", {}).get("request", [])]
        by_name = {r["name"]: r for r in requests}
        for entry in extra:
            if entry["name"] in by_name:
                by_name[entry["name"]].update(entry)
            else:
                requests.append(dict(entry))
        merged["sdqn-services:entanglement-services"] = {"request": requests}
    return merged


def load_intent(store: NmdaStore, topology: dict[str, Any] | None,
                services: Path | None, slicing: Path | None = None) -> None:
    """Operators' intent into <running>, validated like any <edit-config> (a merge: what
    running already holds and these files do not mention stays). A slicing file commits
    in the same edit as the services (`with_slicing`)."""
    if topology is not None:
        store.edit_json(Datastore.RUNNING, topology)
    if services is not None or slicing is not None:
        doc: dict[str, Any] = json.loads(services.read_text()) if services else {}
        if slicing is not None:
            doc = with_slicing(doc, json.loads(slicing.read_text()))
        store.edit_json(Datastore.RUNNING, doc)
