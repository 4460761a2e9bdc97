"""`sdqn bench sim`: how many emulated devices one process carries.

Builds a synthetic topology of N devices (end nodes, repeaters, q-ROADMs and APCs on a
ring of spans), starts them all with their NETCONF servers, and reports start time,
resident memory (VmRSS from /proc/self/status: psutil is not a dependency) and the
latency of one <get-data> of operational per device with one ncclient session per device
all open at once, issued from a thread pool.  Target: 200 devices up in ≤ 20 s, ≤ 2 GB.
"""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import typer

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


def measure_sessions(network: Network, timeout: float = 60.0) -> dict[str, Any]:
    """One session per device, all open, then one get-data each at the same moment."""
    from southbound.transport import connect

    devices = list(network.devices.values())
    barrier = threading.Barrier(len(devices))
    user, password = next(iter(network.users.items()))

    def one(port: int) -> tuple[float, float, int]:
        started = time.perf_counter()
        manager = connect(host=network.host, port=port, username=user, password=password,
                          timeout=timeout)
        connected = time.perf_counter() - started
        try:
            barrier.wait(timeout=timeout)
            t0 = time.perf_counter()
            reply = manager.dispatch(_get_data_filter())
            latency = time.perf_counter() - t0
            return connected, latency, len(reply.xml)
        finally:
            manager.close_session()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(devices)) as pool:
        results = list(pool.map(one, [d.port for d in devices]))
    total = time.perf_counter() - started
    connects = [r[0] for r in results]
    latencies = [r[1] for r in results]
    return {"sessions": len(results), "connect_p50": statistics.median(connects),
            "connect_max": max(connects), "p50": _percentile(latencies, 0.5),
            "p99": _percentile(latencies, 0.99), "max": max(latencies),
            "reply_bytes": statistics.median(r[2] for r in results), "total": total}


def main(
    devices: Annotated[int, typer.Option(help="number of emulated devices")] = 200,
    tick: Annotated[float, typer.Option(help="wall seconds between physics ticks")] = 1.0,
) -> None:
    """Start N emulated devices; report start time, memory and get-data latency."""
    from rich.console import Console
    from rich.table import Table

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
        ("concurrent sessions", str(sessions["sessions"])),
        ("connect p50 / max", f"{sessions['connect_p50']:.2f} / {sessions['connect_max']:.2f} s"),
        ("get-data p50", f"{sessions['p50'] * 1000:.1f} ms"),
        ("get-data p99", f"{sessions['p99'] * 1000:.1f} ms"),
        ("get-data max", f"{sessions['max'] * 1000:.1f} ms"),
        ("reply size (median)", f"{sessions['reply_bytes']:.0f} B"),
    ]
    for row in rows:
        table.add_row(*row)
    Console().print(table)
