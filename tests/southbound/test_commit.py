"""Network-wide commit against real NETCONF device servers: all or nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from adapters.netconf import NetconfAdapter
from controller.netconf.server import NetconfServer
from simulators.devices.runtime import rpc_name
from southbound.adapter import AdapterError
from southbound.commit import NetworkCommit
from southbound.history import CommitHistory
from southbound.model import DeviceChange, DeviceEndpoint
from southbound.pool import SessionPool
from tests.southbound.conftest import Device, SilentServer, apc_config, free_port


def pool_of(devices: list[Device], extra: list[DeviceEndpoint] = (),  # type: ignore[assignment]
            adapter: type[NetconfAdapter] = NetconfAdapter, timeout: float = 5.0
            ) -> SessionPool:
    return SessionPool([d.endpoint for d in devices] + list(extra),
                       adapters={"netconf": adapter}, timeout=timeout)


def changes(devices: list[Device], interval: int) -> list[DeviceChange]:
    return [DeviceChange(node_id=d.node_id, config_xml=apc_config(d.node_id, interval))
            for d in devices]


@pytest.fixture
def three(make_device: Callable[[str], Device]) -> list[Device]:
    return [make_device(f"apc-{i}") for i in range(3)]


def test_commit_reaches_every_device_and_is_recorded(three: list[Device],
                                                     tmp_path: Path) -> None:
    pool = pool_of(three)
    history = CommitHistory(tmp_path / "history.sqlite")
    try:
        result = NetworkCommit(pool, history=history).apply(changes(three, 1200), label="first")
        assert result.success, result
        assert {d.running_interval() for d in three} == {1200}
        assert all(o.status == "committed" for o in result.devices.values())
        record = history.get(result.commit_id)
        assert record is not None and record.label == "first"
        assert set(record.after) == {d.node_id for d in three}
    finally:
        pool.close()
        history.close()


def test_dry_run_returns_diffs_and_changes_nothing(three: list[Device]) -> None:
    pool = pool_of(three)
    try:
        committer = NetworkCommit(pool)
        assert committer.apply(changes(three, 1200)).success
        result = committer.apply(changes(three, 900), dry_run=True)
        assert result.success and result.dry_run
        outcome = result.devices["apc-0"]
        assert outcome.status == "dry-run"
        assert {"operation": "replace",
                "path": "/sdqn-apc:apc/calibration-interval",
                "value": "900.0", "previous": "1200.0"} in outcome.diff
        assert "1200.0 -> 900.0" in (outcome.diff_xml or "")
        assert {d.running_interval() for d in three} == {1200}
        assert committer.apply(changes(three, 600)).success  # nothing left locked
    finally:
        pool.close()


def test_one_device_rejecting_rolls_back_all(three: list[Device]) -> None:
    pool = pool_of(three)
    try:
        committer = NetworkCommit(pool)
        assert committer.apply(changes(three, 1200)).success
        bad = changes(three, 600)
        bad[1] = DeviceChange(node_id="apc-1", config_xml=apc_config("apc-1", 600,
                                                                     bases=("rectilinear",)))
        result = committer.apply(bad)
        assert not result.success and result.phase_failed == "prepare"
        assert result.devices["apc-1"].status == "failed"
        assert "target-bases" in (result.devices["apc-1"].error or "")
        assert {d.running_interval() for d in three} == {1200}
        assert committer.apply(changes(three, 600)).success  # locks were released
    finally:
        pool.close()


def test_unreachable_device_aborts_before_touching_anything(three: list[Device]) -> None:
    ghost = DeviceEndpoint.model_validate({"node-id": "ghost", "port": free_port(),
                                           "modules": ("sdqn-apc",)})
    pool = pool_of(three, [ghost])
    try:
        plan = [*changes(three, 700),
                DeviceChange(node_id="ghost", config_xml=apc_config("ghost"))]
        result = NetworkCommit(pool).apply(plan)
        assert not result.success and result.phase_failed == "prepare"
        assert result.devices["ghost"].status == "failed"
        assert {d.running_interval() for d in three} == {None}
        assert pool.state("ghost")[0].value == "unreachable"
    finally:
        pool.close()


def test_device_that_times_out_aborts_the_transaction(three: list[Device]) -> None:
    silent = SilentServer()
    mute = DeviceEndpoint.model_validate({"node-id": "mute", "port": silent.port,
                                          "modules": ("sdqn-apc",)})
    pool = pool_of(three, [mute], timeout=1.0)
    try:
        start = time.monotonic()
        plan = [*changes(three, 700),
                DeviceChange(node_id="mute", config_xml=apc_config("mute"))]
        result = NetworkCommit(pool).apply(plan)
        assert not result.success and result.devices["mute"].status == "failed"
        assert time.monotonic() - start < 15
        assert {d.running_interval() for d in three} == {None}
    finally:
        pool.close()
        silent.close()


class _ConfirmFails(NetconfAdapter):
    def confirm(self, *, persist_id: str) -> None:
        if self.endpoint.node_id == "apc-2":
            raise AdapterError("injected confirm failure", tag="operation-failed",
                               node_id="apc-2")
        super().confirm(persist_id=persist_id)


def test_failure_in_confirm_phase_restores_every_device(three: list[Device]) -> None:
    pool = pool_of(three)
    try:
        assert NetworkCommit(pool).apply(changes(three, 1200)).success
    finally:
        pool.close()
    flaky = pool_of(three, adapter=_ConfirmFails)
    try:
        result = NetworkCommit(flaky).apply(changes(three, 300))
        assert not result.success and result.phase_failed == "confirm"
        assert {d.running_interval() for d in three} == {1200}
    finally:
        flaky.close()


def test_controller_crash_between_phases_heals_by_itself(three: list[Device]) -> None:
    """Confirmed commit with persist: if nobody confirms, every device reverts."""
    pool = pool_of(three)
    try:
        assert NetworkCommit(pool).apply(changes(three, 1200)).success
        for device in three:  # prepare + commit phase, then the controller "dies"
            with pool.session(device.node_id) as adapter:
                adapter.lock()
                adapter.stage(apc_config(device.node_id, 60))
                adapter.validate()
                adapter.commit(confirm_timeout=1, persist="crashed-tx")
                adapter.unlock()
        assert {d.running_interval() for d in three} == {60}
    finally:
        pool.close()  # sessions gone; persist keeps the pending commits alive
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and {d.running_interval() for d in three} != {1200}:
        time.sleep(0.1)
    assert {d.running_interval() for d in three} == {1200}


def test_rollback_to_before_a_commit(three: list[Device], tmp_path: Path) -> None:
    pool = pool_of(three)
    history = CommitHistory(tmp_path / "h.sqlite")
    try:
        committer = NetworkCommit(pool, history=history)
        assert committer.apply(changes(three, 1200)).success
        second = committer.apply(changes(three, 100), label="tighter")
        assert second.success and {d.running_interval() for d in three} == {100}
        undo = committer.rollback(second.commit_id)
        assert undo.success and {d.running_interval() for d in three} == {1200}
        assert [r.label for r in history.list()][:2] == [f"rollback of {second.commit_id}",
                                                         "tighter"]
    finally:
        pool.close()
        history.close()


# -- a device that stalls: timed-out rpcs leave nothing locked, confirm never splits -----

class Stall:
    """The device's rpc gate (ServerCore.rpc_gate): holds the first `times` rpcs named
    `name` (all when None) until released, then lets them run — a busy device."""

    def __init__(self, device: Device, name: str, times: int | None = None) -> None:
        self.name, self.left = name, times
        self.held = 0
        self.released = threading.Event()
        server = device.server
        assert isinstance(server, NetconfServer)
        server.core.rpc_gate = self

    def __call__(self, op: etree._Element) -> None:
        if rpc_name(op) != self.name or self.left == 0:
            return
        if self.left is not None:
            self.left -= 1
        self.held += 1
        self.released.wait(30)


def settle(device: Device) -> None:
    """Held rpcs run on sessions the controller dropped: wait until those sessions end."""
    server = device.server
    assert isinstance(server, NetconfServer)
    deadline = time.monotonic() + 10
    while server.core.all_sessions() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_device_stalled_holding_its_lock_is_freed_by_kill_session(three: list[Device]
                                                                   ) -> None:
    """Stalled in validate, the dropped session still holds the candidate lock (its
    thread is stuck in the device): the next commit ends it (RFC 6241 §7.9)."""
    pool = pool_of(three, timeout=1.0)
    stall = Stall(three[1], "validate", times=1)
    try:
        committer = NetworkCommit(pool)
        failed = committer.apply(changes(three, 700))
        assert not failed.success and failed.phase_failed == "prepare"
        assert "timed out" in (failed.devices["apc-1"].error or "")
        assert three[1].store.locks.holder("candidate") is not None   # still held
        assert committer.apply(changes(three, 800)).success
        assert {d.running_interval() for d in three} == {800}
        assert three[1].store.locks.holder("candidate") is None
    finally:
        stall.released.set()
        pool.close()


def test_confirm_that_times_out_once_gets_a_second_chance(three: list[Device]) -> None:
    pool = pool_of(three, timeout=1.0)
    stall = Stall(three[2], "confirming-commit", times=1)
    try:
        result = NetworkCommit(pool).apply(changes(three, 1200))
        assert result.success, result
        assert stall.held == 1
        stall.released.set()                 # the first confirm runs late: no harm
        settle(three[2])
        assert {d.running_interval() for d in three} == {1200}
        assert not three[2].store.confirm_pending
    finally:
        stall.released.set()
        pool.close()


def test_device_that_never_confirms_has_every_device_put_back(three: list[Device]) -> None:
    pool = pool_of(three, timeout=1.0)
    try:
        committer = NetworkCommit(pool)
        assert committer.apply(changes(three, 1200)).success
        stall = Stall(three[2], "confirming-commit")
        result = committer.apply(changes(three, 300))
        assert not result.success and result.phase_failed == "confirm"
        assert result.devices["apc-2"].status == "failed"
        assert {d.running_interval() for d in three} == {1200}
        stall.released.set()                 # the held confirms run now: nothing to confirm
        settle(three[2])
        assert {d.running_interval() for d in three} == {1200}
        assert not any(d.store.confirm_pending for d in three)
        assert committer.apply(changes(three, 300)).success   # nothing left locked
        assert {d.running_interval() for d in three} == {300}
    finally:
        pool.close()


def test_a_candidate_locked_by_another_session_is_left_as_it_is(three: list[Device]
                                                                ) -> None:
    """The prepare phase pipelines its requests but writes nothing before its lock is
    granted: an operator's session holding apc-1's candidate keeps its staged edit, and
    the commit fails in prepare naming apc-1, every device unchanged."""
    from southbound.transport import connect

    pool = pool_of(three)
    operator = connect(host="127.0.0.1", port=three[1].endpoint.port, username="admin",
                       password="admin", timeout=10)
    try:
        committer = NetworkCommit(pool)
        assert committer.apply(changes(three, 1200)).success
        operator.lock(target="candidate")
        operator.edit_config(target="candidate", config=(
            '<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
            f"{apc_config('apc-1', 450)}</config>"))
        result = committer.apply(changes(three, 600))
        assert not result.success and result.phase_failed == "prepare"
        assert result.devices["apc-1"].status == "failed"
        assert {d.running_interval() for d in three} == {1200}
        staged = etree.fromstring(operator.get_config(source="candidate").data_xml.encode())
        assert float(staged.findtext(".//{*}calibration-interval") or 0) == 450
        operator.discard_changes()
        operator.unlock(target="candidate")
        assert committer.apply(changes(three, 600)).success   # nothing of ours was left
    finally:
        operator.close_session()
        pool.close()
