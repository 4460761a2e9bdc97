"""`sdqn bench southbound`: network-wide commit latency and per-session RPC rate.

Devices are real NETCONF-over-SSH servers (the controller's own server core over an
sdqn-apc NMDA store) on localhost, all in this process. Each figure is a median over
repeated transactions; the stock-ncclient rows use the very same commit engine with
ncclient's own session loop (TICK = 0.1 s), so the difference is the transport fix.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from adapters.netconf import NetconfAdapter
from controller.datastore.nmda import NmdaStore
from controller.datastore.schema import Schema
from controller.logs import configure_logging
from controller.netconf.server import NetconfServer
from southbound.commit import NetworkCommit
from southbound.model import DeviceChange, DeviceEndpoint
from southbound.pool import SessionPool

APC_NS = "urn:sdqn:sdqn-apc"


class StockNetconfAdapter(NetconfAdapter):
    fast_transport = False


def _config(node: str, interval: int) -> str:
    return (f'<apc xmlns="{APC_NS}"><node-id>{node}</node-id><link-id>l-{node}</link-id>'
            f"<calibration-interval>{interval}</calibration-interval>"
            "<target-bases>rectilinear</target-bases><target-bases>diagonal</target-bases>"
            "</apc>")


def _commit_p50(pool: SessionPool, nodes: list[str], repeat: int, workers: int) -> float:
    committer = NetworkCommit(pool, workers=workers)
    samples = []
    for i in range(repeat):
        changes = [DeviceChange(node_id=n, config_xml=_config(n, 600 + i)) for n in nodes]
        start = time.perf_counter()
        result = committer.apply(changes)
        samples.append(time.perf_counter() - start)
        if not result.success:
            raise RuntimeError(f"benchmark commit failed: {result}")
    return statistics.median(samples)


def _rpc_rate(endpoint: DeviceEndpoint, adapter: type[NetconfAdapter], seconds: float) -> float:
    device = adapter(endpoint, timeout=10)
    device.open()
    try:
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            device.get_config()
            count += 1
        return count / (time.perf_counter() - start)
    finally:
        device.close()


def main(sizes: str = typer.Option("10,100,200", help="devices per transaction"),
         repeat: int = typer.Option(5, help="transactions per size"),
         stock_sizes: str = typer.Option("10,100", help="sizes also run with stock ncclient"),
         workers: int = typer.Option(64, help="parallel device workers")) -> None:
    """Print commit latency (p50) and RPC/s per session, ours vs stock ncclient."""
    configure_logging("error")
    counts = [int(x) for x in sizes.split(",")]
    stock_counts = {int(x) for x in stock_sizes.split(",") if x}
    schema = Schema(["sdqn-apc"])
    servers: list[NetconfServer] = []
    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "host_key"
        start = time.perf_counter()
        for i in range(max(counts)):
            server = NetconfServer(NmdaStore(schema), host="127.0.0.1", port=0,
                                   users={"admin": "admin"}, host_key=key, nacm=False,
                                   name=f"apc-{i}")
            server.start()
            servers.append(server)
        boot_s = time.perf_counter() - start
        endpoints = [DeviceEndpoint.model_validate({
            "node-id": f"apc-{i}", "port": s.port, "modules": ("sdqn-apc",)})
            for i, s in enumerate(servers)]
        try:
            for label, adapter in (("sdqn (wake-up transport)", NetconfAdapter),
                                   ("stock ncclient (TICK 0.1 s)", StockNetconfAdapter)):
                rate = _rpc_rate(endpoints[0], adapter, 2.0)
                rows.append((label, "1 session: get-config", f"{rate:,.0f} RPC/s", ""))
            for n in counts:
                for label, adapter, runs in (("sdqn", NetconfAdapter, True),
                                             ("stock ncclient", StockNetconfAdapter,
                                              n in stock_counts)):
                    if not runs:
                        continue
                    pool = SessionPool(endpoints[:n], adapters={"netconf": adapter},
                                       timeout=30)
                    try:
                        pool.connect_all()
                        p50 = _commit_p50(pool, [e.node_id for e in endpoints[:n]],
                                          repeat if adapter is NetconfAdapter else 2, workers)
                    finally:
                        pool.close()
                    rows.append((label, f"commit {n} devices (parallel)", f"{p50:.3f} s",
                                 "all-or-nothing, 3 phases"))
            stock_seq = min(stock_counts or {10})
            pool = SessionPool(endpoints[:stock_seq],
                               adapters={"netconf": StockNetconfAdapter}, timeout=30)
            try:
                pool.connect_all()
                seq = _commit_p50(pool, [e.node_id for e in endpoints[:stock_seq]], 1, 1)
            finally:
                pool.close()
            rows.append(("stock ncclient", f"commit {stock_seq} devices (sequential)",
                         f"{seq:.2f} s", f"≈ {seq / stock_seq * 100:.0f} s for 100 "
                                         "(extrapolated)"))
        finally:
            for server in servers:
                server.stop()
    table = Table(title=f"sdqn bench southbound — {max(counts)} emulated devices started in "
                        f"{boot_s:.1f} s (p50 over {repeat} transactions)")
    for col in ("client", "measure", "value", "note"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    Console().print(table)
