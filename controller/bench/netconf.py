"""`sdqn bench netconf`: RPC throughput and latency of the northbound NETCONF server.

The server is the daemon's own (persistent store with SQLite synchronous=FULL in a
temporary directory, NACM rules seeded, config/topologies/metro.json in running). The
clients are `RawNetconfClient` (paramiko + RFC 6242 framing, no reader thread, no TICK
polling), one session per thread, in one separate client process: on a 2-core machine
client and server share the CPUs, so the figures are a lower bound.
"""

from __future__ import annotations

import json
import logging
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from lxml import etree
from rich.console import Console
from rich.table import Table

from controller.app.store import open_store
from controller.bench.clients import Connection, percentile_ms, run_clients
from controller.daemon import build_server, controller_schema
from controller.datastore.nmda import Datastore
from controller.logs import configure_logging
from controller.netconf.client import RawNetconfClient
from controller.paths import CONFIG_DIR
from controller.settings import AuthSettings, ControllerSettings, NetconfUser

NMDA = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
DS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
NW = "urn:ietf:params:xml:ns:yang:ietf-network"
TOPO = "urn:sdqn:sdqn-topology"

GET_DATA = (f'<get-data xmlns="{NMDA}" xmlns:ds="{DS}" xmlns:nw="{NW}">'
            "<datastore>ds:operational</datastore>"
            "<xpath-filter>/nw:networks</xpath-filter></get-data>")


def _edit_leaf(node: str, value: str) -> str:
    return (f'<edit-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:candidate</datastore>'
            f'<config><networks xmlns="{NW}"><network><network-id>metro</network-id>'
            f"<node><node-id>{node}</node-id><quantum-node xmlns=\"{TOPO}\">"
            f"<coherence-time>{value}</coherence-time></quantum-node></node></network>"
            "</networks></config></edit-data>")


COMMIT = "<commit/>"
# An empty subtree filter selects nothing (RFC 6241 §6.4.2): SSH, framing, parsing and
# dispatch only — what the `netconf` package's trivial <get> anchor measures.
EMPTY_GET = '<get xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><filter type="subtree"/></get>'


def _check(reply: etree._Element) -> None:
    if reply.find("{urn:ietf:params:xml:ns:netconf:base:1.0}rpc-error") is not None:
        raise RuntimeError(etree.tostring(reply).decode())


def _work(name: str, client: RawNetconfClient, node: str, i: int) -> None:
    if name == "floor":
        _check(client.rpc(EMPTY_GET))
    elif name == "get-data":
        _check(client.rpc(GET_DATA))
    else:  # one leaf per session (its own node), then commit the shared candidate
        _check(client.rpc(_edit_leaf(node, f"{1 + (i % 50) / 10:.1f}")))
        _check(client.rpc(COMMIT))


def _clients(port: int, work: str, nodes: list[str], seconds: float,
             out: Connection) -> None:
    """Client process: one thread and one session per node, all started together."""
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    clients = [RawNetconfClient("127.0.0.1", port, "admin", "admin") for _ in nodes]
    latencies: list[list[float]] = [[] for _ in nodes]
    start = threading.Barrier(len(nodes) + 1)
    deadline = [0.0]

    def loop(idx: int) -> None:
        start.wait()
        i = 0
        while time.perf_counter() < deadline[0]:
            t0 = time.perf_counter()
            _work(work, clients[idx], nodes[idx], i)
            latencies[idx].append(time.perf_counter() - t0)
            i += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(len(nodes))]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + seconds
    start.wait()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    out.send([s for samples in latencies for s in samples])




def main(sessions: Annotated[list[int] | None, typer.Option(help="parallel sessions "
                                                              "(default: 1 and 10)")] = None,
         seconds: Annotated[float, typer.Option(help="measuring time per row")] = 3.0) -> None:
    """Print RPC/s and p50/p99 latency for get-data and edit-data+commit."""
    configure_logging("warning")
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)  # resets at client close
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        settings = ControllerSettings.load()
        settings.datastore.data_dir = Path(tmp)
        settings.netconf.port = 0
        settings.netconf.host_key = Path(tmp) / "host_key"
        settings.netconf.auth = AuthSettings(users=[NetconfUser(name="admin", password="admin")])
        store = open_store(settings, schema=controller_schema(settings))
        topology = json.loads((CONFIG_DIR / "topologies" / "metro.json").read_text())
        store.edit_json(Datastore.RUNNING, topology)
        nodes = [n["node-id"] for n in topology["ietf-network:networks"]["network"][0]["node"]]
        server = build_server(settings, store)
        server.start()
        try:
            rows = []
            for label, unit, work in (("get, empty filter (protocol floor)", "RPC/s", "floor"),
                                      ("get-data operational /networks", "RPC/s", "get-data"),
                                      ("edit-data candidate (1 leaf) + commit", "commits/s",
                                       "commit")):
                for n in sessions or [1, 10]:
                    targets = [nodes[i % len(nodes)] for i in range(n)]
                    samples = run_clients(_clients, server.port, work, targets, seconds)
                    count = len(samples)
                    rows.append((label, n, f"{count / seconds:,.0f} {unit}",
                                 f"{statistics.median(samples) * 1000:.2f}",
                                 f"{percentile_ms(samples, 0.99):.2f}"))
        finally:
            server.stop()
            if store.persistence is not None:
                store.close()
    table = Table(title="sdqn bench netconf — metro topology, SQLite synchronous=FULL; "
                        "client: RawNetconfClient (paramiko, no ncclient TICK), own process")
    for column in ("workload", "sessions", "throughput", "p50 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "workload" else "right")
    for row in rows:
        table.add_row(row[0], str(row[1]), *row[2:])
    console.print(table)
