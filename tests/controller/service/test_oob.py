"""Out-of-band changes on the emulated metro network: reverted or imported by policy."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from controller.datastore.nmda import Datastore, NmdaStore
from controller.netconf.xml import NCN_NS
from controller.service.manager import ServiceManager
from controller.service.oob import (
    ImportRefused,
    OutOfBandEvent,
    OutOfBandGuard,
    foreign_config_change,
)
from simulators.clock import ManualClock
from simulators.faults import FaultKind, FaultRequest
from simulators.launcher import Network
from southbound.model import ConnectionState, DeviceEndpoint, SyncState
from southbound.sync import SyncPolicy
from southbound.transport import connect

CTL = "sdqn-controller:controller"
World = tuple[NmdaStore, ServiceManager, Network, ManualClock]


class Guarded:
    """The world plus a guard whose events are recorded."""

    def __init__(self, setup: World) -> None:
        self.store, self.manager, self.net, _ = setup
        self.seen: list[OutOfBandEvent] = []
        self.guard = OutOfBandGuard(self.store, self.manager.pool, self.manager.committer,
                                    on_event=self.seen.append)

    def edit_out_of_band(self, node: str, body: dict[str, Any] | None = None) -> None:
        data = None if body is None else {"sdqn-apc:apc": body}
        self.net.faults.apply(FaultRequest(kind=FaultKind.OOB_EDIT, target=node, data=data))

    def device(self, node: str) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.net.devices[node].store.get(Datastore.RUNNING))
        return result

    def devices_in(self, ds: Datastore) -> dict[str, dict[str, Any]]:
        data = json.loads(self.store.get(ds, xpath=f"/{CTL}/devices"))
        return {d["node-id"]: d for d in data.get(CTL, {}).get("devices", {}).get("device", [])}

    def set_policies(self, out_of_band: dict[str, Any]) -> None:
        self.store.edit_json(Datastore.RUNNING, {CTL: {"policies": {"out-of-band": out_of_band}}})

    def sync_state(self, node: str) -> SyncState:
        return self.manager.pool.state(node)[1]


@pytest.fixture
def g(world: World) -> Iterator[Guarded]:
    guarded = Guarded(world)
    try:
        yield guarded
    finally:
        guarded.guard.stop()


def interval(config: dict[str, Any]) -> str:
    return str(config["sdqn-apc:apc"]["calibration-interval"])


def test_in_sync_network_raises_nothing(g: Guarded) -> None:
    assert g.guard.run_once() == [] and g.seen == []
    assert {g.sync_state(n) for n in g.manager.pool.node_ids} == {SyncState.IN_SYNC}


def test_out_of_band_edit_is_reverted_by_default(g: Guarded) -> None:
    g.edit_out_of_band("apc-1")                       # a technician's local change
    assert interval(g.device("apc-1")) == "1800.0"
    events = g.guard.run_once()
    assert events == g.seen and len(events) == 1
    event = events[0]
    assert (event.node_id, event.action, event.success, event.error) == (
        "apc-1", SyncPolicy.REVERT, True, None)
    assert event.changes == [{"operation": "replace",
                              "path": "/sdqn-apc:apc/calibration-interval",
                              "value": "3600.0", "previous": "1800.0"}]
    assert "calibration-interval" in event.readable
    assert g.device("apc-1") == g.devices_in(Datastore.INTENDED)["apc-1"]["configuration"]
    assert g.sync_state("apc-1") is SyncState.IN_SYNC
    assert "apc-1" not in g.devices_in(Datastore.RUNNING)   # nothing pinned
    assert g.guard.run_once() == []


def test_policy_per_device_imports_or_reverts(g: Guarded) -> None:
    g.set_policies({"default-action": "import",
                    "device": [{"node-id": "apc-2", "action": "revert"}]})
    g.edit_out_of_band("alice")                               # an end node with endpoints
    g.edit_out_of_band("apc-2")
    imported = g.device("alice")
    assert imported["sdqn-end-node:end-node"]["source"]["stabilisation-tolerance"] == "0.1"
    events = {e.node_id: e for e in g.guard.run_once()}
    assert {n: (e.action, e.success) for n, e in events.items()} == {
        "alice": (SyncPolicy.IMPORT, True), "apc-2": (SyncPolicy.REVERT, True)}
    assert events["alice"].changes == [{   # the intent leaves the default
        "operation": "delete", "path": "/sdqn-end-node:end-node/source/stabilisation-tolerance",
        "value": "0.1"}]
    assert g.device("alice") == imported                      # left as the technician made it
    assert interval(g.device("apc-2")) == "3600.0"            # reverted
    pins = g.devices_in(Datastore.RUNNING)
    assert pins == {"alice": {"node-id": "alice", "kind": "end-node", "configuration": imported}}
    assert "sdqn-types:qkd" in json.dumps(imported)           # identities survive the import
    assert g.sync_state("alice") is SyncState.IN_SYNC
    assert g.sync_state("apc-2") is SyncState.IN_SYNC


def test_imported_configuration_becomes_the_intent_and_survives_reoptimisation(
        g: Guarded) -> None:
    g.set_policies({"device": [{"node-id": "apc-1", "action": "import"}]})
    g.edit_out_of_band("apc-1")
    imported = g.device("apc-1")
    assert [e.action for e in g.guard.run_once()] == [SyncPolicy.IMPORT]
    assert g.devices_in(Datastore.INTENDED)["apc-1"]["configuration"] == imported
    assert g.guard.run_once() == []                          # settled: no import every round
    g.store.edit_json(Datastore.RUNNING, {CTL: {"optimiser": {"time-limit": "4.0"}}})
    assert g.device("apc-1") == imported                     # re-optimised, still as imported
    g.store.edit_json(Datastore.RUNNING, {CTL: {"devices": {"device": [
        {"node-id": "apc-1", "@": {"ietf-netconf:operation": "delete"}}]}}})
    assert interval(g.device("apc-1")) == "3600.0"           # pin deleted: rendered again


def test_policy_is_read_from_running_every_time(g: Guarded) -> None:
    assert g.guard.policy("apc-1") is SyncPolicy.REVERT      # YANG default
    g.set_policies({"default-action": "import"})
    assert g.guard.policy("apc-1") is SyncPolicy.IMPORT
    g.set_policies({"device": [{"node-id": "apc-1", "action": "revert"}]})
    assert g.guard.policy("apc-1") is SyncPolicy.REVERT
    assert g.guard.policy("apc-2") is SyncPolicy.IMPORT


def test_unreachable_device_is_not_out_of_sync(g: Guarded) -> None:
    g.edit_out_of_band("apc-1")
    g.net.devices["apc-1"].crash()
    assert g.guard.run_once() == [] and g.seen == []
    connection, sync, _ = g.manager.pool.state("apc-1")
    assert connection is ConnectionState.UNREACHABLE and sync is not SyncState.OUT_OF_SYNC


def test_unmanaged_device_is_skipped_without_contact(g: Guarded) -> None:
    pool = g.manager.pool
    alice = pool.endpoint("alice")
    ghost = DeviceEndpoint.model_validate({"node-id": "ghost", "port": alice.port,
                                           "kind": "end-node", "modules": ["sdqn-end-node"]})
    pool.update([pool.endpoint(n) for n in pool.node_ids] + [ghost])
    assert g.guard.intended_xml("ghost") is None
    assert g.guard.run_once() == []
    assert pool.state("ghost")[0] is ConnectionState.DISCONNECTED   # never contacted


def test_revert_refused_by_the_device_is_reported(g: Guarded) -> None:
    g.edit_out_of_band("apc-1")
    port = g.manager.pool.endpoint("apc-1").port
    technician = connect(host="127.0.0.1", port=port, username="admin", password="admin")
    try:
        technician.lock(target="candidate")                  # the device is being worked on
        [event] = g.guard.run_once()
        assert (event.action, event.success) == (SyncPolicy.REVERT, False)
        assert event.error and "apc-1" in event.error
        assert interval(g.device("apc-1")) == "1800.0"
        assert g.sync_state("apc-1") is SyncState.OUT_OF_SYNC
        technician.unlock(target="candidate")
    finally:
        technician.close_session()
    [event] = g.guard.run_once()                             # retried next round
    assert event.success and interval(g.device("apc-1")) == "3600.0"


def test_import_refused_by_running_leaves_everything_as_it_was(g: Guarded) -> None:
    g.set_policies({"device": [{"node-id": "apc-1", "action": "import"}]})
    g.edit_out_of_band("apc-1")
    version = g.store.versions[Datastore.RUNNING]
    g.store.lock_datastore(Datastore.RUNNING, 77)            # an operator's NETCONF <lock>
    try:
        [event] = g.guard.run_once()
    finally:
        g.store.unlock_datastore(Datastore.RUNNING, 77)
    assert (event.action, event.success) == (SyncPolicy.IMPORT, False)
    assert event.error and "lock" in event.error.lower()
    assert g.store.versions[Datastore.RUNNING] == version and g.devices_in(Datastore.RUNNING) \
        == {}
    assert interval(g.device("apc-1")) == "1800.0"           # not reverted either
    assert g.sync_state("apc-1") is SyncState.OUT_OF_SYNC
    [event] = g.guard.run_once()
    assert event.success and "apc-1" in g.devices_in(Datastore.RUNNING)


@pytest.mark.parametrize("xml, why", [
    ('<apc xmlns="urn:sdqn:sdqn-apc"><node-id>apc-1</node-id><link-id>r1-r2</link-id>'
     "<tracking-tolerance>-1</tracking-tolerance></apc>", "not valid sdqn-apc"),
    ('<apc xmlns="urn:sdqn:sdqn-apc"><node-id>apc-1</node-id><link-id>r1-r2</link-id>'
     "<colour>red</colour></apc>", "not valid sdqn-apc"),
    ("", "found none"),
])
def test_import_of_configuration_failing_the_device_schema_is_refused(
        g: Guarded, xml: str, why: str) -> None:
    version = g.store.versions[Datastore.RUNNING]
    with pytest.raises(ImportRefused) as refused:
        g.guard.import_config("apc-1", xml)
    assert why.split()[-1] in str(refused.value)
    assert g.store.versions[Datastore.RUNNING] == version
    with pytest.raises(ImportRefused, match="not managed"):
        g.guard.import_config("nobody", xml)


def test_commit_during_the_check_defers_the_decision(g: Guarded,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    g.edit_out_of_band("apc-1")
    differ = g.guard.sync.differ
    real_diff = differ.diff
    commits: list[str] = []

    def diff_while_committing(before: str, after: str, modules: Any) -> Any:
        if "1800" in before and not commits:                 # a commit lands mid-check
            commits.append("time-limit")
            g.store.edit_json(Datastore.RUNNING, {CTL: {"optimiser": {"time-limit": "4.0"}}})
        return real_diff(before, after, modules)

    monkeypatch.setattr(differ, "diff", diff_while_committing)
    assert g.guard.run_once() == [] and commits
    assert interval(g.device("apc-1")) == "1800.0"           # not acted on stale intent
    assert g.sync_state("apc-1") is SyncState.UNKNOWN
    [event] = g.guard.run_once()                             # next round: current intent
    assert event.success and interval(g.device("apc-1")) == "3600.0"


def test_background_rounds_revert_within_an_interval(g: Guarded) -> None:
    handled = threading.Event()
    g.guard.on_event = lambda event: handled.set()
    g.guard.start(interval_s=0.2)
    g.edit_out_of_band("apc-3", {"tracking-tolerance": "0.05"})
    assert handled.wait(timeout=10)
    g.guard.stop()
    assert g.device("apc-3") == g.devices_in(Datastore.INTENDED)["apc-3"]["configuration"]


def test_a_device_reported_change_is_checked_at_once_not_at_the_next_round(
        world: World) -> None:
    """The device's RFC 6470 netconf-config-change (changed-by server) makes the guard
    check that device now; the round interval (an hour here) never comes."""
    _store, manager, net, _clock = world
    events: list[OutOfBandEvent] = []
    handled = threading.Event()

    def seen(event: OutOfBandEvent) -> None:
        events.append(event)
        handled.set()

    manager.oob.on_event = seen
    manager.start(sync_interval_s=3600)
    deadline = time.monotonic() + 30
    while len(manager.events.subscribed) < len(net.devices) and time.monotonic() < deadline:
        time.sleep(0.05)
    intended = net.devices["r3"].store.get(Datastore.RUNNING)
    net.faults.apply(FaultRequest(kind=FaultKind.OOB_EDIT, target="r3"))
    assert handled.wait(timeout=30)
    assert [(e.node_id, e.action.value, e.success) for e in events] == [("r3", "revert", True)]
    assert net.devices["r3"].store.get(Datastore.RUNNING) == intended


def test_only_changes_by_someone_else_than_the_controller_are_foreign() -> None:
    def note(changed_by: str) -> str:
        return (f'<notification xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0">'
                f'<eventTime>2026-12-06T00:00:00Z</eventTime><netconf-config-change '
                f'xmlns="{NCN_NS}"><changed-by>{changed_by}</changed-by><datastore>running'
                f'</datastore></netconf-config-change></notification>')

    assert foreign_config_change(note("<server/>"), "sdqn") == "server"
    assert foreign_config_change(note("<username>tech</username><session-id>7</session-id>"),
                                 "sdqn") == "tech"
    assert foreign_config_change(note("<username>sdqn</username><session-id>9</session-id>"),
                                 "sdqn") is None
    assert foreign_config_change("<notification xmlns='urn:ietf:params:xml:ns:netconf:"
                                 "notification:1.0'><eventTime>x</eventTime><other/>"
                                 "</notification>", "sdqn") is None
