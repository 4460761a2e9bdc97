"""Make-before-break: a live service that moves keeps its old path until the new one works.

When a commit moves a service that is live on a still-working path (a re-optimisation, a
threshold re-plan — not a failure: a cut path is already broken), the push happens in two
steps instead of one:

  make   every device gets its new configuration *plus* the old path's pieces of the
         moving services — repeater flows and the generation entries they use, q-ROADM
         cross-connects on exactly the ports and channel they run on (with those ports'
         attachments and that channel's definition), end-node application endpoints — so
         the old path keeps delivering while the new one warms up;
  break  once every device on the new paths reports stable (or after a bounded wait), the
         devices that still carry old pieces get exactly their intended configuration.

Whether a move can be bridged is decided per service (`plan_bridges`): its bridge
documents must fit the hardware, as each device's own YANG model says (validation: its
`must`s and `unique`s check registers, memory slots, ports and channels), and the old
pieces must not need what the new configuration took over:

* a q-ROADM switches a channel entering a port to one port only, so the new lightpath of
  a moved service needs add/drop ports the old cross-connect does not use — the renderer
  gives a lightpath that crosses differently spare ports while the device has any
  (`render._Devices.number_ports`); an add/drop port re-attached to another node, a
  line degree both paths leave by on one channel (the timing channel of a fibre is fixed,
  so another quantum channel does not help there), a channel re-defined, or more channels
  than ``wavelength-channels`` leave no room for the old path;
* an end node has one source: when its signal wavelength changes, the old lightpaths
  lose their light.  It holds the old endpoint beside the new one when their settings
  differ (memory slots summed against its registers).

A service whose bridge does not fit is switched directly (a *hard switch*) and only that
service: the others still make before they break.  The decision, with the device and
resource that forced a hard switch and the interruption to expect, is a `Move` per
service; <intended> always holds the final configuration, the bridge is a transient the
controller owns.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import structlog

from controller.errors import NetconfError
from qnum.plan import Plan

log = structlog.get_logger(__name__)

REPEATER = "sdqn-repeater:repeater"
QROADM = "sdqn-qroadm:q-roadm"
END_NODE = "sdqn-end-node:end-node"
OLD_SUFFIX = "~old"
#: sdqn-end-node ``source/signal-wavelength`` default
DEFAULT_SIGNAL_NM = "1550.12"
#: Seconds a push of the new configuration takes, first device to last, when nothing
#: better is known (a NETCONF edit and commit per device, in parallel, on a metro network).
DEFAULT_PUSH_ESTIMATE_S = 2.0

Json = dict[str, Any]
#: Checks one device document (canonical RFC 7951 JSON) against the device's own YANG
#: model; raises ValueError or NetconfError when it does not fit.
Validate = Callable[[str], object]


class MoveKind(StrEnum):
    MAKE_BEFORE_BREAK = "make-before-break"
    HARD_SWITCH = "hard-switch"


@dataclass(frozen=True)
class Move:
    """How one live service moves to its new path."""

    service: str
    kind: MoveKind
    #: make-before-break: the devices that carry its old pieces during the bridge
    bridged: tuple[str, ...] = ()
    #: hard switch: the device that forces it, and which of its resources and why
    device: str | None = None
    reason: str = ""
    #: expected interruption of delivery, seconds (`hard_switch_interruption`; 0 bridged)
    interruption_s: float = 0.0

    @property
    def make_before_break(self) -> bool:
        return self.kind is MoveKind.MAKE_BEFORE_BREAK


@dataclass(frozen=True)
class MovePlan:
    """Per moving service its `Move`, and the bridge documents (node → canonical JSON) of
    the services that make before they break."""

    moves: dict[str, Move]
    bridges: dict[str, str]


class NoBridge(Exception):
    """The old path of a moving service cannot run beside the new configuration."""

    def __init__(self, device: str, reason: str) -> None:
        super().__init__(f"{device}: {reason}")
        self.device = device
        self.reason = reason


def moving_services(before: Plan | None, after: Plan | None,
                    broken: Callable[[tuple[str, ...], tuple[str, ...]], bool]) -> list[str]:
    """Services live in both plans on different candidates whose old route still works
    (`broken(links, nodes)` says whether a route crosses a failure)."""
    if before is None or after is None:
        return []
    out = []
    for a in before.admitted:
        b = after.assignments.get(a.request.name)
        if (b is None or not b.admitted or a.candidate is None or b.candidate is None
                or a.candidate.key == b.candidate.key):
            continue
        if broken(a.candidate.route.links, a.candidate.route.nodes):
            continue
        if a.candidate.route.links == b.candidate.route.links:
            continue      # same path, new purification or share: nothing to bridge
        out.append(a.request.name)
    return sorted(out)


def planned_rates(plan: Plan | None) -> dict[str, float]:
    """service → the rate (pairs/s) the plan gives it."""
    return {a.request.name: a.rate_hz for a in plan.admitted} if plan is not None else {}


def hard_switch_interruption(rate_hz: float | None, push_estimate_s: float) -> float:
    """Expected seconds without pairs when a service is switched directly:
    t_push + 1/R_new.

    The old path stops when the push reaches its first device and the new one is complete
    when it reaches the last (t_push); from then on pairs arrive as a Poisson process at
    the new candidate's planned rate R_new, so the first one comes after 1/R_new on
    average. Device warm-up beyond that (a source re-tuned) is not included; an unknown
    or zero rate adds nothing."""
    return push_estimate_s + (1.0 / rate_hz if rate_hz and rate_hz > 0 else 0.0)


def hard_switch(service: str, device: str | None, reason: str, rate_hz: float | None,
                push_estimate_s: float) -> Move:
    return Move(service, MoveKind.HARD_SWITCH, device=device, reason=reason,
                interruption_s=hard_switch_interruption(rate_hz, push_estimate_s))


# -- per device kind: the old pieces beside the new configuration ----------------------------


def _merge_repeater(node: str, new: Json, old: Json, moving: set[str]) -> bool:
    """Add the moving services' old flows (and the entries they use) to `new`."""
    new_flows = {f["flow-id"]: f for f in new.get("flow", [])}
    old_flows = [f for f in old.get("flow", []) if f.get("service") in moving]
    if not old_flows:
        return False
    entries = {e["link-id"]: e for e in new.get("link-generation", {}).get("link", [])}
    old_entries = {e["link-id"]: e for e in old.get("link-generation", {}).get("link", [])}
    changed = False
    for flow in old_flows:
        if new_flows.get(flow["flow-id"]) == flow:
            continue                          # this repeater's part did not change
        bridged = dict(flow)
        if flow["flow-id"] in new_flows:
            bridged["flow-id"] = f"{flow['flow-id']}{OLD_SUFFIX}"
        new_flows[bridged["flow-id"]] = bridged
        changed = True
        for entry in flow.get("neighbour-links", []):
            if entry not in entries and entry in old_entries:
                entries[entry] = old_entries[entry]
    if not changed:
        return False
    new["flow"] = [new_flows[k] for k in sorted(new_flows)]
    if entries:
        new.setdefault("link-generation", {})["link"] = [entries[k] for k in sorted(entries)]
    return True


