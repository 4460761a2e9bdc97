"""A datastore commit that devices refuse leaves running, intended and devices unchanged."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from adapters.netconf import NetconfAdapter
from controller.datastore.nmda import Datastore, NmdaStore, Transaction
from controller.datastore.schema import Schema
from controller.errors import NetconfError
from controller.service.device_push import DevicePush
from southbound.commit import NetworkCommit
from southbound.history import CommitHistory
from southbound.model import DeviceChange
from southbound.pool import SessionPool
from tests.southbound import conftest as southbound_fixtures
from tests.southbound.conftest import Device, apc_config

# The device fixtures of tests/southbound, shared (a conftest is seen only below it).
apc_schema = southbound_fixtures.apc_schema
make_device = southbound_fixtures.make_device


def render_from_intended(nodes: Sequence[str], bases: dict[str, tuple[str, ...]]
                         ) -> Callable[[NmdaStore, Transaction], list[DeviceChange]]:
    """Every device gets the calibration interval held in the controller's intended."""
    def render(store: NmdaStore, txn: Transaction) -> list[DeviceChange]:
        assert Datastore.INTENDED in txn.ops  # intended was expanded before the hook
        data = json.loads(store.get(Datastore.INTENDED) or "{}")
        interval = int(float(data["sdqn-apc:apc"]["calibration-interval"]))
        return [DeviceChange(node_id=n, config_xml=apc_config(
            n, interval, bases.get(n, ("rectilinear", "diagonal")))) for n in nodes]
    return render


def test_device_failure_rolls_back_the_datastores(apc_schema: Schema,
                                                  make_device: Callable[[str], Device]
                                                  ) -> None:
    devices = [make_device("d1"), make_device("d2")]
    pool = SessionPool([d.endpoint for d in devices], adapters={"netconf": NetconfAdapter})
    controller = NmdaStore(apc_schema)   # the controller's own store (identity expansion)
    bases: dict[str, tuple[str, ...]] = {}
    render = render_from_intended(["d1", "d2"], bases)
    hook = DevicePush(NetworkCommit(pool), lambda txn, _expanded: render(controller, txn))
    controller.participants.append(hook)
    edit = ('{"sdqn-apc:apc": {"node-id": "ctl", "calibration-interval": "%d", '
            '"target-bases": ["rectilinear", "diagonal"]}}')
    try:
        controller.copy(Datastore.RUNNING, content=edit % 1200)
        assert {d.running_interval() for d in devices} == {1200}
        bases["d2"] = ("rectilinear",)  # d2 will now refuse its config (min-elements 2)
        with pytest.raises(NetconfError) as info:
            controller.copy(Datastore.RUNNING, content=edit % 300)
        assert "d2" in info.value.first.message
        for ds in (Datastore.RUNNING, Datastore.INTENDED):
            data = json.loads(controller.get(ds))
            assert data["sdqn-apc:apc"]["calibration-interval"] == "1200.0"
        assert {d.running_interval() for d in devices} == {1200}
        assert hook.last_result is not None and hook.last_result.phase_failed == "prepare"
    finally:
        pool.close()


def test_network_commits_record_who_changed_running(apc_schema: Schema,
                                                    make_device: Callable[[str], Device],
                                                    tmp_path: Path) -> None:
    """The device-side history names the author of each change (RFC 6470 §2.1
    changed-by): the user whose session changed running, or the server and why."""
    devices = [make_device("d1")]
    pool = SessionPool([d.endpoint for d in devices], adapters={"netconf": NetconfAdapter})
    history = CommitHistory(tmp_path / "commits.sqlite")
    controller = NmdaStore(apc_schema)
    render = render_from_intended(["d1"], {})
    controller.participants.append(DevicePush(NetworkCommit(pool, history=history),
                                              lambda txn, _e: render(controller, txn)))
    edit = ('{"sdqn-apc:apc": {"node-id": "ctl", "calibration-interval": "%d", '
            '"target-bases": ["rectilinear", "diagonal"]}}')
    try:
        controller.sessions.register(41, "operator", "192.0.2.7")
        controller.copy(Datastore.RUNNING, content=edit % 1200, session_id=41)
        with controller.sessions.server_change("self-healing"):
            controller.copy(Datastore.RUNNING, content=edit % 900)
        assert [(r.user, r.label) for r in history.list()] == [
            ("server", "datastore commit: self-healing"), ("operator", "datastore commit")]
        assert {d.running_interval() for d in devices} == {900}
    finally:
        pool.close()
        history.close()
