"""`sdqn demo` / `make demo`: the controller driving the emulated metro network.

Starts the emulated devices (each a NETCONF server, time compressed so laser warm-up takes
seconds), then a real controller (persistent NMDA store, NETCONF server, service layer).
The default topology — its management ports pointed at the emulators — and the service
requests with their two tenants' slices (a QKD operator's dedicated slice guaranteeing a
rate per connection, a research lab's shared slice with an aggregate rate) go into
<running> through the same validated edit path an engineer's <edit-config> takes; the
commit runs Q-NUM, expands the plan into every device's configuration in <intended> and
pushes it to the devices all-or-nothing. The demo then shows each request's decision, each
slice's SLO compliance and the device sessions, cuts a fibre of the redundant core (r1–r2
by default: r1–qr1–r2 is the detour, where the QKD guarantee still holds), shows the root
alarm, the re-route and the slices again, and keeps serving NETCONF, RESTCONF (and the
console), gRPC and the training drills with a live status view until Ctrl-C (or
--duration seconds); it prints one working client command per interface. Every table
fits an 80-column terminal.
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
from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from controller.app.credentials import use_demo_credentials
from controller.app.demo_serve import client_hints, start_northbounds
from controller.app.drills import EmulatorChannel
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
#: two tenants: a QKD operator's dedicated slice and a research lab's shared slice
DEFAULT_SLICING = CONFIG_DIR / "services" / "demo-slices.json"


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _compact(title: str) -> Table:
    """Tables that fit an 80-column terminal: no box, one space between columns."""
    return Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), pad_edge=False,
                 title_justify="left")


def services_table(store: NmdaStore, plan: Plan) -> Group:
    """One row per request (slice, state, predicted and measured rate and fidelity), then
    its path, or why it is not served, on a line of its own: paths are too long for a
    column of an 80-column table."""
    oper = json.loads(store.get(Datastore.OPERATIONAL,
                                xpath="/sdqn-services:entanglement-services"))
    table = _compact(f"sdqn demo — Q-NUM {plan.status.value}, objective "
                     f"{plan.objective:.4g}, gap {plan.gap:.2%}")
    for col in ("request", "slice", "state"):
        table.add_column(col, no_wrap=True)
    for col in ("rate/s", "meas/s", "F", "meas F"):
        table.add_column(col, justify="right", no_wrap=True)
    running = {r["name"]: r for r in json.loads(store.get(
        Datastore.RUNNING, xpath="/sdqn-services:entanglement-services"))[
        "sdqn-services:entanglement-services"]["request"]}
    paths: list[Text] = []
    for req in oper["sdqn-services:entanglement-services"]["request"]:
        st = req.get("state", {})
        admitted = st.get("admission") == "admitted"
        _row(table, req["name"], running[req["name"]].get("sdqn-slices:slice", "-"),
             st.get("oper-state", "") if admitted else st.get("admission", "?"),
             _num(st.get("predicted-rate")), _num(st.get("measured-rate")),
             _num(st.get("predicted-fidelity"), 3), _num(st.get("measured-fidelity"), 3))
        route = "›".join(st.get("path", [])) if admitted else st.get("rejection-reason", "")
        paths.append(Text(f"  {req['name']}: {route}"))
    return Group(table, *paths)


def _alarms(store: NmdaStore) -> list[dict[str, Any]]:
    data = json.loads(store.get(Datastore.OPERATIONAL, xpath="/ietf-alarms:alarms/alarm-list")
                      or "{}")
    alarms: list[dict[str, Any]] = data.get("ietf-alarms:alarms", {}).get(
        "alarm-list", {}).get("alarm", [])
    return alarms


def alarms_table(store: NmdaStore) -> Table:
    table = _compact("alarms (ietf-alarms, controller <operational>)")
    for col in ("type", "resource", "severity", "state", "root cause"):
        table.add_column(col, no_wrap=True)
    for alarm in sorted(_alarms(store), key=lambda a: str(a.get("last-changed", "")),
                        reverse=True):
        _row(table, str(alarm["alarm-type-id"]).split(":")[-1], _short(alarm["resource"]),
             alarm.get("perceived-severity", ""),
             "cleared" if alarm.get("is-cleared") in (True, "true") else "active",
             ", ".join(_short(r) for r in alarm.get("root-cause-resource", [])))
    return table


def slices_table(store: NmdaStore) -> Group:
    """Each slice's SLO compliance as <operational> has it (sdqn-slices `state`): a line
    per slice (tenant, isolation, whether its guarantees are in force or why they are
    suspended), a line per objective (target, measured, compliant, measured-at), then the
    active slice-sla-violation alarms (RFC 8632 §3.5.1: a cleared alarm stays in the
    list; only an active one is a breach)."""
    oper = json.loads(store.get(Datastore.OPERATIONAL, xpath="/sdqn-slices:slicing") or "{}")
    lines: list[Text] = [Text("slices — SLO compliance (sdqn-slices, controller "
                              "<operational>)", style="italic")]
    slices = oper.get("sdqn-slices:slicing", {}).get("slice", [])
    if not slices:
        lines.append(Text("no slices configured"))
    for sl in slices:
        state = sl.get("state", {})
        guarantee = state.get("guarantee", {})
        suspended = guarantee.get("suspended") in (True, "true")
        lines.append(Text(f"slice {sl['name']}  tenant {sl.get('tenant', '')}  "
                          f"{sl.get('isolation', 'shared')}  guarantees "
                          f"{'SUSPENDED' if suspended else 'in force'}",
                          style="bold red" if suspended else "bold"))
        if suspended:
            lines.append(Text(f"  reason: {guarantee.get('reason', '')}", style="red"))
        for slo in state.get("slo", []):
            measured = _num(slo.get("measured")) or "-"
            lines.append(Text(
                f"  {slo['objective']:<16} target ≥{_num(slo.get('target')):<6} "
                f"measured {measured:<7} compliant {_verdict(slo.get('compliant')):<3}"
                f"  at {_clock(slo.get('measured-at')) or '-'}",
                style="red" if slo.get("compliant") in (False, "false") else ""))
    active = [a for a in _alarms(store)
              if str(a["alarm-type-id"]).endswith("slice-sla-violation")
              and a.get("is-cleared") not in (True, "true")]
    for alarm in active:
        causes = ", ".join(_short(r) for r in alarm.get("root-cause-resource", []))
        lines.append(Text(f"ALARM slice-sla-violation on {_short(alarm['resource'])}"
                          f"{' (root cause ' + causes + ')' if causes else ''}: "
                          f"{alarm.get('alarm-text', '')}", style="bold red"))
    if not active:
        lines.append(Text("slice-sla-violation alarms: none active"))
    return Group(*lines)


def _verdict(compliant: object) -> str:
    if compliant is None:
        return "-"
    return "yes" if compliant in (True, "true") else "NO"


def _clock(stamp: str | None) -> str:
    """The time of day of an RFC 3339 date-and-time (its date is the demo's day)."""
    return "" if not stamp else stamp.split("T", 1)[-1][:8]


def _row(table: Table, *cells: str) -> None:
    """Cells are device and server text, never markup: a reason naming
    request[name='x'] would otherwise be read as a rich style tag and vanish."""
    table.add_row(*(Text(cell) for cell in cells))


def _short(resource: str) -> str:
    """The key of an instance-identifier's last list entry (the link, node or request)."""
    return resource.rsplit("=", 1)[-1].strip("']\"") if "=" in resource else resource


def render(console: Console, store: NmdaStore, plan: Plan, hints: list[str]) -> None:
    console.print(services_table(store, plan))
    console.print(slices_table(store))
    for line in hints:  # commands as typed: no markup, no wrapping
        console.print(Text(line), soft_wrap=True)


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
                           f"{report.seconds:.2f} s after the first notification"),
                      soft_wrap=True)  # one line to grep in logs; the terminal wraps it


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
                live.update(Group(services_table(store, plan), slices_table(store),
                                  alarms_table(store)))


