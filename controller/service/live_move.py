"""Which live services a change of running may move (the live-move policy).

A service is live when the committed plan admits it. Each request has a live-move
policy (its own `live-move` leaf, or the controller's `policies/live-move/default`;
sdqn-types:live-move-policy defines them). The rules a commit follows:

* A commit keeps every live service whose request it does not change exactly where it is
  (same candidate, same share): Q-NUM solves with those requests fixed (`keep`), so a new
  request is placed around them or rejected, never by moving them. Changing only the
  `live-move` leaf is not a change of the request.
* Only `free` kept services may be pre-empted by a higher-priority request; the others
  are `protected` (the priority rule is waived for them).
* The `optimise` rpc (`reoptimise=True`) frees `free` and `make-before-break-only`
  services; whether a `make-before-break-only` move can be made before break is known only
  after rendering, so the expansion re-solves with such a service kept when it cannot.
* A failure on a service's path moves it whatever its policy (self-healing). A *commit*
  that removes or locks a resource of a `pinned` service's path is refused, naming the
  service and the resource.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from qnum.candidates import Route
from qnum.io import Network, Request
from qnum.plan import Plan

PINNED = "pinned"
MBB_ONLY = "make-before-break-only"
FREE = "free"
DEFAULT = MBB_ONLY

SERVICES = "sdqn-services:entanglement-services"


def policies(running: Mapping[str, Any]) -> dict[str, str]:
    """request name → its live-move policy (own leaf, else the configured default)."""
    controller = running.get("sdqn-controller:controller", {})
    default = (controller.get("policies", {}).get("live-move", {})
               .get("default", DEFAULT))
    requests = running.get(SERVICES, {}).get("request", [])
    return {str(r["name"]): str(r.get("live-move", default)) for r in requests}


@dataclass(frozen=True)
class Decision:
    """What the solve keeps (fixed), protects from pre-emption, and lets move."""

    keep: frozenset[str]
    protected: frozenset[str]
    movable: frozenset[str]        # live services this change may move
    touched: frozenset[str] = frozenset()   # live services whose request it changes


def decide(previous: Plan | None, requests: Iterable[Request],
           policy: Mapping[str, str], *, reoptimise: bool,
           hold: Iterable[str] = ()) -> Decision:
    """Keep every live service the change does not touch, except those re-optimisation
    may move; `hold` adds services that must stay (a make-before-break-only move found
    impossible)."""
    if previous is None:
        return Decision(frozenset(), frozenset(), frozenset())
    now = {r.name: r for r in requests}
    live = {a.request.name: a.request for a in previous.admitted}
    untouched = {name for name, request in live.items() if now.get(name) == request}
    movable = set()
    if reoptimise:
        movable = {name for name in untouched
                   if policy.get(name, DEFAULT) in (FREE, MBB_ONLY)} - set(hold)
    keep = untouched - movable
    protected = {name for name in keep if policy.get(name, DEFAULT) != FREE}
    touched = set(live) - untouched
    return Decision(frozenset(keep), frozenset(protected), frozenset(movable | touched),
                    frozenset(touched))


def blocked(previous: Plan | None, network: Network, keep: Iterable[str],
            policy: Mapping[str, str], excluded: Mapping[str, str]) -> list[str]:
    """Why the change cannot be made: a kept `pinned` service whose path uses a fibre or
    node the configuration no longer has, or a node that is excluded (locked, say why)."""
    if previous is None:
        return []
    out = []
    for name in sorted(keep):
        a = previous.assignments.get(name)
        if a is None or a.candidate is None or policy.get(name, DEFAULT) != PINNED:
            continue
        gone = lost_elements(a.candidate.route, network, excluded)
        if gone:
            out.append(f"pinned service {name} would lose its path: {'; '.join(gone)}")
    return out


def lost_elements(route: Route, network: Network, excluded: Mapping[str, str]
                  ) -> list[str]:
    """What of a committed route the configuration no longer offers: nodes excluded
    (locked, unreachable) or removed, fibres removed."""
    return ([f"node {n} is {excluded[n]}" for n in route.nodes if n in excluded]
            + [f"node {n} is removed" for n in route.nodes if n not in network.nodes]
            + [f"link {lk} is removed" for lk in route.links if lk not in network.links])
