"""`sdqn bench sim`: how many emulated devices one process carries.

Builds a synthetic topology of N devices (end nodes, repeaters, q-ROADMs and APCs on a
ring of spans), starts them all with their NETCONF servers, and reports start time,
resident memory of the emulator process (VmRSS from /proc/self/status: psutil is not a
dependency) and the latency of one <get-data> of operational per device with one ncclient
session per device all open at once, issued from a thread pool in a separate client
process (as the controller would be).  Target: 200 devices up in ≤ 20 s, ≤ 2 GB.
"""

from __future__ import annotations

import multiprocessing as mp
import statistics
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import typer

from controller.logs import configure_logging
from simulators.devices.world import PhysLink, PhysNode, Topology
from simulators.launcher import Network

NMDA_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
DS_NS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
KIND_CYCLE = ("end-node", "repeater", "q-roadm", "repeater", "apc")


def synthetic_topology(n_devices: int) -> Topology:
    """A ring of memory nodes and q-ROADMs; every fifth device an APC on the next fibre."""
    nodes: list[PhysNode] = []
    for i in range(n_devices):
        kind = KIND_CYCLE[i % len(KIND_CYCLE)]
        memory = {"end-node": 10, "repeater": 20}.get(kind, 0)
        nodes.append(PhysNode(f"{kind}-{i}", kind, memory_qubits=memory,
                              coherence_time=1.0 if memory else None,
                              qroadm={"degrees": 2, "add-drop-ports": 4}))
    ring = [n for n in nodes if n.kind != "apc"]
    apcs = [n for n in nodes if n.kind == "apc"]
    links: list[PhysLink] = []
    for i, (a, b) in enumerate(zip(ring, ring[1:] + ring[:1], strict=True)):
        compensator = apcs[i].node_id if i < len(apcs) else None
        links.append(PhysLink(f"{a.node_id}--{b.node_id}", a.node_id, b.node_id, 10.0 + i % 7,
                              compensator=compensator))
    return Topology("bench", nodes, links)


def vm_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _get_data_filter() -> Any:
    from lxml import etree

    rpc = etree.Element(f"{{{NMDA_NS}}}get-data", nsmap={None: NMDA_NS, "ds": DS_NS})
    etree.SubElement(rpc, f"{{{NMDA_NS}}}datastore").text = "ds:operational"
    return rpc


def _client_round(host: str, ports: list[int], user: str, password: str, timeout: float
                  ) -> list[tuple[float, float, int]]:
    """In the client process: one session per port, all open, one get-data each at once."""
    from southbound.transport import connect

    barrier = threading.Barrier(len(ports))

    def one(port: int) -> tuple[float, float, int]:
        started = time.perf_counter()
        manager = connect(host=host, port=port, username=user, password=password,
                          timeout=timeout)
        connected = time.perf_counter() - started
        try:
            barrier.wait(timeout=timeout)
            t0 = time.perf_counter()
            reply = manager.dispatch(_get_data_filter())
            return connected, time.perf_counter() - t0, len(reply.xml)
        finally:
            manager.close_session()

    with ThreadPoolExecutor(max_workers=len(ports)) as pool:
        return list(pool.map(one, ports))


def measure_sessions(network: Network, timeout: float = 60.0) -> dict[str, Any]:
    """Latency of simultaneous get-data, clients in their own process like a controller.

    Running the 200 ncclient sessions inside the emulator's process would make clients
    and servers share one GIL and measure mostly the clients' XML parsing.
    """
    user, password = next(iter(network.users.items()))
    ports = [d.port for d in network.devices.values()]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        results = pool.submit(_client_round, network.host, ports, user, password,
                              timeout).result(timeout=10 * timeout)
    total = time.perf_counter() - started
    connects = [r[0] for r in results]
    latencies = [r[1] for r in results]
    return {"sessions": len(results), "connect_p50": statistics.median(connects),
            "connect_max": max(connects), "p50": _percentile(latencies, 0.5),
            "p99": _percentile(latencies, 0.99), "max": max(latencies),
            "reply_bytes": statistics.median(r[2] for r in results), "total": total}


def single_session_latency(network: Network, rpcs: int = 50) -> float:
    """Median get-data latency on one idle session (the unloaded reference)."""
    from southbound.transport import connect

    user, password = next(iter(network.users.items()))
    device = next(iter(network.devices.values()))
    manager = connect(host=network.host, port=device.port, username=user, password=password)
    try:
        samples = []
        for _ in range(rpcs):
            t0 = time.perf_counter()
            manager.dispatch(_get_data_filter())
            samples.append(time.perf_counter() - t0)
    finally:
        manager.close_session()
    return statistics.median(samples)


def main(
    devices: Annotated[int, typer.Option(help="number of emulated devices")] = 200,
    tick: Annotated[float, typer.Option(help="wall seconds between physics ticks")] = 1.0,
) -> None:
    """Start N emulated devices; report start time, memory and get-data latency."""
    from rich.console import Console
    from rich.table import Table

    configure_logging("warning")
    rss_before = vm_rss_mb()
    topology = synthetic_topology(devices)
    started = time.perf_counter()
    network = Network(topology, use_topology_ports=False, tick=tick)
    network.start(control=False)
    start_s = time.perf_counter() - started
    rss_up = vm_rss_mb()
    try:
        time.sleep(2 * tick)  # let the ticker run with everything up
        tick_s = network.ticker.last_duration
        single = single_session_latency(network)
        sessions = measure_sessions(network)
        rss_sessions = vm_rss_mb()
    finally:
        network.stop()
    table = Table(title=f"sdqn bench sim: {devices} emulated NETCONF devices")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("devices started", f"{len(network.devices)} ({len(network.schemas)} schemas)"),
        ("start time", f"{start_s:.2f} s"),
        ("VmRSS before / devices up", f"{rss_before:.0f} / {rss_up:.0f} MB"),
        ("VmRSS with all sessions open", f"{rss_sessions:.0f} MB"),
        ("physics tick (all devices)", f"{tick_s * 1000:.0f} ms"),
        ("get-data p50, one idle session", f"{single * 1000:.1f} ms"),
        ("concurrent sessions (client process)", str(sessions["sessions"])),
        ("connect p50 / max", f"{sessions['connect_p50']:.2f} / {sessions['connect_max']:.2f} s"),
        ("get-data p50", f"{sessions['p50'] * 1000:.1f} ms"),
        ("get-data p99", f"{sessions['p99'] * 1000:.1f} ms"),
        ("get-data max", f"{sessions['max'] * 1000:.1f} ms"),
        ("reply size (median)", f"{sessions['reply_bytes']:.0f} B"),
        ("connect all + one get-data each", f"{sessions['total']:.2f} s"),
    ]
    for row in rows:
        table.add_row(*row)
    Console().print(table)
