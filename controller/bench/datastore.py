"""`sdqn bench datastore`: the datastore's write and read path, in-process and through
the interfaces users take (NETCONF over SSH, RESTCONF over HTTP, each client in its own
process), beside Debian's yuma123 `netconfd` measured with the same client in the same
run, with the server's CPU per operation.

Why CPU per operation: on a shared machine throughput and latency move with whatever
else runs; the CPU a server spends per request does not, and the ratios to the protocol
floor (an empty <get>) and to netconfd stay meaningful. The in-process rows are the
engine alone (no protocol), labelled as such.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from controller.bench.clients import Measured
from controller.bench.datastore_tree import Tree, large_tree, metro_tree
from controller.bench.interfaces import (
    measure_netconf,
    measure_restconf,
    netconf_works,
    restconf_works,
    serving,
)
from controller.datastore.apply import validate_forest
from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.persistence import Persistence
from controller.datastore.schema import Schema
from controller.logs import configure_logging
from controller.settings import PRODUCT_MODULES

_HEADER = ("interface", "workload", "sessions", "ops/s", "p50 ms", "p99 ms",
           "server CPU ms/op", "CPU vs floor", "CPU vs netconfd")


def _median_ms(fn: Callable[[int], object], repeat: int) -> tuple[float, float]:
    samples = []
    for i in range(repeat):
        start = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.99 * (len(samples) - 1))]


def in_process_rows(tree: Tree, repeat: int, readers: int = 10
                    ) -> list[tuple[str, str, str]]:
    """The engine alone: the store's own calls, no protocol, no NACM."""
    schema = Schema(list(PRODUCT_MODULES))
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = NmdaStore(schema, persistence=Persistence(Path(tmp) / "bench.sqlite"))
        t0 = time.perf_counter()
        store.copy(Datastore.RUNNING, content=json.dumps(tree.content))
        rows.append(("initial load (copy-config, parse+validate+persist)",
                     f"{(time.perf_counter() - t0) * 1000:.1f}", ""))
        running = store.forest(Datastore.RUNNING)
        every_tree = set(schema.trees)
        full, _ = _median_ms(lambda _: validate_forest(running, every_tree), 15)
        rows.append(("full validation (all trees)", f"{full:.2f}", ""))
        rate = (f"/sdqn-services:entanglement-services/request[name='{tree.request}']/"
                "demanded-rate")
        node = (f"/ietf-network:networks/network[network-id='{tree.network}']/"
                f"node[node-id='{tree.node}']/sdqn-topology:quantum-node/coherence-time")

        def set_leaf(ds: Datastore, path: str, value: str) -> None:
            store.edit_json(ds, _leaf_edit(path, value))

        def candidate_commit(i: int) -> None:
            set_leaf(Datastore.CANDIDATE, rate, f"{60 + i % 30}.5")
            store.commit()

        def create_request(i: int) -> None:
            store.edit_json(Datastore.RUNNING, {"sdqn-services:entanglement-services": {
                "request": [{"name": f"extra{i}", "source-node": tree.request_source,
                             "destination-node": tree.request_destination,
                             "application": "sdqn-types:qkd", "min-fidelity": "0.9",
                             "demanded-rate": "5.0"}]}})

        def read_one(_: int) -> None:
            store.get(Datastore.RUNNING, xpath=rate.rsplit("/", 1)[0])

        for label, fn in (
                ("edit running: 1 unconstrained leaf", lambda i: set_leaf(
                    Datastore.RUNNING, rate, f"{10 + i % 50}.5")),
                ("edit candidate: 1 leaf + commit", candidate_commit),
                ("edit running: 1 leaf under a must", lambda i: set_leaf(
                    Datastore.RUNNING, node, f"{1 + i % 5}.5")),
                ("edit running: create 1 request", create_request),
                ("read one request (published copy)", read_one)):
            p50, p99 = _median_ms(fn, repeat)
            rows.append((label, f"{p50:.3f}", f"{p99:.3f}"))
        for label, xpath in (("one request", rate.rsplit("/", 1)[0]),
                             ("every request", "/sdqn-services:entanglement-services")):
            one = _reads_per_second(store, xpath, 1)
            many = _reads_per_second(store, xpath, readers)
            rows.append((f"read {label}: {readers} threads vs 1 (reads/s)",
                         f"{many:,.0f} vs {one:,.0f}", f"{many / one:.2f}×"))
        set_leaf(Datastore.CANDIDATE, rate, "99.9")
        diff, _ = _median_ms(lambda _: store.diff(Datastore.CANDIDATE, Datastore.RUNNING), 15)
        rows.append(("diff candidate vs running (full trees)", f"{diff:.2f}", ""))
        store.discard_changes()
        store.close()
    return rows


