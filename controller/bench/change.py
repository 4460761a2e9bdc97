"""`sdqn bench change`: random operator changes on a live 100-device network — which live
services move, how, and whether the dry-run said so.

Measured on the path an operator takes: the 100-device network of `sdqn bench heal`
(Waxman core of repeaters and q-ROADMs, 36 end nodes, 10 APCs) runs in its own process
(`sdqn sim run`, time ×60), the controller daemon in another (`sdqn controller run`), and
this process is the operator's NETCONF client (ncclient over SSH). After the offered
requests are committed (the plan admits what fits: the live services), it makes N random
changes, each previewed with the sdqn-controller `dry-run` rpc and then committed:

  add        a new request between two end nodes
  modify     another demanded rate, minimum fidelity or weight for a request
  withdraw   delete a request
  policy     the optimiser's objective (sum ↔ proportional-fair) or one request's
             live-move leaf (set to the run's default): changes nothing a service uses
  optimise   every tenth change: the `optimise` rpc (the one action that may move
             services that were not changed)

once per live-move default (pinned, make-before-break-only, free), on fresh processes.
Per run it prints: live services moved that the change did not touch (target 0 for
commits; for optimise, 0 under pinned), hard switches (target 0 under
make-before-break-only), the share of changes whose commit did exactly what the dry-run
said (services added, removed, moved; devices whose intended configuration changed:
target 100 %), dry-run and commit latency p50/p99 with the daemon's CPU per commit, and
the interruption the moved services' end nodes saw: the longest gap between increases of
the application endpoint's delivered-pairs counter during the move, in device seconds,
beside the same gap measured before the change (the polling resolution), for bridged
moves and hard switches apart.

What "moved" means here is read back over NETCONF, not taken from the controller's own
report: a service's path in <operational> before and after the commit.
"""

from __future__ import annotations

import contextlib
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any

import typer
from lxml import etree
from rich.console import Console
from rich.table import Table

from controller.bench.faults import TIME_FACTOR, cpu_seconds
from controller.bench.heal import ROUTE_HOPS, bench_network
from controller.bench.processes import process

POLICIES = ("pinned", "make-before-break-only", "free")
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
SVC = "urn:sdqn:sdqn-services"
CTL = "urn:sdqn:sdqn-controller"
EN = "urn:sdqn:sdqn-end-node"
NMDA = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
KINDS = ("add", "modify", "withdraw", "policy")
WEIGHTS = (0.35, 0.3, 0.15, 0.2)
LISTS = {"impact": {"service", "device"}, "device": {"change"}}
POLL_S = 0.2
MOVE_WATCH_S = 6.0


@dataclass
class Outcome:
    kind: str
    dry_run_s: float
    commit_s: float
    cpu_s: float
    exact: bool
    untouched_moved: list[str]
    moved: list[str]
    hard: list[str]
    refused: str = ""
    mismatch: str = ""         # what the dry-run said and the commit did, when they differ
    #: per watched move: (switch kind, longest gap before, longest gap during), device s
    gaps: list[tuple[str, float, float]] = field(default_factory=list)


