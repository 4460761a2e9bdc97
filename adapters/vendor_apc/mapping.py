"""sdqn-apc YANG ⇄ Polarix APC REST API v1 vendor JSON.

The vendor model differs from YANG in names (camelCase, nested), units (minutes instead of
seconds, milliradians instead of radians) and resolution (0.1 min for durations), so some
YANG values have no vendor representation: those are refused with tag invalid-value and a
message naming the leaf, rather than silently rounded (a rounded interval would make the
device's running config differ from what the controller committed).

Absent YANG leaves map to absent vendor fields (the device applies its own defaults, which
equal the YANG defaults), so get_config returns exactly what was staged.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from southbound.adapter import AdapterError

APC_NS = "urn:sdqn:sdqn-apc"
_Q = f"{{{APC_NS}}}"
SECONDS_PER_MINUTE = Decimal(60)
MINUTE_STEP = Decimal("0.1")  # vendor resolution of every duration (6 s)
MRAD_STEP = Decimal("0.001")  # vendor resolution of angles (1 µrad = YANG's 6 digits)
MAX_ANGLE_RAD = Decimal("3.141593")  # sdqn-apc typedef angle: range 0..3.141593
BASES = {"rectilinear": "HV", "diagonal": "DA", "circular": "RL"}
BASES_BACK = {v: k for k, v in BASES.items()}
VendorConfig = dict[str, Any]
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def invalid(message: str) -> AdapterError:
    return AdapterError(message, tag="invalid-value")


# -- units ---------------------------------------------------------------------------------
def _to_vendor_unit(leaf: str, value: Decimal, *, per_unit: Decimal, step: Decimal, unit: str,
                    yang_unit: str, upper: Decimal | None = None) -> float:
    """`value` in the vendor unit (`per_unit` YANG units make one), refused when it falls
    between two vendor steps or outside the YANG range: the device could only round or clip
    it, and its running config would then differ from what was committed."""
    path = f"/sdqn-apc:apc/{leaf}"
    if value < 0 or (upper is not None and value > upper):
        limit = "" if upper is None else f"..{upper}"
        raise invalid(f"{path} = {value} {yang_unit} is outside the range 0{limit}")
    scaled = value / per_unit  # exact in Decimal whenever representable
    if scaled != scaled.quantize(step):
        raise invalid(f"{path} = {value} {yang_unit} is not representable on a Polarix APC "
                      f"(it is set in steps of {step} {unit})")
    return float(scaled)


def seconds_to_minutes(leaf: str, seconds: Decimal) -> float:
    return _to_vendor_unit(leaf, seconds, per_unit=SECONDS_PER_MINUTE, step=MINUTE_STEP,
                           unit="min = 6 s", yang_unit="s")


def rad_to_mrad(leaf: str, rad: Decimal) -> float:
    return _to_vendor_unit(leaf, rad, per_unit=Decimal("0.001"), step=MRAD_STEP, unit="mrad",
                           yang_unit="rad", upper=MAX_ANGLE_RAD)


def minutes_to_seconds(minutes: float) -> Decimal:
    return Decimal(repr(minutes)).quantize(MINUTE_STEP) * SECONDS_PER_MINUTE


def mrad_to_rad(mrad: float) -> Decimal:
    return (Decimal(repr(mrad)) / 1000).quantize(Decimal("0.000001"))


def error_angle(mrad: float) -> Decimal:
    """A measured misalignment as an sdqn-apc angle (whose range stops at π)."""
    return min(mrad_to_rad(mrad), MAX_ANGLE_RAD)


def decimal_text(value: Decimal) -> str:
    """YANG decimal64 lexical form (no exponent, no trailing zeros beyond one digit)."""
    return format(value.normalize(), "f")


def _decimal(leaf: str, text: str | None) -> Decimal:
    try:
        value = Decimal((text or "").strip())
    except InvalidOperation:
        raise invalid(f"/sdqn-apc:apc/{leaf}: {text!r} is not a decimal number") from None
    if not value.is_finite():
        raise invalid(f"/sdqn-apc:apc/{leaf}: {text!r} is not a finite number")
    return value


def _boolean(leaf: str, text: str | None) -> bool:
    value = (text or "").strip()
    if value not in ("true", "false"):
        raise invalid(f"/sdqn-apc:apc/{leaf}: {text!r} is not a boolean")
    return value == "true"


# -- YANG → vendor ---------------------------------------------------------------------------
def yang_to_vendor(config_xml: str) -> VendorConfig:
    """Vendor config for the sdqn-apc config elements in `config_xml` ({} = no APC)."""
    if not config_xml.strip():
        return {}
    try:
        root = etree.fromstring(f"<root>{config_xml}</root>", _PARSER)
    except etree.XMLSyntaxError as exc:
        raise invalid(f"config is not well-formed XML: {exc}") from None
    tops = [e for e in root if isinstance(e.tag, str)]
    for top in tops:
        if top.tag != f"{_Q}apc":
            raise invalid(f"{top.tag}: a Polarix APC implements only module sdqn-apc "
                          f"(top-level container {{{APC_NS}}}apc)")
    if len(tops) > 1:
        raise invalid("/sdqn-apc:apc appears more than once")
    return _apc_to_vendor(tops[0]) if tops else {}


def _apc_to_vendor(apc: Any) -> VendorConfig:
    _no_edit_operations(apc)
    out: VendorConfig = {}
    calibration: dict[str, Any] = {}
    tracking: dict[str, Any] = {}
    bases: list[str] = []
    seen: set[str] = set()
    for el in apc:
        if not isinstance(el.tag, str):
            continue
        name = etree.QName(el).localname
        if etree.QName(el).namespace != APC_NS:
            raise invalid(f"/sdqn-apc:apc/{el.tag}: element from a foreign namespace")
        if name in seen and name != "target-bases":
            raise invalid(f"/sdqn-apc:apc/{name} appears more than once")
        seen.add(name)
        text = el.text
        if name == "node-id":
            out["deviceName"] = text or ""
        elif name == "link-id":
            out["fibreId"] = text or ""
        elif name == "calibration-interval":
            calibration["intervalMin"] = seconds_to_minutes(name, _decimal(name, text))
        elif name == "max-deferral":
            calibration["maxDeferralMin"] = seconds_to_minutes(name, _decimal(name, text))
        elif name == "prefer-idle-windows":
            calibration["idleWindowOnly"] = _boolean(name, text)
        elif name == "tracking-enabled":
            tracking["enabled"] = _boolean(name, text)
        elif name == "tracking-tolerance":
            tracking["toleranceMrad"] = rad_to_mrad(name, _decimal(name, text))
        elif name == "target-bases":
            bases.append(_basis(text, bases))
        elif name in ("state", "status"):
            raise invalid(f"/sdqn-apc:apc/{name} is config false and cannot be configured")
        else:
            raise invalid(f"/sdqn-apc:apc/{name}: no such configurable leaf in sdqn-apc")
    if calibration:
        out["calibration"] = calibration
    if tracking:
        out["tracking"] = tracking
    if bases:
        out["referenceBases"] = bases
    return out


def _basis(text: str | None, so_far: list[str]) -> str:
    basis = (text or "").strip()
    if basis not in BASES:
        raise invalid(f"/sdqn-apc:apc/target-bases: unknown basis {basis!r} "
                      f"(one of {', '.join(BASES)})")
    if BASES[basis] in so_far:  # RFC 7950 §7.7: config leaf-list values are unique
        raise invalid(f"/sdqn-apc:apc/target-bases: {basis!r} appears more than once")
    return BASES[basis]


def _no_edit_operations(apc: Any) -> None:
    """The vendor API takes whole configs only: an RFC 6241 §7.2 operation attribute
    (delete, remove, create, replace) has no vendor equivalent, so it is refused rather
    than ignored (ignoring a delete would keep what the controller meant to remove)."""
    for el in apc.iter():
        for attr in el.attrib:
            if etree.QName(attr).localname == "operation":
                where = etree.QName(el).localname
                raise invalid(f"/sdqn-apc:apc: edit operation {el.attrib[attr]!r} on "
                              f"{where!r} is not supported by a Polarix APC (stage whole "
                              "configs)")


def merge_vendor(base: VendorConfig, overlay: VendorConfig) -> VendorConfig:
    """NETCONF 'merge' (RFC 6241 §7.2) on vendor configs: leaves overwrite, leaf-lists unite."""
    merged: VendorConfig = {**base}
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        elif isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = merged[key] + [v for v in value if v not in merged[key]]
        else:
            merged[key] = value
    return merged


# -- vendor → YANG ---------------------------------------------------------------------------
def _leaf(name: str, value: str) -> str:
    return f"<{name}>{_escape(value)}</{name}>"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _bool(value: Any) -> str:
    return "true" if value else "false"


def vendor_to_yang(cfg: VendorConfig) -> str:
    """sdqn-apc config XML of a vendor config ('' if the device has no APC config)."""
    if not cfg:
        return ""
    return f'<apc xmlns="{APC_NS}">{_config_leaves(cfg)}</apc>'


def _config_leaves(cfg: VendorConfig) -> str:
    parts: list[str] = []
    if "deviceName" in cfg:
        parts.append(_leaf("node-id", str(cfg["deviceName"])))
    if "fibreId" in cfg:
        parts.append(_leaf("link-id", str(cfg["fibreId"])))
    cal = cfg.get("calibration", {})
    if "intervalMin" in cal:
        parts.append(_leaf("calibration-interval",
                           decimal_text(minutes_to_seconds(cal["intervalMin"]))))
    if "idleWindowOnly" in cal:
        parts.append(_leaf("prefer-idle-windows", _bool(cal["idleWindowOnly"])))
    if "maxDeferralMin" in cal:
        parts.append(_leaf("max-deferral", decimal_text(minutes_to_seconds(cal["maxDeferralMin"]))))
    for basis in cfg.get("referenceBases", []):
        parts.append(_leaf("target-bases", BASES_BACK[basis]))
    trk = cfg.get("tracking", {})
    if "enabled" in trk:
        parts.append(_leaf("tracking-enabled", _bool(trk["enabled"])))
    if "toleranceMrad" in trk:
        parts.append(_leaf("tracking-tolerance", decimal_text(mrad_to_rad(trk["toleranceMrad"]))))
    return "".join(parts)


HEALTH_TO_OPER = {"OK": "up", "DEGRADED": "degraded", "FAULT": "down",
                  "CALIBRATING": "testing"}
DEFAULT_TOLERANCE_MRAD = 100.0


def iso_time(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


def state_to_yang(cfg: VendorConfig, state: dict[str, Any]) -> str:
    """sdqn-apc operational XML (config true and false) of a vendor config + state."""
    if not cfg:
        return ""
    err_mrad = float(state["trackingErrorMrad"])
    theta = error_angle(err_mrad)
    tolerance = cfg.get("tracking", {}).get("toleranceMrad", DEFAULT_TOLERANCE_MRAD)
    st = [
        _leaf("polarisation-drift-rate",
              decimal_text((Decimal(repr(float(state["driftRateMradPerS"]))) / 1000)
                           .quantize(Decimal("0.000001")))),
        _leaf("tracking-error", decimal_text(theta)),
        # Malus's law on the Poincaré sphere: p = sin²(θ/2)
        _leaf("misalignment-error",
              decimal_text(Decimal(repr(math.sin(float(theta) / 2) ** 2))
                           .quantize(Decimal("0.000001")))),
    ]
    if state.get("lastCalibration") is not None:
        st.append(_leaf("last-calibration", iso_time(state["lastCalibration"])))
    if state.get("nextCalibration") is not None:
        st.append(_leaf("next-calibration", iso_time(state["nextCalibration"])))
    st.append(_leaf("calibration-in-progress", _bool(state["calibrating"])))
    st.append(_leaf("spec-status", "in-spec" if err_mrad <= tolerance else "out-of-spec"))
    oper = HEALTH_TO_OPER.get(str(state["health"]), "unknown")
    status = (f'<oper-status xmlns:sdqn-types="urn:sdqn:sdqn-types">sdqn-types:{oper}'
              f"</oper-status>{_leaf('stable', _bool(state['settled']))}"
              f"{_leaf('last-change', iso_time(state['healthSince']))}")
    return (f'<apc xmlns="{APC_NS}">{_config_leaves(cfg)}<state>{"".join(st)}</state>'
            f"<status>{status}</status></apc>")


NOTIFICATION_NS = "urn:ietf:params:xml:ns:netconf:notification:1.0"


def event_to_notification(event: dict[str, Any]) -> str | None:
    """RFC 5277 <notification> of an sdqn-apc notification for a vendor event (None for
    vendor events sdqn-apc has no notification for, e.g. configApplied)."""
    kind = event.get("type")
    if kind == "calibrationDone":
        body = (f"<calibration-complete xmlns=\"{APC_NS}\">{_leaf('success', _bool(event['ok']))}"
                f"{_leaf('tracking-error', decimal_text(mrad_to_rad(event['residualMrad'])))}"
                "</calibration-complete>")
    elif kind == "healthChanged":
        oper = HEALTH_TO_OPER.get(str(event["health"]), "unknown")
        body = (f'<status-change xmlns="{APC_NS}" xmlns:sdqn-types="urn:sdqn:sdqn-types">'
                f"<oper-status>sdqn-types:{oper}</oper-status>"
                f"{_leaf('stable', _bool(event['settled']))}"
                f"{_leaf('reason', str(event.get('cause', '')))}</status-change>")
    elif kind == "toleranceAlarm":
        severity = "major" if event["active"] else "cleared"
        theta = error_angle(float(event["errorMrad"]))
        body = (f'<out-of-spec xmlns="{APC_NS}">{_leaf("severity", severity)}'
                f"{_leaf('text', str(event.get('cause', 'tracking error vs tolerance')))}"
                f"{_leaf('tracking-error', decimal_text(theta))}</out-of-spec>")
    else:
        return None
    return (f'<notification xmlns="{NOTIFICATION_NS}"><eventTime>{iso_time(event["time"])}'
            f"</eventTime>{body}</notification>")


# -- the calibrate action ------------------------------------------------------------------------
CALIBRATE_RESULTS = ("started", "deferred", "busy")  # sdqn-apc calibrate output 'result'


def calibrate_force(action_xml: str) -> bool:
    """The `force` input of the sdqn-apc action `calibrate`, from the RFC 7950 §7.15.2 data
    tree the controller sends (`<apc><calibrate><force>…</force></calibrate></apc>`).

    A Polarix APC has this one action; any other tree is operation-not-supported (RFC 6241
    Appendix A), as a NETCONF server answers an action it does not implement."""
    try:
        root = etree.fromstring(action_xml, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise invalid(f"action is not well-formed XML: {exc}") from None
    actions = [e for e in root if isinstance(e.tag, str)]
    if root.tag != f"{_Q}apc" or len(actions) != 1 or actions[0].tag != f"{_Q}calibrate":
        names = "/".join(etree.QName(e).localname for e in [root, *actions[:1]])
        raise AdapterError(f"action {names!r}: a Polarix APC implements only "
                           "/sdqn-apc:apc/calibrate", tag="operation-not-supported")
    inputs = [e for e in actions[0] if isinstance(e.tag, str)]
    for leaf in inputs:
        if leaf.tag != f"{_Q}force":
            raise invalid(f"/sdqn-apc:apc/calibrate: no input {etree.QName(leaf).localname!r}")
    if len(inputs) > 1:
        raise invalid("/sdqn-apc:apc/calibrate/force appears more than once")
    return _boolean("calibrate/force", inputs[0].text) if inputs else False  # YANG default


def calibrate_output(reply: dict[str, Any]) -> str:
    """sdqn-apc `calibrate` output elements (XML) for the vendor's calibrate reply.

    `expectedDurationS` (seconds, float) becomes `expected-duration` (duration-seconds,
    decimal64 with 9 digits); the vendor omits it when it answers busy, and so does the
    output. A result sdqn-apc has no enum for is a device fault: operation-failed."""
    result = reply.get("result")
    if result not in CALIBRATE_RESULTS:
        raise AdapterError(f"calibrate: unexpected vendor result {result!r}",
                           tag="operation-failed")
    out = f'<result xmlns="{APC_NS}">{result}</result>'
    duration = reply.get("expectedDurationS")
    if duration is not None:
        seconds = Decimal(repr(float(duration))).quantize(Decimal("0.000000001"))
        if seconds < 0:
            raise AdapterError(f"calibrate: negative expected duration {duration!r}",
                               tag="operation-failed")
        out += f'<expected-duration xmlns="{APC_NS}">{decimal_text(seconds)}</expected-duration>'
    return out
