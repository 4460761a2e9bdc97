"""Self-healing on the reduced model, end to end through the emulated metro network over
NETCONF: a cut re-places only the service it hit (the others are pinned, their devices
not even re-pushed), the published solve status says what was proven (feasible for the
network, no bound), and the candidates a healing round reused are generated afresh once
the failure is gone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from controller.datastore.nmda import Datastore, NmdaStore
from qnum.plan import SolveStatus, violations
from tests.controller.service.conftest import World, cut_fibre, metro_world, started


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with metro_world() as w:
        yield started(w)




def last_solve(store: NmdaStore) -> dict[str, Any]:
    data = json.loads(store.get(Datastore.OPERATIONAL,
                                xpath="/sdqn-controller:controller/optimiser/last-solve"))
    return dict(data["sdqn-controller:controller"]["optimiser"]["last-solve"])


def test_cut_is_healed_on_the_reduced_model_and_reported_truthfully(world: World) -> None:
    store, manager, net, _clock = world
    before = manager.expander.committed.plan
    assert before is not None
    assert last_solve(store)["status"] == "optimal"          # the operator's full solve
    configs = {n: d.store.get(Datastore.RUNNING) for n, d in net.devices.items()}

    report = cut_fibre(world, "r1-r2")

    assert report.error is None and report.affected == ["qkd-alice-bob"]
    assert report.rerouted == ["qkd-alice-bob"] and report.touched_unaffected == []
    committed = manager.expander.committed
    plan, problem = committed.plan, committed.problem
    assert plan is not None and problem is not None
    assert violations(problem, plan) == []
    for a in before.admitted:                         # the pinned services: exactly kept
        if a.request.name != "qkd-alice-bob":
            b = plan.assignments[a.request.name]
            assert b.candidate is not None and a.candidate is not None
            assert (b.candidate.key, b.share) == (a.candidate.key, a.share)
    moved = plan.assignments["qkd-alice-bob"].candidate
    assert moved is not None and "r1-r2" not in moved.route.links
    # Optimal only for the reduced problem: the network's status is feasible, no bound.
    assert plan.status is SolveStatus.FEASIBLE
    assert any("reduced model" in note for note in plan.notes)
    published = last_solve(store)
    assert published["status"] == "feasible"
    assert "bound" not in published and "gap" not in published
    # The re-placed service chose among the candidates that survived the cut.
    assert committed.survivors == frozenset({"qkd-alice-bob"})
    # Devices that serve no moved service were not re-pushed.
    serving = set(moved.route.nodes)
    old = before.assignments["qkd-alice-bob"].candidate
    assert old is not None
    serving |= set(old.route.nodes)
    serving |= {c for lk in (*moved.route.links, *old.route.links)
                if (c := problem.network.links[lk].compensator if lk in problem.network.links
                    else None)}
    for node in sorted(set(net.devices) - serving):
        assert net.devices[node].store.get(Datastore.RUNNING) == configs[node], node

    cut_fibre(world, "r1-r2", clear=True)
    committed = manager.expander.committed
    assert committed.survivors == frozenset()        # generated afresh on the whole network
    assert committed.problem is not None and committed.plan is not None
    assert violations(committed.problem, committed.plan) == []