class Client:
    """The operator: NETCONF sessions to the daemon and (read-only) to end nodes."""

    def __init__(self, port: int, ends: dict[str, int]) -> None:
        from southbound.transport import connect

        self.m = connect(host="127.0.0.1", port=port, username="admin", password="admin",
                         timeout=300)
        self.ends = {node: connect(host="127.0.0.1", port=p, username="admin",
                                   password="admin", timeout=60)
                     for node, p in ends.items()}

    def close(self) -> None:
        for session in (self.m, *self.ends.values()):
            with contextlib.suppress(Exception):
                session.close_session()

    def rpc(self, xml: str) -> etree._Element:
        return etree.fromstring(self.m.dispatch(etree.fromstring(xml)).xml.encode())

    def get_data(self, datastore: str, xpath: str, ns: dict[str, str]) -> etree._Element:
        prefixes = " ".join(f'xmlns:{p}="{u}"' for p, u in ns.items())
        reply = self.rpc(f'<get-data xmlns="{NMDA}" '
                         'xmlns:ds="urn:ietf:params:xml:ns:yang:ietf-datastores">'
                         f"<datastore>ds:{datastore}</datastore><xpath-filter {prefixes}>"
                         f"{xpath}</xpath-filter></get-data>")
        data = reply.find(f"{{{NMDA}}}data")
        assert data is not None
        return data

    def paths(self) -> dict[str, str]:
        """Admitted requests → their path in <operational>."""
        data = self.get_data("operational", "/s:entanglement-services", {"s": SVC})
        out = {}
        for r in data.iter(f"{{{SVC}}}request"):
            if r.findtext(f"{{{SVC}}}state/{{{SVC}}}admission") == "admitted":
                out[str(r.findtext(f"{{{SVC}}}name"))] = " ".join(
                    p.text or "" for p in r.iterfind(f"{{{SVC}}}state/{{{SVC}}}path"))
        return out

    def intended(self) -> dict[str, bytes]:
        data = self.get_data("intended", "/c:controller/c:devices", {"c": CTL})
        return {str(d.findtext(f"{{{CTL}}}node-id")): etree.tostring(d, method="c14n")
                for d in data.iter(f"{{{CTL}}}device")}

    def delivered(self, node: str, service: str) -> int | None:
        reply = self.ends[node].get(filter=("subtree", f'<end-node xmlns="{EN}"/>'))
        root = etree.fromstring(reply.data_xml.encode())
        for ep in root.iter(f"{{{EN}}}application-endpoint"):
            if ep.findtext(f"{{{EN}}}service") == service:
                text = ep.findtext(f"{{{EN}}}state/{{{EN}}}delivered-pairs")
                return int(text) if text else 0
        return None


def members(el: etree._Element) -> Any:
    out: dict[str, Any] = {}
    lists = LISTS.get(etree.QName(el).localname, set())
    for child in el:
        name = etree.QName(child).localname
        value = members(child) if len(child) else (child.text or "")
        if name in lists:
            out.setdefault(name, []).append(value)
        else:
            out[name] = value
    return out


def request_xml(r: Any) -> str:
    return (f"<request><name>{r.name}</name><source-node>{r.source}</source-node>"
            f"<destination-node>{r.destination}</destination-node>"
            f'<application xmlns:t="urn:sdqn:sdqn-types">t:{r.application.value}</application>'
            f"<min-fidelity>{r.min_fidelity}</min-fidelity>"
            f"<demanded-rate>{r.demanded_rate_hz}</demanded-rate></request>")


def config_xml(*, services: str = "", controller: str = "") -> str:
    """An edit-config <config> with request entries and sdqn-controller content."""
    parts = [f'<entanglement-services xmlns="{SVC}">{services}</entanglement-services>'
             if services else "",
             f'<controller xmlns="{CTL}">{controller}</controller>' if controller else ""]
    return f'<config xmlns="{NC}">{"".join(parts)}</config>'


