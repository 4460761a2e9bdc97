"""Out-of-band changes: detected, then reverted or imported by policy; pool reconnects."""

from __future__ import annotations

import time
from collections.abc import Callable

from adapters.netconf import NetconfAdapter
from controller.datastore.nmda import Datastore
from southbound.commit import NetworkCommit
from southbound.model import ConnectionState, DeviceChange, SyncState
from southbound.pool import SessionPool
from southbound.sync import SyncManager, SyncPolicy
from southbound.transport import connect
from tests.southbound.conftest import Device, apc_config


def out_of_band_edit(device: Device, interval: int) -> None:
    manager = connect(host="127.0.0.1", port=device.endpoint.port, username="admin",
                      password="admin")
    try:
        manager.edit_config(target="running", config=(
            '<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
            f'<apc xmlns="urn:sdqn:sdqn-apc"><calibration-interval>{interval}'
            "</calibration-interval></apc></config>"))
    finally:
        manager.close_session()


def setup(devices: list[Device], policy: SyncPolicy
          ) -> tuple[SessionPool, SyncManager, dict[str, str], list[tuple[str, str]]]:
    pool = SessionPool([d.endpoint for d in devices], adapters={"netconf": NetconfAdapter},
                       timeout=5)
    intended = {d.node_id: apc_config(d.node_id, 1200) for d in devices}
    imported: list[tuple[str, str]] = []
    committer = NetworkCommit(pool)
    assert committer.apply([DeviceChange(node_id=n, config_xml=x)
                            for n, x in intended.items()]).success
    sync = SyncManager(pool, committer, intended=intended.get, policy=lambda _: policy,
                       importer=lambda n, xml: imported.append((n, xml)))
    return pool, sync, intended, imported


def test_check_sync_detects_out_of_band_edit(make_device: Callable[[str], Device]) -> None:
    devices = [make_device("a"), make_device("b")]
    pool, sync, _, _ = setup(devices, SyncPolicy.REVERT)
    try:
        assert sync.check_sync("a").state is SyncState.IN_SYNC
        out_of_band_edit(devices[0], 999)
        report = sync.check_sync("a")
        assert report.state is SyncState.OUT_OF_SYNC
        assert report.diff == [{"operation": "replace",
                                "path": "/sdqn-apc:apc/calibration-interval",
                                "value": "1200.0", "previous": "999.0"}]
        assert pool.state("a")[1] is SyncState.OUT_OF_SYNC
        assert sync.check_sync("b").state is SyncState.IN_SYNC
    finally:
        pool.close()


def test_revert_policy_pushes_intended_back(make_device: Callable[[str], Device]) -> None:
    devices = [make_device("a")]
    pool, sync, _, imported = setup(devices, SyncPolicy.REVERT)
    seen: list[str] = []
    sync.listeners.append(lambda report, policy, result: seen.append(policy.value))
    try:
        out_of_band_edit(devices[0], 999)
        sync.reconcile("a")
        assert devices[0].running_interval() == 1200
        assert seen == ["revert"] and imported == []
        assert pool.state("a")[1] is SyncState.IN_SYNC
    finally:
        pool.close()


def test_import_policy_hands_config_to_controller(make_device: Callable[[str], Device]
                                                  ) -> None:
    devices = [make_device("a")]
    pool, sync, _, imported = setup(devices, SyncPolicy.IMPORT)
    try:
        out_of_band_edit(devices[0], 999)
        sync.reconcile("a")
        assert devices[0].running_interval() == 999   # left as the operator made it
        assert len(imported) == 1 and "<calibration-interval>999" in imported[0][1]
    finally:
        pool.close()


def test_out_of_band_edit_detected_within_one_interval(make_device: Callable[[str], Device]
                                                       ) -> None:
    devices = [make_device("a")]
    pool, sync, _, _ = setup(devices, SyncPolicy.REVERT)
    try:
        sync.start(interval_s=0.3)
        out_of_band_edit(devices[0], 999)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and devices[0].running_interval() != 1200:
            time.sleep(0.05)
        assert devices[0].running_interval() == 1200
    finally:
        sync.stop()
        pool.close()


def test_pool_reconnects_after_device_restart(make_device: Callable[[str], Device]) -> None:
    first = make_device("a")
    pool = SessionPool([first.endpoint], adapters={"netconf": NetconfAdapter}, timeout=3)
    states: list[str] = []
    pool.listeners.append(lambda node, conn, sync, err: states.append(conn.value))
    try:
        with pool.session("a") as adapter:
            adapter.get_config()
        first.server.stop()  # type: ignore[attr-defined]
        try:
            with pool.session("a") as adapter:
                adapter.get_config()
        except Exception:
            pass
        assert pool.state("a")[0] is not ConnectionState.CONNECTED
        second = make_device_on_port(make_device, first.endpoint.port)
        with pool.session("a") as adapter:
            assert second.store.get(Datastore.RUNNING) == "{}"
            adapter.get_config()
        assert pool.state("a")[0] is ConnectionState.CONNECTED
        assert states[0] == "connecting" and "unreachable" in states
    finally:
        pool.close()


def make_device_on_port(make_device: Callable[..., Device], port: int) -> Device:
    deadline = time.monotonic() + 5
    while True:
        try:
            return make_device("a", port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_device_states_are_published_to_operational(make_device: Callable[[str], Device]
                                                    ) -> None:
    import json

    from controller.datastore.nmda import NmdaStore
    from controller.datastore.schema import Schema
    from controller.service.device_states import publish_device_states
    from controller.settings import PRODUCT_MODULES
    from southbound.model import DeviceEndpoint
    from tests.southbound.conftest import free_port

    device = make_device("a")
    ghost = DeviceEndpoint.model_validate({"node-id": "ghost", "port": free_port()})
    controller = NmdaStore(Schema(list(PRODUCT_MODULES)))
    pool = SessionPool([device.endpoint, ghost], adapters={"netconf": NetconfAdapter},
                       timeout=3)
    publisher = publish_device_states(pool, controller)

    def states() -> dict[str, dict[str, str]]:
        publisher.flush()
        data = json.loads(controller.get(Datastore.OPERATIONAL, xpath=(
            "/sdqn-controller:controller/southbound")))
        return {d["node-id"]: d for d in data["sdqn-controller:controller"]["southbound"]
                ["device"]}

    try:
        assert states()["a"]["connection-state"] == "disconnected"
        pool.connect_all()
        current = states()
        assert current["a"]["connection-state"] == "connected"
        assert current["ghost"]["connection-state"] == "unreachable"
        assert "last-error" in current["ghost"] and "last-error" not in current["a"]
    finally:
        pool.close()
        publisher.close()
