"""The session pool's part in pre-provisioning, against real NETCONF servers: a locked
device gets no session whoever asks, and a device joining the inventory is tried once,
in parallel and bounded, the session it answered on being the one its slot then uses."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from adapters.netconf import NetconfAdapter
from controller.netconf.server import NetconfServer
from southbound.adapter import AdapterError
from southbound.model import ConnectionState, DeviceEndpoint, Exclusion
from southbound.pool import SessionPool
from tests.southbound.conftest import Device, SilentServer, free_port


def sessions_opened(device: Device) -> int:
    assert isinstance(device.server, NetconfServer)
    return device.server.core.stats.in_sessions


def test_a_locked_device_gets_no_session_whoever_asks(
        make_device: Callable[[str], Device]) -> None:
    device = make_device("a")
    pool = SessionPool([], adapters={"netconf": NetconfAdapter}, timeout=3)
    try:
        pool.update([device.endpoint], excluded={"a": Exclusion.LOCKED})
        assert pool.node_ids == [] and pool.inventory_ids == ["a"]
        with pytest.raises(AdapterError, match="locked"), pool.session("a"):
            pass
        with pytest.raises(AdapterError, match="locked"):
            pool.new_adapter("a")
        assert pool.connect("a") is not None
        assert pool.connect_all() == {}
        assert pool.reachable([device.endpoint]) == {"a": "locked"}
        assert sessions_opened(device) == 0

        pool.set_excluded({})                                   # unlocked
        with pool.session("a") as adapter:
            adapter.get_config("running")
        assert sessions_opened(device) == 1
        pool.set_excluded({"a": Exclusion.LOCKED})             # its session closes
        assert pool.state("a")[0] is ConnectionState.DISCONNECTED
        assert sessions_opened(device) == 1
    finally:
        pool.close()


def test_a_device_joining_is_tried_once_and_keeps_the_session_it_answered_on(
        make_device: Callable[[str], Device]) -> None:
    device = make_device("a")
    refused = DeviceEndpoint.model_validate({"node-id": "refused", "port": free_port()})
    silent = SilentServer()
    mute = DeviceEndpoint.model_validate({"node-id": "mute", "port": silent.port})
    pool = SessionPool([], adapters={"netconf": NetconfAdapter}, timeout=3)
    try:
        answers = pool.reachable([device.endpoint, refused, mute], wait_s=1)
        assert answers["a"] is None
        assert answers["refused"] is not None
        assert answers["mute"] == "no answer within 1 s"
        pool.update([device.endpoint, refused, mute],
                    excluded={"refused": Exclusion.UNREACHABLE,
                              "mute": Exclusion.UNREACHABLE})
        assert pool.node_ids == ["a"]
        assert pool.state("a")[0] is ConnectionState.CONNECTED
        with pool.session("a") as adapter:
            adapter.get_config("running")
        assert sessions_opened(device) == 1                     # the probe's session
        # held at the same endpoint: judged by its session as it is, not tried again
        assert pool.reachable([refused])["refused"] == "not reached yet"
    finally:
        pool.close()
        silent.close()
