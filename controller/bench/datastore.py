"""`sdqn bench datastore`: validation, one-leaf edit+commit and diff on a large running.

The instance is the issue's reference size (1,000 nodes, 3,000 links, 500 requests) in
the product's own YANG modules, persisted with the production settings (SQLite WAL,
synchronous=FULL) in a temporary directory. Figures are medians over repeated runs.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from controller.datastore.apply import validate_forest
from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.persistence import Persistence
from controller.datastore.schema import Schema
from controller.logs import configure_logging
from controller.settings import PRODUCT_MODULES


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


def _median_ms(fn: Callable[[int], object], repeat: int) -> tuple[float, float]:
    samples = []
    for i in range(repeat):
        start = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.99 * (len(samples) - 1))]


def main(nodes: int = typer.Option(1000, help="topology nodes"),
         links: int = typer.Option(3000, help="topology links"),
         requests: int = typer.Option(500, help="service requests"),
         repeat: int = typer.Option(200, help="samples per edit figure")) -> None:
    """Print datastore figures (medians) for a large running datastore."""
    import json

    configure_logging("warning")
    schema = Schema(list(PRODUCT_MODULES))
    with tempfile.TemporaryDirectory() as tmp:
        store = NmdaStore(schema, persistence=Persistence(Path(tmp) / "bench.sqlite"))
        t0 = time.perf_counter()
        store.copy(Datastore.RUNNING, content=json.dumps(build_running(nodes, links, requests)))
        load_ms = (time.perf_counter() - t0) * 1000
        running = store.forest(Datastore.RUNNING)
        every_tree = set(schema.trees)
        full_p50, _ = _median_ms(lambda _: validate_forest(running, every_tree), 15)

        svc = "/sdqn-services:entanglement-services/request[name='req7']/demanded-rate"
        link = ("/ietf-network:networks/network[network-id='bench']/"
                "ietf-network-topology:link[link-id='l7']/sdqn-topology:quantum-link/"
                "fibre-length")

        def set_leaf(ds: Datastore, path: str, value: str) -> None:
            store.edit_json(ds, _leaf_edit(path, value))

        svc_p50, svc_p99 = _median_ms(
            lambda i: set_leaf(Datastore.RUNNING, svc, f"{10 + i % 50}.5"), repeat)
        link_p50, link_p99 = _median_ms(
            lambda i: set_leaf(Datastore.RUNNING, link, f"{20 + i % 50}.25"), repeat)

        def candidate_commit(i: int) -> None:
            set_leaf(Datastore.CANDIDATE, svc, f"{60 + i % 30}.5")
            store.commit()

        cand_p50, cand_p99 = _median_ms(candidate_commit, repeat)
        node_t2 = ("/ietf-network:networks/network[network-id='bench']/node[node-id='n7']/"
                   "sdqn-topology:quantum-node/coherence-time")
        slow = max(5, repeat // 20)
        t2_p50, t2_p99 = _median_ms(
            lambda i: set_leaf(Datastore.RUNNING, node_t2, f"{1 + i % 5}.5"), slow)

        def create_request(i: int) -> None:
            store.edit_json(Datastore.RUNNING, {"sdqn-services:entanglement-services": {
                "request": [{"name": f"extra{i}", "source-node": "n0", "destination-node": "n10",
                             "application": "sdqn-types:qkd", "min-fidelity": "0.9",
                             "demanded-rate": "5.0"}]}})

        create_p50, create_p99 = _median_ms(create_request, slow)
        set_leaf(Datastore.CANDIDATE, svc, "99.9")
        diff_p50, _ = _median_ms(lambda _: store.diff(Datastore.CANDIDATE, Datastore.RUNNING),
                                 15)
        store.discard_changes()

    table = Table(title=f"sdqn bench datastore — {nodes} nodes / {links} links / "
                        f"{requests} requests (SQLite WAL, synchronous=FULL)")
    table.add_column("operation")
    table.add_column("p50 ms", justify="right")
    table.add_column("p99 ms", justify="right")
    table.add_row("initial load (copy-config, parse+validate+persist)", f"{load_ms:.1f}", "")
    table.add_row("full validation (all trees)", f"{full_p50:.2f}", "")
    table.add_row("edit running: 1 request leaf + validate + commit", f"{svc_p50:.2f}",
                  f"{svc_p99:.2f}")
    table.add_row("edit running: 1 link leaf + validate + commit", f"{link_p50:.2f}",
                  f"{link_p99:.2f}")
    table.add_row("edit candidate 1 leaf + <commit> to running", f"{cand_p50:.2f}",
                  f"{cand_p99:.2f}")
    table.add_row("edit running: constrained leaf (T2, under a must) + commit",
                  f"{t2_p50:.2f}", f"{t2_p99:.2f}")
    table.add_row("edit running: create 1 request + commit", f"{create_p50:.2f}",
                  f"{create_p99:.2f}")
    table.add_row("diff candidate vs running (full trees)", f"{diff_p50:.2f}", "")
    Console().print(table)


def _leaf_edit(path: str, value: str) -> dict[str, Any]:
    """Turn a simple keyed path into a nested RFC 7951 edit document."""
    import re

    steps = [s for s in path.split("/") if s]
    doc: dict[str, Any] = {}
    cursor: dict[str, Any] = doc
    for idx, step in enumerate(steps):
        name, _, preds = step.partition("[")
        keys = dict(re.findall(r"([\w:-]+)='([^']*)'", "[" + preds)) if preds else {}
        if idx == len(steps) - 1:
            cursor[name] = value
        elif keys:
            entry: dict[str, Any] = dict(keys)
            cursor[name] = [entry]
            cursor = entry
        else:
            child: dict[str, Any] = {}
            cursor[name] = child
            cursor = child
    return doc
