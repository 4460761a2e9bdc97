"""`sdqn demo` / `make demo`: the controller driving the emulated metro network.

Starts the emulated devices (each a NETCONF server, time compressed so laser warm-up takes
seconds), then a real controller (persistent NMDA store, NETCONF server, service layer).
The default topology — its management ports pointed at the emulators — and the service
requests go into <running> through the same validated edit path an engineer's
<edit-config> takes; the commit runs Q-NUM, expands the plan into every device's
configuration in <intended> and pushes it to the devices all-or-nothing. The demo then
shows each request's decision and the device sessions, cuts a fibre of the redundant core
(r1–r2 by default: r1–qr1–r2 is the detour), shows the root alarm and the re-route, and
keeps serving NETCONF with a live status table until Ctrl-C (or --duration seconds).
"""

from __future__ import annotations

import json
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from controller.app.credentials import use_demo_credentials
from controller.app.intent import inventory_credentials, load_intent, point_at_emulators
from controller.app.store import open_store
from controller.daemon import build_server, build_service, controller_schema
from controller.datastore.nmda import Datastore, NmdaStore
from controller.logs import configure_logging
from controller.paths import CONFIG_DIR
from controller.settings import ControllerSettings
from qnum.plan import Plan

DEFAULT_TOPOLOGY = CONFIG_DIR / "topologies" / "metro.json"
DEFAULT_SERVICES = CONFIG_DIR / "services" / "demo.json"


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def services_table(store: NmdaStore, plan: Plan) -> Table:
    oper = json.loads(store.get(Datastore.OPERATIONAL,
                                xpath="/sdqn-services:entanglement-services"))
    table = Table(title=f"sdqn demo — Q-NUM {plan.status.value}, objective "
                        f"{plan.objective:.4g}, gap {plan.gap:.2%}")
    for col in ("request", "app", "admission", "state", "path", "rounds", "rate /s",
                "fidelity", "measured /s", "measured F"):
        table.add_column(col)
    running = {r["name"]: r for r in json.loads(store.get(
        Datastore.RUNNING, xpath="/sdqn-services:entanglement-services"))[
        "sdqn-services:entanglement-services"]["request"]}
    for req in oper["sdqn-services:entanglement-services"]["request"]:
        st = req.get("state", {})
        _row(table, req["name"], running[req["name"]]["application"].split(":")[-1],
                      st.get("admission", "?"), st.get("oper-state", ""),
                      " → ".join(st.get("path", [])) or
                      st.get("rejection-reason", "")[:60], str(st.get("purification-rounds",
                                                                      "")),
                      _num(st.get("predicted-rate")), _num(st.get("predicted-fidelity")),
                      _num(st.get("measured-rate")), _num(st.get("measured-fidelity")))
    return table


def alarms_table(store: NmdaStore) -> Table:
    data = json.loads(store.get(Datastore.OPERATIONAL, xpath="/ietf-alarms:alarms/alarm-list")
                      or "{}")
    alarms = data.get("ietf-alarms:alarms", {}).get("alarm-list", {}).get("alarm", [])
    table = Table(title="alarms (ietf-alarms, controller <operational>)")
    for col in ("type", "resource", "severity", "cleared", "text", "root cause"):
        table.add_column(col)
    for alarm in sorted(alarms, key=lambda a: str(a.get("last-changed", "")), reverse=True):
        _row(table, str(alarm["alarm-type-id"]).split(":")[-1],
                      _short(alarm["resource"]), alarm.get("perceived-severity", ""),
                      str(alarm.get("is-cleared", "")).lower(), alarm.get("alarm-text", "")[:60],
                      ", ".join(_short(r) for r in alarm.get("root-cause-resource", [])))
    return table


def _row(table: Table, *cells: str) -> None:
    """Cells are device and server text, never markup: a reason naming
    request[name='x'] would otherwise be read as a rich style tag and vanish."""
    table.add_row(*(Text(cell) for cell in cells))


def _short(resource: str) -> str:
    """The key of an instance-identifier's last list entry (the link, node or request)."""
    return resource.rsplit("=", 1)[-1].strip("']\"") if "=" in resource else resource


def render(console: Console, store: NmdaStore, plan: Plan, host: str, port: int) -> None:
    console.print(services_table(store, plan))
    console.print(f"NETCONF: ssh admin@{host} -p {port} -s netconf   (password admin)\n"
                  f"  e.g. .venv/bin/netconf-console2 --host {host} --port {port} -u admin "
                  f"-p admin --get-data operational\n"
                  "  admin/admin and operator/operator are demo-only credentials: "
                  "`sdqn controller run` never ships them")


def cut_fibre(console: Console, service: Any, emulated: Any, link: str) -> None:
    """Cut a fibre in the emulated network; the controller learns it from the devices'
    notifications only, then re-routes and alarms (nothing here tells it)."""
    from simulators.faults import FaultKind, FaultRequest

    done = len(service.healer.reports)
    console.print(f"[bold red]injecting a fibre cut on {escape(link)}[/] (emulator fault API)")
    emulated.faults.apply(FaultRequest(kind=FaultKind.FIBRE_CUT, target=link))
    for report in service.healer.wait_rounds(done, 30):
        console.print(Text(f"controller: root cause {sorted(report.roots.failed_links)} "
                           f"(reported by {', '.join(report.roots.reported_by(link))}); "
                           f"re-routed {report.rerouted or 'nothing'}, dropped "
                           f"{report.dropped or 'nothing'}, unaffected services touched "
                           f"{len(report.touched_unaffected)}; committed "
                           f"{report.seconds:.2f} s after the first notification"))


