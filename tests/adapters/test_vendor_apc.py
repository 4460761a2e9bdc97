"""Polarix APC adapter against its emulator over real HTTP on localhost."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from lxml import etree

from adapters.netconf import NetconfAdapter
from adapters.vendor_apc import PolarixApcAdapter
from adapters.vendor_apc.adapter import error_tag
from adapters.vendor_apc.mapping import (
    APC_NS,
    minutes_to_seconds,
    mrad_to_rad,
    vendor_to_yang,
    yang_to_vendor,
)
from controller.datastore.schema import Schema
from controller.datastore.tree import Forest
from simulators.vendor_apc import PolarixApcEmulator
from southbound.adapter import AdapterError
from southbound.commit import NetworkCommit
from southbound.model import DeviceChange, DeviceEndpoint
from southbound.pool import SessionPool
from tests.southbound.conftest import Device, apc_schema, free_port, make_device

__all__ = ["apc_schema", "make_device"]  # fixtures re-used from the southbound tests

NODE = "apc-v"


def apc_xml(interval: str = "3600", deferral: str | None = None, tolerance: str | None = None,
            bases: tuple[str, ...] = ("rectilinear", "diagonal"), node: str = NODE) -> str:
    extra = "" if deferral is None else f"<max-deferral>{deferral}</max-deferral>"
    extra += "" if tolerance is None else f"<tracking-tolerance>{tolerance}</tracking-tolerance>"
    leaves = "".join(f"<target-bases>{b}</target-bases>" for b in bases)
    return (f'<apc xmlns="{APC_NS}"><node-id>{node}</node-id><link-id>l-{node}</link-id>'
            f"<calibration-interval>{interval}</calibration-interval>{extra}{leaves}</apc>")


@pytest.fixture(scope="module")
def state_schema() -> Schema:
    """Operational data carries sdqn-types identities, so that module must be implemented."""
    return Schema(["sdqn-types", "sdqn-apc"])


@pytest.fixture
def emulator() -> Iterator[PolarixApcEmulator]:
    emu = PolarixApcEmulator(users={"admin": "secret"}).start()
    yield emu
    emu.stop()


def endpoint(port: int, password: str = "secret", node: str = NODE) -> DeviceEndpoint:
    return DeviceEndpoint.model_validate({"node-id": node, "port": port, "password": password,
                                          "adapter": "polarix-apc",
                                          "modules": ("sdqn-apc",)})


@pytest.fixture
def connect(emulator: PolarixApcEmulator) -> Iterator[Callable[[], PolarixApcAdapter]]:
    opened: list[PolarixApcAdapter] = []

    def make() -> PolarixApcAdapter:
        adapter = PolarixApcAdapter(endpoint(emulator.port), timeout=5)
        adapter.open()
        opened.append(adapter)
        return adapter

    yield make
    for adapter in opened:
        adapter.close()


def wait_for(predicate: Callable[[], bool], seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def tag_of(fn: Callable[[], object]) -> tuple[str | None, str]:
    with pytest.raises(AdapterError) as info:
        fn()
    return info.value.tag, str(info.value)


# -- mapping ---------------------------------------------------------------------------------
def test_mapping_converts_units_and_names_by_hand_values(apc_schema: Schema) -> None:
    xml = apc_xml("5400", deferral="600", tolerance="0.25", bases=("rectilinear", "circular"))
    vendor = yang_to_vendor(xml)
    assert vendor == {"deviceName": NODE, "fibreId": f"l-{NODE}",
                      "calibration": {"intervalMin": 90.0, "maxDeferralMin": 10.0},
                      "tracking": {"toleranceMrad": 250.0}, "referenceBases": ["HV", "RL"]}
    assert minutes_to_seconds(1.5) == Decimal(90)
    assert mrad_to_rad(3.5) == Decimal("0.0035")
    back = vendor_to_yang(vendor)
    assert (Forest.parse(apc_schema, back, "xml").to_dict()
            == Forest.parse(apc_schema, xml, "xml").to_dict())
    assert yang_to_vendor("") == {} and vendor_to_yang({}) == ""


@pytest.mark.parametrize(("xml", "words"), [
    (apc_xml("7"), ["calibration-interval", "7", "6 s"]),
    (apc_xml("3600", deferral="61"), ["max-deferral", "61"]),
    ('<x xmlns="urn:other"/>', ["sdqn-apc"]),
    (f'<apc xmlns="{APC_NS}"><state><tracking-error>0.1</tracking-error></state></apc>',
     ["config false"]),
])
def test_unmappable_yang_is_invalid_value(xml: str, words: list[str]) -> None:
    tag, message = tag_of(lambda: yang_to_vendor(xml))
    assert tag == "invalid-value"
    for word in words:
        assert word in message


# -- the transaction ---------------------------------------------------------------------------
def test_full_transaction_and_emulator_state(connect: Callable[[], PolarixApcAdapter],
                                             emulator: PolarixApcEmulator,
                                             apc_schema: Schema, state_schema: Schema) -> None:
    adapter = connect()
    assert adapter.get_config() == ""
    assert any("sdqn-apc" in c for c in adapter.capabilities())
    adapter.lock()
    adapter.discard()
    adapter.stage(apc_xml("1800", tolerance="0.05"))
    assert emulator.device.active == {}  # staged, not active
    adapter.validate()
    adapter.commit(confirm_timeout=5, persist="tx-1")
    assert emulator.device.apply_token == "tx-1"
    assert emulator.device.active["calibration"] == {"intervalMin": 30.0}
    adapter.confirm(persist_id="tx-1")
    adapter.unlock()
    assert emulator.device.apply_token is None and emulator.device.lock_owner is None
    assert emulator.device.active["tracking"] == {"toleranceMrad": 50.0}
    running = adapter.get_config()
    tree = Forest.parse(apc_schema, running, "xml").to_dict()["sdqn-apc:apc"]
    assert Decimal(tree["calibration-interval"]) == 1800
    assert Decimal(tree["tracking-tolerance"]) == Decimal("0.05")
    emulator.device.set_error(300.0)  # 0.3 rad residual > 0.05 rad tolerance
    # parse-only: a lone module's state lacks ietf-yang-library's mandatory content-id
    state = Forest.parse(state_schema, adapter.get_state(), "xml", config_only=False,
                         validate=False).to_dict()
    st = state["sdqn-apc:apc"]["state"]
    assert Decimal(st["tracking-error"]) == Decimal("0.3")
    assert Decimal(st["misalignment-error"]) == Decimal("0.022332")  # sin²(0.15)
    assert st["spec-status"] == "out-of-spec"
    assert state["sdqn-apc:apc"]["status"]["oper-status"] == "sdqn-types:degraded"


def test_vendor_rule_422_leaves_active_config_unchanged(
        connect: Callable[[], PolarixApcAdapter], emulator: PolarixApcEmulator) -> None:
    adapter = connect()
    adapter.replace_running(apc_xml("3600"))
    before = dict(emulator.device.active)
    adapter.stage(apc_xml("600", deferral="600"))  # YANG-valid; vendor: deferral < interval
    tag, message = tag_of(adapter.validate)
    assert tag == "invalid-value" and "E131" in message
    assert tag_of(lambda: adapter.commit(confirm_timeout=5, persist="t"))[0] == "invalid-value"
    assert emulator.device.active == before and emulator.device.apply_token is None


def test_unconfirmed_apply_reverts_by_itself(connect: Callable[[], PolarixApcAdapter],
                                             emulator: PolarixApcEmulator) -> None:
    adapter = connect()
    adapter.replace_running(apc_xml("3600"))
    before = dict(emulator.device.active)
    adapter.stage(apc_xml("1200"))
    adapter.commit(confirm_timeout=0.3, persist="late")
    assert emulator.device.active != before
    assert wait_for(lambda: emulator.device.active == before)
    assert tag_of(lambda: adapter.confirm(persist_id="late"))[0] == "invalid-value"


def test_cancel_reverts(connect: Callable[[], PolarixApcAdapter],
                        emulator: PolarixApcEmulator) -> None:
    adapter = connect()
    adapter.replace_running(apc_xml("3600"))
    adapter.stage(apc_xml("1200"))
    adapter.commit(confirm_timeout=30, persist="c")
    other = connect()  # any session may cancel by persist id
    other.cancel_commit(persist_id="c")
    assert emulator.device.active["calibration"] == {"intervalMin": 60.0}
    assert emulator.device.apply_token is None


def test_merge_stage_keeps_other_leaves(connect: Callable[[], PolarixApcAdapter],
                                        emulator: PolarixApcEmulator) -> None:
    adapter = connect()
    adapter.replace_running(apc_xml("3600", tolerance="0.2"))
    adapter.stage(f'<apc xmlns="{APC_NS}"><max-deferral>300</max-deferral>'
                  "<target-bases>circular</target-bases></apc>", replace=False)
    assert emulator.device.pending == {
        "deviceName": NODE, "fibreId": f"l-{NODE}",
        "calibration": {"intervalMin": 60.0, "maxDeferralMin": 5.0},
        "tracking": {"toleranceMrad": 200.0}, "referenceBases": ["HV", "DA", "RL"]}


def test_lock_contention_between_two_adapters(connect: Callable[[], PolarixApcAdapter],
                                              emulator: PolarixApcEmulator) -> None:
    a, b = connect(), connect()
    a.lock()
    assert tag_of(b.lock)[0] == "lock-denied"
    assert tag_of(lambda: b.stage(apc_xml()))[0] == "in-use"
    assert emulator.device.pending is None
    a.unlock()
    b.lock()
    b.close()  # a session end releases its lock, as in NETCONF
    a.lock()


def test_lock_lease_lapses_when_the_holder_goes_silent(
        connect: Callable[[], PolarixApcAdapter]) -> None:
    a, b = connect(), connect()
    a.lock_lease_s = 1.0
    a.lock()
    time.sleep(0.6)
    a.discard()  # activity renews the lease: without it, it would lapse at 1.0 s
    time.sleep(0.6)
    assert tag_of(b.lock)[0] == "lock-denied"
    assert wait_for(lambda: _try_lock(b), seconds=2)


def _try_lock(adapter: PolarixApcAdapter) -> bool:
    try:
        adapter.lock()
    except AdapterError:
        return False
    return True


@pytest.mark.parametrize(("status", "path", "tag"), [
    (401, "/api/v1/config", "access-denied"), (409, "/api/v1/lock", "lock-denied"),
    (409, "/api/v1/config/pending", "in-use"), (422, "/api/v1/config/apply", "invalid-value"),
    (404, "/api/v1/config/confirm", "invalid-value"), (500, "/api/v1/config", "operation-failed"),
    (503, "/api/v1/state", "operation-failed")])
def test_http_status_to_error_tag(status: int, path: str, tag: str) -> None:
    assert error_tag(status, path) == tag


def test_wrong_password_is_access_denied(emulator: PolarixApcEmulator) -> None:
    adapter = PolarixApcAdapter(endpoint(emulator.port, password="wrong"), timeout=5)
    assert tag_of(adapter.open)[0] == "access-denied"
    assert not adapter.connected


def test_unreachable_device_is_resource_denied_quickly() -> None:
    adapter = PolarixApcAdapter(endpoint(free_port()), timeout=5)
    start = time.monotonic()
    assert tag_of(adapter.open)[0] == "resource-denied"
    assert time.monotonic() - start < 2
    assert tag_of(adapter.get_config)[0] == "resource-denied"


# -- notifications ---------------------------------------------------------------------------
def test_events_become_sdqn_apc_notifications(connect: Callable[[], PolarixApcAdapter],
                                              emulator: PolarixApcEmulator) -> None:
    adapter = connect()
    adapter.replace_running(apc_xml("3600"))
    notes: queue.Queue[str] = queue.Queue()
    adapter.subscribe(notes.put)
    assert adapter.calibrate(force=True) == "started"
    got: dict[str, etree._Element] = {}
    deadline = time.monotonic() + 5
    while len(got) < 3 and time.monotonic() < deadline:
        try:
            root = etree.fromstring(notes.get(timeout=0.5))
        except queue.Empty:
            continue
        body = root[1]
        assert etree.QName(body).namespace == APC_NS
        got.setdefault(etree.QName(body).localname, body)
    assert {"status-change", "calibration-complete", "out-of-spec"} <= set(got)
    ns = {"a": APC_NS}
    assert got["calibration-complete"].findtext("a:success", namespaces=ns) == "true"
    assert got["calibration-complete"].findtext("a:tracking-error", namespaces=ns) == "0.005"
    assert got["out-of-spec"].findtext("a:severity", namespaces=ns) == "cleared"
    thread = adapter._subscriber
    adapter.close()
    assert thread is not None and not thread.is_alive()


# -- network-wide commit across protocols --------------------------------------------------------
@pytest.fixture
def mixed(emulator: PolarixApcEmulator, make_device: Callable[[str], Device]
          ) -> Iterator[tuple[NetworkCommit, Device]]:
    nc = make_device("apc-nc")
    pool = SessionPool([endpoint(emulator.port), nc.endpoint], timeout=10,
                       adapters={"polarix-apc": PolarixApcAdapter, "netconf": NetconfAdapter})
    yield NetworkCommit(pool, confirm_timeout_s=30), nc
    pool.close()


def test_network_commit_spans_rest_and_netconf(mixed: tuple[NetworkCommit, Device],
                                               emulator: PolarixApcEmulator) -> None:
    commit, nc = mixed
    ok = commit.apply([DeviceChange(node_id=NODE, config_xml=apc_xml("1800")),
                       DeviceChange(node_id="apc-nc", config_xml=apc_xml("1800", node="apc-nc"))])
    assert ok.success, ok.devices
    assert emulator.device.active["calibration"] == {"intervalMin": 30.0}
    assert nc.running_interval() == 1800
    # the vendor refuses (E131) during prepare: neither device changes
    bad = commit.apply([DeviceChange(node_id=NODE, config_xml=apc_xml("600", deferral="600")),
                        DeviceChange(node_id="apc-nc",
                                     config_xml=apc_xml("900", node="apc-nc"))])
    assert not bad.success and bad.phase_failed == "prepare"
    assert "E131" in (bad.devices[NODE].error or "")
    assert nc.running_interval() == 1800
    assert emulator.device.active["calibration"] == {"intervalMin": 30.0}
    # NETCONF refuses (min-elements of target-bases): the vendor APC does not change either
    bad = commit.apply([DeviceChange(node_id=NODE, config_xml=apc_xml("900")),
                        DeviceChange(node_id="apc-nc", config_xml=apc_xml(
                            "900", node="apc-nc", bases=("rectilinear",)))])
    assert not bad.success
    assert emulator.device.active["calibration"] == {"intervalMin": 30.0}
    assert emulator.device.pending is None and emulator.device.lock_owner is None
    assert nc.running_interval() == 1800
