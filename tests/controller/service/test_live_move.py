"""Live-move policy and impact dry-run on the metro network (real renderer and device
models; no device to push to): a commit never moves a live service it does not touch,
only `optimise` does, and a dry-run shows exactly what the commit then does."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.schema import Schema
from controller.errors import NetconfError
from controller.paths import CONFIG_DIR
from controller.service.change import ScheduledOptimise
from controller.service.expansion import QnumExpander
from controller.service.health import NetworkHealth
from controller.service.manager import ServiceManager
from qnum.plan import Plan

TOPOLOGY = json.loads((CONFIG_DIR / "topologies" / "metro.json").read_text())
for _node in TOPOLOGY["ietf-network:networks"]["network"][0]["node"]:
    _node["sdqn-topology:quantum-node"].pop("management", None)   # no devices to push to
SERVICES = "sdqn-services:entanglement-services"


def request(name: str, src: str, dst: str, *, policy: str | None = None,
            rate: str = "10.0", fidelity: str = "0.9") -> dict[str, Any]:
    entry = {"name": name, "source-node": src, "destination-node": dst,
             "application": "sdqn-types:qkd", "min-fidelity": fidelity,
             "demanded-rate": rate}
    if policy is not None:
        entry["live-move"] = policy
    return entry


@pytest.fixture
def service(schema: Schema) -> Iterator[tuple[NmdaStore, ServiceManager]]:
    store = NmdaStore(schema)
    manager = ServiceManager(store, time_limit_s=5, adapters={})
    store.edit_json(Datastore.RUNNING, TOPOLOGY)
    yield store, manager
    manager.close()
    store.close()


def route(plan: Plan | None, name: str) -> tuple[str, ...] | None:
    assert plan is not None
    a = plan.assignments[name]
    return a.candidate.route.nodes if a.admitted and a.candidate is not None else None


def on_detour(store: NmdaStore, manager: ServiceManager, policy: str) -> tuple[str, ...]:
    """alice→bob admitted while r1-r2 is cut, then the fibre repaired with every live
    service kept (non-revertive healing): it stays on its detour."""
    expander = manager.expander
    store.edit_json(Datastore.RUNNING, {SERVICES: {"request": [
        request("ab", "alice", "bob", policy=policy, rate="0.1")]}})
    direct = route(expander.committed.plan, "ab")
    assert direct is not None and "qr1" not in direct
    expander.health = NetworkHealth(failed_links=frozenset({"r1-r2"}))
    expander.keep = frozenset({"ab"})
    store.reexpand()
    expander.keep = frozenset()
    expander.health = NetworkHealth()
    expander.keep = frozenset({"ab"})
    store.reexpand()                      # the repair: nothing moves back by itself
    expander.keep = frozenset()
    detour = route(expander.committed.plan, "ab")
    assert detour is not None and detour != direct
    return direct


def test_adding_a_request_moves_no_live_service(service: tuple[NmdaStore, ServiceManager]
                                                ) -> None:
    store, manager = service
    direct = on_detour(store, manager, "free")
    detour = route(manager.expander.committed.plan, "ab")
    impact = manager.change.dry_run()
    assert impact.services == [] and impact.totals["moved"] == 0
    store.edit_json(Datastore.CANDIDATE, {SERVICES: {"request": [
        request("cd", "charlie", "dave", rate="0.1")]}})
    preview = manager.change.dry_run()
    (entry,) = preview.services       # no room beside ab's detour, and ab does not move
    assert entry["name"] == "cd" and entry["change"] == "rejected"
    assert "island:qr1" in entry["reason"] and preview.totals["rejected"] == 1
    store.commit()
    plan = manager.expander.committed.plan
    assert route(plan, "ab") == detour != direct            # not re-optimised
    done = manager.expander.committed.impact
    assert done is not None and done.to_json() == preview.to_json()
    assert done is preview          # the commit adopted the previewed plan, not a new solve


def test_policy_only_commit_moves_nothing(service: tuple[NmdaStore, ServiceManager]
                                          ) -> None:
    store, manager = service
    on_detour(store, manager, "free")
    before = copy.deepcopy(manager.expander.committed.docs)
    store.edit_json(Datastore.RUNNING, {"sdqn-controller:controller": {"optimiser": {
        "objective": "proportional-fair"}}})
    impact = manager.expander.committed.impact
    assert impact is not None and impact.services == [] and impact.devices == []
    assert manager.expander.committed.docs == before


@pytest.mark.parametrize("policy, moves", [("free", True),
                                           ("make-before-break-only", True),
                                           ("pinned", False)])
def test_optimise_moves_only_what_the_policy_allows(
        service: tuple[NmdaStore, ServiceManager], policy: str, moves: bool) -> None:
    store, manager = service
    direct = on_detour(store, manager, policy)
    detour = route(manager.expander.committed.plan, "ab")
    preview = manager.change.dry_run("optimise")
    done = manager.change.optimise()
    assert done.to_json() == preview.to_json()            # the dry-run was the truth
    assert done is preview
    after = route(manager.expander.committed.plan, "ab")
    if moves:
        assert after == direct
        (entry,) = done.services
        assert entry["change"] == "moved" and entry["switch"] == "make-before-break"
        assert entry["old-path"] == " ".join(detour or ()) and \
            entry["new-path"] == " ".join(direct)
        assert entry["expected-interruption"] == "0.000000"
        assert done.totals["moved"] == 1 and done.totals["hard-switches"] == 0
        assert done.devices                           # and the devices that change
        assert float(entry["after"]["utility"]) >= float(entry["before"]["utility"])
    else:
        assert after == detour and done.services == [] and done.devices == []


def test_changing_only_the_policy_replans_nothing(service: tuple[NmdaStore, ServiceManager]
                                                  ) -> None:
    store, manager = service
    on_detour(store, manager, "pinned")
    detour = route(manager.expander.committed.plan, "ab")
    store.edit_json(Datastore.RUNNING, {SERVICES: {"request": [
        {"name": "ab", "live-move": "free"}]}})
    assert route(manager.expander.committed.plan, "ab") == detour
    assert manager.expander.committed.impact is not None
    assert manager.expander.committed.impact.services == []


def test_removing_a_pinned_service_path_is_refused(service: tuple[NmdaStore, ServiceManager]
                                                   ) -> None:
    store, manager = service
    store.edit_json(Datastore.RUNNING, {SERVICES: {"request": [
        request("ab", "alice", "bob", policy="pinned")]}})
    path = route(manager.expander.committed.plan, "ab")
    assert path is not None
    version = store.versions[Datastore.RUNNING]
    docs = dict(manager.expander.committed.docs)
    link = "r1-r2" if "qr1" not in path else "r1-qr1"
    delete = {"ietf-network:networks": {"network": [{
        "network-id": TOPOLOGY["ietf-network:networks"]["network"][0]["network-id"],
        "ietf-network-topology:link": [{"link-id": link,
                                        "@": {"ietf-netconf:operation": "delete"}}]}]}}
    store.edit_json(Datastore.CANDIDATE, delete)
    with pytest.raises(NetconfError) as err:
        manager.change.dry_run()
    assert "pinned service ab" in str(err.value) and link in str(err.value)
    with pytest.raises(NetconfError) as err:
        store.commit()
    assert "pinned service ab" in str(err.value) and link in str(err.value)
    assert store.versions[Datastore.RUNNING] == version
    assert manager.expander.committed.docs == docs


def test_shrinking_a_resource_under_kept_services_is_refused(
        service: tuple[NmdaStore, ServiceManager]) -> None:
    store, manager = service
    store.edit_json(Datastore.RUNNING, {SERVICES: {"request": [
        request("ab", "alice", "bob", policy="pinned", rate="0.1")]}})
    path = route(manager.expander.committed.plan, "ab")
    assert path is not None and "r1" in path
    version = store.versions[Datastore.RUNNING]
    network_id = TOPOLOGY["ietf-network:networks"]["network"][0]["network-id"]
    shrink = {"ietf-network:networks": {"network": [{"network-id": network_id, "node": [{
        "node-id": "r1", "sdqn-topology:quantum-node": {"memory-qubits": 1}}]}]}}
    store.edit_json(Datastore.CANDIDATE, shrink)
    with pytest.raises(NetconfError) as err:
        manager.change.dry_run()
    assert "live services" in str(err.value) and "node r1" in str(err.value)
    with pytest.raises(NetconfError):
        store.commit()
    assert store.versions[Datastore.RUNNING] == version


def test_a_changed_pinned_request_may_not_change_path(
        service: tuple[NmdaStore, ServiceManager]) -> None:
    store, manager = service
    on_detour(store, manager, "pinned")
    # Asking for more fidelity makes the direct path (fewer hops) the better one.
    store.edit_json(Datastore.CANDIDATE, {SERVICES: {"request": [
        {"name": "ab", "min-fidelity": "0.95"}]}})
    with pytest.raises(NetconfError) as err:
        manager.change.dry_run()
    assert "pinned service ab would move" in str(err.value)


def test_a_restarted_controller_keeps_live_services_where_they_are(
        service: tuple[NmdaStore, ServiceManager]) -> None:
    store, manager = service
    direct = on_detour(store, manager, "free")
    detour = route(manager.expander.committed.plan, "ab")
    docs = dict(manager.expander.committed.docs)
    restarted = QnumExpander(time_limit_s=5)      # a new process: nothing in memory
    restarted.load_committed(store)
    assert route(restarted.committed.plan, "ab") == detour
    with store.atomic():
        store.expander = restarted
        store.reexpand()                          # start-up recovery re-expands running
    assert route(restarted.committed.plan, "ab") == detour != direct
    assert restarted.committed.docs == docs       # no device would be pushed
    assert restarted.committed.impact is not None
    assert restarted.committed.impact.services == []


def test_scheduled_optimise_runs_when_due_and_only_then(
        service: tuple[NmdaStore, ServiceManager]) -> None:
    store, manager = service
    direct = on_detour(store, manager, "free")
    now = [0.0]
    scheduled = ScheduledOptimise(manager.change, clock=lambda: now[0])
    now[0] = 1e6
    assert scheduled.run_once() is None                 # interval 0: never
    store.edit_json(Datastore.RUNNING, {"sdqn-controller:controller": {"policies": {
        "live-move": {"optimise-interval": 600}}}})
    now[0] += 599
    assert scheduled.run_once() is None                 # not due yet
    assert route(manager.expander.committed.plan, "ab") != direct
    now[0] += 1
    done = scheduled.run_once()
    assert done is not None and done.moved() == ["ab"]
    assert route(manager.expander.committed.plan, "ab") == direct


def test_a_preview_is_not_adopted_by_a_different_change(
        service: tuple[NmdaStore, ServiceManager]) -> None:
    store, manager = service
    on_detour(store, manager, "free")
    preview = manager.change.dry_run("optimise")
    store.edit_json(Datastore.RUNNING, {SERVICES: {"request": [
        request("cd", "charlie", "dave", rate="0.1")]}})   # a commit, not the optimise
    done = manager.expander.committed.impact
    assert done is not None and done is not preview and done.moved() == []
