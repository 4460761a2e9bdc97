"""The alarm manager against a real store (PRODUCT_MODULES, metro topology): RFC 8632 alarm
list, inventory and summary in <operational>, state-change semantics (no storms), the
notification policy of /alarms/control, and what NETCONF, its subscriptions and the
`sdqn alarms` command show."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import libyang
import pytest
from lxml import etree
from typer.testing import CliRunner

from controller.cli import app
from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.schema import Schema
from controller.grpc_api.server import GrpcServer
from controller.netconf.server import NetconfServer
from controller.service.alarms import (
    AL_NS,
    AlarmKey,
    AlarmManager,
    Severity,
    link_resource,
    node_resource,
    service_resource,
)
from tests.controller.grpc_api.conftest import access, grpc_server, hub  # noqa: F401
from tests.controller.netconf.conftest import (  # noqa: F401 (fixtures)
    Connect,
    connect,
    fast_ncclient,
    make_store,
    server,
)
from tests.controller.netconf.test_notifications import _next

ROOT = Path(__file__).resolve().parents[3]
NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"
FIBRE_CUT = "sdqn-alarms:fibre-cut"
CUT = AlarmKey(link_resource("metro", "alice-r1"), FIBRE_CUT)
MANDATORY = ("time-created", "is-cleared", "last-raised", "last-changed",
             "perceived-severity", "alarm-text")


@pytest.fixture
def store(schema: Schema) -> NmdaStore:
    return make_store(schema)


@pytest.fixture
def notes() -> list[etree._Element]:
    return []


@pytest.fixture
def manager(store: NmdaStore, notes: list[etree._Element]) -> AlarmManager:
    return AlarmManager(store, notify=notes.append)


def alarms_doc(store: NmdaStore) -> dict[str, Any]:
    text = store.get(Datastore.OPERATIONAL, xpath="/ietf-alarms:alarms")
    doc: dict[str, Any] = json.loads(text).get("ietf-alarms:alarms", {}) if text else {}
    return doc


def entries(store: NmdaStore) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = alarms_doc(store).get("alarm-list", {}).get("alarm", [])
    return listed


def entry(store: NmdaStore, key: AlarmKey = CUT) -> dict[str, Any]:
    (found,) = [e for e in entries(store) if (e["resource"], e["alarm-type-id"],
                                              e["alarm-type-qualifier"])
                == (key.resource, key.type_id, key.qualifier)]
    return found


def validate_operational(store: NmdaStore) -> None:
    """The alarms tree as a whole is valid instance data (mandatory leaves, min-elements,
    types), checked by libyang independently of the manager."""
    text = store.get(Datastore.OPERATIONAL, xpath="/ietf-alarms:alarms")
    tree = store.schema.ctx.parse_data_mem(text, "json", strict=True, validate_present=True)
    assert tree is not None
    try:
        tree.validate(validate_present=True)
    finally:
        tree.free()


def notification_fields(note: etree._Element) -> dict[str, str]:
    assert etree.QName(note).namespace == AL_NS
    assert etree.QName(note).localname == "alarm-notification"
    return {etree.QName(c).localname: c.text or "" for c in note}


# -- the alarm list ------------------------------------------------------------------------


def test_raise_lists_the_alarm_with_every_mandatory_leaf(
        store: NmdaStore, manager: AlarmManager, notes: list[etree._Element]) -> None:
    impacted = service_resource("qkd-alice-bob")
    assert manager.raise_alarm(CUT, Severity.CRITICAL, "no light on alice-r1",
                               impacted=[impacted])
    got = entry(store)
    assert all(got.get(leaf) not in (None, "") for leaf in MANDATORY)
    assert got["is-cleared"] is False and got["perceived-severity"] == "critical"
    assert got["alarm-text"] == "no light on alice-r1"
    assert got["time-created"] == got["last-raised"] == got["last-changed"]
    assert got["status-change"] == [{"time": got["last-changed"],
                                     "perceived-severity": "critical",
                                     "alarm-text": "no light on alice-r1"}]
    assert got["impacted-resource"] == [impacted]
    listing = alarms_doc(store)["alarm-list"]
    assert listing["number-of-alarms"] == 1 and listing["last-changed"] == got["last-changed"]
    validate_operational(store)
    alarm = manager.get(CUT)
    assert alarm is not None and alarm.impacted == (impacted,) and not alarm.cleared
    assert manager.active() == [alarm]
    assert [notification_fields(n)["perceived-severity"] for n in notes] == ["critical"]


def test_resource_helpers_address_the_topology_and_the_request(store: NmdaStore) -> None:
    """The instance-identifiers name real nodes of running (RFC 8632: the resource is an
    instance-identifier when it is modelled in YANG)."""
    link = json.loads(store.get(Datastore.RUNNING, xpath=link_resource("metro", "alice-r1")))
    node = json.loads(store.get(Datastore.RUNNING, xpath=node_resource("metro", "apc-1")))
    request = json.loads(store.get(Datastore.RUNNING,
                                   xpath=service_resource("qkd-alice-bob")))
    net = link["ietf-network:networks"]["network"][0]
    assert net["ietf-network-topology:link"][0]["link-id"] == "alice-r1"
    assert node["ietf-network:networks"]["network"][0]["node"][0]["node-id"] == "apc-1"
    assert request["sdqn-services:entanglement-services"]["request"][0]["name"] == (
        "qkd-alice-bob")
    assert node_resource("metro", "it's") == (
        "/ietf-network:networks/network[network-id='metro']/node[node-id=\"it's\"]")
    with pytest.raises(ValueError):
        service_resource("""both ' and " """)