def _end(end: Mapping[str, Any]) -> tuple[str, int]:
    """A cross-connect side as (kind, number): ("degree", 2) or ("add-drop-port", 5)."""
    if "degree" in end:
        return ("degree", int(end["degree"]))
    return ("add-drop-port", int(end.get("add-drop-port", 0)))


def _end_text(end: tuple[str, int]) -> str:
    return f"{'line degree' if end[0] == 'degree' else 'add/drop port'} {end[1]}"


Attached = Mapping[int, "tuple[str, str] | None"]


def _hardware(xc: Mapping[str, Any], attached: Attached) -> tuple[Any, ...]:
    """What a cross-connect switches: its channel between its two ports, an add/drop port
    with what is attached to it; the name is only its handle."""
    ends = []
    for end in (_end(xc.get("source") or {}), _end(xc.get("destination") or {})):
        ends.append((*end, attached.get(end[1]) if end[0] == "add-drop-port" else None))
    return (int(xc["channel"]), *ends)


def _attachments(body: Mapping[str, Any]) -> dict[int, tuple[str, str] | None]:
    return {int(p["port-number"]): _attachment(p) for p in body.get("add-drop-port", [])}


def _old_name(name: str) -> str:
    flow, sep, rest = name.partition(":")
    return f"{flow}{OLD_SUFFIX}{sep}{rest}"