def live_view(console: Console, store: NmdaStore, service: Any, stop: threading.Event,
              end: float) -> None:
    """A live table on a terminal; plain output otherwise (logs, CI)."""
    if not console.is_terminal:
        stop.wait(max(0.0, end - time.monotonic()) if end != float("inf") else None)
        return
    with Live(console=console, refresh_per_second=2) as live:
        while not stop.wait(0.5) and time.monotonic() < end:
            plan = service.expander.committed.plan
            if plan is not None:
                live.update(Group(services_table(store, plan), alarms_table(store)))


def _settled(store: NmdaStore) -> bool:
    data = json.loads(store.get(Datastore.OPERATIONAL,
                                xpath="/sdqn-services:entanglement-services"))
    states = [r.get("state", {}) for r in
              data.get("sdqn-services:entanglement-services", {}).get("request", [])]
    return bool(states) and all(s.get("oper-state") not in ("provisioning", "stabilising")
                                for s in states)


def _num(value: str | None) -> str:
    return "" if value is None else f"{float(value):.4g}"


def render_devices_table(console: Console, store: NmdaStore) -> None:
    data = json.loads(store.get(Datastore.OPERATIONAL,
                                xpath="/sdqn-controller:controller/southbound"))
    table = Table(title="device sessions (controller <operational>)")
    for col in ("device", "adapter", "session", "sync", "last error"):
        table.add_column(col)
    devices = data.get("sdqn-controller:controller", {}).get("southbound", {}).get("device", [])
    for dev in sorted(devices, key=lambda d: str(d["node-id"])):
        _row(table, dev["node-id"], dev.get("adapter", ""), dev.get("connection-state", ""),
                      dev.get("sync-state", ""), dev.get("last-error", "")[:50])
    console.print(table)


def main(duration: Annotated[float, typer.Option(help="seconds to serve; 0 = until Ctrl-C")
                             ] = 0.0,
         port: Annotated[int, typer.Option(help="NETCONF port (0 = any free port)")] = 8830,
         data_dir: Annotated[Path | None, typer.Option(help="keep datastores here")] = None,
         topology: Annotated[Path, typer.Option(help="topology (RFC 7951 JSON)")
                             ] = DEFAULT_TOPOLOGY,
         services: Annotated[Path, typer.Option(help="service requests (RFC 7951 JSON)")
                             ] = DEFAULT_SERVICES,
         time_limit: Annotated[float, typer.Option(help="Q-NUM time limit, seconds")] = 10.0,
         time_factor: Annotated[float, typer.Option(help="emulated seconds per wall second")
                                ] = 60.0,
         cut_link: Annotated[str, typer.Option(help="fibre to cut ('' = none)")] = "r1-r2",
         cut_after: Annotated[float, typer.Option(help="seconds after the services settle")
                              ] = 5.0,
         log_format: Annotated[str, typer.Option(help="console or json")] = "console"
         ) -> None:
    """Run the controller on the emulated metro network and show what it decided."""
    from simulators.clock import ScaledClock
    from simulators.devices.world import Topology
    from simulators.launcher import Network

    configure_logging("warning", log_format)
    console = Console()
    workdir = tempfile.TemporaryDirectory(prefix="sdqn-demo-") if data_dir is None else None
    settings = ControllerSettings.load()
    use_demo_credentials(settings)  # loopback demo only; said on screen
    settings.datastore.data_dir = data_dir or Path(workdir.name)  # type: ignore[union-attr]
    settings.netconf.port = port if port == 0 or _port_free(port) else 0
    settings.service.time_limit_s = time_limit
    emulated = Network(Topology.load(topology), clock=ScaledClock(time_factor),
                       use_topology_ports=False, tick=0.2)
    emulated.start(control=False)
    (settings.service.device_username,
     settings.service.device_password) = inventory_credentials(emulated.inventory())
    store = open_store(settings, schema=controller_schema(settings),
                       defer_restart_revert=settings.service.enabled)
    settings.service.telemetry_interval_s = 0.5
    server = build_server(settings, store)
    service = build_service(settings, store, notify=server.publish)
    server.start()
    typer.echo(f"netconf listening on {server.host}:{server.port}")
    try:
        intent = point_at_emulators(json.loads(topology.read_text()), emulated.inventory())
        load_intent(store, intent, services)
        assert service is not None
        service.states.flush()
        plan = service.expander.committed.plan
        render_devices_table(console, store)
        # Lasers warm up (300 emulated s); services turn up when their whole path is stable.
        settle = time.monotonic() + 330 / time_factor + 3
        while time.monotonic() < settle and not _settled(store):
            time.sleep(0.5)
        if plan is not None:
            render(console, store, plan, server.host, server.port)
        stop = threading.Event()

        def on_signal(_signum: int, _frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        end = time.monotonic() + duration if duration > 0 else float("inf")
        if cut_link and not stop.wait(cut_after):
            cut_fibre(console, service, emulated, cut_link)
            plan = service.expander.committed.plan
            if plan is not None:
                console.print(services_table(store, plan))
            console.print(alarms_table(store))
        live_view(console, store, service, stop, end)
    finally:
        server.stop()
        if service is not None:
            service.close()
        emulated.stop()
        if store.persistence is not None:
            store.close()
        if workdir is not None:
            workdir.cleanup()
