"""`sdqn demo` / `make demo`: the controller on the default metro network.

Starts a real controller (persistent NMDA store + NETCONF server on localhost), loads the
default topology and service requests into <running> through the same validated edit
path an engineer's <edit-config> takes, runs Q-NUM over them, writes each request's
decision and prediction into <operational>, prints a status table and keeps serving
NETCONF until Ctrl-C (or --duration seconds).
"""

from __future__ import annotations

import json
import signal
import socket
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from controller.daemon import build_server, controller_schema
from controller.datastore.factory import open_store
from controller.datastore.nmda import Datastore, NmdaStore
from controller.logs import configure_logging
from controller.paths import CONFIG_DIR
from controller.settings import ControllerSettings
from qnum.baselines import all_baselines
from qnum.io import load_requests, load_topology
from qnum.plan import Plan, Problem
from qnum.solver import SolverOptions, solve

DEFAULT_TOPOLOGY = CONFIG_DIR / "topologies" / "metro.json"
DEFAULT_SERVICES = CONFIG_DIR / "services" / "demo.json"


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def load_intent(store: NmdaStore, topology: Path, services: Path) -> None:
    """Operators' intent into <running>, validated like any <edit-config>."""
    for path in (topology, services):
        store.edit_json(Datastore.RUNNING, json.loads(path.read_text()))


def publish_plan(store: NmdaStore, plan: Plan) -> None:
    """Per-request decision and prediction into <operational> (sdqn-services state)."""
    entries: list[dict[str, Any]] = []
    for item in plan.to_json()["sdqn-qnum:plan"]["request"]:
        state: dict[str, Any] = {"admission": item["admission"],
                                 "oper-state": "provisioning" if item["admission"] ==
                                 "admitted" else "down"}
        if item["admission"] == "admitted":
            for key in ("path", "purification-rounds", "purification-protocol",
                        "predicted-rate", "predicted-fidelity", "utility"):
                if item.get(key) is not None:
                    state[key] = item[key]
        else:
            state["rejection-reason"] = item["rejection-reason"][:250]
        entries.append({"name": item["name"], "state": state})
    store.merge_state(json.dumps({"sdqn-services:entanglement-services": {"request": entries}}))


def solve_intent(topology: Path, services: Path, time_limit: float) -> Plan:
    network = load_topology(topology)
    problem = Problem.build(network, load_requests(services, network))
    baselines = all_baselines(problem)
    return solve(problem, SolverOptions(time_limit_s=time_limit),
                 hints=list(baselines.values()))


def render(console: Console, store: NmdaStore, plan: Plan, host: str, port: int) -> None:
    oper = json.loads(store.get(Datastore.OPERATIONAL,
                                xpath="/sdqn-services:entanglement-services"))
    table = Table(title=f"sdqn demo — Q-NUM {plan.status.value}, objective "
                        f"{plan.objective:.4g}, gap {plan.gap:.2%}")
    for col in ("request", "app", "admission", "path", "rounds", "rate /s", "fidelity",
                "utility"):
        table.add_column(col)
    running = {r["name"]: r for r in json.loads(store.get(
        Datastore.RUNNING, xpath="/sdqn-services:entanglement-services"))[
        "sdqn-services:entanglement-services"]["request"]}
    for req in oper["sdqn-services:entanglement-services"]["request"]:
        st = req.get("state", {})
        table.add_row(req["name"], running[req["name"]]["application"].split(":")[-1],
                      st.get("admission", "?"), " → ".join(st.get("path", [])) or
                      st.get("rejection-reason", "")[:60], str(st.get("purification-rounds",
                                                                      "")),
                      _num(st.get("predicted-rate")), _num(st.get("predicted-fidelity")),
                      _num(st.get("utility")))
    console.print(table)
    console.print(f"NETCONF: ssh admin@{host} -p {port} -s netconf   (password admin)\n"
                  f"  e.g. .venv/bin/netconf-console2 --host {host} --port {port} -u admin "
                  f"-p admin --get-data operational")


def _num(value: str | None) -> str:
    return "" if value is None else f"{float(value):.4g}"


def main(duration: Annotated[float, typer.Option(help="seconds to serve; 0 = until Ctrl-C")
                             ] = 0.0,
         port: Annotated[int, typer.Option(help="NETCONF port (0 = any free port)")] = 8830,
         data_dir: Annotated[Path | None, typer.Option(help="keep datastores here")] = None,
         topology: Annotated[Path, typer.Option(help="topology (RFC 7951 JSON)")
                             ] = DEFAULT_TOPOLOGY,
         services: Annotated[Path, typer.Option(help="service requests (RFC 7951 JSON)")
                             ] = DEFAULT_SERVICES,
         time_limit: Annotated[float, typer.Option(help="Q-NUM time limit, seconds")] = 10.0,
         log_format: Annotated[str, typer.Option(help="console or json")] = "console"
         ) -> None:
    """Run the controller on the default metro network and show what it decided."""
    configure_logging("warning", log_format)
    console = Console()
    workdir = tempfile.TemporaryDirectory(prefix="sdqn-demo-") if data_dir is None else None
    settings = ControllerSettings.load()
    settings.datastore.data_dir = data_dir or Path(workdir.name)  # type: ignore[union-attr]
    settings.netconf.port = port if port == 0 or _port_free(port) else 0
    store = open_store(settings, schema=controller_schema(settings))
    server = build_server(settings, store)
    server.start()
    typer.echo(f"netconf listening on {server.host}:{server.port}")
    try:
        load_intent(store, topology, services)
        plan = solve_intent(topology, services, time_limit)
        publish_plan(store, plan)
        render(console, store, plan, server.host, server.port)
        stop = threading.Event()

        def on_signal(_signum: int, _frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        stop.wait(duration if duration > 0 else None)
    finally:
        server.stop()
        if store.persistence is not None:
            store.persistence.close()
        if workdir is not None:
            workdir.cleanup()