class Run:
    """One live-move default: fresh emulators and daemon, offered requests committed."""

    def __init__(self, tmp: Path, stack: ExitStack, network: Any, requests: list[Any],
                 policy: str, seed: int) -> None:
        from controller.app.credentials import use_demo_credentials
        from controller.bench.heal import topology_json
        from controller.settings import ControllerSettings

        topology = tmp / "topology.json"
        topology.write_text(json.dumps(topology_json(network, {n: 0 for n in network.nodes})))
        inventory = tmp / "inventory.json"
        sdqn = [sys.executable, "-m", "controller.cli"]
        self.sim = stack.enter_context(process(
            [*sdqn, "sim", "run", "--topology", str(topology), "--any-port", "--inventory",
             str(inventory), "--time-factor", f"{TIME_FACTOR:g}", "--tick", f"{POLL_S}",
             "--seed", str(seed), "--duration", "7200"], tmp / "sim.log"))
        deadline = time.monotonic() + 300
        while not inventory.exists():
            if self.sim.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("`sdqn sim run` wrote no inventory:\n"
                                   + (tmp / "sim.log").read_text()[-2000:])
            time.sleep(0.2)
        time.sleep(0.5)                          # the inventory is written, then closed
        devices = json.loads(inventory.read_text())["devices"]
        settings = ControllerSettings.load()
        use_demo_credentials(settings)  # loopback benchmark
        settings.datastore.data_dir = tmp / "data"
        settings.netconf.port = 0
        settings.restconf.enabled = settings.grpc.enabled = False
        settings.service.time_limit_s = 20
        settings.service.device_timeout_s = 60
        settings.service.telemetry_interval_s = 2.0
        settings.service.sync_interval_s = 10.0
        config = tmp / "controller.json"
        config.write_text(settings.model_dump_json())
        self.daemon = stack.enter_context(process(
            [*sdqn, "controller", "run", "--config", str(config), "--log-level", "warning",
             "--inventory", str(inventory)], tmp / "daemon.log", stdout=subprocess.PIPE))
        assert self.daemon.stdout is not None
        line = self.daemon.stdout.readline()
        if not line.startswith("netconf listening on"):
            raise RuntimeError("the daemon did not start:\n"
                               + (tmp / "daemon.log").read_text()[-2000:])
        ends = {d["node-id"]: int(d["port"]) for d in devices
                if str(d["node-id"]).startswith("e")}
        self.client = Client(int(line.rsplit(":", 1)[1]), ends)
        stack.callback(self.client.close)
        self.policy = policy
        self.requests = {r.name: r for r in requests}
        self.client.m.edit_config(target="candidate", config=config_xml(
            services="".join(request_xml(r) for r in requests),
            controller=f"<policies><live-move><default>{policy}</default></live-move>"
                       f"</policies><optimiser><max-route-hops>{ROUTE_HOPS}</max-route-hops>"
                       "</optimiser>"))
        self.client.m.commit()

    def change(self, i: int, kind: str, rng: random.Random, spare: Iterator[Any]
               ) -> tuple[str, set[str]]:
        """Edit the candidate for one change: (description, requests it touches)."""
        names = sorted(self.requests)
        if kind == "add":
            r = next(spare)
            r = replace(r, name=f"chg-{i}")
            self.requests[r.name] = r
            edit, touched = config_xml(services=request_xml(r)), {r.name}
        elif kind == "modify":
            name = rng.choice(names)
            leaf, value = rng.choice([
                ("demanded-rate", f"{rng.choice([0.5, 2.0, 4.0])}"),
                ("min-fidelity", f"{rng.choice([0.6, 0.7, 0.75])}"),
                ("weight", f"{rng.choice([0.5, 2.0, 3.0])}")])
            edit = config_xml(services=f"<request><name>{name}</name><{leaf}>{value}"
                                       f"</{leaf}></request>")
            touched = {name}
        elif kind == "withdraw":
            name = rng.choice(names)
            del self.requests[name]
            edit = config_xml(services=f'<request xmlns:nc="{NC}" nc:operation="delete">'
                                       f"<name>{name}</name></request>")
            touched = {name}
        else:                                   # policy: nothing a service uses changes
            if rng.random() < 0.5:
                objective = rng.choice(["sum", "proportional-fair"])
                edit = config_xml(controller=f"<optimiser><objective>{objective}"
                                             "</objective></optimiser>")
                kind = f"policy (objective {objective})"
            else:
                name = rng.choice(names)
                edit = config_xml(services=f"<request><name>{name}</name><live-move>"
                                           f"{self.policy}</live-move></request>")
                kind = f"policy ({name} live-move)"
            touched = set()
        self.client.m.edit_config(target="candidate", config=edit)
        return kind, touched


def _gap(client: Client, watch: list[tuple[str, str]], seconds: float
         ) -> dict[tuple[str, str], float]:
    """Longest wall-clock gap between delivered-pairs increases per (end node, service)."""
    last = {w: client.delivered(*w) for w in watch}
    since = {w: time.monotonic() for w in watch}
    worst = dict.fromkeys(watch, 0.0)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(POLL_S)
        for w in watch:
            value, now = client.delivered(*w), time.monotonic()
            previous = last[w]
            if value is not None and (previous is None or value > previous):
                last[w], since[w] = value, now
            worst[w] = max(worst[w], now - since[w])
    return worst


