"""An independent exhaustive Q-NUM optimum over the whole declared configuration space.

A check that enumerates the solver's own candidates cannot notice when candidate
generation misses the optimum, so this module rebuilds the option space from the model's
documented semantics (``qnum/README.md`` and the docstring of
:mod:`qnum.candidates`) without calling any of its route or candidate generation code:

* **Routes**: every simple path (no node or fibre twice) of at most ``max_hops`` fibres
  between the request's end nodes.  Inner nodes are repeaters (memory nodes that swap) or
  transparent devices (q-ROADM, APC, source, detector); an end node relays only when its
  topology entry sets ``relay`` (it then swaps like a repeater: its own swap and memory
  facts, two slots of its memory, which the memory check enforces).  Fibres that
  cannot carry entanglement (no source, a dead detector, link fidelity ≤ ½) are skipped.
* **Elementary links**: the route splits at memory nodes.  Consecutive fibres through
  transparent nodes form one link: lengths and dB losses add, every q-ROADM adds its
  insertion loss, a packet-switched q-ROADM chain adds −10·log10 K with
  K = Π P_i·(T_Q − Σ T_P,i)/T_Q (T_Q the shortest payload), and source rate, detector
  efficiency, modes and link fidelity are the worst of the fibres.
* **Resources**: a memory-to-memory fibre is its own TDMA frame; a link through
  transparent nodes time-shares the frame of their transparent island (connected
  transparent nodes).  A link through a circuit-switched q-ROADM takes one wavelength
  channel of its island (capacity: the island's smallest circuit q-ROADM) and one add/drop
  port at each such q-ROADM per side that faces a non-ROADM node.  Memory per node comes
  from the chain model.
* **Configurations** per route: share floor σ from the share levels, 0..max end-to-end
  purification rounds, 0..max per-link rounds r_L (every elementary link purified r_L
  rounds by its two nodes before any swap; the chain model's ``link_purification_rounds``;
  the cut-off windows below come from the chain purified that way), and each cut-off
  kind: "budget" (window T_ent − latency at σ) and "tight"
  (``tight_cutoff_factor`` × the mean wait at σ, whenever that is shorter than the budget
  window).  Each is evaluated with :func:`qnum.physics.chain_performance` at share σ; it
  is feasible when the coherence check holds, the rate is positive, F ≥ min-fidelity,
  q(F) > 0 and every node has the memory it needs, by the documented rule (recurrence
  purification done depth first holds r_L + 1 qubits per link side): an end node
  1 + r + r_L, a repeater 2·(r_L + 1).  Granted a share s ∈ [σ, 1] it delivers
  min(r·s/σ, D) at fidelity F(σ).

The optimum is then found by depth-first search over "one configuration or not admitted"
per request, pruned only by integral feasibility and a valid upper bound; each complete
choice gets its exact share LP.  Σ_j w_j·q_j·min(r_j·s_j, D_j) over s_j ∈ [σ_j, 1] with
Σ count·s ≤ 1 per frame is linear in s once s_j is capped at max(σ_j, min(1, D_j/r_j)),
so it is solved exactly (closed form when all caps fit, else GLOP).
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial

from ortools.linear_solver import pywraplp

from qnum.candidates import CandidateOptions
from qnum.instances import request
from qnum.io import AppClass, DeviceKind, Link, Network, Node, QRoadm, Request, SwitchingMode
from qnum.physics import LinkParams, NodeParams, chain_performance
from qnum.physics.constants import PAIR_CLASSICAL_LIMIT
from qnum.utility import UtilityParams, quality

_TOL = 1e-9


@dataclass(frozen=True)
class Space:
    """The declared configuration space (defaults: the project's CandidateOptions)."""

    max_hops: int = 5
    max_purification_rounds: int = CandidateOptions().max_purification_rounds
    #: The check declares per-link rounds (the library and the controller default to none).
    max_link_purification_rounds: int = 1
    protocol: str = CandidateOptions().protocol
    share_levels: tuple[float, ...] = CandidateOptions().share_levels
    tight_cutoff_factor: float | None = CandidateOptions().tight_cutoff_factor
    #: Offer the tight window only when memory decay costs at least this much fidelity
    #: (0: whenever the window is shorter than the budget one).
    tight_cutoff_min_gain: float = 0.0


@dataclass(frozen=True)
class Config:
    """One configuration of one request: route, rounds, cut-off, share floor, and its cost."""

    request: str
    nodes: tuple[str, ...]
    links: tuple[str, ...]
    rounds: int
    cutoff_kind: str
    cutoff_s: float
    share_floor: float
    rate_per_share_hz: float
    fidelity: float
    quality: float
    frames: tuple[tuple[str, int], ...]
    memory: tuple[tuple[str, int], ...]
    channels: tuple[tuple[str, int], ...]
    ports: tuple[tuple[str, int], ...]
    link_rounds: int = 0

    @property
    def footprint(self) -> tuple[object, ...]:
        return (self.frames, self.memory, self.channels, self.ports)


@dataclass
class Result:
    """Exhaustive optimum, the configurations it chose (with shares), and the space size."""

    objective: float
    chosen: dict[str, tuple[Config, float]]
    configurations: dict[str, int]
    leaves: int = 0


# ----------------------------------------------------------------------------- topology


def _usable(link: Link) -> bool:
    return (
        link.source_rate_hz > 0.0
        and link.detector_efficiency > 0.0
        and link.link_fidelity > PAIR_CLASSICAL_LIMIT
    )


def _is_memory(node: Node) -> bool:
    return node.kind in (DeviceKind.END_NODE, DeviceKind.REPEATER)


def islands(network: Network) -> dict[str, str]:
    """Transparent node → its island (connected transparent nodes), by union-find."""
    parent = {n: n for n, node in network.nodes.items() if not _is_memory(node)}

    def root(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for link in network.links.values():
        if link.a in parent and link.b in parent:
            ra, rb = root(link.a), root(link.b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for n in parent:
        groups.setdefault(root(n), []).append(n)
    return {n: "island:" + min(members) for members in groups.values() for n in members}


def island_channel_capacity(network: Network, island: str) -> int:
    members = [n for n, i in islands(network).items() if i == island]
    sizes = [
        r.wavelength_channels
        for n in members
        if (r := network.nodes[n].roadm) is not None and r.switching_mode is SwitchingMode.CIRCUIT
    ]
    return min(sizes, default=0)


def simple_paths(
    network: Network, source: str, destination: str, max_hops: int
) -> Iterator[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(nodes, fibres) of every simple path of ≤ max_hops usable fibres; inner nodes relay."""
    adjacency: dict[str, list[tuple[str, str]]] = {n: [] for n in network.nodes}
    for lid in sorted(network.links):
        link = network.links[lid]
        if _usable(link) and link.a != link.b:
            adjacency[link.a].append((lid, link.b))
            adjacency[link.b].append((lid, link.a))

    def relays(n: str) -> bool:
        node = network.nodes[n]
        return node.kind is not DeviceKind.END_NODE or node.relay

    nodes: list[str] = [source]
    fibres: list[str] = []

    def walk() -> Iterator[tuple[tuple[str, ...], tuple[str, ...]]]:
        here = nodes[-1]
        for lid, nxt in adjacency[here]:
            if nxt in nodes:
                continue
            if nxt == destination:
                yield (*nodes, nxt), (*fibres, lid)
                continue
            if len(fibres) + 1 >= max_hops or not relays(nxt):
                continue
            nodes.append(nxt)
            fibres.append(lid)
            yield from walk()
            nodes.pop()
            fibres.pop()

    yield from walk()


@dataclass(frozen=True)
class _Hop:
    """One elementary link of a route with its chain-model parameters and resources."""

    params: LinkParams
    frame: str
    channel_island: str | None
    ports: tuple[str, ...]


def _elementary(
    network: Network, nodes: Sequence[str], fibres: Sequence[str], island_of: Mapping[str, str]
) -> _Hop | None:
    links = [network.links[f] for f in fibres]
    inner = [network.nodes[n] for n in nodes[1:-1]]
    extra_db = sum(n.roadm.insertion_loss_db for n in inner if n.roadm is not None)
    packet = [
        n.roadm
        for n in inner
        if n.roadm is not None and n.roadm.switching_mode is SwitchingMode.PACKET
    ]
    if packet:
        payload = min(r.payload_duration_s for r in packet)
        headers = sum(r.header_processing_time_s for r in packet)
        keep = math.prod(r.availability for r in packet) * max(0.0, payload - headers) / payload
        if keep <= 0.0:
            return None
        extra_db += -10.0 * math.log10(keep)
    length = sum(lk.length_km for lk in links)
    loss_db = sum(lk.length_km * lk.attenuation_db_per_km for lk in links)
    params = LinkParams(
        length,
        source_rate_hz=min(lk.source_rate_hz for lk in links),
        attenuation_db_per_km=loss_db / length if length > 0 else links[0].attenuation_db_per_km,
        detector_efficiency=min(lk.detector_efficiency for lk in links),
        # One mode per attempt is stored at each end: an end memory's multimode capacity
        # (when given) caps the link's modes.
        modes=min([lk.modes for lk in links] + [
            network.nodes[end].multimode_capacity or lk_max
            for end in (nodes[0], nodes[-1])
            for lk_max in [max(lk.modes for lk in links)]]),
        link_fidelity=min(lk.link_fidelity for lk in links),
        heralding=links[0].heralding.value,
        extra_loss_db=extra_db,
    )
    circuit = {
        n
        for n in nodes[1:-1]
        if (r := network.nodes[n].roadm) is not None and r.switching_mode is SwitchingMode.CIRCUIT
    }
    ports = tuple(
        nodes[i]
        for i in range(1, len(nodes) - 1)
        if nodes[i] in circuit
        for side in (nodes[i - 1], nodes[i + 1])
        if network.nodes[side].roadm is None
    )
    if len(nodes) == 2:
        return _Hop(params, fibres[0], None, ())
    island = island_of[nodes[1]]
    return _Hop(params, island, island if circuit else None, ports)


def _node_params(node: Node) -> NodeParams:
    """bsm-fidelity and initial-fidelity are fidelities F of a depolarising step; the chain
    model takes the factor (4F − 1)/3 for the swap and the fidelity itself for the write."""
    return NodeParams(
        node.coherence_time_s,
        bsm_lambda=(4.0 * node.bsm_fidelity - 1.0) / 3.0,
        swap_success_probability=node.swap_success_probability,
        memory_efficiency=node.memory_efficiency,
        decoherence_model=node.decoherence_model,
        initial_fidelity=node.initial_fidelity,
    )


def _sorted_counts(items: Sequence[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(Counter(items).items()))


# ----------------------------------------------------------------------------- enumeration


def request_configurations(network: Network, request: Request, space: Space) -> list[Config]:
    """Every feasible configuration of one request in the declared space."""
    if not request.enabled:
        return []
    for end in (request.source, request.destination):
        node = network.nodes.get(end)
        if node is None or not _is_memory(node) or node.memory_qubits < 1:
            return []
    island_of = islands(network)
    params = request.utility_params.model_copy(update={"min_fidelity": request.min_fidelity})
    out: list[Config] = []
    for nodes, fibres in simple_paths(network, request.source, request.destination, space.max_hops):
        cuts = [0] + [i for i in range(1, len(nodes)) if _is_memory(network.nodes[nodes[i]])]
        hops = [
            _elementary(network, nodes[a : b + 1], fibres[a:b], island_of)
            for a, b in itertools.pairwise(cuts)
        ]
        if any(h is None for h in hops):
            continue
        memory_nodes = [nodes[c] for c in cuts]
        links = [h.params for h in hops if h is not None]
        repeaters = [_node_params(network.nodes[n]) for n in memory_nodes[1:-1]]
        ends = [
            _node_params(network.nodes[memory_nodes[0]]),
            _node_params(network.nodes[memory_nodes[-1]]),
        ]
        frames = _sorted_counts([h.frame for h in hops if h is not None])
        channels = _sorted_counts(
            [h.channel_island for h in hops if h is not None and h.channel_island]
        )
        ports = _sorted_counts([p for h in hops if h is not None for p in h.ports])
        ideal_w = math.prod((4 * lp.link_fidelity - 1) / 3 for lp in links) * math.prod(
            (4 * network.nodes[n].bsm_fidelity - 1) / 3 for n in memory_nodes[1:-1]
        )
        ideal_fidelity = (1 + 3 * ideal_w) / 4
        for share, link_rounds in itertools.product(
            sorted(set(space.share_levels), reverse=True),
            range(space.max_link_purification_rounds + 1),
        ):
            base = chain_performance(
                links, repeaters, 0, space.protocol, shares=[share] * len(links), end_nodes=ends,
                link_purification_rounds=link_rounds,
            )
            budget = base.t_ent_s - base.latency_s
            if not budget > 0.0:
                continue
            windows = {"budget": budget}
            factor = space.tight_cutoff_factor
            if (
                factor is not None
                and factor * base.waiting_time_s < budget
                and factor * base.waiting_time_s > 0.0
                and (space.tight_cutoff_min_gain <= 0.0
                     or ideal_fidelity - base.raw_fidelity >= space.tight_cutoff_min_gain)
            ):
                windows["tight"] = factor * base.waiting_time_s
            for kind, window in windows.items():
                for rounds in range(space.max_purification_rounds + 1):
                    p = chain_performance(
                        links,
                        repeaters,
                        rounds,
                        space.protocol,
                        shares=[share] * len(links),
                        cutoff_s=window,
                        end_nodes=ends,
                        link_purification_rounds=link_rounds,
                    )
                    if not p.coherence_ok or not p.rate_hz > 0.0:
                        continue
                    if p.fidelity < request.min_fidelity:
                        continue
                    q = quality(request.application, p.fidelity, params)
                    if not q > 0.0:
                        continue
                    need = {n: 2 * (1 + link_rounds) for n in memory_nodes[1:-1]}
                    for end in (memory_nodes[0], memory_nodes[-1]):
                        need[end] = 1 + rounds + link_rounds
                    if any(k > network.nodes[n].memory_qubits for n, k in need.items()):
                        continue
                    out.append(
                        Config(
                            request=request.name,
                            nodes=tuple(nodes),
                            links=tuple(fibres),
                            rounds=rounds,
                            cutoff_kind=kind,
                            cutoff_s=window,
                            share_floor=share,
                            rate_per_share_hz=p.rate_hz / share,
                            fidelity=p.fidelity,
                            quality=q,
                            frames=frames,
                            memory=tuple(sorted(need.items())),
                            channels=channels,
                            ports=ports,
                            link_rounds=link_rounds,
                        )
                    )
    return out


def _value_curve_dominates(a: Config, b: Config, demand: float) -> bool:
    """a serves every share b could use at least as well: U_a(s) ≥ U_b(s) for all s ≥ σ_b."""
    return (
        a.share_floor <= b.share_floor
        and a.quality * a.rate_per_share_hz >= b.quality * b.rate_per_share_hz
        and a.quality * min(demand, a.rate_per_share_hz)
        >= b.quality * min(demand, b.rate_per_share_hz)
        and a.quality >= b.quality
    )


def prune_dominated(configs: Sequence[Config], demand: float) -> list[Config]:
    """Drop configurations another one with the same resource footprint dominates.

    With equal footprints (frames, memory, channels, ports) a configuration with a lower
    share floor, at least the quality and at least the quality × rate can replace the other
    in any plan at the same share without lowering utility, so the optimum is unchanged.
    """
    by_footprint: dict[tuple[object, ...], list[Config]] = {}
    for cfg in configs:
        by_footprint.setdefault(cfg.footprint, []).append(cfg)
    kept: list[Config] = []
    for group in by_footprint.values():
        for i, cfg in enumerate(group):
            if not any(
                _value_curve_dominates(other, cfg, demand)
                and (not _value_curve_dominates(cfg, other, demand) or j < i)
                for j, other in enumerate(group)
                if j != i
            ):
                kept.append(cfg)
    return kept


# ----------------------------------------------------------------------------- optimum


def _resources(configs: Sequence[Config]) -> set[str]:
    out: set[str] = set()
    for c in configs:
        out.update(f"frame:{f}" for f, _ in c.frames)
        out.update(f"node:{n}" for n, _ in c.memory)
        out.update(f"node:{n}" for n, _ in c.ports)
        out.update(f"island:{i}" for i, _ in c.channels)
    return out


def priority_pairs(
    requests: Sequence[Request], options: Mapping[str, Sequence[Config]]
) -> list[tuple[str, str]]:
    """(higher, lower) priority requests whose option spaces share a resource."""
    res = {r.name: _resources(options[r.name]) for r in requests}
    return [
        (hi.name, lo.name)
        for hi in requests
        for lo in requests
        if hi.priority > lo.priority and not res[hi.name].isdisjoint(res[lo.name])
    ]


def share_optimum(
    chosen: Sequence[tuple[Request, Config]],
) -> tuple[float, list[float]] | None:
    """Exact max Σ w·q·min(r·s, D) over s ∈ [σ, 1], Σ count·s ≤ 1 per frame."""
    caps = [
        max(c.share_floor, min(1.0, r.demanded_rate_hz / c.rate_per_share_hz)) for r, c in chosen
    ]
    load: dict[str, float] = {}
    floor: dict[str, float] = {}
    for (_, c), cap in zip(chosen, caps, strict=True):
        for f, k in c.frames:
            load[f] = load.get(f, 0.0) + k * cap
            floor[f] = floor.get(f, 0.0) + k * c.share_floor
    if any(v > 1.0 + _TOL for v in floor.values()):
        return None

    def value(shares: Sequence[float]) -> float:
        return math.fsum(
            r.weight * c.quality * min(c.rate_per_share_hz * s, r.demanded_rate_hz)
            for (r, c), s in zip(chosen, shares, strict=True)
        )

    if all(v <= 1.0 + _TOL for v in load.values()):
        return value(caps), caps
    lp = pywraplp.Solver.CreateSolver("GLOP")
    shares = [
        lp.NumVar(c.share_floor, cap, f"s{j}")
        for j, ((_, c), cap) in enumerate(zip(chosen, caps, strict=True))
    ]
    for f in sorted(load):
        lp.Add(
            sum(
                k * s
                for (_, c), s in zip(chosen, shares, strict=True)
                for g, k in c.frames
                if g == f
            )
            <= 1.0
        )
    lp.Maximize(
        sum(
            r.weight * c.quality * c.rate_per_share_hz * s
            for (r, c), s in zip(chosen, shares, strict=True)
        )
    )
    if lp.Solve() != pywraplp.Solver.OPTIMAL:
        return None
    got = [
        min(cap, max(c.share_floor, s.solution_value()))
        for (_, c), cap, s in zip(chosen, caps, shares, strict=True)
    ]
    return value(got), got


@dataclass
class _Search:
    network: Network
    live: list[Request]
    options: dict[str, list[Config]]
    pairs: list[tuple[str, str]]
    best_value: float = 0.0
    best: list[tuple[Request, Config]] = field(default_factory=list)
    best_shares: list[float] = field(default_factory=list)
    leaves: int = 0

    def __post_init__(self) -> None:
        self.island_of = islands(self.network)
        self.tail = [0.0] * (len(self.live) + 1)
        for i in range(len(self.live) - 1, -1, -1):
            r = self.live[i]
            self.tail[i] = self.tail[i + 1] + max(
                (self.standalone(r, c) for c in self.options[r.name]), default=0.0
            )
        self.channel_cap: dict[str, int] = {}

    @staticmethod
    def standalone(r: Request, c: Config) -> float:
        return r.weight * c.quality * min(c.rate_per_share_hz, r.demanded_rate_hz)

    def capacity(self, kind: str, key: str) -> float:
        if kind == "memory":
            return self.network.nodes[key].memory_qubits
        if kind == "ports":
            roadm = self.network.nodes[key].roadm
            return roadm.add_drop_ports if roadm is not None else 0
        if key not in self.channel_cap:
            self.channel_cap[key] = island_channel_capacity(self.network, key)
        return self.channel_cap[key]

    def run(self) -> None:
        self._dfs(0, [], Counter(), {}, 0.0)

    def _fits(self, used: Counter[tuple[str, str]], floors: dict[str, float], c: Config) -> bool:
        for kind, items in (("memory", c.memory), ("channels", c.channels), ("ports", c.ports)):
            for key, k in items:
                if used[(kind, key)] + k > self.capacity(kind, key):
                    return False
        return all(floors.get(f, 0.0) + k * c.share_floor <= 1.0 + _TOL for f, k in c.frames)

    def _dfs(
        self,
        i: int,
        chosen: list[tuple[Request, Config]],
        used: Counter[tuple[str, str]],
        floors: dict[str, float],
        optimistic: float,
    ) -> None:
        if optimistic + self.tail[i] <= self.best_value * (1 + 1e-12):
            return
        if i == len(self.live):
            self._leaf(chosen)
            return
        r = self.live[i]
        for c in self.options[r.name]:
            gain = self.standalone(r, c)
            if optimistic + gain + self.tail[i + 1] <= self.best_value * (1 + 1e-12):
                break  # options are sorted by standalone value
            if not self._fits(used, floors, c):
                continue
            for kind, items in (("memory", c.memory), ("channels", c.channels), ("ports", c.ports)):
                for key, k in items:
                    used[(kind, key)] += k
            for f, k in c.frames:
                floors[f] = floors.get(f, 0.0) + k * c.share_floor
            chosen.append((r, c))
            self._dfs(i + 1, chosen, used, floors, optimistic + gain)
            chosen.pop()
            for f, k in c.frames:
                floors[f] -= k * c.share_floor
            for kind, items in (("memory", c.memory), ("channels", c.channels), ("ports", c.ports)):
                for key, k in items:
                    used[(kind, key)] -= k
        self._dfs(i + 1, chosen, used, floors, optimistic)

    def _leaf(self, chosen: list[tuple[Request, Config]]) -> None:
        admitted = {r.name for r, _ in chosen}
        if any(lo in admitted and hi not in admitted for hi, lo in self.pairs):
            return
        self.leaves += 1
        got = share_optimum(chosen)
        if got is not None and got[0] > self.best_value:
            self.best_value, self.best, self.best_shares = got[0], list(chosen), got[1]


def _neg_standalone(r: Request, c: Config) -> float:
    return -_Search.standalone(r, c)


def exhaustive_optimum(
    network: Network, requests: Sequence[Request], space: Space | None = None
) -> Result:
    """The exact Σ w·U optimum over the declared space (module docstring)."""
    space = space or Space()
    full = {r.name: request_configurations(network, r, space) for r in requests}
    live = [r for r in requests if full[r.name]]
    pairs = priority_pairs(live, full)
    options: dict[str, list[Config]] = {}
    for r in live:
        kept = prune_dominated(full[r.name], r.demanded_rate_hz)
        options[r.name] = sorted(kept, key=partial(_neg_standalone, r))
    search = _Search(network, live, options, pairs)
    search.run()
    chosen = {r.name: (c, s) for (r, c), s in zip(search.best, search.best_shares, strict=True)}
    return Result(search.best_value, chosen, {n: len(v) for n, v in full.items()}, search.leaves)


# ----------------------------------------------------------------------------- instances

_APPS = (AppClass.QKD, AppClass.TELEPORTATION, AppClass.DQC, AppClass.DQS)


def _end_nodes(nodes: dict[str, Node], memories: list[str], seed: int) -> None:
    """Even seeds turn one memory node into an end node that relays, and every fourth
    seed another into one that does not (routes must avoid it).  A stream of its own, so
    the rest of the instance is drawn as before."""
    if seed % 2:
        return
    rng = random.Random(f"end-nodes-{seed}")
    picked = rng.sample(memories, 2 if seed % 4 == 0 else 1)
    for v, relay in zip(picked, (True, False), strict=False):
        nodes[v] = replace(nodes[v], kind=DeviceKind.END_NODE, relay=relay)


def random_instance(seed: int) -> tuple[Network, list[Request]]:
    """A random geometric network of 4–8 nodes and 2–4 requests (module docstring)."""
    rng = random.Random(seed)
    n = 4 + seed % 5
    pos = {f"v{i}": (rng.uniform(0, 30), rng.uniform(0, 30)) for i in range(n)}
    names = list(pos)
    roadm = names[-1] if n >= 6 and rng.random() < 0.5 else None
    edges = {(a, b) for a, b in itertools.combinations(names, 2) if math.dist(pos[a], pos[b]) < 22}
    # join components by their shortest possible fibre
    parent = {v: v for v in names}

    def root(v: str) -> str:
        while parent[v] != v:
            v = parent[v]
        return v

    for a, b in edges:
        parent[root(a)] = root(b)
    for a, b in sorted(
        itertools.combinations(names, 2), key=lambda e: math.dist(pos[e[0]], pos[e[1]])
    ):
        if root(a) != root(b):
            edges.add((a, b))
            parent[root(a)] = root(b)
    nodes = {}
    for v in names:
        if v == roadm:
            nodes[v] = Node(
                node_id=v,
                kind=DeviceKind.Q_ROADM,
                roadm=QRoadm(
                    degrees=8,
                    add_drop_ports=rng.choice((2, 8)),
                    wavelength_channels=rng.choice((1, 4)),
                ),
            )
        else:
            nodes[v] = Node(
                node_id=v,
                kind=DeviceKind.REPEATER,
                memory_qubits=rng.randint(3, 8),
                coherence_time_s=rng.choice((0.02, 0.1, 1.0)),
                memory_efficiency=rng.uniform(0.9, 1.0),
            )
    links = {
        f"{a}-{b}": Link(
            link_id=f"{a}-{b}",
            a=a,
            b=b,
            length_km=max(1.0, math.dist(pos[a], pos[b])),
            source_rate_hz=1e6,
            link_fidelity=rng.uniform(0.93, 0.99),
        )
        for a, b in sorted(edges)
    }
    memories = [v for v in names if v != roadm]
    _end_nodes(nodes, memories, seed)
    net = Network(network_id=f"exhaustive-{seed}", nodes=nodes, links=links)
    large = seed % 2 == 1
    reqs = []
    for j in range(2 + seed % 3):
        src, dst = rng.sample(memories, 2)
        app = rng.choice(_APPS)
        params = UtilityParams()
        floor = {
            AppClass.QKD: 0.85,
            AppClass.TELEPORTATION: 0.75,
            AppClass.DQC: 0.9,
            AppClass.DQS: 0.95,
        }[app]
        if app is AppClass.DQC:
            params = UtilityParams(threshold_fidelity=0.9)
        elif app is AppClass.DQS:
            params = UtilityParams(threshold_fidelity=0.95, steepness=50.0)
        reqs.append(
            request(
                f"r{j}",
                src,
                dst,
                app,
                min_fidelity=floor,
                demanded_rate_hz=1e5 if large else round(10 ** rng.uniform(0.0, 2.0), 3),
                weight=rng.choice((1.0, 2.0, 3.0)),
                priority=1 if rng.random() < 0.2 else 0,
                utility_params=params,
            )
        )
    return net, reqs