def _settled(store: NmdaStore) -> bool:
    data = json.loads(store.get(Datastore.OPERATIONAL,
                                xpath="/sdqn-services:entanglement-services"))
    states = [r.get("state", {}) for r in
              data.get("sdqn-services:entanglement-services", {}).get("request", [])]
    return bool(states) and all(s.get("oper-state") not in ("provisioning", "stabilising")
                                for s in states)


def _slices_measured(store: NmdaStore) -> bool:
    """Every objective of every slice carries a measurement (the slice view is read once
    its members were measured after they came up, not while they converge)."""
    data = json.loads(store.get(Datastore.OPERATIONAL, xpath="/sdqn-slices:slicing") or "{}")
    slos = [slo for sl in data.get("sdqn-slices:slicing", {}).get("slice", [])
            for slo in sl.get("state", {}).get("slo", [])]
    return all("measured" in slo for slo in slos)


def wait_settled(store: NmdaStore, seconds: float) -> None:
    """Until every request is past provisioning and stabilising and every slice objective
    is measured again, for at most `seconds` (the demo goes on either way)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (_settled(store) and _slices_measured(store)):
        time.sleep(0.5)


def _num(value: str | None, digits: int = 4) -> str:
    return "" if value is None else f"{float(value):.{digits}g}"


def render_devices_table(console: Console, store: NmdaStore) -> None:
    data = json.loads(store.get(Datastore.OPERATIONAL,
                                xpath="/sdqn-controller:controller/southbound"))
    table = _compact("device sessions (controller <operational>)")
    for col in ("device", "adapter", "session", "sync", "last error"):
        table.add_column(col)
    devices = data.get("sdqn-controller:controller", {}).get("southbound", {}).get("device", [])
    for dev in sorted(devices, key=lambda d: str(d["node-id"])):
        _row(table, dev["node-id"], dev.get("adapter", ""), dev.get("connection-state", ""),
                      dev.get("sync-state", ""), dev.get("last-error", "")[:30])
    console.print(table)


def main(duration: Annotated[float, typer.Option(help="seconds to serve; 0 = until Ctrl-C")
                             ] = 0.0,
         port: Annotated[int, typer.Option(help="NETCONF port (0 = any free port)")] = 8830,
         restconf_port: Annotated[int, typer.Option(
             help="RESTCONF and console port (0 = any free port)")] = 8080,
         grpc_port: Annotated[int, typer.Option(help="gRPC port (0 = any free port)")
                              ] = 50051,
         data_dir: Annotated[Path | None, typer.Option(help="keep datastores here")] = None,
         topology: Annotated[Path, typer.Option(help="topology (RFC 7951 JSON)")
                             ] = DEFAULT_TOPOLOGY,
         services: Annotated[Path, typer.Option(help="service requests (RFC 7951 JSON)")
                             ] = DEFAULT_SERVICES,
         slicing: Annotated[Path | None, typer.Option(
             help="tenants, slices and the requests' slice membership (RFC 7951 JSON), "
                  "committed with the requests ('' = no slices)")] = DEFAULT_SLICING,
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
    settings.restconf.port = restconf_port if restconf_port == 0 or _port_free(
        restconf_port) else 0
    settings.grpc.port = grpc_port if grpc_port == 0 or _port_free(grpc_port) else 0
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
    northbounds = start_northbounds(
        settings, store, server, service,
        EmulatorChannel.in_process(emulated.topology, emulated.faults))
    if northbounds.restconf is not None:
        typer.echo(f"restconf listening on {northbounds.restconf.host}:"
                   f"{northbounds.restconf.port}")
    if northbounds.grpc is not None:
        typer.echo(f"grpc listening on {northbounds.grpc.target}")
    try:
        intent = point_at_emulators(json.loads(topology.read_text()), emulated.inventory())
        load_intent(store, intent, services, slicing if slicing and slicing.name else None)
        assert service is not None
        service.states.flush()
        plan = service.expander.committed.plan
        render_devices_table(console, store)
        # Lasers warm up (300 emulated s); services turn up when their whole path is stable.
        wait_settled(store, 330 / time_factor + 15)
        if plan is not None:
            render(console, store, plan, client_hints(server, northbounds))
        stop = threading.Event()

        def on_signal(_signum: int, _frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        end = time.monotonic() + duration if duration > 0 else float("inf")
        if cut_link and not stop.wait(cut_after):
            cut_fibre(console, service, emulated, cut_link)
            # the re-routed member comes up on the detour (its lasers may warm up first)
            wait_settled(store, 330 / time_factor + 15)
            plan = service.expander.committed.plan
            if plan is not None:
                console.print(services_table(store, plan))
            console.print(slices_table(store))
            console.print(alarms_table(store))
        live_view(console, store, service, stop, end)
    finally:
        northbounds.stop()
        server.stop()
        if service is not None:
            service.close()
        emulated.stop()
        if store.persistence is not None:
            store.close()
        if workdir is not None:
            workdir.cleanup()