def _reads_per_second(store: NmdaStore, xpath: str, threads: int,
                      seconds: float = 1.0) -> float:
    """Reads of `xpath` from running per second by `threads` threads together (each read
    selects from the published copy and prints the selection)."""
    counts = [0] * threads
    start = threading.Barrier(threads + 1)
    deadline = [0.0]

    def loop(index: int) -> None:
        start.wait()
        while time.perf_counter() < deadline[0]:
            store.get(Datastore.RUNNING, xpath=xpath)
            counts[index] += 1

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start.wait()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - began)


def _leaf_edit(path: str, value: str) -> dict[str, object]:
    """A merge of one leaf as RFC 7951 JSON, from a simple absolute path."""
    import re

    steps = [s for s in re.split(r"/(?![^\[]*\])", path) if s]
    doc: dict[str, object] = {}
    cursor: dict[str, object] = doc
    for i, step in enumerate(steps):
        match = re.match(r"([^\[]+)(?:\[([^=]+)='([^']*)'\])?", step)
        assert match
        name, key, keyval = match.groups()
        if i == len(steps) - 1:
            cursor[name] = value
        elif key:
            entry: dict[str, object] = {key: keyval}
            cursor[name] = [entry]
            cursor = entry
        else:
            child: dict[str, object] = {}
            cursor[name] = child
            cursor = child
    return doc


def interface_rows(tree: Tree, seconds: float, readers: int) -> list[tuple[str, ...]]:
    """Our NETCONF and RESTCONF servers over `tree`, one row per workload."""
    rows: list[tuple[str, ...]] = []
    with serving(tree) as servers:
        connect = servers.netconf_connector()
        floor: Measured | None = None
        single_read: Measured | None = None
        for work in netconf_works(tree, readers):
            measured = measure_netconf(connect, work, seconds)
            floor = floor or measured
            if work.name.startswith("get-config") and work.sessions == 1:
                single_read = measured
            rows.append(_row("NETCONF/SSH (sdqn)", work.name, work.sessions, measured, floor,
                             single_read if work.sessions > 1 else None))
        http_floor: Measured | None = None
        single_get: Measured | None = None
        for rwork in restconf_works(tree, readers):
            measured = measure_restconf(servers.restconf_url, rwork, seconds)
            http_floor = http_floor or measured
            if rwork.name == "GET one request" and rwork.sessions == 1:
                single_get = measured
            rows.append(_row("RESTCONF/HTTP (sdqn)", rwork.name, rwork.sessions, measured,
                             http_floor, single_get if rwork.sessions > 1 else None))
    return rows


def _row(interface: str, workload: str, sessions: int, measured: Measured,
         floor: Measured | None, one_session: Measured | None) -> tuple[str, ...]:
    """`one_session`: the same workload with one session, for a throughput ratio."""
    versus_floor = (f"{measured.cpu_ms_per_op / floor.cpu_ms_per_op:.2f}×"
                    if floor is not None and floor is not measured else "")
    if one_session is not None and one_session.rate:
        versus_floor = f"{measured.rate / one_session.rate:.2f}× 1-session ops/s"
    return (interface, workload, str(sessions), f"{measured.rate:,.0f}",
            f"{measured.p50_ms:.2f}", f"{measured.p99_ms:.2f}",
            f"{measured.cpu_ms_per_op:.3f}", versus_floor, "")


def _print_table(console: Console, title: str, header: Sequence[str],
                 rows: Sequence[Sequence[str]]) -> None:
    table = Table(title=title)
    for index, column in enumerate(header):
        table.add_column(column, justify="left" if index < 2 else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def main(nodes: Annotated[int, typer.Option(help="topology nodes")] = 1000,
         links: Annotated[int, typer.Option(help="topology links")] = 3000,
         requests: Annotated[int, typer.Option(help="service requests")] = 500,
         repeat: Annotated[int, typer.Option(help="samples per in-process figure")] = 200,
         seconds: Annotated[float, typer.Option(help="measuring time per interface row")
                            ] = 3.0,
         readers: Annotated[int, typer.Option(help="concurrent reader sessions")] = 10,
         metro: Annotated[bool, typer.Option(help="also measure the metro tree")] = True
         ) -> None:
    """Print the datastore's figures in-process and through NETCONF and RESTCONF."""
    configure_logging("warning")
    console = Console(width=160)
    trees = [large_tree(nodes, links, requests)] + ([metro_tree()] if metro else [])
    for tree in trees:
        _print_table(console, f"sdqn bench datastore — in-process (engine only, no "
                     f"protocol) — {tree.name}, SQLite WAL synchronous=FULL",
                     ("operation", "p50 ms", "p99 ms"), in_process_rows(tree, repeat, readers))
        _print_table(console, f"sdqn bench datastore — through the interfaces — {tree.name}"
                     f"; clients in their own process; {seconds:.0f} s per row",
                     _HEADER, interface_rows(tree, seconds, readers))
