"""Start every device of a topology in one process: `sdqn sim run`.

Each node of the topology file becomes a `SimDevice` of its kind (the emulator registered
for it in `simulators.devices.MODELS`, serving the YANG module its row of
`southbound.kinds` names) with its own NETCONF server on the node's management port (or
any free port).  All devices of one kind share
one `Schema` (libyang context), all share one `World` (the plant, so faults and fibres
couple them) and one `Ticker`.  The launcher writes an inventory the controller can load
(node-id, kind, address, port, username, password, adapter, modules — the fields of
`southbound.model.DeviceEndpoint`), the topology file it was started from, and the
control channel for `sdqn sim fault`.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog

from controller.datastore.nmda import NmdaStore
from controller.datastore.schema import Schema
from controller.netconf import NETCONF_MODULES
from controller.paths import CONFIG_DIR, data_dir
from simulators.clock import Clock, ScaledClock
from simulators.devices import MODELS
from simulators.devices.runtime import ServerFactory, SimDevice, Ticker, netconf_factory
from simulators.devices.world import Topology, World
from simulators.faults import ControlServer, FaultInjector

log = structlog.get_logger(__name__)

DEFAULT_TOPOLOGY = CONFIG_DIR / "topologies" / "metro.json"
# `sdqn sim run` writes it under the data directory (SDQN_DATA_DIR, /var/lib/sdqn, XDG).
DEFAULT_INVENTORY = data_dir() / "sim" / "inventory.json"
DEFAULT_USERS: Mapping[str, str] = {"admin": "admin"}


class SchemaCache:
    """One libyang context per device module, shared by every device of that kind.

    Besides the device module it holds what the NETCONF server itself serves (monitoring
    state, base notifications): `controller.netconf.NETCONF_MODULES`.
    """

    def __init__(self) -> None:
        self._schemas: dict[str, Schema] = {}
        self._lock = threading.Lock()

    def get(self, module: str) -> Schema:
        with self._lock:
            if module not in self._schemas:
                self._schemas[module] = Schema([*NETCONF_MODULES, "sdqn-types", module])
            return self._schemas[module]

    def __len__(self) -> int:
        return len(self._schemas)


class Network:
    """The emulated devices of one topology, their plant, ticker and fault injector."""

    def __init__(self, topology: Topology, *, clock: Clock | None = None, seed: int = 0,
                 users: Mapping[str, str] = DEFAULT_USERS, host: str = "127.0.0.1",
                 use_topology_ports: bool = True, tick: float = 1.0, serve: bool = True,
                 schemas: SchemaCache | None = None) -> None:
        self.topology = topology
        self.topology_file: Path | None = None  # named in the inventory when known
        self.clock = clock or ScaledClock()
        self.world = World(topology, seed=seed)
        self.users = dict(users)
        self.host = host
        self.schemas = schemas or SchemaCache()
        factory: ServerFactory | None = netconf_factory(self.users, host) if serve else None
        self.devices: dict[str, SimDevice] = {}
        self.skipped: list[str] = []
        for node in topology.nodes.values():
            model_cls = MODELS.get(node.kind)
            if model_cls is None:
                self.skipped.append(node.node_id)
                continue
            model = model_cls(node, self.world, self.clock, seed=seed)
            store = NmdaStore(self.schemas.get(model_cls.module))
            port = node.port if use_topology_ports else 0
            self.devices[node.node_id] = SimDevice(model, store, port=port,
                                                   server_factory=factory)
        self.ticker = Ticker(self.clock, list(self.devices.values()), period=tick)
        self.faults = FaultInjector(self)
        self.control: ControlServer | None = None

    @classmethod
    def from_file(cls, path: Path, **kwargs: Any) -> Network:
        network = cls(Topology.load(path), **kwargs)
        network.topology_file = path.resolve()
        return network

    def wall(self, sim_seconds: float) -> float:
        """Wall seconds for a simulated duration (1:1 unless the clock is scaled)."""
        return sim_seconds / float(getattr(self.clock, "factor", 1.0))

    # -- life cycle ----------------------------------------------------------------------

    def start(self, *, control: bool = True) -> None:
        for device in self.devices.values():
            device.start()
        if control:
            self.control = ControlServer(self.faults, secrets.token_urlsafe(24), self.host)
            self.control.start()
        self.ticker.start()
        log.info("emulated network up", devices=len(self.devices), skipped=self.skipped)

    def stop(self) -> None:
        self.ticker.stop()
        self.faults.cancel_timers()
        if self.control is not None:
            self.control.stop()
        for device in self.devices.values():
            device.stop()

    def __enter__(self) -> Network:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- views ---------------------------------------------------------------------------

    def inventory(self) -> dict[str, Any]:
        """What the controller needs to reach every device (southbound DeviceEndpoint)."""
        user, password = next(iter(self.users.items()))
        devices = [{"node-id": d.node_id, "kind": d.kind, "address": self.host,
                    "port": d.port, "username": user, "password": password,
                    "adapter": d.model.node.adapter, "modules": [d.model.module]}
                   for d in self.devices.values()]
        inventory: dict[str, Any] = {"network-id": self.topology.network_id,
                                     "devices": devices}
        if self.topology_file is not None:  # `sdqn controller run --inventory` loads it
            inventory["topology"] = str(self.topology_file)
        if self.control is not None:
            inventory["control"] = {"address": self.control.host, "port": self.control.port,
                                    "token": self.control.token}
        return inventory

    def write_inventory(self, path: Path) -> None:
        """Write atomically, mode 0600: it holds device passwords and the control token."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(self.inventory(), handle, indent=2)
        os.replace(tmp, path)

    def status(self) -> list[dict[str, Any]]:
        """Per device: kind, port, crashed, session lost, and its status container."""
        rows = []
        for device in self.devices.values():
            oper, stable = device.model.current_status()
            rows.append({"node-id": device.node_id, "kind": device.kind, "port": device.port,
                         "crashed": device.crashed, "session-lost": device.session_lost,
                         "oper-status": oper.split(":")[-1], "stable": stable})
        return rows


def load_inventory(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise FileNotFoundError(f"no inventory at {path}; is `sdqn sim run` running?")
    data: dict[str, Any] = json.loads(path.read_text())
    return data
