"""`sdqn bench faults`: what the controller says when the network breaks, and how fast.

Measured on the path an operator takes: the emulated metro network (time compressed ×60)
runs in its own process (`sdqn sim run`), the controller daemon in another
(`sdqn controller run`, telemetry every 0.5 s, check-sync every 2 s), and this process is
the operator's client: it injects faults through the emulators' control channel and reads
alarms and service states over RESTCONF (RFC 8040, `<operational>` via RFC 8527), polling
every 0.1 s. Each fault kind is applied several times, on a fresh pair of processes (one
kind's leftovers must not colour the next); per kind the bench prints: detection latency
(fault → its root alarm in the alarm list, wall seconds and telemetry rounds), whether the
root alarm names the right resource, whether the services it hits (and only those) change
state, the time until every service it hit is re-routed or leaves `up`, the clear latency
after repair, spurious alarms (raised during the episode, neither the expected root nor
a derived alarm of an hit service), and the daemon's CPU seconds per episode (from
/proc, the polling included; the idle figure measures the same polling on a quiet
network). Then predicted vs measured rate and fidelity per service with a 99 %
confidence interval over the telemetry rounds.

A kind whose root alarm never appears is reported as not detected, never as a zero. There
is no peer controller to run beside it: no public controller correlates these faults.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from controller.bench.processes import process

TELEMETRY_S = 0.5
TIME_FACTOR = 60.0
POLL_S = 0.1


@dataclass(frozen=True)
class Scenario:
    """One fault kind: what to inject, which root alarm must say so, which services it
    hits (their state must leave `up`), and how to repair it."""

    name: str
    fault: dict[str, Any]
    root_types: tuple[str, ...]          # acceptable root alarm types (sdqn-alarms:…)
    resource: str                        # the node or link the root alarm must name
    #: services whose state must leave `up`; None: those whose route, when the fault is
    #: injected, crosses `resource` (an earlier episode may have moved them)
    hit: tuple[str, ...] | None = None
    clear: dict[str, Any] | None = None  # the repair (None: the fault clears itself)

    def services_hit(self, states: dict[str, dict[str, Any]],
                     links: dict[str, tuple[str, str]]) -> tuple[str, ...]:
        """The services hit: as declared, or those whose path crosses the resource."""
        if self.hit is not None:
            return self.hit
        return tuple(sorted(name for name, st in states.items()
                            if st.get("admission") == "admitted"
                            and crosses(list(st.get("path", [])), self.resource, links)))


def crosses(path: list[str], resource: str, links: dict[str, tuple[str, str]]) -> bool:
    """Whether a service path (node list) uses a node, or a link (its two ends adjacent)."""
    if resource not in links:
        return resource in path
    ends = set(links[resource])
    return any({a, b} == ends for a, b in itertools.pairwise(path))


SCENARIOS = (
    Scenario("fibre cut", {"kind": "fibre-cut", "target": "r1-r2"}, ("fibre-cut",),
             "r1-r2", None, {"kind": "fibre-cut", "target": "r1-r2", "clear": True}),
    Scenario("device crash", {"kind": "crash", "target": "r3"},
             ("device-failure", "device-unreachable", "link-down"), "r3",
             None, {"kind": "crash", "target": "r3", "clear": True}),
    Scenario("detector failure", {"kind": "detector-failure", "target": "alice",
                                  "detector": "d1"},
             ("device-failure", "detector-failure"), "alice", None,
             {"kind": "detector-failure", "target": "alice", "detector": "d1",
              "clear": True}),
    Scenario("drift surge", {"kind": "drift-surge", "target": "apc-1", "factor": 50.0},
             ("polarisation-drift",), "r1-r2", None,
             {"kind": "drift-surge", "target": "apc-1", "clear": True}),
    Scenario("out-of-band edit", {"kind": "oob-edit", "target": "r2"},
             ("out-of-band-change",), "r2", (), None),
    Scenario("q-ROADM timing skew", {"kind": "timing-skew", "target": "qr1"},
             ("timing-skew",), "qr1", None,
             {"kind": "timing-skew", "target": "qr1", "clear": True}),
    Scenario("memory degradation", {"kind": "memory-degradation", "target": "r1"},
             ("memory-degraded",), "r1", None,
             {"kind": "memory-degradation", "target": "r1", "clear": True}),
    # r2 carries every service and measures none: nothing but the session is lost
    Scenario("session loss", {"kind": "session-loss", "target": "r2"},
             ("device-unreachable",), "r2", (),
             {"kind": "session-loss", "target": "r2", "clear": True}),
    # dave's source warms up again after the boot (300 s simulated)
    Scenario("device restart", {"kind": "restart", "target": "dave"},
             ("device-restarted",), "dave", ("dqc-charlie-dave",), None),
    Scenario("APC out of spec", {"kind": "apc-out-of-spec", "target": "apc-1"},
             ("apc-out-of-spec",), "apc-1", ("qkd-alice-bob",),
             {"kind": "apc-out-of-spec", "target": "apc-1", "clear": True}),
)


@dataclass
class Episode:
    detected_s: float | None = None
    root_ok: bool = False
    states_ok: bool = False
    reroute_s: float | None = None
    cleared_s: float | None = None
    spurious: list[str] = field(default_factory=list)
    cpu_s: float = 0.0


class Plant:
    """The emulators (`sdqn sim run`) and the controller daemon (`sdqn controller run`),
    each in its own process, bound to 127.0.0.1 on free ports; stopped on exit."""

    def __init__(self, tmp: Path, stack: ExitStack, seed: int, *,
                 topology: Path | None = None, services: Path | None = None) -> None:
        """The metro network and the demo services unless `topology` / `services` name
        other files."""
        from controller.app.credentials import use_demo_credentials
        from controller.paths import CONFIG_DIR
        from controller.settings import ControllerSettings

        inventory = tmp / "inventory.json"
        sdqn = [sys.executable, "-m", "controller.cli"]
        services = services or CONFIG_DIR / "services" / "demo.json"
        self.sim = stack.enter_context(process(
            [*sdqn, "sim", "run", "--any-port", "--inventory", str(inventory),
             *(["--topology", str(topology)] if topology is not None else []),
             "--time-factor", f"{TIME_FACTOR:g}", "--tick", "0.2", "--seed", str(seed),
             "--duration", "3600"], tmp / "sim.log"))
        deadline = time.monotonic() + 120
        while not inventory.exists():
            if self.sim.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("`sdqn sim run` wrote no inventory:\n"
                                   + (tmp / "sim.log").read_text()[-2000:])
            time.sleep(0.1)
        control = json.loads(inventory.read_text())["control"]
        self.control = (str(control["address"]), int(control["port"]), str(control["token"]))
        settings = ControllerSettings.load()
        use_demo_credentials(settings)  # loopback benchmark
        settings.datastore.data_dir = tmp / "data"
        settings.netconf.port = settings.restconf.port = 0
        settings.grpc.enabled = False
        settings.service.telemetry_interval_s = TELEMETRY_S
        settings.service.sync_interval_s = 2.0
        config = tmp / "controller.json"
        config.write_text(settings.model_dump_json())
        self.daemon = stack.enter_context(process(
            [*sdqn, "controller", "run", "--config", str(config), "--log-level", "error",
             "--inventory", str(inventory),
             "--services", str(services)],
            tmp / "daemon.log", stdout=subprocess.PIPE))
        assert self.daemon.stdout is not None
        listening = {}
        for _ in range(2):
            line = self.daemon.stdout.readline().split()
            if not line:
                raise RuntimeError("the daemon did not start:\n"
                                   + (tmp / "daemon.log").read_text()[-2000:])
            listening[line[0]] = line[-1]
        self.restconf = f"http://{listening['restconf']}"
        self._auth = "Basic " + base64.b64encode(b"admin:admin").decode()

    def fault(self, payload: dict[str, Any]) -> None:
        from simulators.faults import send

        answer = send(*self.control, {"op": "fault", "fault": payload})
        if not answer.get("ok"):
            raise RuntimeError(f"fault {payload} refused: {answer.get('error')}")

    def _get(self, path: str) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.restconf}/restconf/ds/ietf-datastores:operational/{path}",
            headers={"Authorization": self._auth, "Accept": "application/yang-data+json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                result: dict[str, Any] = json.loads(reply.read() or b"{}")
                return result
        except urllib.error.HTTPError as exc:
            if exc.code == 404:                       # nothing there (yet)
                return {}
            raise

    def alarms(self) -> list[dict[str, Any]]:
        data = self._get("ietf-alarms:alarms/alarm-list")
        return list(data.get("ietf-alarms:alarm-list", {}).get("alarm", []))

    def states(self) -> dict[str, dict[str, Any]]:
        data = self._get("sdqn-services:entanglement-services")
        return {r["name"]: r.get("state", {}) for r in
                data.get("sdqn-services:entanglement-services", {}).get("request", [])}

    def cpu_s(self) -> float:
        return cpu_seconds(self.daemon.pid)


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU seconds so far (/proc/<pid>/stat, proc(5))."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait(check: Callable[[], Any], timeout: float, since: float | None = None
          ) -> tuple[Any, float | None]:
    """Poll `check` until truthy: (its value, seconds since `since`, default now)."""
    start = time.monotonic()
    origin = start if since is None else since
    while time.monotonic() - start < timeout:
        value = check()
        if value:
            return value, time.monotonic() - origin
        time.sleep(POLL_S)
    return None, None


def _active(plant: Plant) -> dict[tuple[str, str], dict[str, Any]]:
    return {(a["resource"], a["alarm-type-id"]): a for a in plant.alarms()
            if not a["is-cleared"]}


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="microseconds")


def _kind(alarm: dict[str, Any]) -> str:
    return str(alarm["alarm-type-id"]).split(":")[-1]


def run_episode(plant: Plant, sc: Scenario, links: dict[str, tuple[str, str]],
                timeout: float) -> Episode:
    ep = Episode()
    before = set(_active(plant))
    states0 = plant.states()
    live = {n for n, s in states0.items() if s.get("oper-state") == "up"}
    paths0 = {n: s.get("path") for n, s in states0.items()}
    hit = sc.services_hit(states0, links)
    cpu0 = plant.cpu_s()
    started, injected = _now(), time.monotonic()
    plant.fault(sc.fault)

    def raised() -> list[dict[str, Any]]:
        """Root alarms of the kind raised since the fault (an out-of-band revert raises
        and clears within one check: it counts)."""
        return [a for a in plant.alarms() if a["last-raised"] >= started
                and _kind(a) in sc.root_types]

    def root() -> list[dict[str, Any]]:
        return [a for a in raised() if not a["is-cleared"]]

    found, ep.detected_s = _wait(raised, timeout)
    if found:
        ep.root_ok = any(f"'{sc.resource}'" in a["resource"] for a in found)
    if hit:
        def moved_or_flagged() -> bool:
            states = plant.states()
            return all(states.get(n, {}).get("oper-state") != "up"
                       or states.get(n, {}).get("path") != paths0.get(n) for n in hit)
        _, ep.reroute_s = _wait(moved_or_flagged, timeout, since=injected)
    time.sleep(4 * TELEMETRY_S)                 # let the consequences show
    states = plant.states()
    untouched = live - set(hit)
    ep.states_ok = (all(states.get(n, {}).get("oper-state") in ("up", "stabilising")
                        for n in untouched)
                    and (not hit or ep.reroute_s is not None))
    expected = {a["resource"] for a in (found or [])}
    ep.spurious = sorted(
        f"{_kind(a)}@{a['resource'].rsplit('=', 1)[-1][:24]}"
        for key, a in _active(plant).items() if key not in before
        and a["resource"] not in expected
        and not (_kind(a).startswith("service-")
                 and any(f"'{n}'" in a["resource"] for n in hit)))
    repaired = time.monotonic()
    if sc.clear is not None:
        plant.fault(sc.clear)

    def gone() -> bool:
        return not root()

    _, ep.cleared_s = _wait(gone, timeout, since=repaired)
    _wait(lambda: all(s.get("oper-state") == "up" for n, s in plant.states().items()
                      if n in live), timeout)
    ep.cpu_s = plant.cpu_s() - cpu0
    return ep


def _ci99(values: list[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    half = 2.576 * statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0.0
    return mean, half


def _median(values: list[float], fmt: str, missing: str) -> str:
    return format(statistics.median(values), fmt) if values else missing


def main(repeats: Annotated[int, typer.Option(help="episodes per fault kind")] = 3,
         timeout: Annotated[float, typer.Option(help="wall seconds to wait for a step")
                            ] = 20.0,
         samples: Annotated[int, typer.Option(help="telemetry rounds for predicted vs "
                                                   "measured (0: skip)")] = 40,
         kind: Annotated[list[str] | None, typer.Option(
             help="run only these fault scenarios (by name, e.g. 'fibre cut'); "
                  "all when absent")] = None,
         seed: Annotated[int, typer.Option(help="seed of the emulated physics")] = 11
         ) -> None:
    """Inject every fault kind on the emulated metro network (emulators and controller
    daemon in their own processes) and report detection, correlation, service states,
    clear latency, spurious alarms and the daemon's CPU."""
    from simulators.devices.world import Topology
    from simulators.launcher import DEFAULT_TOPOLOGY

    console = Console(width=max(Console().width, 160))
    chosen = [sc for sc in SCENARIOS if not kind or sc.name in kind]
    if kind and len(chosen) != len(set(kind)):
        known = ", ".join(sc.name for sc in SCENARIOS)
        raise typer.BadParameter(f"unknown scenario in {kind}; known: {known}")
    links = {lk.link_id: (lk.a, lk.b) for lk in Topology.load(DEFAULT_TOPOLOGY).links.values()}
    table = Table(title=f"sdqn bench faults — metro network, time ×{TIME_FACTOR:g}, "
                        f"telemetry every {TELEMETRY_S} s, {repeats} episodes each, fresh "
                        "emulator and daemon processes per kind, read over RESTCONF every "
                        f"{POLL_S} s (medians)")
    for column in ("fault", "detected", "detect s (rounds)", "root cause right",
                   "services right", "hit → moved/flagged s", "clear s", "spurious alarms",
                   "daemon CPU s/episode (idle s/s)"):
        table.add_column(column)
    for sc in chosen:
        with _plant(seed) as plant:
            cpu0, t0 = plant.cpu_s(), time.monotonic()
            time.sleep(10 * TELEMETRY_S)           # the same polling, nothing happening
            plant.states()
            idle = (plant.cpu_s() - cpu0) / (time.monotonic() - t0)
            eps = [run_episode(plant, sc, links, timeout) for _ in range(repeats)]
        det = [e.detected_s for e in eps if e.detected_s is not None]
        clr = [e.cleared_s for e in eps if e.cleared_s is not None]
        rr = [e.reroute_s for e in eps if e.reroute_s is not None]
        spurious = sorted({s for e in eps for s in e.spurious})
        table.add_row(
            sc.name, f"{len(det)}/{repeats}",
            (f"{statistics.median(det):.2f} ({statistics.median(det) / TELEMETRY_S:.1f})"
             if det else "never"),
            f"{sum(e.root_ok for e in eps)}/{repeats}",
            f"{sum(e.states_ok for e in eps)}/{repeats}",
            _median(rr, ".2f", "-"),
            _median(clr, ".2f", "not cleared") if sc.clear is not None or det else "-",
            ", ".join(spurious) or "0",
            f"{statistics.median([e.cpu_s for e in eps]):.2f} ({idle:.2f})")
    console.print(table)
    if samples <= 0:
        return
    with _plant(seed) as plant:
        console.print(_predicted_vs_measured(plant, samples))


