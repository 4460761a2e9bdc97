"""Polarix APC adapter against its emulator over real HTTP on localhost."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from importlib.metadata import entry_points

import pytest
from lxml import etree

from adapters.netconf import NetconfAdapter
from adapters.vendor_apc import PolarixApcAdapter
from adapters.vendor_apc.adapter import error_tag
from adapters.vendor_apc.mapping import APC_NS
from controller.datastore.schema import Schema
from controller.datastore.tree import Forest
from controller.service.render import APC_BASE, device_config_xml
from simulators.vendor_apc import PolarixApcEmulator
from southbound.adapter import ENTRY_POINT_GROUP, AdapterError, load_adapters
from southbound.commit import NetworkCommit
from southbound.diff import ConfigDiffer
from southbound.model import DeviceChange
from southbound.pool import SessionPool
from tests.adapters.conftest import NODE, Connect, apc_xml, endpoint, tag_of, wait_for
from tests.southbound.conftest import Device, SilentServer, free_port


def test_discovered_through_the_entry_point() -> None:
    names = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    if "polarix-apc" not in names:
        pytest.skip("the polarix-apc entry point is not installed in this environment")
    assert load_adapters()["polarix-apc"] is PolarixApcAdapter


# -- the transaction ---------------------------------------------------------------------------
def test_full_transaction_and_emulator_state(connect: Connect,
                                             emulator: PolarixApcEmulator,
                                             apc_schema: Schema, state_schema: Schema) -> None:
    adapter, dev = connect(), emulator.device
    assert adapter.get_config() == ""
    assert any("sdqn-apc" in c for c in adapter.capabilities())
    adapter.lock()
    assert dev.lock_owner is not None
    adapter.discard()
    adapter.stage(apc_xml("1800", tolerance="0.05"))
    assert dev.active == {} and dev.pending is not None  # staged, not active
    assert "<calibration-interval>1800</calibration-interval>" in adapter.get_config(
        "candidate")
    adapter.validate()
    adapter.commit(confirm_timeout=1.0, persist="tx-1")
    assert dev.apply_token == "tx-1" and dev.pending is None
    assert dev.active["calibration"] == {"intervalMin": 30.0}
    assert dev.rollback == {}  # what an auto-revert would restore
    adapter.confirm(persist_id="tx-1")
    adapter.unlock()
    assert dev.apply_token is None and dev.lock_owner is None and dev.rollback is None
    assert [e["type"] for e in dev.events] == ["configApplied"]
    time.sleep(1.2)  # past the revert timer: a confirmed apply stays
    assert dev.reverts == 0
    assert dev.active["tracking"] == {"toleranceMrad": 50.0}
    running = adapter.get_config()
    tree = Forest.parse(apc_schema, running, "xml").to_dict()["sdqn-apc:apc"]
    assert Decimal(tree["calibration-interval"]) == 1800
    assert Decimal(tree["tracking-tolerance"]) == Decimal("0.05")
    dev.set_error(300.0)  # 0.3 rad residual > 0.05 rad tolerance
    # parse-only: a lone module's state lacks ietf-yang-library's mandatory content-id
    state = Forest.parse(state_schema, adapter.get_state(), "xml", config_only=False,
                         validate=False).to_dict()
    st = state["sdqn-apc:apc"]["state"]
    assert Decimal(st["tracking-error"]) == Decimal("0.3")
    assert Decimal(st["misalignment-error"]) == Decimal("0.022332")  # sin²(0.15)
    assert st["spec-status"] == "out-of-spec"
    assert state["sdqn-apc:apc"]["status"]["oper-status"] == "sdqn-types:degraded"


def test_vendor_rule_422_leaves_active_config_unchanged(
        connect: Connect, emulator: PolarixApcEmulator) -> None:
    adapter = connect()
    adapter.replace_running(apc_xml("3600"))
    before = dict(emulator.device.active)
    adapter.stage(apc_xml("600", deferral="600"))  # YANG-valid; vendor: deferral < interval
    tag, message = tag_of(adapter.validate)
    assert tag == "invalid-value" and "E131" in message
    assert tag_of(lambda: adapter.commit(confirm_timeout=5, persist="t"))[0] == "invalid-value"
    assert emulator.device.active == before and emulator.device.apply_token is None


def test_unconfirmed_apply_reverts_by_itself(connect: Connect,
                                             emulator: PolarixApcEmulator) -> None:
    adapter = connect()
    adapter.replace_running(apc_xml("3600"))
    before = dict(emulator.device.active)
    adapter.stage(apc_xml("1200"))
    adapter.commit(confirm_timeout=0.3, persist="late")
    assert emulator.device.active != before
    assert wait_for(lambda: emulator.device.active == before)
    assert emulator.device.reverts == 1
    assert "<calibration-interval>3600</calibration-interval>" in adapter.get_config()
    reverted = [e for e in emulator.device.events if e["type"] == "configReverted"]
    assert [(e["token"], e["cause"]) for e in reverted] == [("late", "not confirmed in time")]
    assert tag_of(lambda: adapter.confirm(persist_id="late"))[0] == "invalid-value"


def test_reapply_rearms_the_revert_timer(connect: Connect,
                                         emulator: PolarixApcEmulator) -> None:
    """A second commit with the same persist id extends the window (RFC 6241 §8.4.1: a
    follow-up confirmed commit restarts the timeout); only the new timer may revert."""
    adapter = connect()
    adapter.stage(apc_xml("1200"))
    adapter.commit(confirm_timeout=0.3, persist="tx")
    adapter.commit(confirm_timeout=30, persist="tx")
    time.sleep(0.5)
    assert emulator.device.reverts == 0 and emulator.device.apply_token == "tx"
    assert tag_of(lambda: adapter.commit(confirm_timeout=30, persist="other"))[0] == "in-use"
    adapter.confirm(persist_id="tx")
    assert emulator.device.active["calibration"] == {"intervalMin": 20.0}


def test_apply_during_calibration_is_operation_failed(connect: Connect,
                                                      emulator: PolarixApcEmulator) -> None:
    """HTTP 503 is a device fault, not a lost session: operation-failed, nothing changes."""
    adapter = connect()
    adapter.replace_running(apc_xml("3600"))
    emulator.device.calibration_s = 2.0
    assert adapter.calibrate() == "started" and adapter.calibrate() == "busy"
    adapter.stage(apc_xml("1200"))
    tag, message = tag_of(lambda: adapter.commit(confirm_timeout=5, persist="cal"))
    assert tag == "operation-failed" and "503" in message and "E503" in message
    assert emulator.device.active["calibration"] == {"intervalMin": 60.0}
    assert adapter.connected  # the pool keeps the session


def test_cancel_reverts(connect: Connect,
                        emulator: PolarixApcEmulator) -> None:
    adapter = connect()
    adapter.replace_running(apc_xml("3600"))
    adapter.stage(apc_xml("1200"))
    adapter.commit(confirm_timeout=30, persist="c")
    other = connect()  # any session may cancel by persist id
    other.cancel_commit(persist_id="c")
    assert emulator.device.active["calibration"] == {"intervalMin": 60.0}
    assert emulator.device.apply_token is None


def test_merge_stage_keeps_other_leaves(connect: Connect,
                                        emulator: PolarixApcEmulator) -> None:
    adapter = connect()
    adapter.replace_running(apc_xml("3600", tolerance="0.2"))
    adapter.stage(f'<apc xmlns="{APC_NS}"><max-deferral>300</max-deferral>'
                  "<target-bases>circular</target-bases></apc>", replace=False)
    assert emulator.device.pending == {
        "deviceName": NODE, "fibreId": f"l-{NODE}",
        "calibration": {"intervalMin": 60.0, "maxDeferralMin": 5.0},
        "tracking": {"toleranceMrad": 200.0}, "referenceBases": ["HV", "DA", "RL"]}


def test_lock_contention_between_two_adapters(connect: Connect,
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
        connect: Connect) -> None:
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


def test_silent_device_is_resource_denied_within_the_timeout() -> None:
    silent = SilentServer()  # accepts TCP, never answers HTTP
    try:
        adapter = PolarixApcAdapter(endpoint(silent.port), timeout=0.5)
        start = time.monotonic()
        tag, message = tag_of(adapter.open)
        assert tag == "resource-denied" and "unreachable" in message
        assert time.monotonic() - start < 2
    finally:
        silent.close()


# -- notifications ---------------------------------------------------------------------------
def test_events_become_sdqn_apc_notifications(connect: Connect,
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
    assert tag_of(lambda: adapter.subscribe(notes.put))[0] == "operation-failed"  # one thread
    adapter.close()
    assert thread is not None and not thread.is_alive()


def test_a_failing_consumer_does_not_end_the_subscription(
        connect: Connect, emulator: PolarixApcEmulator) -> None:
    adapter = connect()
    emulator.device.emit("healthChanged", health="OK", settled=True, cause="before")
    seen: queue.Queue[str] = queue.Queue()

    def consumer(note: str) -> None:
        seen.put(note)
        if seen.qsize() == 1:
            raise RuntimeError("consumer bug")

    adapter.subscribe(consumer)
    for health in ("FAULT", "OK"):
        emulator.device.emit("healthChanged", health=health, settled=True, cause="test")
    reasons = [etree.fromstring(seen.get(timeout=3))[1] for _ in range(2)]
    ns = {"a": APC_NS}
    # only events after subscribe, in order, and the second after the consumer failed
    assert [r.findtext("a:oper-status", namespaces=ns) for r in reasons] == [
        "sdqn-types:down", "sdqn-types:up"]


def test_intended_config_from_the_renderer_stays_in_sync(connect: Connect) -> None:
    """What the controller renders for an APC goes through the vendor mapping and comes
    back with no difference, so sync checks do not see phantom out-of-band changes."""
    intended = device_config_xml({"sdqn-apc:apc": {
        "node-id": NODE, "link-id": "alice-r1", **APC_BASE, "tracking-tolerance": "0.012345"}})
    adapter = connect()
    adapter.replace_running(intended)
    assert ConfigDiffer().diff(adapter.get_config(), intended, ["sdqn-apc"]) == []


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
    # the vendor APC refuses the apply itself (503, calibrating) after both validated: the
    # commit phase fails and the NETCONF device's confirmed commit is cancelled
    emulator.device.calibration_s = 3.0
    emulator.device.calibrate(force=True)
    bad = commit.apply([DeviceChange(node_id=NODE, config_xml=apc_xml("900")),
                        DeviceChange(node_id="apc-nc", config_xml=apc_xml("900", node="apc-nc"))])
    assert not bad.success and bad.phase_failed == "commit"
    assert "E503" in (bad.devices[NODE].error or "")
    assert bad.devices["apc-nc"].status == "rolled-back"
    assert nc.running_interval() == 1800
    assert emulator.device.active["calibration"] == {"intervalMin": 30.0}
    assert emulator.device.lock_owner is None and emulator.device.apply_token is None
