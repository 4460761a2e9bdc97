"""The Q-NUM problem's input: network and request models and their RFC 7951 JSON loaders.

qnum is a pure library, so the topology (``ietf-network`` + ``sdqn-topology``) and the
requests (``sdqn-services``) are read here with plain :mod:`json`, not libyang: the optimiser
must run (and be tested) without the controller.  The loader is strict about the naming
conventions (yang/README.md, "Conventions"): decimal64 leaves must be JSON strings (RFC 7951 §6.1),
every dangling reference, duplicate key, NaN or out-of-range value is an :class:`InputError`
that names the exact instance path, so an operator sees *which* leaf is wrong instead of a
traceback or, worse, a silently wrong plan.

Values that are legal but make a request impossible (zero source rate, no memory at an
endpoint, disconnected endpoints) are *not* errors here: they become per-request rejection
reasons in the plan, because the rest of the network can still be served.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar, cast

from pydantic import ValidationError

from qnum.physics.decoherence import DECOHERENCE_MODELS, DecoherenceModel
from qnum.utility import DEFAULT_PARAMS, UtilityParams

TOPOLOGY_NS = "sdqn-topology"
SERVICES_NS = "sdqn-services"
TYPES_PREFIX = "sdqn-types:"


_E = TypeVar("_E", bound=StrEnum)


class InputError(ValueError):
    """Invalid topology or request data; ``path`` is the RFC 7951-style instance path."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class DeviceKind(StrEnum):
    """Identities derived from ``sdqn-types:device-kind``."""

    END_NODE = "end-node"
    REPEATER = "repeater"
    APC = "apc"
    Q_ROADM = "q-roadm"
    SOURCE = "source"
    DETECTOR = "detector"


class AppClass(StrEnum):
    """Identities derived from ``sdqn-types:application-class``."""

    QKD = "qkd"
    DQC = "dqc"
    DQS = "dqs"
    TELEPORTATION = "teleportation"
    DISTILLATION = "distillation"


class Heralding(StrEnum):
    MIDPOINT_SOURCE = "midpoint-source"
    SENDER_RECEIVER = "sender-receiver"
    MEET_IN_THE_MIDDLE = "meet-in-the-middle"


class SwapOutcomeRoute(StrEnum):
    ALONG_CHAIN = "along-chain"
    DIRECT = "direct"


class SwitchingMode(StrEnum):
    CIRCUIT = "circuit"
    PACKET = "packet"