def run_changes(run: Run, changes: int, rng: random.Random, spare: Iterator[Any],
                cpu: Any) -> list[Outcome]:
    client = run.client
    outcomes = []
    for i in range(changes):
        optimise = (i + 1) % 10 == 0
        kind, touched = ("optimise", set()) if optimise else \
            run.change(i, rng.choices(KINDS, WEIGHTS)[0], rng, spare)
        paths, configs = client.paths(), client.intended()
        t0 = time.perf_counter()
        action = "optimise" if optimise else "commit"
        try:
            reply = client.rpc(f"<dry-run xmlns='{CTL}'><action>{action}</action></dry-run>")
        except Exception as exc:              # the change cannot be made: commit must agree
            dry_s = time.perf_counter() - t0
            refused = str(exc).splitlines()[0][:80]
            try:
                if optimise:
                    client.rpc(f"<optimise xmlns='{CTL}'/>")
                else:
                    client.m.commit()
                exact = False
            except Exception:
                exact = True
                if not optimise:
                    client.m.discard_changes()
            outcomes.append(Outcome(kind, dry_s, 0.0, 0.0, exact, [], [], [], refused))
            continue
        dry_s = time.perf_counter() - t0
        found = reply.find(f"{{{CTL}}}impact")
        assert found is not None
        impact = members(found)
        watch = []
        switch = {s["name"]: s.get("switch", "") for s in impact.get("service", [])
                  if s["change"] == "moved"}
        for name in sorted(switch):
            request = run.requests.get(name)
            if request is not None and request.source in client.ends:
                watch.append((request.source, name))
        before_gap = _gap(client, watch, 1.0) if watch else {}
        cpu0, t1 = cpu(), time.perf_counter()
        if optimise:
            client.rpc(f"<optimise xmlns='{CTL}'/>")
        else:
            client.m.commit()
        commit_s, cpu_s = time.perf_counter() - t1, cpu() - cpu0
        during_gap = _gap(client, watch, MOVE_WATCH_S) if watch else {}
        after_paths, after_configs = client.paths(), client.intended()
        moved = sorted(n for n in paths if n in after_paths and paths[n] != after_paths[n])
        added = {n for n in after_paths if n not in paths}
        removed = {n for n in paths if n not in after_paths}
        devices = {n for n in set(configs) | set(after_configs)
                   if configs.get(n) != after_configs.get(n)}
        said = {c: {s["name"] for s in impact.get("service", []) if s["change"] == c}
                for c in ("moved", "added", "removed")}
        said_devices = {d["node-id"] for d in impact.get("device", [])}
        exact = (said["moved"] == set(moved) and said["added"] == added
                 and said["removed"] == removed and said_devices == devices)
        mismatch = "" if exact else (
            f"said moved {sorted(said['moved'])} added {sorted(said['added'])} removed "
            f"{sorted(said['removed'])} devices {sorted(said_devices)}; did moved {moved} "
            f"added {sorted(added)} removed {sorted(removed)} devices {sorted(devices)}")
        hard = sorted(s["name"] for s in impact.get("service", [])
                      if s.get("switch") == "hard-switch")
        gaps = [(switch[w[1]], before_gap[w] * TIME_FACTOR, during_gap[w] * TIME_FACTOR)
                for w in watch]
        outcomes.append(Outcome(kind, dry_s, commit_s, cpu_s, exact,
                                [] if optimise else sorted(set(moved) - touched),
                                moved, hard, gaps=gaps, mismatch=mismatch))
    return outcomes


