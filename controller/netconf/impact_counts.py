"""The counted totals of sdqn-controller's `impact` container (dry-run, optimise,
show-commit): how many of its services each change kind and hard switches cover. One
rule for the impact a change computes (controller/service/impact.py) and for the impact
show-commit recounts over what NACM lets a caller read (controller/netconf/commits.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: total leaf → (the service entry's leaf, the value it counts), in the YANG order
SERVICE_COUNTS = (("added", "change", "added"), ("removed", "change", "removed"),
                  ("moved", "change", "moved"), ("retuned", "change", "retuned"),
                  ("rejected", "change", "rejected"),
                  ("hard-switches", "switch", "hard-switch"))


def service_counts(services: Sequence[dict[str, Any]]) -> dict[str, int]:
    """The service totals of an impact's `service` entries."""
    return {total: sum(1 for s in services if s.get(leaf) == value)
            for total, leaf, value in SERVICE_COUNTS}
