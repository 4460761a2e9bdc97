"""`sdqn bench console`: how fast the web console draws the network and shows a change.

The emulated network runs in its own process (`sdqn sim run`), the controller daemon in
another (`sdqn controller run`, RESTCONF and the console on), as `sdqn bench faults` runs
them; a headless chromium (Playwright, Debian's /usr/bin/chromium) is the operator.

Per network, N repetitions of:
* page load: a cold navigation to `/console/#/topology` in a new browser context (no
  cache, no page left from the last repetition) until the map holds every node and fibre
  and the view says it is drawn (polled in the page on every animation frame), with the
  daemon's CPU seconds over that load (from /proc, proc(5));
* event to screen: a fibre cut injected through the emulators' control channel, stamped
  at injection, until that fibre is drawn red, stamped in the page on the animation frame
  that sees it (one clock: same machine); then the repair, until it is no longer red.

Rows: the generated 100-device network with 100 requests, and as its peer in the same run
the 8-node metro network with the demo services. Medians and p90 are printed.
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

CHROMIUM = Path("/usr/bin/chromium")
ROUTE_HOPS = 8
#: how long a load, a cut or its repair may take before it counts as a failure (every
#: in-page wait is bounded: the bench stops by itself)
WAIT_MS = 120_000

DRAWN = """([nodes, links, waitMs]) => new Promise((resolve, reject) => {
  const until = Date.now() + waitMs;
  const check = () => {
    const t = window.sdqnTopology;
    const main = document.querySelector("main[data-view='topology'][data-ready='true']");
    if (main && t && t.cy.nodes().length >= nodes && t.cy.edges().length >= links) resolve(true);
    else if (Date.now() > until) reject(new Error("not drawn in time"));
    else requestAnimationFrame(check);
  };
  check();
})"""

#: resolves with Date.now() on the first animation frame the fibre has `grade` (or not)
GRADE_SEEN = """([link, bad, waitMs]) => new Promise((resolve, reject) => {
  const until = Date.now() + waitMs;
  const check = () => {
    const e = window.sdqnTopology && window.sdqnTopology.cy.getElementById(link);
    if (e && e.length && ((e.data('grade') === 'bad') === bad)) resolve(Date.now());
    else if (Date.now() > until) reject(new Error("not seen in time"));
    else requestAnimationFrame(check);
  };
  check();
})"""


@dataclass
class Row:
    name: str
    devices: int
    links: int
    services: int
    load_s: list[float] = field(default_factory=list)
    event_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    #: what each failure was, printed under the table
    failed: list[str] = field(default_factory=list)

    def fail(self, what: str, error: Exception) -> None:
        self.failed.append(f"{self.name}: {what}: {str(error).splitlines()[0][:160]}")


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def write_network(tmp: Path, devices: int, services: int, seed: int) -> tuple[Path, Path]:
    """A generated network of `devices` (core, end nodes, APCs as in `sdqn bench heal`)
    and `services` requests between its end nodes, as a topology and a services file."""
    from controller.bench.heal import bench_network, topology_json
    from qnum.instances import random_requests
    from qnum.io import DeviceKind, requests_to_json

    end_nodes = max(2, devices * 36 // 100)
    network = bench_network(devices, seed, end_nodes=end_nodes, apcs=max(1, devices // 10))
    ends = sorted(n for n, node in network.nodes.items() if node.kind is DeviceKind.END_NODE)
    requests = [replace(r, demanded_rate_hz=1.0, min_fidelity=0.6)
                for r in random_requests(network, services, seed, endpoints=ends,
                                         max_hops=ROUTE_HOPS)]
    topology = tmp / "topology.json"
    # management entries the daemon points at the emulators' actual ports (`--any-port`)
    ports = {n: 20000 + i for i, n in enumerate(sorted(network.nodes))}
    topology.write_text(json.dumps(topology_json(network, ports)))
    doc = {**requests_to_json(requests),
           "sdqn-controller:controller": {"optimiser": {"max-route-hops": ROUTE_HOPS}}}
    path = tmp / "services.json"
    path.write_text(json.dumps(doc))
    return topology, path


def measure(browser: Any, row: Row, tmp: Path, seed: int, repeats: int,
            topology: Path | None, services: Path | None) -> Row:
    from controller.bench.faults import Plant

    with ExitStack() as stack:
        plant = Plant(tmp, stack, seed, topology=topology, services=services)
        network = _wait_for_network(plant)
        row.devices, row.links = len(network.nodes), len(network.links)
        row.services = len(plant.states())
        rng = random.Random(seed)
        for _ in range(repeats):
            # A new browser context each time: a full, cold load (no page, no HTTP cache,
            # no login left from the last repetition), as an operator opening the console.
            with _context(browser) as context:
                _repeat(context.new_page(), row, plant, rng, network.links)
    return row


def _repeat(page: Any, row: Row, plant: Any, rng: random.Random, links: list[str]) -> None:
    """One cold load, one fibre cut seen red, its repair seen healthy again."""
    from controller.bench.proc_cpu import process_cpu_seconds

    cpu = process_cpu_seconds(plant.daemon.pid)
    start = time.perf_counter()
    try:
        page.goto(f"{plant.restconf}/console/#/topology")
        page.evaluate(DRAWN, [row.devices, row.links, WAIT_MS])
    except Exception as exc:   # a failed load is counted, never measured as fast
        row.fail("page load", exc)
        return
    row.load_s.append(time.perf_counter() - start)
    row.cpu_s.append(process_cpu_seconds(plant.daemon.pid) - cpu)
    link = rng.choice(sorted(links))
    injected_ms = time.time() * 1000
    plant.fault({"kind": "fibre-cut", "target": link})
    try:
        seen_ms = page.evaluate(GRADE_SEEN, [link, True, WAIT_MS])
        row.event_s.append((float(seen_ms) - injected_ms) / 1000)
    except Exception as exc:
        row.fail(f"cut of {link} not drawn red", exc)
    plant.fault({"kind": "fibre-cut", "target": link, "clear": True})
    try:    # the repair, seen before the next repetition (bounded like the cut)
        page.evaluate(GRADE_SEEN, [link, False, WAIT_MS])
    except Exception as exc:
        row.fail(f"repair of {link} not drawn", exc)


@contextmanager
def _context(browser: Any) -> Iterator[Any]:
    context = browser.new_context(http_credentials={"username": "admin", "password": "admin"},
                                  viewport={"width": 1280, "height": 900})
    try:
        yield context
    finally:
        context.close()


@dataclass
class Network:
    nodes: list[str]
    links: list[str]


def _wait_for_network(plant: Any) -> Network:
    """Node and link ids once every fibre has been read (the map is complete then)."""
    deadline = time.monotonic() + 300
    while True:
        data = plant._get("ietf-network:networks")
        nets = data.get("ietf-network:networks", {}).get("network", [])
        if nets:
            links = nets[0].get("ietf-network-topology:link", [])
            # every fibre read from its devices at least once (idle ones carry no
            # fidelity, their state is still drawn)
            if links and all("last-updated" in lk.get("sdqn-topology:quantum-link", {})
                             .get("state", {}) for lk in links):
                return Network([n["node-id"] for n in nets[0].get("node", [])],
                               [lk["link-id"] for lk in links])
        if time.monotonic() > deadline:
            raise RuntimeError("the network's telemetry did not arrive")
        time.sleep(0.5)


def table(rows: list[Row]) -> Table:
    out = Table(title="console: page load and event-to-screen latency (headless chromium)")
    for column in ("network", "devices", "fibres", "services", "runs", "load median s",
                   "load p90 s", "event→screen median s", "event→screen p90 s",
                   "daemon CPU s / load", "failed"):
        out.add_column(column)
    for r in rows:
        def fmt(values: list[float], f: Any) -> str:
            return f"{f(values):.3f}" if values else "–"
        out.add_row(r.name, str(r.devices), str(r.links), str(r.services), str(len(r.load_s)),
                    fmt(r.load_s, statistics.median), fmt(r.load_s, p90),
                    fmt(r.event_s, statistics.median), fmt(r.event_s, p90),
                    fmt(r.cpu_s, statistics.median), str(len(r.failed)))
    return out


def main(devices: Annotated[int, typer.Option(help="devices of the generated network")] = 100,
         services: Annotated[int, typer.Option(help="requests on it")] = 100,
         repeats: Annotated[int, typer.Option(help="repetitions per network")] = 5,
         seed: Annotated[int, typer.Option(help="topology, request and cut seed")] = 3,
         peer: Annotated[bool, typer.Option(help="also the metro network (the peer row)")]
         = True) -> None:
    """Web console page load and event-to-screen latency (headless chromium) on an emulated
    100-device network with 100 services, the metro network as peer.

    Medians and p90 over the repetitions, and the daemon's CPU seconds per page load."""
    from playwright.sync_api import sync_playwright

    from controller.logs import configure_logging

    configure_logging("warning", "console")
    if not CHROMIUM.exists():
        raise typer.BadParameter("needs Debian's chromium at /usr/bin/chromium")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="sdqn-console-") as tmp_dir, \
            sync_playwright() as p:
        tmp = Path(tmp_dir)
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            big = tmp / "generated"
            big.mkdir()
            topology, services_file = write_network(big, devices, services, seed)
            rows.append(measure(browser, Row(f"generated {devices}", 0, 0, 0), big, seed,
                                repeats, topology, services_file))
            if peer:
                metro = tmp / "metro"
                metro.mkdir()
                rows.append(measure(browser, Row("metro (peer)", 0, 0, 0), metro, seed,
                                    repeats, None, None))
        finally:
            browser.close()
    console = Console(width=200)
    console.print(table(rows))
    for what in (f for r in rows for f in r.failed):
        console.print(f"failed: {what}")
