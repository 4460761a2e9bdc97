"""The running trees `sdqn bench datastore` measures: the reference size (1,000 nodes,
3,000 links, 500 requests, random but seeded) and the metro network with its demo
services, in the product's own YANG modules."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from controller.paths import CONFIG_DIR


@dataclass(frozen=True)
class Tree:
    """A running datastore's content and the instances the bench's operations touch: a
    request (its demanded-rate leaf is observed by no constraint) and a node (its
    coherence-time leaf is observed by a `must`)."""

    name: str
    content: dict[str, Any]
    network: str
    request: str
    node: str
    request_source: str = ""         # two end nodes a new request may connect
    request_destination: str = ""


def large_tree(nodes: int = 1000, links: int = 3000, requests: int = 500) -> Tree:
    return Tree(f"{nodes:,} nodes / {links:,} links / {requests} requests",
                build_running(nodes, links, requests), "bench", "req7", "n7", "n0", "n10")


def metro_tree() -> Tree:
    content = json.loads((CONFIG_DIR / "topologies" / "metro.json").read_text())
    content.update(json.loads((CONFIG_DIR / "services" / "demo.json").read_text()))
    network = content["ietf-network:networks"]["network"][0]
    request = content["sdqn-services:entanglement-services"]["request"][0]["name"]
    ends = [n["node-id"] for n in network["node"]
            if n["sdqn-topology:quantum-node"]["device-kind"] == "sdqn-types:end-node"]
    return Tree("metro + demo services", content, network["network-id"], request,
                network["node"][0]["node-id"], ends[0], ends[1])


def build_running(n_nodes: int, n_links: int, n_requests: int, seed: int = 1) -> dict[str, Any]:
    """A random quantum network and request set as RFC 7951 JSON (the contract's names)."""
    rng = random.Random(seed)
    nodes = []
    for i in range(n_nodes):
        kind = "sdqn-types:end-node" if i % 10 == 0 else "sdqn-types:repeater"
        nodes.append({"node-id": f"n{i}", "sdqn-topology:quantum-node": {
            "device-kind": kind, "memory-qubits": rng.randint(4, 64),
            "coherence-time": f"{rng.uniform(0.1, 10):.3f}",
            "initial-fidelity": f"{rng.uniform(0.95, 0.995):.4f}",
            "bsm-fidelity": "0.99", "swap-success-probability": "0.5",
            "management": {"address": "127.0.0.1", "port": 20000 + i}}})
    links = []
    for k in range(n_links):
        a, b = rng.sample(range(n_nodes), 2)
        links.append({"link-id": f"l{k}", "source": {"source-node": f"n{a}"},
                      "destination": {"dest-node": f"n{b}"},
                      "sdqn-topology:quantum-link": {
                          "fibre-length": f"{rng.uniform(2, 80):.2f}",
                          "source-rate": "10000000", "link-fidelity": "0.97",
                          "wavelength": "1550.12"}})
    ends = [f"n{i}" for i in range(0, n_nodes, 10)]
    requests = []
    for r in range(n_requests):
        src, dst = rng.sample(ends, 2)
        requests.append({"name": f"req{r}", "source-node": src, "destination-node": dst,
                         "application": rng.choice(["sdqn-types:qkd", "sdqn-types:dqc"]),
                         "min-fidelity": "0.9", "demanded-rate": f"{rng.uniform(1, 100):.1f}",
                         "weight": "1.0"})
    return {
        "ietf-network:networks": {"network": [{
            "network-id": "bench", "network-types": {"sdqn-topology:quantum-network": {}},
            "node": nodes, "ietf-network-topology:link": links}]},
        "sdqn-services:entanglement-services": {"request": requests},
    }