@contextmanager
def _plant(seed: int) -> Iterator[Plant]:
    """The metro network emulated, the daemon managing it, services up."""
    with tempfile.TemporaryDirectory(prefix="sdqn-bench-faults-") as tmp, ExitStack() as stack:
        plant = Plant(Path(tmp), stack, seed)
        _, ready = _wait(lambda: (s := plant.states()) and all(
            st.get("oper-state") == "up" for st in s.values()
            if st.get("admission") == "admitted"), 120)
        if ready is None:
            raise RuntimeError(f"services never came up: {plant.states()}")
        yield plant


def _predicted_vs_measured(plant: Plant, samples: int) -> Table:
    rates: dict[str, list[float]] = {}
    fids: dict[str, list[float]] = {}
    predicted: dict[str, tuple[float, float]] = {}
    for _ in range(samples):
        time.sleep(TELEMETRY_S)
        for name, st in plant.states().items():
            if "predicted-rate" in st and "predicted-fidelity" in st:
                predicted[name] = (float(st["predicted-rate"]), float(st["predicted-fidelity"]))
            if st.get("stale") is False and "measured-rate" in st:
                rates.setdefault(name, []).append(float(st["measured-rate"]))
                if "measured-fidelity" in st:
                    fids.setdefault(name, []).append(float(st["measured-fidelity"]))
    table = Table(title=f"predicted vs measured ({samples} telemetry rounds over RESTCONF, "
                        "99 % CI; successive rounds overlap the end nodes' estimation "
                        "window, so the CI is optimistic)")
    for column in ("service", "predicted rate", "measured rate", "Δ", "predicted F",
                   "measured F", "Δ"):
        table.add_column(column)
    for name, (rate, fidelity) in sorted(predicted.items()):
        if name not in rates:
            continue
        r, rh = _ci99(rates[name])
        f, fh = _ci99(fids.get(name, [float("nan")]))
        table.add_row(name, f"{rate:.3g}", f"{r:.3g} ± {rh:.2g}", f"{(r / rate - 1):+.1%}",
                      f"{fidelity:.4f}", f"{f:.4f} ± {fh:.4f}", f"{(f / fidelity - 1):+.2%}")
    return table