def test_identical_reraise_writes_nothing_and_notifies_nobody(
        store: NmdaStore, manager: AlarmManager, notes: list[etree._Element]) -> None:
    assert manager.raise_alarm(CUT, Severity.CRITICAL, "cut")
    version = store.versions[Datastore.OPERATIONAL]
    before = entry(store)
    for _ in range(20):
        assert not manager.raise_alarm(CUT, "critical", "cut")
    assert store.versions[Datastore.OPERATIONAL] == version
    assert entry(store) == before and len(notes) == 1


def test_severity_or_text_change_is_a_state_change(
        store: NmdaStore, manager: AlarmManager, notes: list[etree._Element]) -> None:
    manager.raise_alarm(CUT, Severity.MAJOR, "low light")
    first = entry(store)
    assert manager.raise_alarm(CUT, Severity.CRITICAL, "low light")
    assert manager.raise_alarm(CUT, Severity.CRITICAL, "no light")
    got = entry(store)
    assert [(c["perceived-severity"], c["alarm-text"]) for c in got["status-change"]] == [
        ("critical", "no light"), ("critical", "low light"), ("major", "low light")]
    times = [c["time"] for c in got["status-change"]]
    assert times == sorted(times, reverse=True) and len(set(times)) == 3  # newest first
    assert got["last-changed"] == times[0]
    # still the same raise: created and raised once
    assert got["time-created"] == got["last-raised"] == first["last-raised"]
    assert [notification_fields(n)["alarm-text"] for n in notes] == [
        "low light", "low light", "no light"]


def test_clear_keeps_the_alarm_listed(store: NmdaStore, manager: AlarmManager,
                                      notes: list[etree._Element]) -> None:
    manager.raise_alarm(CUT, Severity.CRITICAL, "cut")
    assert manager.clear_alarm(CUT, "light is back")
    got = entry(store)
    assert got["is-cleared"] is True
    assert got["perceived-severity"] == "critical"  # the last severity, not 'cleared'
    assert got["alarm-text"] == "light is back"
    assert got["status-change"][0]["perceived-severity"] == "cleared"
    assert alarms_doc(store)["alarm-list"]["number-of-alarms"] == 1
    assert manager.active() == [] and len(manager.alarms()) == 1
    assert notification_fields(notes[-1])["perceived-severity"] == "cleared"
    assert not manager.clear_alarm(CUT)  # already cleared: nothing happens
    assert not manager.clear_alarm(AlarmKey(node_resource("metro", "r1"), FIBRE_CUT))
    assert len(notes) == 2
    validate_operational(store)


