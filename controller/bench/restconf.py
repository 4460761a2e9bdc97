"""`sdqn bench restconf`: request rate and latency of the RESTCONF northbound.

The server is the daemon's (persistent store, SQLite synchronous=FULL, default NACM rules,
the metro topology and demo services in running, one Q-NUM plan published into
<operational> so that each request has state). Clients are httpx keep-alive sessions, one
per thread, in a separate process (on a 2-core machine client and server share the CPUs,
so the figures are a lower bound). Rows:

* GET of one request's state (<operational>), closed loop: as fast as clients can go;
* the same GET paced at a fixed total rate (open loop, latency from the scheduled send
  time, so queueing is not hidden): the target is p99 ≤ 20 ms at 200 requests/s;
* PATCH of one leaf in <candidate> + ietf-netconf:commit (IdentityExpander: the commit
  excludes the Q-NUM expansion and device pushes, which `sdqn bench qnum` and
  `sdqn bench southbound` measure).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from controller.app.store import open_store
from controller.bench.clients import Connection, percentile_ms, run_clients
from controller.daemon import controller_schema
from controller.datastore.nmda import Datastore, NmdaStore
from controller.grpc_api.whatif import configuration, what_if
from controller.logs import configure_logging
from controller.netconf.nacm import seed_nacm
from controller.paths import CONFIG_DIR
from controller.restconf.access import DataAccess
from controller.restconf.server import RestconfServer
from controller.service.publish import publish_plan
from controller.settings import AuthSettings, ControllerSettings, NetconfUser

if TYPE_CHECKING:
    import httpx

STATE = "/restconf/data/sdqn-services:entanglement-services/request={}/state"
CANDIDATE = ("/restconf/ds/ietf-datastores:candidate/sdqn-services:entanglement-services/"
             "request={}")
COMMIT = "/restconf/operations/ietf-netconf:commit"
JSON = "application/yang-data+json"


def _work(kind: str, client: httpx.Client, name: str, i: int) -> None:
    if kind == "get":
        r = client.get(STATE.format(name))
        if r.status_code != 200:
            raise RuntimeError(r.text)
        return
    body = {"sdqn-services:request": [{"name": name, "weight": f"{1 + (i % 50) / 10:.1f}"}]}
    r = client.patch(CANDIDATE.format(name), content=json.dumps(body),
                     headers={"Content-Type": JSON})
    if r.status_code != 204:
        raise RuntimeError(r.text)
    r = client.post(COMMIT)
    if r.status_code != 204:
        raise RuntimeError(r.text)


def _clients(url: str, kind: str, names: list[str], seconds: float, rate: float | None,
             out: Connection) -> None:
    """Client process: one thread and one keep-alive connection per client. With `rate`
    (total requests/s) every thread sends on its own fixed schedule."""
    # Imported here: httpx is the benchmark's client only (extra `bench`), so the `sdqn`
    # command line of an installation without it still starts.
    import httpx

    clients = [httpx.Client(base_url=url, auth=("admin", "admin"), timeout=30)
               for _ in names]
    latencies: list[list[float]] = [[] for _ in names]
    barrier = threading.Barrier(len(names) + 1)
    begin = [0.0]

    def loop(idx: int) -> None:
        barrier.wait()
        interval = len(names) / rate if rate else 0.0
        i = 0
        while True:
            scheduled = begin[0] + idx * interval / len(names) + i * interval
            if scheduled >= begin[0] + seconds or (not rate and time.perf_counter()
                                                   >= begin[0] + seconds):
                break
            if rate:
                time.sleep(max(0.0, scheduled - time.perf_counter()))
            start = scheduled if rate else time.perf_counter()
            _work(kind, clients[idx], names[idx], i)
            latencies[idx].append(time.perf_counter() - start)
            i += 1

    for client, name in zip(clients, names, strict=True):
        _work("get", client, name, 0)  # connect and authenticate before measuring
    threads = [threading.Thread(target=loop, args=(i,)) for i in range(len(names))]
    for thread in threads:
        thread.start()
    begin[0] = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    out.send([s for samples in latencies for s in samples])




def _prepare(tmp: Path) -> tuple[NmdaStore, list[str]]:
    settings = ControllerSettings.load()
    settings.datastore.data_dir = tmp
    store = open_store(settings, schema=controller_schema(settings))
    seed_nacm(store, settings.netconf.nacm_file)
    store.edit_json(Datastore.RUNNING,
                    json.loads((CONFIG_DIR / "topologies" / "metro.json").read_text()))
    services = json.loads((CONFIG_DIR / "services" / "demo.json").read_text())
    store.edit_json(Datastore.RUNNING, services)
    plan = what_if(configuration(store), time_limit_s=5.0).plan
    if plan is not None:
        publish_plan(store, plan)
    return store, [r["name"] for r in services["sdqn-services:entanglement-services"]["request"]]


def main(clients: Annotated[list[int] | None, typer.Option(
            help="concurrent clients (default: 1 and 20)")] = None,
         rate: Annotated[float, typer.Option(help="paced GET row: total requests/s")] = 200.0,
         seconds: Annotated[float, typer.Option(help="measuring time per row")] = 3.0) -> None:
    """Print requests/s and p50/p99 latency for GET of a request's state and PATCH+commit."""
    configure_logging("warning")
    console = Console()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store, names = _prepare(Path(tmp))
        access = DataAccess(store, users=AuthSettings(users=[
            NetconfUser(name="admin", password="admin")]))
        server = RestconfServer(access, port=0)
        server.start()
        try:
            plan: list[tuple[str, str, int, float | None]] = []
            for n in clients or [1, 20]:
                plan.append(("GET request state (closed loop)", "get", n, None))
            plan.append((f"GET request state paced at {rate:.0f}/s", "get", 20, rate))
            for n in clients or [1, 20]:
                plan.append(("PATCH candidate leaf + commit", "commit", n, None))
            for label, kind, n, pace in plan:
                targets = [names[i % len(names)] for i in range(n)]
                samples = run_clients(_clients, server.url, kind, targets, seconds, pace)
                unit = "PATCH+commit/s" if kind == "commit" else "req/s"
                rows.append((label, str(n), f"{len(samples) / seconds:,.0f} {unit}",
                             f"{statistics.median(samples) * 1000:.2f}",
                             f"{percentile_ms(samples, 0.99):.2f}"))
        finally:
            server.stop()
            access.close()
            if store.persistence is not None:
                store.close()
    table = Table(title="sdqn bench restconf — metro + demo services, SQLite synchronous=FULL;"
                        " clients: httpx keep-alive, own process")
    for column in ("workload", "clients", "throughput", "p50 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "workload" else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