def _attachment(port: Mapping[str, Any]) -> tuple[str, str] | None:
    if "attached-node" not in port and "link-id" not in port:
        return None
    return (str(port.get("attached-node", "")), str(port.get("link-id", "")))


def _merge_qroadm(node: str, new: Json, old: Json, moving: set[str]) -> bool:
    """Add the moving services' old cross-connects that the new configuration does not
    switch itself, on their own ports and channel (renamed when the name is taken)."""
    old_all = {str(x["name"]): x for x in (old.get("circuit") or {}).get("cross-connect", [])}
    old_xcs = [x for name, x in old_all.items() if name.split(":", 1)[0] in moving]
    if not old_xcs:
        return False
    circuit = new.setdefault("circuit", {})
    xcs = {str(x["name"]): x for x in circuit.get("cross-connect", [])}
    now, was = _attachments(new), _attachments(old)
    switched = {_hardware(x, now): name for name, x in xcs.items()}
    keep = [x for x in old_xcs if _hardware(x, was) not in switched]
    if not keep:
        return False
    for xc in list(keep):   # the timing companions they name, unless switched anyway
        companion = old_all.get(str(xc.get("timing-companion", "")))
        if companion is not None and _hardware(companion, was) not in switched \
                and companion not in keep:
            keep.append(companion)
    names = {name: switched[_hardware(x, was)] for name, x in old_all.items()
             if _hardware(x, was) in switched}
    names.update({str(x["name"]): _old_name(str(x["name"])) if x["name"] in xcs
                  else str(x["name"]) for x in keep})
    _keep_ports(node, new, old, keep)
    _keep_channels(node, new, old, keep)
    for xc in keep:
        service = str(xc["name"]).split(":", 1)[0]
        channel, src, dst = int(xc["channel"]), _end(xc["source"]), _end(xc["destination"])
        for other in xcs.values():
            o_channel, o_src, o_dst = (int(other["channel"]), _end(other["source"]),
                                       _end(other["destination"]))
            if o_channel != channel or (o_src != src and o_dst != dst):
                continue
            how = (f"entering {_end_text(src)} leaves by {_end_text(dst)} for the old path "
                   f"of {service} and by {_end_text(o_dst)} for cross-connect {other['name']}"
                   if o_src == src else
                   f"leaving by {_end_text(dst)} comes from {_end_text(src)} for the old "
                   f"path of {service} and from {_end_text(o_src)} for cross-connect "
                   f"{other['name']}")
            shared = src if o_src == src else dst
            why = ("no spare add/drop port is left" if shared[0] == "add-drop-port" else
                   "a line degree is its fibre's, whose timing channel follows every "
                   "quantum channel through the same ports")
            raise NoBridge(node, f"channel {channel} {how} of the new configuration; one "
                                 f"channel crosses a port by one cross-connect only, and "
                                 f"{why}")
    for xc in keep:
        bridged = dict(xc, name=names[str(xc["name"])])
        if "timing-companion" in xc:
            bridged["timing-companion"] = names.get(str(xc["timing-companion"]),
                                                    xc["timing-companion"])
        xcs[bridged["name"]] = bridged
    circuit["cross-connect"] = [xcs[k] for k in sorted(xcs)]
    return True