def test_reraise_after_clear(store: NmdaStore, manager: AlarmManager,
                             notes: list[etree._Element]) -> None:
    manager.raise_alarm(CUT, Severity.CRITICAL, "cut")
    created = entry(store)["time-created"]
    manager.clear_alarm(CUT)
    cleared_text = entry(store)["alarm-text"]
    assert cleared_text == "cut"  # clear without text keeps the last text
    assert manager.raise_alarm(CUT, Severity.CRITICAL, "cut")  # same text, but re-raised
    got = entry(store)
    assert got["is-cleared"] is False and got["time-created"] == created
    assert got["last-raised"] == got["last-changed"] > created
    assert [c["perceived-severity"] for c in got["status-change"]] == [
        "critical", "cleared", "critical"]
    assert [notification_fields(n)["perceived-severity"] for n in notes] == [
        "critical", "cleared", "critical"]


def test_root_causes_and_impacted_resources_are_replaced_silently(
        store: NmdaStore, manager: AlarmManager, notes: list[etree._Element]) -> None:
    down = AlarmKey(service_resource("qkd-alice-bob"), "sdqn-alarms:service-down")
    r1 = node_resource("metro", "r1")
    assert manager.raise_alarm(down, Severity.MAJOR, "no pairs", root_causes=[CUT.resource])
    assert not manager.raise_alarm(down, Severity.MAJOR, "no pairs",
                                   root_causes=[r1, CUT.resource, r1])
    got = entry(store, down)
    assert got["root-cause-resource"] == [r1, CUT.resource]
    assert len(got["status-change"]) == 1 and len(notes) == 1
    assert manager.raise_alarm(down, Severity.CRITICAL, "no pairs")
    assert "root-cause-resource" not in entry(store, down)  # dropped, not merged


def test_history_is_bounded_newest_first(store: NmdaStore) -> None:
    manager = AlarmManager(store, history=3)
    for i in range(5):
        manager.raise_alarm(CUT, Severity.MAJOR, f"text {i}")
    assert [c["alarm-text"] for c in entry(store)["status-change"]] == [
        "text 4", "text 3", "text 2"]
    # the operator's max-alarm-status-changes wins over the manager's default
    store.edit_json(Datastore.RUNNING, {"ietf-alarms:alarms": {"control": {
        "max-alarm-status-changes": 2}}})
    manager.raise_alarm(CUT, Severity.MAJOR, "text 5")
    assert [c["alarm-text"] for c in entry(store)["status-change"]] == ["text 5", "text 4"]
    assert manager.compress() == 1
    assert [c["alarm-text"] for c in entry(store)["status-change"]] == ["text 5"]
    assert manager.compress() == 0
    validate_operational(store)


def test_counts_and_summary(store: NmdaStore, manager: AlarmManager) -> None:
    r1 = node_resource("metro", "r1")
    oob = "sdqn-alarms:out-of-band-change"
    manager.raise_alarm(CUT, Severity.CRITICAL, "cut")
    manager.raise_alarm(AlarmKey(r1, oob, "revert"), Severity.WARNING, "reverted")
    manager.raise_alarm(AlarmKey(r1, oob, "import"), Severity.WARNING, "imported")
    manager.clear_alarm(AlarmKey(r1, oob, "revert"))
    doc = alarms_doc(store)
    assert doc["alarm-list"]["number-of-alarms"] == 3
    assert {e["alarm-type-qualifier"] for e in entries(store)} == {"", "revert", "import"}
    summary = {row["severity"]: row for row in doc["summary"]["alarm-summary"]}
    assert set(summary) == {s.value for s in Severity}
    assert (summary["warning"]["total"], summary["warning"]["cleared"],
            summary["warning"]["not-cleared"]) == (2, 1, 1)
    assert (summary["critical"]["total"], summary["critical"]["not-cleared"]) == (1, 1)
    assert summary["major"]["total"] == 0
    validate_operational(store)