class AdminState(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class Objective(StrEnum):
    SUM = "sum"
    PROPORTIONAL_FAIR = "proportional-fair"


@dataclass(frozen=True)
class QRoadm:
    """Quantum ROADM: a transparent optical switch (no memory, no swap)."""

    degrees: int
    add_drop_ports: int
    wavelength_channels: int
    insertion_loss_db: float = 1.5
    switching_mode: SwitchingMode = SwitchingMode.CIRCUIT
    header_processing_time_s: float = 1e-6
    availability: float = 1.0
    payload_duration_s: float = 1e-4


@dataclass(frozen=True)
class Node:
    node_id: str
    kind: DeviceKind
    memory_qubits: int = 0
    coherence_time_s: float = 1.0
    memory_efficiency: float = 1.0
    initial_fidelity: float = 1.0
    bsm_fidelity: float = 0.99
    swap_success_probability: float = 0.5
    #: None: the memory does not limit the links' multiplexing-modes.
    multimode_capacity: int | None = None
    decoherence_model: DecoherenceModel = "depolarising"
    swap_pairing_round_trips: float = 0.0
    swap_outcome_route: SwapOutcomeRoute = SwapOutcomeRoute.ALONG_CHAIN
    #: An end node that also swaps for routes through it (sdqn-topology ``relay``).
    relay: bool = False
    roadm: QRoadm | None = None

    @property
    def is_memory_node(self) -> bool:
        """End nodes and repeaters store qubits: they terminate elementary links and swap."""
        return self.kind in (DeviceKind.END_NODE, DeviceKind.REPEATER)


@dataclass(frozen=True)
class Link:
    """One bidirectional fibre; ``a``/``b`` are its two ends (the RFC 8345 direction is moot)."""

    link_id: str
    a: str
    b: str
    length_km: float
    source_rate_hz: float
    attenuation_db_per_km: float = 0.2
    heralding: Heralding = Heralding.MIDPOINT_SOURCE
    detector_efficiency: float = 0.9
    modes: int = 1
    link_fidelity: float = 0.97
    handshake_round_trips: float = 0.0
    herald_rounds: int = 1
    wavelength_nm: float | None = None
    compensator: str | None = None

    def other_end(self, node_id: str) -> str:
        return self.b if node_id == self.a else self.a


@dataclass(frozen=True)
class Network:
    network_id: str
    nodes: Mapping[str, Node]
    links: Mapping[str, Link]

    def links_between(self, u: str, v: str) -> list[Link]:
        """Every fibre joining u and v (parallel fibres are legal in RFC 8345)."""
        return [lk for lk in self.links.values() if {lk.a, lk.b} == {u, v}]


@dataclass(frozen=True)
class Request:
    name: str
    source: str
    destination: str
    application: AppClass
    min_fidelity: float
    demanded_rate_hz: float
    weight: float = 1.0
    priority: int = 0
    utility_params: UtilityParams = DEFAULT_PARAMS
    enabled: bool = True


@dataclass(frozen=True)
class OptimiserSettings:
    time_limit_s: float = 10.0
    objective: Objective = Objective.SUM
    relative_gap: float = 0.01
    max_route_hops: int = 5
    #: The default keeps running plans unchanged (YANG description).
    max_link_purification_rounds: int = 0


# ----------------------------------------------------------------------------- leaf readers


class _Obj:
    """A JSON object together with its instance path, so every error can say where it is."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise InputError(path, f"expected an object, got {type(data).__name__}")
        self.data: dict[str, Any] = data
        self.path = path

    def has(self, key: str) -> bool:
        return key in self.data

    def child(self, key: str, *, required: bool = True) -> _Obj | None:
        if key not in self.data:
            if required:
                raise InputError(self.path, f"missing mandatory node '{key}'")
            return None
        return _Obj(self.data[key], f"{self.path}/{key}")

    def items(self, key: str, list_key: str) -> Iterator[tuple[str, _Obj]]:
        """Entries of a YANG list, checking that the key leaf is present and unique."""
        raw = self.data.get(key, [])
        if not isinstance(raw, list):
            raise InputError(f"{self.path}/{key}", "expected a JSON array (YANG list)")
        seen: set[str] = set()
        for index, entry in enumerate(raw):
            entry_path = f"{self.path}/{key}[{index}]"
            if not isinstance(entry, dict) or not isinstance(entry.get(list_key), str):
                raise InputError(entry_path, f"list entry needs a string key '{list_key}'")
            ident = entry[list_key]
            if not ident:
                raise InputError(entry_path, f"empty '{list_key}'")
            if ident in seen:
                raise InputError(entry_path, f"duplicate {list_key} '{ident}'")
            seen.add(ident)
            yield ident, _Obj(entry, f"{self.path}/{key}[{list_key}='{ident}']")

    def _raw(self, key: str, default: Any) -> tuple[Any, str]:
        where = f"{self.path}/{key}"
        if key not in self.data:
            if default is _REQUIRED:
                raise InputError(self.path, f"missing mandatory leaf '{key}'")
            return default, where
        return self.data[key], where

    def decimal(
        self,
        key: str,
        default: Any = None,
        *,
        low: float = -math.inf,
        high: float = math.inf,
        low_open: bool = False,
    ) -> float:
        """A decimal64 leaf: RFC 7951 §6.1 encodes it as a JSON string."""
        raw, where = self._raw(key, default)
        if key not in self.data:
            return float(raw)
        if not isinstance(raw, str):
            raise InputError(where, f"decimal64 must be a JSON string (RFC 7951 §6.1), got {raw!r}")
        try:
            value = float(raw)
        except ValueError:
            raise InputError(where, f"not a decimal number: {raw!r}") from None
        _check_range(where, value, low, high, low_open)
        return value

    def probability(self, key: str, default: Any = None, *, positive: bool = False) -> float:
        """A 0..1 decimal64; ``positive`` excludes 0 (efficiencies that divide or multiply)."""
        return self.decimal(key, default, low=0.0, high=1.0, low_open=positive)

    def integer(self, key: str, default: Any = None, *, low: int = 0, high: int = 2**32 - 1) -> int:
        """A uint8/uint32 leaf: RFC 7951 §6.1 encodes it as a JSON number."""
        raw, where = self._raw(key, default)
        if key not in self.data:
            return int(raw)
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise InputError(where, f"expected a JSON integer, got {raw!r}")
        if not low <= raw <= high:
            raise InputError(where, f"{raw} outside [{low}, {high}]")
        return raw

    def boolean(self, key: str, default: bool) -> bool:
        """A boolean leaf: RFC 7951 §6.3 encodes it as a JSON literal."""
        raw, where = self._raw(key, default)
        if not isinstance(raw, bool):
            raise InputError(where, f"expected a JSON boolean, got {raw!r}")
        return raw

    def string(self, key: str, default: Any = None) -> str:
        raw, where = self._raw(key, default)
        if key not in self.data:
            return str(raw)
        if not isinstance(raw, str) or not raw:
            raise InputError(where, f"expected a non-empty string, got {raw!r}")
        return raw

    def choice(self, key: str, allowed: Sequence[str], default: Any = None) -> str:
        """A YANG enumeration leaf whose values are a fixed tuple of names."""
        raw = self.string(key, default)
        if raw not in allowed:
            raise InputError(f"{self.path}/{key}", f"{raw!r} is not one of: {', '.join(allowed)}")
        return raw

    def enum(self, key: str, kind: type[_E], default: Any = None) -> _E:
        raw = self.string(key, default)
        try:
            return kind(raw)
        except ValueError:
            allowed = ", ".join(m.value for m in kind)
            raise InputError(f"{self.path}/{key}", f"{raw!r} is not one of: {allowed}") from None

    def identity(self, key: str, kind: type[_E], default: Any = None) -> _E:
        """An identityref: RFC 7951 §6.8 qualifies it with the defining module's name."""
        raw = self.string(key, default)
        if key in self.data and not raw.startswith(TYPES_PREFIX):
            raise InputError(f"{self.path}/{key}", f"identity {raw!r} must be '{TYPES_PREFIX}…'")
        bare = raw.removeprefix(TYPES_PREFIX)
        try:
            return kind(bare)
        except ValueError:
            allowed = ", ".join(TYPES_PREFIX + m.value for m in kind)
            raise InputError(f"{self.path}/{key}", f"{raw!r} is not one of: {allowed}") from None


_REQUIRED: Any = object()


def _check_range(where: str, value: float, low: float, high: float, low_open: bool) -> None:
    if not math.isfinite(value):
        raise InputError(where, f"value must be finite, got {value}")
    if value < low or (low_open and value == low) or value > high:
        bracket = "(" if low_open else "["
        raise InputError(where, f"{value} outside {bracket}{low}, {high}]")


# ----------------------------------------------------------------------------- topology


def parse_topology(data: Any, network_id: str | None = None) -> Network:
    """Build a :class:`Network` from ``ietf-network:networks`` instance data.

    The first network typed ``sdqn-topology:quantum-network`` is taken unless
    ``network_id`` names one.
    """
    root = _Obj(data, "")
    networks = root.child("ietf-network:networks")
    assert networks is not None
    chosen: _Obj | None = None
    for ident, net in networks.items("network", "network-id"):
        types = net.data.get("network-types", {})
        if not isinstance(types, dict) or f"{TOPOLOGY_NS}:quantum-network" not in types:
            continue
        if network_id is None or ident == network_id:
            chosen = net
            break
    if chosen is None:
        which = f"'{network_id}'" if network_id else "typed sdqn-topology:quantum-network"
        raise InputError("/ietf-network:networks", f"no network {which}")
    nodes = {ident: _parse_node(ident, obj) for ident, obj in chosen.items("node", "node-id")}
    links: dict[str, Link] = {}
    for ident, obj in chosen.items("ietf-network-topology:link", "link-id"):
        links[ident] = _parse_link(ident, obj, nodes)
    return Network(network_id=str(chosen.data["network-id"]), nodes=nodes, links=links)


def _parse_node(ident: str, obj: _Obj) -> Node:
    q = obj.child(f"{TOPOLOGY_NS}:quantum-node")
    assert q is not None
    kind = q.identity("device-kind", DeviceKind, _REQUIRED)
    memory = q.integer("memory-qubits", 0)
    roadm_obj = q.child("q-roadm", required=kind is DeviceKind.Q_ROADM)
    roadm = _parse_roadm(roadm_obj) if roadm_obj is not None else None
    return Node(
        node_id=ident,
        kind=kind,
        memory_qubits=memory,
        coherence_time_s=q.decimal(
            "coherence-time", _REQUIRED if memory > 0 else 1.0, low=0.0, low_open=True
        ),
        memory_efficiency=q.probability("memory-efficiency", 1.0, positive=True),
        initial_fidelity=q.decimal("initial-fidelity", 1.0, low=0.25, high=1.0),
        # a fidelity: (4F − 1)/3 > 0 is the swap's depolarising factor, so F > 1/4
        bsm_fidelity=q.decimal("bsm-fidelity", 0.99, low=0.25, high=1.0, low_open=True),
        swap_success_probability=q.probability("swap-success-probability", 0.5),
        multimode_capacity=(
            q.integer("multimode-capacity", low=1) if q.has("multimode-capacity") else None
        ),
        decoherence_model=cast(
            DecoherenceModel, q.choice("decoherence-model", DECOHERENCE_MODELS, "depolarising")
        ),
        swap_pairing_round_trips=q.decimal(
            "swap-pairing-round-trips", 0.0, low=0.0, high=1000.0
        ),
        swap_outcome_route=q.enum("swap-outcome-route", SwapOutcomeRoute, "along-chain"),
        relay=_relay(q, kind, memory),
        roadm=roadm,
    )


def _relay(q: _Obj, kind: DeviceKind, memory: int) -> bool:
    """sdqn-topology ``relay``: only an end node with two memory qubits can swap (one
    half from each side), which the module's ``must`` also says."""
    relay = q.boolean("relay", False)
    if relay and (kind is not DeviceKind.END_NODE or memory < 2):
        raise InputError(f"{q.path}/relay", "relay needs an end node with memory-qubits >= 2")
    return relay


def _parse_roadm(obj: _Obj) -> QRoadm:
    return QRoadm(
        degrees=obj.integer("degrees", 2),
        add_drop_ports=obj.integer("add-drop-ports", 0),
        wavelength_channels=obj.integer("wavelength-channels", 1),
        insertion_loss_db=obj.decimal("insertion-loss", 1.5, low=0.0),
        switching_mode=obj.enum("switching-mode", SwitchingMode, "circuit"),
        header_processing_time_s=obj.decimal("header-processing-time", 1e-6, low=0.0),
        availability=obj.probability("availability", 1.0),
        payload_duration_s=obj.decimal("payload-duration", 1e-4, low=0.0, low_open=True),
    )


def _parse_link(ident: str, obj: _Obj, nodes: Mapping[str, Node]) -> Link:
    ends = []
    for container, leaf in (("source", "source-node"), ("destination", "dest-node")):
        end_obj = obj.child(container)
        assert end_obj is not None
        end = end_obj.string(leaf, _REQUIRED)
        if end not in nodes:
            raise InputError(f"{end_obj.path}/{leaf}", f"refers to unknown node '{end}'")
        ends.append(end)
    if ends[0] == ends[1]:
        raise InputError(obj.path, f"link joins node '{ends[0]}' to itself")
    q = obj.child(f"{TOPOLOGY_NS}:quantum-link")
    assert q is not None
    compensator = q.string("compensator", "") if q.has("compensator") else None
    if compensator is not None and compensator not in nodes:
        raise InputError(f"{q.path}/compensator", f"refers to unknown node '{compensator}'")
    return Link(
        link_id=ident,
        a=ends[0],
        b=ends[1],
        length_km=q.decimal("fibre-length", _REQUIRED, low=0.0),
        source_rate_hz=q.decimal("source-rate", _REQUIRED, low=0.0),
        attenuation_db_per_km=q.decimal("attenuation", 0.2, low=0.0),
        heralding=q.enum("heralding-scheme", Heralding, "midpoint-source"),
        detector_efficiency=q.probability("detector-efficiency", 0.9),
        modes=q.integer("multiplexing-modes", 1, low=1),
        link_fidelity=q.decimal("link-fidelity", 0.97, low=0.25, high=1.0),
        handshake_round_trips=q.decimal("handshake-round-trips", 0.0, low=0.0),
        herald_rounds=q.integer("herald-rounds", 1, low=1, high=255),
        wavelength_nm=q.decimal("wavelength", math.nan, low=0.0, low_open=True)
        if q.has("wavelength")
        else None,
        compensator=compensator,
    )


# ----------------------------------------------------------------------------- requests


def parse_requests(data: Any, network: Network | None = None) -> list[Request]:
    """Build the request list from ``sdqn-services:entanglement-services`` instance data.

    With ``network`` given, endpoints must name nodes of it (a leafref in the YANG model).
    """
    root = _Obj(data, "")
    services = root.child(f"{SERVICES_NS}:entanglement-services")
    assert services is not None
    out = []
    for name, obj in services.items("request", "name"):
        src = obj.string("source-node", _REQUIRED)
        dst = obj.string("destination-node", _REQUIRED)
        for leaf, end in (("source-node", src), ("destination-node", dst)):
            if network is not None and end not in network.nodes:
                raise InputError(f"{obj.path}/{leaf}", f"refers to unknown node '{end}'")
        if src == dst:
            raise InputError(obj.path, f"source and destination are both '{src}'")
        out.append(
            Request(
                name=name,
                source=src,
                destination=dst,
                application=obj.identity("application", AppClass, _REQUIRED),
                min_fidelity=obj.decimal("min-fidelity", 0.5, low=0.0, high=1.0),
                demanded_rate_hz=obj.decimal("demanded-rate", _REQUIRED, low=0.0, low_open=True),
                weight=obj.decimal("weight", 1.0, low=0.0),
                priority=obj.integer("priority", 0, high=255),
                utility_params=_utility_params(obj.child("utility", required=False)),
                enabled=obj.enum("admin-state", AdminState, "enabled") is AdminState.ENABLED,
            )
        )
    return out


def _utility_params(util: _Obj | None) -> UtilityParams:
    """The optional ``utility`` container, checked against :class:`UtilityParams`."""
    if util is None:
        return DEFAULT_PARAMS
    values = {key: util.decimal(key, _REQUIRED) for key in util.data}
    try:
        return UtilityParams.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "/".join(str(part) for part in first["loc"])
        raise InputError(f"{util.path}/{where}", first["msg"]) from None


def parse_settings(data: Any) -> OptimiserSettings:
    """Read ``sdqn-controller:controller/optimiser``; absent leaves keep their defaults."""
    root = _Obj(data, "")
    ctrl = root.child("sdqn-controller:controller", required=False)
    opt = ctrl.child("optimiser", required=False) if ctrl is not None else None
    if opt is None:
        return OptimiserSettings()
    return OptimiserSettings(
        time_limit_s=opt.decimal("time-limit", 10.0, low=0.0, low_open=True),
        objective=opt.enum("objective", Objective, "sum"),
        relative_gap=opt.decimal("relative-gap-limit", 0.01, low=0.0, high=1.0),
        max_route_hops=opt.integer("max-route-hops", 5, low=1, high=32),
        max_link_purification_rounds=opt.integer("max-link-purification-rounds", 0,
                                                 low=0, high=2),
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(str(path), f"invalid JSON at line {exc.lineno}: {exc.msg}") from None


def load_topology(path: str | Path, network_id: str | None = None) -> Network:
    return parse_topology(_read_json(Path(path)), network_id)


def load_requests(path: str | Path, network: Network | None = None) -> list[Request]:
    return parse_requests(_read_json(Path(path)), network)


# ----------------------------------------------------------------------------- writers


def _num(value: float) -> str:
    """decimal64 as RFC 7951 wants it: a JSON string (repr keeps full precision), in
    positional notation (decimal64 has no exponent: 1e-06 must be 0.000001)."""
    return format(Decimal(repr(float(value))), "f")


def topology_to_json(network: Network) -> dict[str, Any]:
    """Inverse of :func:`parse_topology` (used to write generated benchmark instances)."""
    nodes = []
    for node in network.nodes.values():
        q: dict[str, Any] = {
            "device-kind": TYPES_PREFIX + node.kind.value,
            "memory-qubits": node.memory_qubits,
            "coherence-time": _num(node.coherence_time_s),
            "memory-efficiency": _num(node.memory_efficiency),
            "initial-fidelity": _num(node.initial_fidelity),
            "bsm-fidelity": _num(node.bsm_fidelity),
            "swap-success-probability": _num(node.swap_success_probability),
            "decoherence-model": node.decoherence_model,
            "swap-pairing-round-trips": _num(node.swap_pairing_round_trips),
            "swap-outcome-route": node.swap_outcome_route.value,
        }
        if node.relay:
            q["relay"] = True
        if node.multimode_capacity is not None:
            q["multimode-capacity"] = node.multimode_capacity
        if node.roadm is not None:
            r = node.roadm
            q["q-roadm"] = {
                "degrees": r.degrees,
                "add-drop-ports": r.add_drop_ports,
                "wavelength-channels": r.wavelength_channels,
                "insertion-loss": _num(r.insertion_loss_db),
                "switching-mode": r.switching_mode.value,
                "header-processing-time": _num(r.header_processing_time_s),
                "availability": _num(r.availability),
                "payload-duration": _num(r.payload_duration_s),
            }
        nodes.append({"node-id": node.node_id, f"{TOPOLOGY_NS}:quantum-node": q})
    links = []
    for link in network.links.values():
        ql: dict[str, Any] = {
            "fibre-length": _num(link.length_km),
            "attenuation": _num(link.attenuation_db_per_km),
            "source-rate": _num(link.source_rate_hz),
            "heralding-scheme": link.heralding.value,
            "detector-efficiency": _num(link.detector_efficiency),
            "multiplexing-modes": link.modes,
            "link-fidelity": _num(link.link_fidelity),
            "handshake-round-trips": _num(link.handshake_round_trips),
            "herald-rounds": link.herald_rounds,
        }
        if link.wavelength_nm is not None:
            ql["wavelength"] = _num(link.wavelength_nm)
        if link.compensator is not None:
            ql["compensator"] = link.compensator
        links.append(
            {
                "link-id": link.link_id,
                "source": {"source-node": link.a},
                "destination": {"dest-node": link.b},
                f"{TOPOLOGY_NS}:quantum-link": ql,
            }
        )
    return {
        "ietf-network:networks": {
            "network": [
                {
                    "network-id": network.network_id,
                    "network-types": {f"{TOPOLOGY_NS}:quantum-network": {}},
                    "node": nodes,
                    "ietf-network-topology:link": links,
                }
            ]
        }
    }


def requests_to_json(requests: Iterable[Request]) -> dict[str, Any]:
    """Inverse of :func:`parse_requests`."""
    out = []
    for req in requests:
        entry: dict[str, Any] = {
            "name": req.name,
            "source-node": req.source,
            "destination-node": req.destination,
            "application": TYPES_PREFIX + req.application.value,
            "min-fidelity": _num(req.min_fidelity),
            "demanded-rate": _num(req.demanded_rate_hz),
            "weight": _num(req.weight),
            "priority": req.priority,
        }
        if not req.enabled:
            entry["admin-state"] = AdminState.DISABLED.value
        params = req.utility_params.model_dump(exclude_defaults=True, exclude={"points"})
        if params:  # YANG leaf names (the model's aliases are validation-only)
            entry["utility"] = {k.replace("_", "-"): _num(v) for k, v in params.items()}
        out.append(entry)
    return {f"{SERVICES_NS}:entanglement-services": {"request": out}}