def _keep_ports(node: str, new: Json, old: Json, keep: Iterable[Json]) -> None:
    """The old cross-connects' add/drop ports keep the attachment they run with."""
    ports = {int(p["port-number"]): p for p in new.get("add-drop-port", [])}
    old_ports = {int(p["port-number"]): p for p in old.get("add-drop-port", [])}
    for xc in keep:
        service = str(xc["name"]).split(":", 1)[0]
        for end in (_end(xc.get("source") or {}), _end(xc.get("destination") or {})):
            if end[0] != "add-drop-port":
                continue
            number = end[1]
            was = _attachment(old_ports.get(number, {}))
            if number not in ports:
                raise NoBridge(node, f"add/drop port {number} of the old path of {service} "
                                     "is missing from the new configuration")
            now = _attachment(ports[number])
            if now is not None and now != was:
                raise NoBridge(node, (
                    f"add/drop port {number} carries the old path of {service} to "
                    f"{_attached_text(was)} but the new configuration attaches it to "
                    f"{_attached_text(now)}, and no spare add/drop port is left"))
            if was is not None:
                ports[number] = dict(ports[number], **{"attached-node": was[0],
                                                       "link-id": was[1]})
    if ports:
        new["add-drop-port"] = [ports[k] for k in sorted(ports)]


def _attached_text(attachment: tuple[str, str] | None) -> str:
    return "nothing" if attachment is None else f"{attachment[0]} ({attachment[1]})"


def _keep_channels(node: str, new: Json, old: Json, keep: Iterable[Json]) -> None:
    """The old cross-connects' channels stay defined as they run."""
    channels = {int(c["channel-id"]): c for c in new.get("channel", [])}
    old_channels = {int(c["channel-id"]): c for c in old.get("channel", [])}
    for xc in keep:
        number = int(xc["channel"])
        was, now = old_channels.get(number), channels.get(number)
        if was is None:
            continue
        if now is None:
            channels[number] = was
        elif (now.get("wavelength"), now.get("kind")) != (was.get("wavelength"),
                                                          was.get("kind")):
            raise NoBridge(node, (
                f"channel {number} is {was.get('wavelength')} nm ({was.get('kind')}) on the "
                f"old path of {str(xc['name']).split(':', 1)[0]} but "
                f"{now.get('wavelength')} nm ({now.get('kind')}) in the new channel plan"))
    new["channel"] = [channels[k] for k in sorted(channels)]


def _merge_end_node(node: str, new: Json, old: Json, moving: set[str]) -> bool:
    """Hold the moving services' old endpoints beside the new ones (renamed when the
    name is taken); refused when the one source changes its wavelength.  The old relay
    flows of a relaying end node are kept as a repeater keeps its flows."""
    relay, was = dict(new.get("relay") or {}), dict(old.get("relay") or {})
    relayed = _merge_repeater(node, relay, was, moving)
    if relayed:   # swap physics as the old flows ran with, unless the new config has it
        new["relay"] = {**{k: v for k, v in was.items() if k not in ("flow", "link-generation")},
                        **relay}
    return _merge_endpoints(node, new, old, moving) or relayed


def _merge_endpoints(node: str, new: Json, old: Json, moving: set[str]) -> bool:
    old_eps = [e for e in old.get("application-endpoint", [])
               if e.get("service", e.get("name")) in moving]
    if not old_eps:
        return False
    was, now = old.get("source") or {}, new.get("source") or {}
    services = ", ".join(sorted({str(e.get("service", e["name"])) for e in old_eps}))
    if was.get("pump-enabled", False):
        if not now.get("pump-enabled", False):
            raise NoBridge(node, f"its source, which the old path of {services} uses, is "
                                 "switched off in the new configuration")
        before = str(was.get("signal-wavelength", DEFAULT_SIGNAL_NM))
        after = str(now.get("signal-wavelength", DEFAULT_SIGNAL_NM))
        if before != after:
            raise NoBridge(node, (
                f"its one source emits {before} nm for the old path of {services} and "
                f"{after} nm in the new configuration (no spare wavelength: one source)"))
    eps = {str(e["name"]): e for e in new.get("application-endpoint", [])}
    changed = False
    for ep in old_eps:
        if eps.get(ep["name"]) == ep:
            continue                  # the same endpoint serves the old and the new path
        name = f"{ep['name']}{OLD_SUFFIX}" if ep["name"] in eps else str(ep["name"])
        eps[name] = dict(ep, name=name)
        changed = True
    if changed:
        new["application-endpoint"] = [eps[k] for k in sorted(eps)]
    return changed


_MERGES: dict[str, Callable[[str, Json, Json, set[str]], bool]] = {
    REPEATER: _merge_repeater, QROADM: _merge_qroadm, END_NODE: _merge_end_node}