def test_purge_removes_old_cleared_alarms(store: NmdaStore) -> None:
    now = [1_800_000_000.0]
    manager = AlarmManager(store, clock=lambda: now[0])
    old = AlarmKey(node_resource("metro", "r1"), "sdqn-alarms:device-unreachable")
    manager.raise_alarm(old, Severity.MAJOR, "session lost")
    manager.clear_alarm(old)
    now[0] += 3600
    manager.raise_alarm(CUT, Severity.CRITICAL, "cut")
    manager.clear_alarm(CUT)
    now[0] += 60
    assert manager.purge("cleared", older_than_s=600) == 1
    assert [e["resource"] for e in entries(store)] == [CUT.resource]
    assert alarms_doc(store)["alarm-list"]["number-of-alarms"] == 1
    assert manager.get(old) is None
    assert manager.purge("not-cleared") == 0
    assert manager.purge("any") == 1
    assert entries(store) == [] and alarms_doc(store)["alarm-list"]["number-of-alarms"] == 0
    # a purged alarm that changes state again reappears (RFC 8632 alarm-list)
    assert manager.raise_alarm(old, Severity.MAJOR, "session lost")
    assert entry(store, old)["time-created"] == entry(store, old)["last-changed"]


# -- inventory and types -------------------------------------------------------------------


def test_inventory_lists_every_concrete_type_of_the_module(store: NmdaStore,
                                                           manager: AlarmManager) -> None:
    source = (ROOT / "yang" / "sdqn-alarms.yang").read_text()
    declared = set(re.findall(r"^  identity ([\w-]+) \{", source, flags=re.M))
    assert "sdqn-alarm" in declared and len(declared) == 23
    inventory = alarms_doc(store)["alarm-inventory"]["alarm-type"]
    listed = {(t["alarm-type-id"], t["alarm-type-qualifier"]) for t in inventory}
    concrete = {f"sdqn-alarms:{name}" for name in declared - {"sdqn-alarm"}}
    oob = "sdqn-alarms:out-of-band-change"
    assert listed == ({(t, "") for t in concrete - {oob}}
                      | {(oob, "revert"), (oob, "import")})
    by_id = {t["alarm-type-id"]: t for t in inventory}
    assert by_id[FIBRE_CUT]["severity-level"] == ["critical"]
    assert by_id[FIBRE_CUT]["will-clear"] is True
    assert by_id[FIBRE_CUT]["description"].startswith("Root cause. A quantum link carries")
    assert by_id["sdqn-alarms:service-rerouted"]["severity-level"] == ["warning"]
    assert by_id["sdqn-alarms:service-down"]["description"].startswith("Derived.")
    assert {t.type_id for t in manager.inventory} == concrete
    validate_operational(store)


@pytest.mark.parametrize("key", [
    AlarmKey(CUT.resource, "sdqn-alarms:no-such-alarm"),
    AlarmKey(CUT.resource, "sdqn-alarms:sdqn-alarm"),      # abstract
    AlarmKey(CUT.resource, "ietf-alarms:alarm-type-id"),   # abstract base
    AlarmKey(CUT.resource, "sdqn-types:qkd"),              # not an alarm type
    AlarmKey(CUT.resource, "fibre-cut"),                   # no module
    AlarmKey(CUT.resource, ""),
    AlarmKey("", FIBRE_CUT),
    AlarmKey("   ", FIBRE_CUT),
    AlarmKey("""a ' and a " """, FIBRE_CUT),                # not addressable
    AlarmKey("alice\x00", FIBRE_CUT),
    AlarmKey(CUT.resource, FIBRE_CUT, "q\x07"),
    AlarmKey(42, FIBRE_CUT),  # type: ignore[arg-type]
], ids=lambda k: repr(k.type_id or k.resource)[:30])
def test_bad_keys_are_refused_before_anything_is_written(
        store: NmdaStore, manager: AlarmManager, notes: list[etree._Element],
        key: AlarmKey) -> None:
    version = store.versions[Datastore.OPERATIONAL]
    with pytest.raises(ValueError):
        manager.raise_alarm(key, Severity.MAJOR, "x")
    with pytest.raises(ValueError):
        manager.clear_alarm(key)
    assert manager.get(key) is None
    assert store.versions[Datastore.OPERATIONAL] == version
    assert entries(store) == [] and notes == [] and manager.alarms() == []