def _gaps(gaps: list[tuple[str, float, float]], kind: str) -> str:
    chosen = [(before, during) for k, before, during in gaps if k == kind]
    if not chosen:
        return "no move"
    return (f"{max(b for b, _ in chosen):.0f} / {max(d for _, d in chosen):.0f} "
            f"({len(chosen)})")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main(devices: Annotated[int, typer.Option(help="managed devices")] = 100,
         offered: Annotated[int, typer.Option(help="requests committed first")] = 110,
         changes: Annotated[int, typer.Option(help="random operator changes per run")] = 50,
         policy: Annotated[list[str] | None, typer.Option(
             help="live-move defaults to run (default: all three)")] = None,
         seed: Annotated[int, typer.Option(help="topology, request and change seed")] = 3,
         show_changes: Annotated[bool, typer.Option(help="print every change")] = False
         ) -> None:
    """Random operator changes on the emulated 100-device network: live services moved,
    hard switches, moves predicted by the dry-run, commit latency, interruption seen on
    the devices."""
    from qnum.instances import random_requests
    from qnum.io import DeviceKind

    console = Console(width=max(Console().width, 180))
    network = bench_network(devices, seed)
    ends = sorted(n for n, node in network.nodes.items() if node.kind is DeviceKind.END_NODE)
    pool = [replace(r, demanded_rate_hz=1.0, min_fidelity=0.6)
            for r in random_requests(network, offered + changes, seed, endpoints=ends,
                                     max_hops=ROUTE_HOPS)]
    table = Table(title=f"sdqn bench change — {devices} devices, {offered} requests offered, "
                        f"{changes} random changes per live-move default (every 10th: "
                        "optimise), NETCONF client in its own process, emulators ×"
                        f"{TIME_FACTOR:g}")
    for column in ("live-move default", "live services", "untouched moved by commits",
                   "moved by optimise", "hard switches", "refused (and commit agreed)",
                   "dry-run = commit", "dry-run p50/p99 s", "commit p50/p99 s",
                   "daemon CPU s/commit", "device gap before/during bridged move s (max, n)",
                   "device gap before/during hard switch s (max, n)"):
        table.add_column(column)
    for chosen in policy or list(POLICIES):
        if chosen not in POLICIES:
            raise typer.BadParameter(f"policy must be one of {', '.join(POLICIES)}")
        rng = random.Random(seed)
        with tempfile.TemporaryDirectory(prefix="sdqn-bench-change-") as tmp, \
                ExitStack() as stack:
            t0 = time.monotonic()
            run = Run(Path(tmp), stack, network, pool[:offered], chosen, seed)
            live = len(run.client.paths())
            console.print(f"{chosen}: {devices} devices, {live} live services, set up in "
                          f"{time.monotonic() - t0:.0f} s")
            outcomes = run_changes(run, changes, rng, iter(pool[offered:]),
                                   lambda run=run: cpu_seconds(run.daemon.pid))
        for o in outcomes:
            if show_changes or not o.exact:
                console.print(f"  {o.kind}: moved {o.moved} hard {o.hard} exact {o.exact} "
                              f"{o.refused}{o.mismatch}")
        done = [o for o in outcomes if not o.refused]
        gaps = [g for o in done for g in o.gaps]
        table.add_row(
            chosen, str(live),
            str(sum(len(o.untouched_moved) for o in done)),
            str(sum(len(o.moved) for o in done if o.kind == "optimise")),
            str(sum(len(o.hard) for o in done)),
            f"{sum(1 for o in outcomes if o.refused)} "
            f"({sum(1 for o in outcomes if o.refused and o.exact)})",
            f"{sum(o.exact for o in outcomes)}/{len(outcomes)} "
            f"({100 * sum(o.exact for o in outcomes) / max(1, len(outcomes)):.0f} %)",
            f"{_pct([o.dry_run_s for o in outcomes], 0.5):.2f} / "
            f"{_pct([o.dry_run_s for o in outcomes], 0.99):.2f}",
            f"{_pct([o.commit_s for o in done], 0.5):.2f} / "
            f"{_pct([o.commit_s for o in done], 0.99):.2f}",
            f"{statistics.median([o.cpu_s for o in done]) if done else float('nan'):.2f}",
            _gaps(gaps, "make-before-break"), _gaps(gaps, "hard-switch"))
    console.print(table)
