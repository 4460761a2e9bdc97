"""The sdqn-apc `calibrate` action (RFC 7950 §7.15) through both adapters: NETCONF to the
emulated APC (an <action> RPC) and the Polarix vendor APC (POST /api/v1/calibrate); the
outputs must be valid sdqn-apc action replies."""

from __future__ import annotations

import json
from collections.abc import Iterator

import libyang
import pytest

from adapters.netconf import NetconfAdapter
from adapters.vendor_apc.mapping import APC_NS, calibrate_force, calibrate_output
from controller.datastore.schema import Schema
from controller.service.calibration import calibrate_action, calibrate_result
from simulators.clock import ManualClock
from simulators.devices.apc import CALIBRATION_DURATION
from simulators.devices.world import Topology
from simulators.launcher import DEFAULT_TOPOLOGY, Network, SchemaCache
from simulators.vendor_apc import PolarixApcEmulator
from southbound.adapter import AdapterError
from southbound.model import DeviceEndpoint
from tests.adapters.conftest import Connect, apc_xml, tag_of, wait_for

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def apc_ctx() -> libyang.Context:
    return Schema(["sdqn-types", "sdqn-apc"]).ctx


def valid_reply(ctx: libyang.Context, output: str) -> dict[str, str]:
    """The action's output leaves, after libyang accepted them as its reply."""
    tree = ctx.parse_op_mem("xml", f'<apc xmlns="{APC_NS}"><calibrate>{output}</calibrate>'
                                   "</apc>", libyang.DataType.REPLY_YANG)
    try:
        data = json.loads(tree.print_mem("json"))
    finally:
        tree.free()
    return {k: str(v) for k, v in data["sdqn-apc:calibrate"].items()}


# -- NETCONF: the emulated APC ---------------------------------------------------------------
@pytest.fixture
def plant() -> Iterator[tuple[Network, ManualClock]]:
    clock = ManualClock()
    net = Network(Topology.load(DEFAULT_TOPOLOGY), clock=clock, seed=3,
                  use_topology_ports=False, tick=3600, schemas=SchemaCache())
    net.start(control=False)
    try:
        yield net, clock
    finally:
        net.stop()


def netconf(net: Network, node: str) -> NetconfAdapter:
    ep = DeviceEndpoint.model_validate({"node-id": node, "port": net.devices[node].port,
                                        "modules": ("sdqn-apc",)})
    adapter = NetconfAdapter(ep, timeout=10)
    adapter.open()
    return adapter


def test_netconf_action_reaches_the_emulated_apc(plant: tuple[Network, ManualClock],
                                                 apc_ctx: libyang.Context) -> None:
    net, clock = plant
    adapter, repeater = netconf(net, "apc-3"), netconf(net, "r1")
    try:
        busy = adapter.action(calibrate_action(True))    # calibrating since power-up
        assert valid_reply(apc_ctx, busy)["result"] == "busy"
        clock.advance(CALIBRATION_DURATION + 1)
        net.ticker.tick_once()
        started = adapter.action(calibrate_action(False))  # its fibre is idle
        assert valid_reply(apc_ctx, started) == {"result": "started",
                                                 "expected-duration": "30.0"}
        assert calibrate_result(started) == ("started", CALIBRATION_DURATION)
        assert "<calibration-in-progress>true<" in adapter.get_state()
        tag, message = tag_of(lambda: repeater.action(calibrate_action(True)))
        assert tag == "operation-not-supported" and "action" in message
    finally:
        adapter.close()
        repeater.close()


# -- the Polarix vendor APC ---------------------------------------------------------------------
def test_vendor_action_maps_to_the_calibrate_call(connect: Connect,
                                                  emulator: PolarixApcEmulator,
                                                  apc_ctx: libyang.Context) -> None:
    adapter = connect()
    adapter.replace_running(apc_xml("3600"))
    emulator.device.calibration_s = 0.25
    started = adapter.action(calibrate_action(True))
    assert valid_reply(apc_ctx, started) == {"result": "started", "expected-duration": "0.25"}
    busy = adapter.action(calibrate_action(False))
    assert valid_reply(apc_ctx, busy) == {"result": "busy"}  # no duration from the device
    assert wait_for(lambda: emulator.device.last_calibration is not None)
    done = [e for e in emulator.device.events if e["type"] == "calibrationDone"]
    assert len(done) == 1
    assert "<calibration-in-progress>false<" in adapter.get_state()


def test_vendor_action_refuses_what_it_cannot_do(connect: Connect) -> None:
    adapter = connect()
    other = f'<apc xmlns="{APC_NS}"><reset/></apc>'
    assert tag_of(lambda: adapter.action(other))[0] == "operation-not-supported"
    foreign = '<repeater xmlns="urn:sdqn:sdqn-repeater"><calibrate/></repeater>'
    tag, message = tag_of(lambda: adapter.action(foreign))
    assert tag == "operation-not-supported" and "/sdqn-apc:apc/calibrate" in message
    maybe = f'<apc xmlns="{APC_NS}"><calibrate><force>maybe</force></calibrate></apc>'
    tag, message = tag_of(lambda: adapter.action(maybe))
    assert tag == "invalid-value" and "calibrate/force" in message
    assert tag_of(lambda: adapter.action("<apc"))[0] == "invalid-value"


def test_calibrate_mapping_by_hand() -> None:
    assert calibrate_force(f'<apc xmlns="{APC_NS}"><calibrate/></apc>') is False  # default
    assert calibrate_force(calibrate_action(True)) is True
    extra = f'<apc xmlns="{APC_NS}"><calibrate><force>true</force><when>now</when>' \
            "</calibrate></apc>"
    with pytest.raises(AdapterError, match="'when'"):
        calibrate_force(extra)
    assert calibrate_output({"result": "deferred", "expectedDurationS": 90}) == (
        f'<result xmlns="{APC_NS}">deferred</result>'
        f'<expected-duration xmlns="{APC_NS}">90</expected-duration>')
    assert calibrate_output({"result": "started", "expectedDurationS": 0.1}).endswith(
        ">0.1</expected-duration>")
    with pytest.raises(AdapterError) as info:
        calibrate_output({"result": "exploded"})
    assert info.value.tag == "operation-failed"