def test_bad_severity_and_resources_are_refused(store: NmdaStore,
                                                manager: AlarmManager) -> None:
    with pytest.raises(ValueError):
        manager.raise_alarm(CUT, "severe", "x")
    with pytest.raises(ValueError):
        manager.raise_alarm(CUT, Severity.MAJOR, "x", root_causes=[""])
    with pytest.raises(ValueError):
        manager.raise_alarm(CUT, Severity.MAJOR, "x", impacted=["bad\x01"])
    assert entries(store) == []


def test_any_alarm_type_of_the_schema_and_plain_string_resources(
        store: NmdaStore, manager: AlarmManager) -> None:
    """Resources that are not YANG paths are strings (RFC 8632 `resource` union); text
    with characters XML cannot carry is kept readable instead of failing."""
    key = AlarmKey("device alice, port 3", "sdqn-alarms:link-down")
    assert manager.raise_alarm(key, Severity.MAJOR, "bell\x07 rang")
    assert entry(store, key)["alarm-text"] == "bell\ufffd rang"
    validate_operational(store)


# -- notifications -------------------------------------------------------------------------


def test_notifications_are_valid_rfc8632_alarm_notifications(
        store: NmdaStore, manager: AlarmManager, notes: list[etree._Element]) -> None:
    manager.raise_alarm(CUT, Severity.CRITICAL, "cut", impacted=[service_resource("x")],
                        root_causes=[node_resource("metro", "r1")])
    manager.clear_alarm(CUT, "repaired")
    for note in notes:
        wrapped = (f'<notification xmlns="{NOTIF}"><eventTime>2026-11-23T00:00:00Z'
                   f"</eventTime>{etree.tostring(note).decode()}</notification>")
        node = store.schema.ctx.parse_op_mem("xml", wrapped, libyang.DataType.NOTIF_NETCONF)
        try:
            node.validate(notification=True)
        finally:
            node.free()
    fields = notification_fields(notes[0])
    assert fields["time"] == entry(store)["status-change"][1]["time"]
    assert fields["alarm-type-id"].endswith(":fibre-cut")
    resource = notes[0].find(f"{{{AL_NS}}}resource")
    assert resource is not None and "link-id='alice-r1'" in (resource.text or "")


@pytest.mark.parametrize(("control", "sent"), [
    # RFC 8632 notify-status-changes example: level major, sent at T1 T2 T5 T6 T7 T8
    ({"notify-status-changes": "severity-level", "notify-severity-level": "major"},
     [1, 2, 5, 6, 7, 8]),
    ({"notify-status-changes": "raise-and-clear"}, [1, 8]),
    ({}, [1, 2, 3, 4, 5, 6, 7, 8]),
])
def test_notification_policy_of_the_alarm_control(
        store: NmdaStore, manager: AlarmManager, notes: list[etree._Element],
        control: dict[str, str], sent: list[int]) -> None:
    if control:
        store.edit_json(Datastore.RUNNING, {"ietf-alarms:alarms": {"control": control}})
    steps = ["major", "minor", "warning", "minor", "major", "critical", "major"]
    for i, severity in enumerate(steps, start=1):
        manager.raise_alarm(CUT, severity, f"T{i}")
    manager.clear_alarm(CUT, "T8")
    assert [notification_fields(n)["alarm-text"] for n in notes] == [f"T{i}" for i in sent]
    assert len(entry(store)["status-change"]) == 8  # the list records every change


def test_a_failing_consumer_does_not_fail_the_change(store: NmdaStore) -> None:
    calls: list[etree._Element] = []

    def broken(note: etree._Element) -> None:
        calls.append(note)
        raise RuntimeError("consumer down")

    manager = AlarmManager(store, notify=broken)
    assert manager.raise_alarm(CUT, Severity.CRITICAL, "cut")
    assert manager.clear_alarm(CUT)
    assert len(calls) == 2 and entry(store)["is-cleared"] is True


# -- lifecycle and concurrency -------------------------------------------------------------


def test_a_new_manager_adopts_the_alarms_in_operational(
        store: NmdaStore, manager: AlarmManager) -> None:
    manager.raise_alarm(CUT, Severity.CRITICAL, "cut")
    notes: list[etree._Element] = []
    again = AlarmManager(store, notify=notes.append)
    assert again.get(CUT) == manager.get(CUT)
    version = store.versions[Datastore.OPERATIONAL]
    assert not again.raise_alarm(CUT, Severity.CRITICAL, "cut")
    assert store.versions[Datastore.OPERATIONAL] == version and notes == []
    assert again.clear_alarm(CUT)
    assert alarms_doc(store)["alarm-list"]["number-of-alarms"] == 1


