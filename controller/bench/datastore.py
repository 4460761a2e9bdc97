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
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from controller.bench.clients import Measured, run_together
from controller.bench.datastore_tree import Tree, large_tree, metro_tree
from controller.bench.interfaces import (
    measure_netconf,
    measure_restconf,
    netconf_works,
    peer_works,
    restconf_works,
    serving,
)
from controller.bench.netconfd_peer import NetconfdPeer, netconfd_available
from controller.datastore.apply import validate_forest
from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.persistence import Persistence
from controller.datastore.schema import Schema
from controller.datastore.tree import path_steps
from controller.logs import configure_logging
from controller.settings import PRODUCT_MODULES

_HEADER = ("interface", "workload", "sessions", "ops/s", "p50 ms", "p99 ms",
           "server CPU ms/op", "CPU ÷ floor", "CPU ÷ netconfd", "ops/s ÷ 1 session")


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
    def read(_: int) -> None:
        store.get(Datastore.RUNNING, xpath=xpath)

    samples, elapsed, _failures = run_together([read] * threads, seconds)
    return len(samples) / elapsed


def _leaf_edit(path: str, value: str) -> dict[str, object]:
    """A merge of one leaf as RFC 7951 JSON, from a simple absolute path."""
    import re

    steps = path_steps(path)
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


@dataclass(frozen=True)
class Row:
    """One measured workload on one server."""

    interface: str
    key: str
    workload: str
    sessions: int
    measured: Measured


SDQN_NETCONF = "NETCONF/SSH (sdqn)"
SDQN_RESTCONF = "RESTCONF/HTTP (sdqn)"


def sdqn_rows(tree: Tree, seconds: float, readers: int) -> list[Row]:
    """Our NETCONF and RESTCONF servers over `tree`, one row per workload."""
    rows: list[Row] = []
    with serving(tree) as servers:
        connect = servers.netconf_connector()
        for work in netconf_works(tree, readers):
            rows.append(Row(SDQN_NETCONF, work.key, work.name, work.total_sessions,
                            measure_netconf(connect, work, seconds)))
        for rwork in restconf_works(tree, readers):
            rows.append(Row(SDQN_RESTCONF, rwork.key, rwork.name, rwork.total_sessions,
                            measure_restconf(servers.restconf_url, rwork, seconds)))
    return rows


def peer_rows(entries: int, seconds: float, readers: int) -> list[Row]:
    """Debian's yuma123 netconfd over `entries` list entries (two runs: netconfd serves
    one writable target at a time); none when netconfd is not installed."""
    if not netconfd_available():
        return []
    rows: list[Row] = []
    for target, works in zip(("running", "candidate"), peer_works(readers), strict=True):
        with NetconfdPeer(entries, target=target) as peer:   # type: ignore[arg-type]
            interface = f"NETCONF/{peer.transport.upper()} (netconfd)"
            for work in works:
                rows.append(Row(interface, work.key, work.name, work.total_sessions,
                                measure_netconf(peer.endpoint.connect, work, seconds,
                                                peer.cpu_seconds)))
    return rows


def render(rows: Sequence[Row]) -> list[tuple[str, ...]]:
    """Table rows with the ratios: CPU per operation to the same server's floor and to
    netconfd's same operation, many sessions' throughput to one session's."""
    by_key = {(row.interface, row.key): row for row in rows}
    peer = next((row.interface for row in rows if "netconfd" in row.interface), None)
    out: list[tuple[str, ...]] = []
    for row in rows:
        m = row.measured
        floor = by_key.get((row.interface, "floor"))
        versus_floor = (f"{m.cpu_ms_per_op / floor.measured.cpu_ms_per_op:.2f}"
                        if floor is not None and floor is not row else "")
        twin = by_key.get((peer, row.key)) if peer and row.interface == SDQN_NETCONF \
            else None
        versus_peer = (f"{m.cpu_ms_per_op / twin.measured.cpu_ms_per_op:.2f}"
                       if twin is not None else "")
        single = by_key.get((row.interface, "get")) if row.key == "get-many" else None
        scaling = (f"{m.rate / single.measured.rate:.2f}"
                   if single is not None and single.measured.rate else "")
        out.append((row.interface, row.workload, str(row.sessions), f"{m.rate:,.0f}",
                    f"{m.p50_ms:.2f}", f"{m.p99_ms:.2f}", f"{m.cpu_ms_per_op:.3f}",
                    versus_floor, versus_peer, scaling))
    return out


#: (operation key on our NETCONF server, limit on server CPU ms per operation)
_CPU_TARGETS = (("edit", 1.4), ("commit", 2.0), ("must", 3.0))


def targets(rows: Sequence[Row]) -> list[str]:
    """The datastore's targets, each with its measured figure and verdict."""
    by_key = {(row.interface, row.key): row.measured for row in rows}
    lines = []

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    for key, limit in _CPU_TARGETS:
        m = by_key.get((SDQN_NETCONF, key))
        if m is not None:
            lines.append(f"NETCONF {key}: {m.cpu_ms_per_op:.3f} ms CPU/op (target ≤ {limit}) "
                         f"— {verdict(m.cpu_ms_per_op <= limit)}")
    get, floor = by_key.get((SDQN_NETCONF, "get")), by_key.get((SDQN_NETCONF, "floor"))
    peer = next((m for (interface, key), m in by_key.items()
                 if "netconfd" in interface and key == "get"), None)
    if get is not None and peer is not None:
        ratio = get.cpu_ms_per_op / peer.cpu_ms_per_op
        lines.append(f"get-config CPU vs netconfd: {ratio:.2f}× (target ≤ 2×) — "
                     f"{verdict(ratio <= 2)}")
    if get is not None and floor is not None:
        ratio = get.rate / floor.rate
        lines.append(f"get-config throughput vs floor: {ratio:.2f}× (target ≥ 0.9×) — "
                     f"{verdict(ratio >= 0.9)}")
    for interface in (SDQN_NETCONF, SDQN_RESTCONF):
        one, many = by_key.get((interface, "get")), by_key.get((interface, "get-many"))
        if one is not None and many is not None and one.rate:
            ratio = many.rate / one.rate
            lines.append(f"{interface} many readers vs one: {ratio:.2f}× throughput "
                         f"(target ≥ 1.8×) — {verdict(ratio >= 1.8)}")
    return lines


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
    console = Console(width=170)
    trees = [(large_tree(nodes, links, requests), nodes)] + ([(metro_tree(), 20)]
                                                             if metro else [])
    for tree, entries in trees:
        _print_table(console, f"sdqn bench datastore — in-process (engine only, no "
                     f"protocol) — {tree.name}, SQLite WAL synchronous=FULL",
                     ("operation", "p50 ms", "p99 ms"), in_process_rows(tree, repeat, readers))
        rows = sdqn_rows(tree, seconds, readers) + peer_rows(entries, seconds, readers)
        _print_table(console, f"sdqn bench datastore — through the interfaces — {tree.name}"
                     f" (netconfd: {entries} list entries); clients in their own processes; "
                     f"{seconds:.0f} s per row", _HEADER, render(rows))
        for line in targets(rows):
            console.print(f"  {line}")
