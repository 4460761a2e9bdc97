"""sdqn-apc YANG ⇄ Polarix vendor JSON, without a device: names, units, refusals, state and
notifications, checked against hand values and against libyang."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import libyang
import pytest
from lxml import etree

from adapters.vendor_apc.mapping import (
    APC_NS,
    event_to_notification,
    merge_vendor,
    minutes_to_seconds,
    mrad_to_rad,
    state_to_yang,
    vendor_to_yang,
    yang_to_vendor,
)
from controller.datastore.schema import Schema
from controller.datastore.tree import Forest
from tests.adapters.conftest import NODE, apc_xml, tag_of

#: Every config leaf of sdqn-apc, in schema order and canonical lexical form.
FULL = (f'<apc xmlns="{APC_NS}"><node-id>{NODE}</node-id><link-id>alice-r1</link-id>'
        "<calibration-interval>5406</calibration-interval>"
        "<prefer-idle-windows>false</prefer-idle-windows><max-deferral>594</max-deferral>"
        "<target-bases>diagonal</target-bases><target-bases>circular</target-bases>"
        "<tracking-enabled>false</tracking-enabled>"
        "<tracking-tolerance>0.012345</tracking-tolerance></apc>")


def test_every_config_leaf_converts_by_hand_values() -> None:
    # 5406 s = 90.1 min, 594 s = 9.9 min, 0.012345 rad = 12.345 mrad
    assert yang_to_vendor(FULL) == {
        "deviceName": NODE, "fibreId": "alice-r1",
        "calibration": {"intervalMin": 90.1, "idleWindowOnly": False, "maxDeferralMin": 9.9},
        "tracking": {"enabled": False, "toleranceMrad": 12.345},
        "referenceBases": ["DA", "RL"]}
    assert minutes_to_seconds(1.5) == Decimal(90)
    assert minutes_to_seconds(90.1) == Decimal("5406")
    assert mrad_to_rad(3.5) == Decimal("0.0035")
    assert mrad_to_rad(12.345) == Decimal("0.012345")


def test_round_trip_returns_the_input(apc_schema: Schema) -> None:
    back = vendor_to_yang(yang_to_vendor(FULL))
    assert back == FULL
    parsed = Forest.parse(apc_schema, back, "xml")  # valid sdqn-apc config
    try:
        assert parsed.print("xml") == Forest.parse(apc_schema, FULL, "xml").print("xml")
    finally:
        parsed.free()
    assert yang_to_vendor("") == {} and vendor_to_yang({}) == ""


def test_non_canonical_decimals_round_trip_to_the_same_values(apc_schema: Schema) -> None:
    """The controller prints decimal64 as libyang does ("3600.0"); the device's answer may
    be written differently but must mean the same."""
    xml = apc_xml("3600.0", deferral="600.000", tolerance="0.100")
    back = vendor_to_yang(yang_to_vendor(xml))
    assert "<calibration-interval>3600</calibration-interval>" in back
    assert (Forest.parse(apc_schema, back, "xml").to_dict()
            == Forest.parse(apc_schema, xml, "xml").to_dict())


@pytest.mark.parametrize(("xml", "words"), [
    (apc_xml("7"), ["calibration-interval", "= 7 s", "0.1 min = 6 s"]),
    (apc_xml("3600", deferral="61"), ["max-deferral", "61"]),
    (apc_xml("3600", deferral="-60"), ["max-deferral", "outside the range"]),
    (apc_xml("3600", tolerance="0.0000005"), ["tracking-tolerance", "steps of 0.001 mrad"]),
    (apc_xml("3600", tolerance="3.2"), ["tracking-tolerance", "0..3.141593"]),
    (apc_xml("3600", tolerance="wide"), ["tracking-tolerance", "not a decimal"]),
    (apc_xml("3600", bases=("rectilinear", "rectilinear")), ["target-bases", "more than once"]),
    (apc_xml("3600", bases=("elliptic", "diagonal")), ["unknown basis 'elliptic'"]),
    (apc_xml("3600").replace("</apc>", "<calibration-interval>60</calibration-interval></apc>"),
     ["calibration-interval appears more than once"]),
    (apc_xml("3600").replace("</apc>", "<tracking-enabled>yes</tracking-enabled></apc>"),
     ["tracking-enabled", "not a boolean"]),
    (apc_xml("3600").replace("</apc>", "<colour>blue</colour></apc>"),
     ["colour", "no such configurable leaf"]),
    ('<x xmlns="urn:other"/>', ["only module sdqn-apc"]),
    (f'<apc xmlns="{APC_NS}"><state><tracking-error>0.1</tracking-error></state></apc>',
     ["config false"]),
    (apc_xml("3600").replace(
        "<link-id>", '<link-id xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" '
                     'nc:operation="delete">'), ["edit operation 'delete'", "link-id"]),
    ("<apc", ["not well-formed"]),
])
def test_unmappable_yang_is_invalid_value(xml: str, words: list[str]) -> None:
    tag, message = tag_of(lambda: yang_to_vendor(xml))
    assert tag == "invalid-value"
    for word in words:
        assert word in message


def test_merge_overwrites_leaves_and_unites_leaf_lists() -> None:
    base = yang_to_vendor(apc_xml("3600", tolerance="0.2"))
    overlay = yang_to_vendor(f'<apc xmlns="{APC_NS}"><max-deferral>300</max-deferral>'
                             "<target-bases>circular</target-bases>"
                             "<target-bases>diagonal</target-bases></apc>")
    assert merge_vendor(base, overlay) == {
        "deviceName": NODE, "fibreId": f"l-{NODE}",
        "calibration": {"intervalMin": 60.0, "maxDeferralMin": 5.0},
        "tracking": {"toleranceMrad": 200.0}, "referenceBases": ["HV", "DA", "RL"]}


def _state(**changes: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "driftRateMradPerS": 0.25, "trackingErrorMrad": 300.0, "lastCalibration": 0.0,
        "nextCalibration": 5406.0, "calibrating": False, "health": "DEGRADED",
        "settled": False, "healthSince": 86400.0}
    state.update(changes)
    return state


def test_state_maps_units_and_derives_misalignment(state_schema: Schema) -> None:
    cfg = yang_to_vendor(apc_xml("5406", tolerance="0.05"))
    forest = Forest.parse(state_schema, state_to_yang(cfg, _state()), "xml", config_only=False,
                          validate=False)
    apc = forest.to_dict()["sdqn-apc:apc"]
    st = apc["state"]
    assert Decimal(st["polarisation-drift-rate"]) == Decimal("0.00025")  # mrad/s → rad/s
    assert Decimal(st["tracking-error"]) == Decimal("0.3")
    assert Decimal(st["misalignment-error"]) == Decimal("0.022332")  # sin²(0.15) by hand
    assert abs(float(st["misalignment-error"]) - math.sin(0.15) ** 2) < 1e-6
    assert st["last-calibration"] == "1970-01-01T00:00:00+00:00"  # libyang's canonical form
    assert st["next-calibration"] == "1970-01-01T01:30:06+00:00"
    assert st["spec-status"] == "out-of-spec"  # 300 mrad > 50 mrad
    assert apc["status"] == {"oper-status": "sdqn-types:degraded", "stable": False,
                             "last-change": "1970-01-02T00:00:00+00:00"}
    assert Decimal(apc["calibration-interval"]) == 5406  # config leaves come along
    in_spec = state_to_yang(cfg, _state(trackingErrorMrad=50.0, health="OK"))
    assert "<spec-status>in-spec</spec-status>" in in_spec
    clipped = state_to_yang(cfg, _state(trackingErrorMrad=4000.0, lastCalibration=None,
                                        nextCalibration=None))
    assert "<tracking-error>3.141593</tracking-error>" in clipped  # YANG angle stops at π
    assert "last-calibration" not in clipped and "<misalignment-error>1</" in clipped


@pytest.mark.parametrize(("event", "name", "leaves"), [
    ({"type": "calibrationDone", "ok": False, "residualMrad": 12.5},
     "calibration-complete", {"success": "false", "tracking-error": "0.0125"}),
    ({"type": "healthChanged", "health": "CALIBRATING", "settled": False, "cause": "cal"},
     "status-change", {"oper-status": "sdqn-types:testing", "stable": "false",
                       "reason": "cal"}),
    ({"type": "toleranceAlarm", "active": True, "errorMrad": 4000.0, "cause": "surge"},
     "out-of-spec", {"severity": "major", "text": "surge", "tracking-error": "3.141593"}),
    ({"type": "toleranceAlarm", "active": False, "errorMrad": 5.0},
     "out-of-spec", {"severity": "cleared", "text": "tracking error vs tolerance",
                     "tracking-error": "0.005"}),
])
def test_events_map_to_valid_sdqn_apc_notifications(state_schema: Schema, event: dict[str, Any],
                                                    name: str, leaves: dict[str, str]) -> None:
    xml = event_to_notification({**event, "time": 0.0})
    assert xml is not None
    # RFC 5277 envelope + body, validated by libyang against sdqn-apc
    node = state_schema.ctx.parse_op_mem("xml", xml, libyang.DataType.NOTIF_NETCONF)
    try:
        node.validate(notification=True)
    finally:
        node.free()
    root = etree.fromstring(xml)
    assert root.findtext("{urn:ietf:params:xml:ns:netconf:notification:1.0}eventTime") == (
        "1970-01-01T00:00:00Z")
    body = root[1]
    assert etree.QName(body).namespace == APC_NS and etree.QName(body).localname == name
    assert {etree.QName(c).localname: c.text for c in body} == leaves


def test_vendor_events_without_an_sdqn_apc_notification_are_dropped() -> None:
    assert event_to_notification({"type": "configApplied", "token": "t", "time": 0.0}) is None
