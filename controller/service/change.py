"""Safe change: the dry-run of a commit or a re-optimisation, and the optimise action.

Every northbound (NETCONF and RESTCONF rpcs of sdqn-controller, gRPC, the CLI) calls
these two methods, so they all show and do the same thing. A dry-run builds the
expansion a commit would build (QnumExpander.preview: same solve, rendering,
make-before-break planning and live-move checks) under the store's lock and returns its
impact; nothing is written or pushed. The optimise action is the one way live services
move for a better plan: the expansion runs again with `reoptimise` set, so services
whose live-move policy allows it may move (controller/service/live_move.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog

from controller.datastore.editnode import EditNode, Operation
from controller.datastore.locks import SYSTEM_SESSION
from controller.datastore.nmda import Datastore, NmdaStore, TestOption
from controller.datastore.tree import Forest
from controller.errors import NetconfError
from controller.periodic import PeriodicTask
from controller.service.expansion import QnumExpander
from controller.service.impact import Impact

log = structlog.get_logger(__name__)


class ChangeControl:
    def __init__(self, store: NmdaStore, expander: QnumExpander) -> None:
        self.store = store
        self.expander = expander

    def dry_run(self, action: str = "commit") -> Impact:
        """The impact of committing the candidate (running when it is unmodified), or of
        `optimise`; raises the NetconfError the change itself would raise."""
        with self.store.atomic():
            if action == "optimise":
                source = Datastore.RUNNING
            else:
                source = Datastore.CANDIDATE if self.store.candidate_dirty \
                    else Datastore.RUNNING
            config: dict[str, Any] = self.store.forest(source).to_dict()
            expansion = self.expander.preview(config, reoptimise=action == "optimise")
        assert expansion.impact is not None
        return expansion.impact

    def dry_run_edit(self, nodes: Sequence[EditNode], *,
                     check: Callable[[Forest], None] | None = None,
                     session_id: int = SYSTEM_SESSION) -> Impact:
        """The impact of merging `nodes` into running, without the candidate: the edit is
        made on running as a test-only edit (RFC 6241 §7.2 test-option; the caller's
        `check`, its NACM write check, first; then every constraint running keeps), the
        expansion is previewed on the result, and running is put back. So the answer is
        the commit's: its error if the edit would be refused, else its impact; and
        another session's candidate edits are never in it nor touched."""
        found: list[Impact] = []

        def preview(forest: Forest) -> None:
            expansion = self.expander.preview(forest.to_dict())
            assert expansion.impact is not None
            found.append(expansion.impact)

        with self.store.atomic():
            if check is not None:
                check(self.store.forest(Datastore.RUNNING))
            self.store.edit(Datastore.RUNNING, nodes, default_operation=Operation.MERGE,
                            test_option=TestOption.TEST_ONLY, session_id=session_id,
                            inspect=preview)
        return found[0]

    def optimise(self, *, session_id: int = SYSTEM_SESSION) -> Impact:
        """Re-optimise running now: intended and the devices change, running does not."""
        with self.store.atomic():
            self.expander.reoptimise = True
            try:
                reason = "optimise" if session_id != SYSTEM_SESSION else "scheduled optimise"
                with self.store.sessions.server_change(reason):
                    self.store.reexpand(session_id=session_id)
            finally:
                self.expander.reoptimise = False
            impact = self.expander.committed.impact or Impact()
        log.info("optimise", moved=impact.moved(), hard_switched=impact.hard_switched(),
                 totals=impact.totals)
        return impact


LIVE_MOVE = "/sdqn-controller:controller/policies/live-move"


def optimise_interval(store: NmdaStore) -> float:
    """policies/live-move/optimise-interval in seconds (0: never), read from running's
    subtree only (this runs every few seconds)."""
    data = json.loads(store.get(Datastore.RUNNING, xpath=LIVE_MOVE) or "{}")
    policies = data.get("sdqn-controller:controller", {}).get("policies", {})
    return float(policies.get("live-move", {}).get("optimise-interval", 0))


class ScheduledOptimise:
    """The scheduled re-optimisation policy: `optimise` every optimise-interval seconds
    (read from running at each check, so a commit changes the schedule). A refusal (a
    move the policies forbid, a device that refuses) is logged and tried again at the
    next due time; it never stops the schedule."""

    def __init__(self, change: ChangeControl, *, check_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.change = change
        self.clock = clock
        self.last = clock()
        self.runs: list[Impact | str] = []        # what each run did, or why it failed
        self._loop = PeriodicTask("scheduled-optimise", self.run_once, check_s)

    def run_once(self) -> Impact | None:
        interval = optimise_interval(self.change.store)
        now = self.clock()
        if interval <= 0:
            self.last = now              # the schedule starts when it is switched on
            return None
        if now - self.last < interval:
            return None
        self.last = now
        try:
            impact = self.change.optimise()
        except NetconfError as exc:
            log.warning("scheduled optimise refused", error=str(exc))
            self.runs.append(str(exc))
            return None
        self.runs.append(impact)
        del self.runs[:-16]
        return impact

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()