def test_concurrent_raises_and_clears_stay_consistent(
        store: NmdaStore, manager: AlarmManager, notes: list[etree._Element]) -> None:
    links = ["alice-r1", "r1-r2", "r2-bob", "r1-qr1"]
    errors: list[BaseException] = []

    def worker(link: str) -> None:
        key = AlarmKey(link_resource("metro", link), "sdqn-alarms:fidelity-threshold")
        try:
            for i in range(15):
                manager.raise_alarm(key, Severity.MINOR if i % 2 else Severity.MAJOR, "low F")
                manager.raise_alarm(CUT, Severity.CRITICAL, "cut")  # shared, identical
                if i % 5 == 4:
                    manager.clear_alarm(key)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(link,)) for link in links]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert alarms_doc(store)["alarm-list"]["number-of-alarms"] == len(links) + 1
    assert len(notes) == 1 + len(links) * (15 + 3)  # raise/change each time, 3 clears
    for link in links:
        got = entry(store, AlarmKey(link_resource("metro", link),
                                    "sdqn-alarms:fidelity-threshold"))
        assert got["is-cleared"] is True and len(got["status-change"]) == 16
    validate_operational(store)


# -- northbound: NETCONF and the sdqn CLI --------------------------------------------------


def test_netconf_get_and_subscription_see_the_alarm(
        store: NmdaStore, server: NetconfServer, connect: Connect) -> None:  # noqa: F811
    listener = connect()
    listener.create_subscription(filter=("subtree", f'<alarm-notification xmlns="{AL_NS}"/>'))
    manager = AlarmManager(store, notify=server.publish)
    manager.raise_alarm(CUT, Severity.CRITICAL, "no light on alice-r1")
    note = _next(listener, "alarm-notification")
    assert note.findtext(f"{{{AL_NS}}}perceived-severity") == "critical"
    assert "link-id='alice-r1'" in (note.findtext(f"{{{AL_NS}}}resource") or "")
    reply = connect().get(filter=("subtree", f'<alarms xmlns="{AL_NS}"><alarm-list/></alarms>'))
    root = etree.fromstring(reply.data_xml.encode())
    alarm = root.find(f".//{{{AL_NS}}}alarm")
    assert alarm is not None
    assert alarm.findtext(f"{{{AL_NS}}}alarm-text") == "no light on alice-r1"
    assert alarm.findtext(f"{{{AL_NS}}}is-cleared") == "false"
    assert root.findtext(f".//{{{AL_NS}}}number-of-alarms") == "1"


@pytest.fixture
def netconf(server: NetconfServer) -> Iterator[NetconfServer]:  # noqa: F811
    """The gRPC fixtures' NETCONF server is this module's `server`."""
    yield server


@pytest.fixture
def sdqn(grpc_server: GrpcServer) -> Callable[..., str]:  # noqa: F811
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, [*args, "--target", grpc_server.target],
                               env={"SDQN_TOKEN": "admin-token", "COLUMNS": "250"})
        assert result.exit_code == 0, result.output
        return result.output

    return run


def test_sdqn_alarms_command_lists_the_alarm(manager: AlarmManager,
                                             sdqn: Callable[..., str]) -> None:
    manager.raise_alarm(CUT, Severity.CRITICAL, "cut")
    other = AlarmKey(node_resource("metro", "apc-1"), "sdqn-alarms:apc-out-of-spec")
    manager.raise_alarm(other, Severity.MINOR, "tracking error 4 mrad")
    manager.clear_alarm(other)
    shown = json.loads(sdqn("alarms", "--json"))["alarms"]
    assert len(shown) == 1 and shown[0]["resource"] == CUT.resource
    assert shown[0]["alarm_type_id"] == FIBRE_CUT
    assert shown[0]["perceived_severity"] == "critical"
    table = sdqn("alarms")
    assert "alice-r1" in table and "critical" in table