def bridge_documents(new_docs: Mapping[str, str], old_docs: Mapping[str, str],
                     moving: Iterable[str]) -> dict[str, str]:
    """node → bridge document (canonical JSON) for every device whose bridge differs
    from its new document. Raises NoBridge (naming the device and resource) when an old
    path cannot run beside the new configuration; the model's own constraints are left to
    the device's validation (`plan_bridges`)."""
    wanted = set(moving)
    if not wanted:
        return {}
    out: dict[str, str] = {}
    for node, doc in sorted(new_docs.items()):
        old = old_docs.get(node)
        if old is None:
            continue
        new_json, old_json = json.loads(doc), json.loads(old)
        bridge = copy.deepcopy(new_json)
        for top, merge in _MERGES.items():
            if top in bridge and top in old_json and merge(node, bridge[top], old_json[top],
                                                           wanted):
                out[node] = json.dumps(bridge, sort_keys=True, separators=(",", ":"))
    return out


def plan_bridges(new_docs: Mapping[str, str], old_docs: Mapping[str, str],
                 moving: Iterable[str], validate: Validate, *,
                 rates: Mapping[str, float] | None = None,
                 push_estimate_s: float = DEFAULT_PUSH_ESTIMATE_S) -> MovePlan:
    """Decide, per moving service, make-before-break or hard switch, and build the bridge
    documents of those that make before they break.

    Services are taken in name order; each is bridged when its own bridge documents fit
    the devices (`bridge_documents`, then `validate` per document) and still fit together
    with those of the services bridged before it (registers, memory slots and channels
    add up). `rates` (service → planned rate of its new path, `planned_rates`) and
    `push_estimate_s` give a hard switch's expected interruption
    (`hard_switch_interruption`). Pure: the same inputs give the same plan, so a dry run
    predicts what the commit does."""
    rates = rates or {}
    errors: dict[str, str | None] = {}          # document → why it does not fit

    def check(docs: Mapping[str, str], context: str = "") -> None:
        for node, doc in sorted(docs.items()):
            if doc not in errors:
                try:
                    validate(doc)
                    errors[doc] = None
                except (ValueError, NetconfError) as exc:
                    errors[doc] = str(exc)
            if errors[doc] is not None:
                raise NoBridge(node, f"the bridge does not fit the device model{context}: "
                                     f"{errors[doc]}")

    moves: dict[str, Move] = {}
    bridged: list[str] = []
    bridges: dict[str, str] = {}
    for service in sorted(set(moving)):
        try:
            alone = bridge_documents(new_docs, old_docs, [service])
            check(alone)
            together = bridge_documents(new_docs, old_docs, [*bridged, service]) \
                if bridged else alone
            check(together, f" together with the bridges of {', '.join(bridged)}")
        except NoBridge as exc:
            moves[service] = hard_switch(service, exc.device, exc.reason, rates.get(service),
                                         push_estimate_s)
            continue
        bridged.append(service)
        bridges = together
        moves[service] = Move(service, MoveKind.MAKE_BEFORE_BREAK, bridged=tuple(sorted(alone)))
    return MovePlan(moves, bridges)


def plan_moves(new_docs: Mapping[str, str], old_docs: Mapping[str, str],
               moving: Iterable[str], validate: Validate, *,
               rates: Mapping[str, float] | None = None,
               push_estimate_s: float = DEFAULT_PUSH_ESTIMATE_S) -> dict[str, Move]:
    """service → how it moves (`plan_bridges` without the documents): what an impact dry
    run reports and the commit then does."""
    return plan_bridges(new_docs, old_docs, moving, validate, rates=rates,
                        push_estimate_s=push_estimate_s).moves


def log_moves(moves: Mapping[str, Move]) -> None:
    """One line per moving service."""
    for move in moves.values():
        if move.make_before_break:
            log.info("make-before-break", service=move.service, bridged=list(move.bridged))
        else:
            log.warning("make-before-break not possible: switching directly",
                        service=move.service, device=move.device, reason=move.reason,
                        interruption_s=round(move.interruption_s, 3))
