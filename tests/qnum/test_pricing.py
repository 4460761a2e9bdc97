"""Pricing over the declared space: the optimistic value never underestimates, and the
search finds the best configuration an unpruned listing finds."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import replace

import networkx as nx
import pytest

from qnum.candidates import CandidateOptions, build_graph, enumerate_routes
from qnum.instances import random_requests, waxman_network
from qnum.io import Network, Request
from qnum.pricing import (
    Prices,
    _evaluate,
    _Search,
    best_over_share,
    column_value,
    price_request,
)
from tests.qnum.test_fullspace import _every_configuration


def _random_prices(network: Network, rng: random.Random, scale: float) -> Prices:
    frames = {lk: rng.choice((0.0, rng.uniform(0, scale))) for lk in network.links}
    memory = {("memory", n): rng.choice((0.0, rng.uniform(0, scale / 10)))
              for n in network.nodes}
    return Prices(frames, memory)


def _instances() -> list[tuple[Network, list[Request]]]:
    out = []
    for seed in range(6):
        net = waxman_network(8 + seed, seed)
        out.append((net, random_requests(net, 3, seed, max_hops=4)))
    return out


def test_best_over_share_is_the_maximum_over_a_fine_grid() -> None:
    rng = random.Random(3)
    for _ in range(200):
        w, q, r, d = rng.uniform(0.5, 3), rng.random(), rng.uniform(1, 100), rng.uniform(1, 100)
        floor, price, fixed = rng.choice((0.03, 0.1, 1.0)), rng.uniform(0, 300), rng.uniform(0, 5)
        grid = [floor + (1 - floor) * k / 2000 for k in range(2001)]
        brute = max(w * q * min(r * s, d) - price * s for s in grid) - fixed
        exact = best_over_share(w, q, r, d, floor, price, fixed)
        step = (1 - floor) / 2000  # the kink may fall between grid points
        assert brute - 1e-9 <= exact <= brute + (w * q * r + price) * step + 1e-9


def _priced_requests(seed: int, scale: float
                     ) -> Iterator[tuple[Network, nx.Graph, Request, Prices]]:
    """Every request of the instances, with random prices drawn once per network."""
    rng = random.Random(seed)
    for net, reqs in _instances():
        graph = build_graph(net)
        prices = _random_prices(net, rng, scale)
        for req in reqs:
            yield net, graph, req, prices


@pytest.mark.parametrize("scale", [0.0, 1.0, 100.0])
@pytest.mark.parametrize("link_rounds", [1, 2])
def test_optimistic_value_bounds_every_configuration_of_a_route(scale: float,
                                                                link_rounds: int) -> None:
    """Also over the per-link rounds: a link that may still be purified raises the prefix's
    optimistic fidelity, and every exact configuration stays below it."""
    options = CandidateOptions(max_link_purification_rounds=link_rounds)
    for net, graph, req, prices in _priced_requests(int(scale) + 7, scale):
        routes = enumerate_routes(net, graph, req, CandidateOptions(
            route_limit=10_000, max_link_purification_rounds=link_rounds))
        search = _Search(net, graph, req, options, prices)
        for path in routes or []:
            prefix = search.start()
            assert prefix is not None
            for nb in path[1:]:
                optimistic = -prefix.key
                nxt = search.extend(prefix, nb)
                assert nxt is not None
                assert -nxt.key <= optimistic + 1e-9  # only falls as the prefix grows
                prefix = nxt
            for cand in _evaluate(net, graph, req, options, path):
                assert column_value(req, cand, prices) <= -prefix.key + 1e-9 * max(
                    1.0, abs(prefix.key))


@pytest.mark.parametrize("scale", [0.0, 1.0, 100.0])
@pytest.mark.parametrize("link_rounds", [0, 1, 2])
def test_pricing_finds_the_best_configuration_of_the_unpruned_space(scale: float,
                                                                    link_rounds: int) -> None:
    options = CandidateOptions(max_link_purification_rounds=link_rounds)
    for net, graph, req, prices in _priced_requests(int(scale) + 11, scale):
        every = _every_configuration(net, req, options)
        brute = max((column_value(req, c, prices) for c in every), default=-math.inf)
        priced = price_request(net, graph, req, options, prices, threshold=-math.inf)
        assert priced.exact
        assert priced.value == pytest.approx(brute, rel=1e-9, abs=1e-9)
        if priced.columns:
            assert column_value(req, priced.columns[0], prices) == pytest.approx(
                priced.value, rel=1e-9, abs=1e-9)


def test_excluded_configurations_are_left_out() -> None:
    net, reqs = _instances()[2]
    graph = build_graph(net)
    options = CandidateOptions()
    req = reqs[0]
    first = price_request(net, graph, req, options, Prices(), threshold=-math.inf)
    assert first.columns
    rest = price_request(net, graph, req, options, Prices(), threshold=-math.inf,
                         exclude={first.columns[0].key})
    assert all(c.key != first.columns[0].key for c in rest.columns)
    assert rest.value <= first.value


def test_a_budget_cut_search_reports_a_valid_bound() -> None:
    net, reqs = _instances()[5]
    graph = build_graph(net)
    options = CandidateOptions()
    for req in reqs:
        full = price_request(net, graph, req, options, Prices(), threshold=-math.inf)
        cut = price_request(net, graph, req, options, Prices(), threshold=-math.inf,
                            max_expansions=2)
        assert cut.value >= full.value - 1e-9
        if not cut.exact:
            assert cut.expansions == 2


@pytest.mark.parametrize("link_rounds", [1, 2])
def test_optimistic_value_bounds_link_purified_configurations_with_memory_writes(
        link_rounds: int) -> None:
    """Memory writes (initial-fidelity < 1) precede per-link purification, which wins
    part of them back: the optimistic value must still bound every configuration."""
    options = CandidateOptions(max_link_purification_rounds=link_rounds)
    for net, graph, req, prices in _priced_requests(5, 1.0):
        nodes = {k: replace(v, initial_fidelity=0.98) for k, v in net.nodes.items()}
        net = replace(net, nodes=nodes)
        graph = build_graph(net)
        search = _Search(net, graph, req, options, prices)
        routes = enumerate_routes(net, graph, req, replace(options, route_limit=10_000))
        for path in routes or []:
            prefix = search.start()
            assert prefix is not None
            for nb in path[1:]:
                nxt = search.extend(prefix, nb)
                assert nxt is not None
                prefix = nxt
            for cand in _evaluate(net, graph, req, options, path):
                assert column_value(req, cand, prices) <= -prefix.key + 1e-9 * max(
                    1.0, abs(prefix.key))
