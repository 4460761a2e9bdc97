"""`sdqn bench attack`: can operators still work, and admin still log in, under attack?

The daemon (`sdqn controller run`: NETCONF, RESTCONF, gRPC; the metro topology merged
into running) runs in its own process on 127.0.0.1. For each row a normal client in its
own process reads one topology node over a keep-alive RESTCONF connection and an open
NETCONF session, while an attacker process from 127.0.0.2 runs one attack, bounded in
count and time; halfway through, admin opens a new SSH session and a new RESTCONF
connection. The daemon's CPU over the row comes from /proc. Whatever the current limits
are, the table reports them as they behave; the targets are printed with it.
"""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

from controller.app.credentials import use_demo_credentials
from controller.bench.attack_load import (
    OPERATOR,
    Probe,
    Target,
    admin_restconf,
    admin_ssh,
    normal_client,
    p50_p99,
    quiet_clients,
    run_attack,
)
from controller.bench.proc_cpu import process_cpu_seconds
from controller.bench.processes import process
from controller.logs import configure_logging
from controller.paths import CONFIG_DIR
from controller.settings import ControllerSettings

TARGETS = "targets: admin always in; normal p99 ≤ 100 ms during every attack"
INTERVAL_S = 0.05   # the normal client's pace: one RESTCONF GET and one NETCONF <get>


@dataclass(frozen=True)
class Row:
    attack: str
    rest: list[float]
    nc: list[float]
    errors: Counter[str]
    ssh: Probe
    restconf: Probe
    cpu_s: float
    attacker: Counter[str]


@contextmanager
def daemon(tmp: Path) -> Iterator[tuple[subprocess.Popen[str], Target]]:
    """`sdqn controller run` on free ports, data in `tmp`; the service layer is off (no
    devices): what is measured is the northbound under attack."""
    settings = ControllerSettings.load()
    settings.datastore.data_dir = tmp / "data"
    settings.netconf.port = settings.restconf.port = settings.grpc.port = 0
    settings.service.enabled = False
    use_demo_credentials(settings)   # loopback benchmark: the accounts the clients know
    config = tmp / "controller.json"
    config.write_text(settings.model_dump_json())
    argv = [sys.executable, "-m", "controller.cli", "controller", "run",
            "--config", str(config), "--log-level", "error"]
    with process(argv, tmp / "daemon.log", stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        listening: dict[str, str] = {}
        while len(listening) < 3:
            line = proc.stdout.readline().split()
            if not line:
                raise RuntimeError("the daemon did not start:\n"
                                   + (tmp / "daemon.log").read_text()[-2000:])
            listening[line[0]] = line[-1]
        target = Target(restconf_port=int(listening["restconf"].rsplit(":", 1)[1]),
                        netconf_port=int(listening["netconf"].rsplit(":", 1)[1]),
                        grpc_target=listening["grpc"])
        _load_metro(target)
        yield proc, target


def _load_metro(target: Target) -> None:
    """Merge the metro topology into running (RFC 8040 §4.6.1 plain patch)."""
    metro = json.loads((CONFIG_DIR / "topologies" / "metro.json").read_text())
    body = json.dumps({"ietf-restconf:data": metro})   # RFC 8040 §4.5 datastore body
    with httpx.Client(base_url=target.restconf_url, auth=("admin", "admin"),
                      timeout=30) as http:
        reply = http.patch("/restconf/data", content=body,
                           headers={"Content-Type": "application/yang-data+json"})
        if reply.status_code not in (200, 204):
            raise RuntimeError(f"cannot load the metro topology: {reply.status_code} "
                               f"{reply.text[:500]}")


def measure(proc: subprocess.Popen[str], target: Target, attack: str | None, count: int,
            seconds: float) -> Row:
    ctx = multiprocessing.get_context("spawn")
    client_pipe, client_end = ctx.Pipe()
    client = ctx.Process(target=normal_client, args=(target, seconds, INTERVAL_S, client_end))
    client.start()
    client_pipe.recv()   # its session and connection are open
    attacker = None
    attack_out = None
    if attack is not None:
        ready = ctx.Event()
        attack_out, attack_in = ctx.Pipe(duplex=False)
        attacker = ctx.Process(target=run_attack,
                               args=(attack, target, count, seconds + 5, ready, attack_in))
        attacker.start()
        ready.wait(timeout=seconds + 60)   # the attack is in place before we measure
    client_pipe.send("go")
    cpu0 = process_cpu_seconds(proc.pid)
    time.sleep(seconds / 2)
    ssh = admin_ssh(target)
    restconf = admin_restconf(target)
    rest, nc, errors = client_pipe.recv()
    cpu = process_cpu_seconds(proc.pid) - cpu0
    client.join()
    counts: Counter[str] = Counter()
    if attacker is not None and attack_out is not None:
        counts = attack_out.recv()
        attacker.join()
    return Row(attack or "baseline (no attack)", rest, nc, errors, ssh, restconf, cpu, counts)


def main(seconds: Annotated[float, typer.Option(help="measuring time per attack")] = 15.0,
         slowloris: Annotated[int, typer.Option(help="slow-header RESTCONF connections")] = 140,
         raw_tcp: Annotated[int, typer.Option(help="silent TCP connections to NETCONF")] = 70,
         sessions: Annotated[int, typer.Option(help="operator NETCONF sessions held")] = 64,
         logins: Annotated[int, typer.Option(help="wrong logins (SSH, RESTCONF, gRPC)")]
         = 1000) -> None:
    """Normal-client RESTCONF/NETCONF latency and admin login while the daemon is attacked
    (slowloris, raw TCP, held sessions, wrong logins; targets: admin always in, p99 ≤ 100 ms)."""
    configure_logging("warning")
    quiet_clients()
    plan: list[tuple[str | None, str, int]] = [
        (None, "baseline (no attack)", 0),
        ("slowloris", f"(a) slowloris: {slowloris} slow-header RESTCONF connections",
         slowloris),
        ("raw-tcp", f"(b) {raw_tcp} raw TCP connections to NETCONF", raw_tcp),
        ("sessions", f"(c) {sessions} operator NETCONF sessions held", sessions),
        ("wrong-logins", f"(d) {logins} wrong logins (SSH 10 %, RESTCONF, gRPC)", logins)]
    rows: list[tuple[str, Row]] = []
    with tempfile.TemporaryDirectory() as tmp, daemon(Path(tmp)) as (proc, target):
        for attack, label, count in plan:
            rows.append((label, measure(proc, target, attack, count, seconds)))
    table = Table(title=f"sdqn bench attack — daemon on {OPERATOR} (metro topology), "
                        f"{seconds:g} s per row; normal client and admin from 127.0.0.1, "
                        "attackers from 127.0.0.2 (gRPC tokens from 127.0.0.1)")
    for column in ("attack", "RESTCONF p50/p99 ms", "NETCONF p50/p99 ms", "normal errors",
                   "admin SSH login", "admin RESTCONF", "server CPU s", "attacker saw"):
        table.add_column(column, justify="left" if column in ("attack", "attacker saw")
                         else "right")
    for label, row in rows:
        table.add_row(label, p50_p99(row.rest), p50_p99(row.nc),
                      ", ".join(f"{k} {v}" for k, v in sorted(row.errors.items())) or "0",
                      row.ssh.cell(), row.restconf.cell(), f"{row.cpu_s:.1f}",
                      ", ".join(f"{k} {v}" for k, v in sorted(row.attacker.items())) or "-")
    console = Console(width=200)
    console.print(table)
    console.print(TARGETS)
