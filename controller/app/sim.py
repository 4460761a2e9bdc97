"""`sdqn sim run` and `sdqn sim fault`: the emulated network from the command line.

Application layer over simulators/launcher.py (which is a library: tests, the demo and
the benches build networks with it directly).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from controller.logs import configure_logging
from simulators.clock import ScaledClock
from simulators.devices.apc import DEFAULT_ACTUATOR_OFFSET, DEFAULT_SURGE
from simulators.faults import (
    DEFAULT_MEMORY_DEGRADATION,
    DEFAULT_SKEW_FAULT_PS,
    FaultKind,
    send,
)
from simulators.launcher import DEFAULT_INVENTORY, DEFAULT_TOPOLOGY, Network, load_inventory
from southbound.kinds import PlantRole


def _device_table(network: Network) -> Any:
    from rich.table import Table

    table = Table(title=f"emulated network {network.topology.network_id!r}")
    for column in ("node-id", "kind", "module", "address", "port", "links"):
        table.add_column(column)
    for device in network.devices.values():
        links = ", ".join(lk.link_id for lk in network.topology.links_of(device.node_id))
        if device.model.spec.role is PlantRole.INLINE:  # its fibre, not link ends
            links = ", ".join(lk.link_id for lk in
                              network.topology.compensated_by(device.node_id))
        table.add_row(device.node_id, device.kind, device.model.module, network.host,
                      str(device.port), links)
    return table


def run_command(
    topology: Annotated[Path, typer.Option(help="topology file (RFC 7951 JSON)")] = (
        DEFAULT_TOPOLOGY),
    inventory: Annotated[Path, typer.Option(help="where to write the inventory")] = (
        DEFAULT_INVENTORY),
    time_factor: Annotated[float, typer.Option(help="simulated seconds per wall second")] = 1.0,
    tick: Annotated[float, typer.Option(help="wall seconds between physics ticks")] = 1.0,
    seed: Annotated[int, typer.Option(help="random seed of the device physics")] = 0,
    any_port: Annotated[bool, typer.Option(
        "--any-port", help="ignore the topology's management ports, pick free ones")] = False,
    duration: Annotated[float | None, typer.Option(
        help="stop after this many wall seconds (default: run until interrupted)")] = None,
    log_level: Annotated[str, typer.Option(help="structlog level on stderr")] = "warning",
) -> None:
    """Start every device of a topology as a NETCONF server and keep them running."""
    from rich.console import Console

    configure_logging(log_level)
    console = Console()
    network = Network.from_file(topology, clock=ScaledClock(time_factor), seed=seed,
                                use_topology_ports=not any_port, tick=tick)
    started = time.monotonic()
    network.start()
    network.write_inventory(inventory)
    console.print(_device_table(network))
    console.print(f"{len(network.devices)} devices up in {time.monotonic() - started:.2f} s; "
                  f"inventory {inventory}; control 127.0.0.1:"
                  f"{network.control.port if network.control else '-'}; "
                  f"time factor {time_factor:g}")
    if network.skipped:
        console.print(f"not emulated (no device model): {', '.join(network.skipped)}")
    try:
        deadline = None if duration is None else time.monotonic() + duration
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        network.stop()
        console.print("emulated network stopped")


def fault_command(
    kind: Annotated[FaultKind, typer.Argument(help="what to break")],
    target: Annotated[str, typer.Argument(help="link-id (fibre-cut) or node-id")],
    clear: Annotated[bool, typer.Option(
        "--clear", help="repair / power up / reconnect / stop")] = False,
    duration: Annotated[float | None, typer.Option(
        help="simulated seconds until the fault clears by itself")] = None,
    factor: Annotated[float | None, typer.Option(
        help=f"drift-surge factor (default {DEFAULT_SURGE:g}) or memory-degradation factor "
             f"(default {DEFAULT_MEMORY_DEGRADATION:g})")] = None,
    offset: Annotated[float, typer.Option(
        help="apc-out-of-spec: rad of misalignment the failed actuator leaves")] = (
        DEFAULT_ACTUATOR_OFFSET),
    skew: Annotated[float, typer.Option(
        help="timing-skew: ps added to the q-ROADM's timed cross-connects")] = (
        DEFAULT_SKEW_FAULT_PS),
    detector: Annotated[str | None, typer.Option(help="detector-id (detector-failure)")] = None,
    mode: Annotated[str, typer.Option(help="detector failure: dead | noisy")] = "dead",
    data: Annotated[str | None, typer.Option(
        help="oob-edit: RFC 7951 JSON to merge into the device's running")] = None,
    seconds: Annotated[float, typer.Option(
        help="stall: wall seconds each matching rpc is held")] = 5.0,
    operation: Annotated[list[str] | None, typer.Option(
        help="stall: an rpc to hold (repeatable; e.g. lock, confirming-commit); "
             "default every rpc")] = None,
    inventory: Annotated[Path, typer.Option(help="inventory of the running launcher")] = (
        DEFAULT_INVENTORY),
) -> None:
    """Inject a fault into a running `sdqn sim run` (through its control channel)."""
    try:
        control = load_inventory(inventory).get("control")
        if control is None:
            raise FileNotFoundError(f"{inventory} names no control channel")
        fault = {"kind": kind.value, "target": target, "clear": clear, "duration": duration,
                 "factor": factor, "offset": offset, "skew": skew, "detector": detector,
                 "mode": mode,
                 "data": None if data is None else json.loads(data),
                 "seconds": seconds, "operations": operation or None}
        answer = send(control["address"], int(control["port"]), control["token"],
                      {"op": "fault", "fault": fault})
    except (OSError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if not answer.get("ok"):
        typer.echo(f"error: {answer.get('error')}", err=True)
        raise typer.Exit(1)
    typer.echo(str(answer.get("result")))
