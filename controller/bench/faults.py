"""`sdqn bench faults`: what the controller says when the network breaks, and how fast.

The emulated metro network (time compressed) runs with the controller's real loops
(device notifications, telemetry every 0.5 s, check-sync). Each fault kind the emulators
can inject is applied several times, on a network of its own (one kind's leftovers must
not colour the next); per kind the bench prints: detection latency (fault
→ its root alarm, wall seconds and telemetry rounds), whether the root alarm names the
right resource, whether the services it hits (and only those) change state as expected,
the time until every service it hit is re-routed or
leaves `up` (re-route), the clear latency after repair, and spurious alarms (raised during the
episode, neither the expected root nor a derived alarm of an affected service). Then
predicted vs measured rate and fidelity per service with a 99 % confidence interval over
the telemetry rounds.

Measured in-process (controller and emulators share an interpreter), so the latencies
include no network transport; a kind whose root alarm never appears is reported as not
detected, never as a zero.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

TELEMETRY_S = 0.5
TIME_FACTOR = 60.0


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

    def services_hit(self, manager: Any) -> tuple[str, ...]:
        if self.hit is not None:
            return self.hit
        return tuple(sorted(name for name, r in manager.assurance.records().items()
                            if r.admitted and (self.resource in r.route_links
                                               or self.resource in r.route_nodes)))


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
             ("polarisation-drift",), "r1-r2", ("qkd-alice-bob",),
             {"kind": "drift-surge", "target": "apc-1", "clear": True}),
    Scenario("out-of-band edit", {"kind": "oob-edit", "target": "r2"},
             ("out-of-band-change",), "r2", (), None),
    Scenario("q-ROADM timing skew", {"kind": "timing-skew", "target": "qr1"},
             ("timing-skew",), "qr1", None,
             {"kind": "timing-skew", "target": "qr1", "clear": True}),
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


def _alarms(store: Any) -> list[dict[str, Any]]:
    from controller.datastore.nmda import Datastore

    data = json.loads(store.get(Datastore.OPERATIONAL, xpath="/ietf-alarms:alarms/alarm-list")
                      or "{}")
    return list(data.get("ietf-alarms:alarms", {}).get("alarm-list", {}).get("alarm", []))


def _states(store: Any) -> dict[str, dict[str, Any]]:
    from controller.datastore.nmda import Datastore

    data = json.loads(store.get(Datastore.OPERATIONAL,
                                xpath="/sdqn-services:entanglement-services") or "{}")
    return {r["name"]: r.get("state", {}) for r in
            data.get("sdqn-services:entanglement-services", {}).get("request", [])}


def _wait(check: Callable[[], Any], timeout: float) -> tuple[Any, float | None]:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        value = check()
        if value:
            return value, time.monotonic() - start
        time.sleep(0.05)
    return None, None


def _active(store: Any) -> dict[tuple[str, str], dict[str, Any]]:
    return {(a["resource"], a["alarm-type-id"]): a for a in _alarms(store)
            if not a["is-cleared"]}


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="microseconds")


def run_episode(store: Any, manager: Any, net: Any, sc: Scenario, timeout: float) -> Episode:
    from simulators.faults import FaultRequest

    ep = Episode()
    before = set(_active(store))
    live = {n for n, s in _states(store).items() if s.get("oper-state") == "up"}
    plan_before = manager.expander.committed.plan
    hit = sc.services_hit(manager)
    started = _now()
    net.faults.apply(FaultRequest.model_validate(sc.fault))

    def raised() -> list[dict[str, Any]]:
        """Root alarms of the kind raised since the fault (an out-of-band revert raises
        and clears within one check: it counts)."""
        return [a for a in _alarms(store) if a["last-raised"] >= started
                and a["alarm-type-id"].split(":")[-1] in sc.root_types]

    def root() -> list[dict[str, Any]]:
        return [a for a in raised() if not a["is-cleared"]]

    found, ep.detected_s = _wait(raised, timeout)
    if found:
        ep.root_ok = any(f"'{sc.resource}'" in a["resource"] for a in found)
    if hit:
        def moved_or_flagged() -> bool:
            states = _states(store)
            return all(states.get(n, {}).get("oper-state") != "up"
                       or manager.expander.committed.plan is not plan_before for n in hit)
        _, ep.reroute_s = _wait(moved_or_flagged, timeout)
    time.sleep(4 * TELEMETRY_S)                 # let the consequences show
    states = _states(store)
    untouched = live - set(hit)
    ep.states_ok = (all(states.get(n, {}).get("oper-state") in ("up", "stabilising")
                        for n in untouched)
                    and (not hit or ep.reroute_s is not None))
    expected = {a["resource"] for a in (found or [])}
    ep.spurious = sorted(
        f"{a['alarm-type-id'].split(':')[-1]}@{a['resource'].rsplit('=', 1)[-1][:24]}"
        for key, a in _active(store).items() if key not in before
        and a["resource"] not in expected
        and not (a["alarm-type-id"].split(":")[-1].startswith("service-")
                 and any(f"'{n}'" in a["resource"] for n in hit)))
    if sc.clear is not None:
        net.faults.apply(FaultRequest.model_validate(sc.clear))

    def gone() -> bool:
        return not root()

    _, ep.cleared_s = _wait(gone, timeout)
    _wait(lambda: all(s.get("oper-state") == "up" for n, s in _states(store).items()
                      if n in live), timeout)
    return ep


def _ci99(values: list[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    half = 2.576 * statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0.0
    return mean, half


def main(repeats: Annotated[int, typer.Option(help="episodes per fault kind")] = 3,
         timeout: Annotated[float, typer.Option(help="wall seconds to wait for a step")
                            ] = 20.0,
         samples: Annotated[int, typer.Option(help="telemetry rounds for predicted vs "
                                                   "measured")] = 40,
         kind: Annotated[list[str] | None, typer.Option(
             help="run only these fault scenarios (by name, e.g. 'fibre cut'); "
                  "all when absent")] = None) -> None:
    """Inject every fault kind on the emulated metro network and report detection,
    correlation, service states, clear latency and spurious alarms."""
    from controller.logs import configure_logging

    configure_logging("error")
    console = Console(width=max(Console().width, 160))
    table = Table(title=f"sdqn bench faults — metro network, time ×{TIME_FACTOR:g}, "
                        f"telemetry every {TELEMETRY_S} s, {repeats} episodes each, a fresh "
                        "network per kind (medians; in-process)")
    for column in ("fault", "detected", "detect s (rounds)", "root cause right",
                   "services right", "hit → moved/flagged s", "clear s", "spurious alarms"):
        table.add_column(column)
    chosen = [sc for sc in SCENARIOS if not kind or sc.name in kind]
    if kind and len(chosen) != len(set(kind)):
        known = ", ".join(sc.name for sc in SCENARIOS)
        raise typer.BadParameter(f"unknown scenario in {kind}; known: {known}")
    for sc in chosen:
        with _metro() as (store, manager, net):
            eps = [run_episode(store, manager, net, sc, timeout) for _ in range(repeats)]
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
            f"{statistics.median(rr):.2f}" if rr else "-",
            (f"{statistics.median(clr):.2f}" if clr else "not cleared")
            if sc.clear is not None or det else "-",
            ", ".join(spurious) or "0")
    console.print(table)
    if samples <= 0:
        return
    with _metro() as (store, manager, _net):
        console.print(_predicted_vs_measured(store, manager, samples))


@contextmanager
def _metro() -> Iterator[tuple[Any, Any, Any]]:
    """The metro network emulated, the controller managing it, services up."""
    from controller.app.intent import load_intent, point_at_emulators
    from controller.app.store import open_store
    from controller.daemon import build_service, controller_schema
    from controller.paths import CONFIG_DIR
    from controller.settings import ControllerSettings
    from simulators.clock import ScaledClock
    from simulators.devices.world import Topology
    from simulators.launcher import DEFAULT_TOPOLOGY, Network

    with tempfile.TemporaryDirectory(prefix="sdqn-bench-faults-") as tmp:
        settings = ControllerSettings.load()
        settings.datastore.data_dir = Path(tmp)
        settings.service.telemetry_interval_s = TELEMETRY_S
        settings.service.sync_interval_s = 2.0
        net = Network(Topology.load(DEFAULT_TOPOLOGY), clock=ScaledClock(TIME_FACTOR),
                      use_topology_ports=False, tick=0.2)
        net.start(control=False)
        store = open_store(settings, schema=controller_schema(settings))
        manager = build_service(settings, store)
        assert manager is not None
        try:
            topology = json.loads(DEFAULT_TOPOLOGY.read_text())
            load_intent(store, point_at_emulators(topology, net.inventory()),
                        CONFIG_DIR / "services" / "demo.json")
            _wait(lambda: all(s.get("oper-state") == "up" for s in _states(store).values()
                              if s.get("admission") == "admitted"), 60)
            yield store, manager, net
        finally:
            manager.close()
            net.stop()
            store.close()


def _predicted_vs_measured(store: Any, manager: Any, samples: int) -> Table:
    plan = manager.expander.committed.plan
    rates: dict[str, list[float]] = {}
    fids: dict[str, list[float]] = {}
    for _ in range(samples):
        time.sleep(TELEMETRY_S)
        for name, st in _states(store).items():
            if st.get("stale") is False and "measured-rate" in st:
                rates.setdefault(name, []).append(float(st["measured-rate"]))
                if "measured-fidelity" in st:
                    fids.setdefault(name, []).append(float(st["measured-fidelity"]))
    table = Table(title=f"predicted vs measured ({samples} telemetry rounds, 99 % CI; "
                        "successive rounds overlap the end nodes' estimation window, so "
                        "the CI is optimistic)")
    for column in ("service", "predicted rate", "measured rate", "Δ", "predicted F",
                   "measured F", "Δ"):
        table.add_column(column)
    for a in (plan.admitted if plan is not None else []):
        name = a.request.name
        if name not in rates:
            continue
        r, rh = _ci99(rates[name])
        f, fh = _ci99(fids.get(name, [float("nan")]))
        table.add_row(name, f"{a.rate_hz:.3g}", f"{r:.3g} ± {rh:.2g}",
                      f"{(r / a.rate_hz - 1):+.1%}", f"{a.fidelity:.4f}",
                      f"{f:.4f} ± {fh:.4f}", f"{(f / a.fidelity - 1):+.2%}")
    return table
