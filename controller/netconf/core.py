"""State one NETCONF server shares between its sessions, independent of SSH.

`ServerCore` owns the session table, counters, NACM and the schema facts, and composes
what a read returns: a datastore view, plus in <operational> the server's own state
(YANG library, /netconf-state, NACM counters) with origin `system`, minus what NACM
hides. Many servers (one per emulated device) can live in one process; session ids are
unique process-wide so that servers sharing a store never confuse lock owners.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from lxml import etree

from controller.datastore.editnode import EditNode, Operation
from controller.datastore.editparse import SchemaIndex
from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.readers import (
    ORIGIN_SYSTEM,
    annotate_origin,
    merge_into,
    select,
)
from controller.datastore.tree import Forest
from controller.errors import ErrorTag, ErrorType, NetconfError
from controller.netconf.admission import SessionLimits
from controller.netconf.contracts import NetconfSession, SessionEvents
from controller.netconf.filters import SubtreeCompiler
from controller.netconf.library import Library
from controller.netconf.nacm import Nacm, UserAccess
from controller.netconf.ratelimit import RateLimit, TokenBuckets
from controller.netconf.xpath_cost import check_xpath_cost

_session_ids = itertools.count(1)
_ids_lock = threading.Lock()


def next_session_id() -> int:
    with _ids_lock:
        return next(_session_ids)


def now_iso() -> str:
    """RFC 3339 timestamp (yang:date-and-time) in UTC."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class SessionContext(Protocol):
    """What an extra rpc handler may know about the calling session."""

    session_id: int
    username: str
    source_host: str


#: An extra rpc: its reply body is the output element(s) (RFC 7950 §7.14.4: the output
#: nodes are the children of <rpc-reply>), or None for <ok/>.
RpcHandler = Callable[[SessionContext, etree._Element],
                      "etree._Element | Sequence[etree._Element] | None"]


@dataclass(frozen=True)
class ActionCall:
    """One authorised YANG 1.1 action call (RFC 7950 §7.15), whichever northbound made it."""

    username: str
    #: data path of the node the action runs on (it exists: checked before the call)
    instance: str
    #: that node's list keys, canonical values
    keys: Mapping[str, str]
    #: the input as RFC 7951 members (validated against the schema)
    input: Mapping[str, Any]


#: An action's handler: output members (RFC 7951), or None when it has no output.
ActionHandler = Callable[[ActionCall], "dict[str, Any] | None"]


@dataclass
class Limits:
    max_message_size: int = 16 * 1024 * 1024
    hello_timeout: float = 30.0
    send_timeout: float = 60.0
    max_sessions: int = 64
    #: notifications kept for RFC 5277 replay (<startTime>); 0: no replay
    replay_events: int = 0
    #: where they are kept across restarts (controller.netconf.eventlog); None: memory only
    replay_log: Path | None = None
    #: pre-authentication pools, per-user/per-address limits, recovery reserve
    sessions: SessionLimits = field(default_factory=SessionLimits)
    #: what-if solves (dry-run, gRPC WhatIf) per user, on every northbound sharing the core
    what_if: RateLimit = field(default_factory=RateLimit)
    #: whole-tree scans a client's XPath may nest (2: quadratic at worst; xpath_cost.py)
    xpath_max_scans: int = 2
    #: data nodes a read may return; more is refused with too-big before printing
    max_result_nodes: int = 1_000_000


@dataclass
class Statistics:
    """RFC 6022 §2.1.5 counters."""

    start_time: str = ""
    in_bad_hellos: int = 0
    in_sessions: int = 0
    dropped_sessions: int = 0
    in_rpcs: int = 0
    in_bad_rpcs: int = 0
    out_rpc_errors: int = 0
    out_notifications: int = 0


class CommitDetails(Protocol):
    """What a change of running did to the devices and services, by its commit id."""

    def devices(self, running_commit: str) -> list[dict[str, Any]]:
        """show-commit `device` entries: per device and network commit, its changes."""
        ...

    def impact(self, running_commit: str) -> dict[str, Any] | None:
        """The `impact` container members computed when it was committed, if kept."""
        ...


class ServerCore:
    def __init__(self, store: NmdaStore, *, name: str, nacm: Nacm | None,
                 extra_rpcs: Mapping[str, RpcHandler], capabilities: Iterable[str],
                 limits: Limits) -> None:
        self.store = store
        self.name = name
        self.nacm = nacm
        self.extra_rpcs = dict(extra_rpcs)
        #: YANG 1.1 actions by schema path ("/module:top/.../action"), controller.netconf
        #: .actions runs them for every northbound
        self.action_handlers: dict[str, ActionHandler] = {}
        self.limits = limits
        self.library = Library(store.schema)
        self.capabilities = self.library.capabilities(capabilities)
        self.index: SchemaIndex = store.index
        self.compiler = SubtreeCompiler(self.index)
        self.stats = Statistics(start_time=now_iso())
        self.sessions: dict[int, NetconfSession] = {}
        self.sessions_lock = threading.Lock()
        self.notifier: SessionEvents | None = None
        self.streams: frozenset[str] = frozenset({"NETCONF"})
        #: called with every rpc's operation element on the session's thread just before
        #: it runs; the embedding process may hold it there (an emulated device whose
        #: management plane stalls, simulators/devices/runtime.py)
        self.rpc_gate: Callable[[etree._Element], None] | None = None
        #: more server state for <operational>: module name -> RFC 7951 members of it
        #: (the subscribed-notifications streams and subscriptions, yangpush.py)
        self.state_providers: dict[str, Callable[[], dict[str, Any]]] = {}
        #: session or connection threads that ended on an unexpected exception (each is
        #: logged); a robust server keeps this at 0 whatever the peers send
        self.thread_deaths = 0
        #: one budget of what-if solves per user, whichever northbound asks
        self.what_if = TokenBuckets(limits.what_if, "what-if")
        #: what each change of running did beyond running (show-commit's `device` entries
        #: and `impact`), set by the process that pushes to devices; None: nothing
        self.commit_details: CommitDetails | None = None
        self._yanglib = self.library.yanglib_forest()
        self._system_lock = threading.Lock()
        self._namespaces = {name: ns for ns, name in self.index.by_namespace.items()}

    # -- helpers -------------------------------------------------------------------------

    def namespace_of(self, module: str) -> str | None:
        return self._namespaces.get(module)

    def module_of(self, namespace: str | None) -> str | None:
        return self.index.by_namespace.get(namespace) if namespace else None

    def access(self, username: str) -> UserAccess | None:
        return self.nacm.access(username) if self.nacm is not None else None

    def merge_check(self, username: str, nodes: Sequence[EditNode]
                    ) -> Callable[[Forest], None]:
        """The NACM write check (RFC 8341 §3.4.5) of merging `nodes` into a forest, as
        the user's edit would get it, a refusal counted like any denied write: for a
        change previewed rather than made (sdqn-controller dry-run `edit`)."""
        access = self.access(username)

        def check(forest: Forest) -> None:
            if access is None:
                return
            try:
                access.check_edit(forest, nodes, Operation.MERGE)
            except NetconfError as err:
                if err.first.tag is ErrorTag.ACCESS_DENIED and self.nacm is not None:
                    self.nacm.denied_data_writes += 1
                raise

        return check

    def count_thread_death(self) -> None:
        with self.sessions_lock:
            self.thread_deaths += 1

    def session(self, session_id: int) -> NetconfSession | None:
        with self.sessions_lock:
            return self.sessions.get(session_id)

    def all_sessions(self) -> list[NetconfSession]:
        with self.sessions_lock:
            return list(self.sessions.values())

    def close(self) -> None:
        self._yanglib.free()

    # -- reads ---------------------------------------------------------------------------

    def read(self, ds: Datastore, xpaths: list[str] | None, *, username: str,
             with_origin: bool = False) -> Forest:
        """A private forest with what `xpaths` select (None: everything), NACM applied."""
        if xpaths is not None and not xpaths:
            return Forest(self.store.schema)
        xpath = None if xpaths is None else " | ".join(xpaths)
        if xpath is not None:
            # refused before libyang starts an evaluation it could not stop
            check_xpath_cost(xpath, self.limits.xpath_max_scans)
        forest = self.store.view(ds, xpath=xpath, with_origin=with_origin)
        try:
            if ds is Datastore.OPERATIONAL:
                self._add_system_state(forest, xpath, with_origin)
            access = self.access(username)
            if access is not None:
                access.prune_read(forest)
            if forest.more_nodes_than(self.limits.max_result_nodes):
                # RFC 6241 Appendix A too-big: the response would be too large
                raise NetconfError.of(
                    ErrorTag.TOO_BIG, f"the result has more than {self.limits.max_result_nodes}"
                    " data nodes; narrow the filter", type=ErrorType.APPLICATION)
        except BaseException:
            forest.free()
            raise
        return forest

    def _add_system_state(self, forest: Forest, xpath: str | None, with_origin: bool) -> None:
        def wanted(module: str) -> bool:
            return xpath is None or module in xpath or "*" in xpath or "//" in xpath

        parts: list[Forest] = []
        with self._system_lock:
            if wanted("ietf-yang-library"):
                parts.append(select(self._yanglib, xpath))
        state: dict[str, Any] = {}
        if wanted("ietf-netconf-monitoring"):
            state["ietf-netconf-monitoring:netconf-state"] = self.monitoring_state()
        if self.nacm is not None and wanted("ietf-netconf-acm"):
            state["ietf-netconf-acm:nacm"] = self.nacm.state()
        for module, provider in self.state_providers.items():
            if wanted(module):
                state.update(provider())
        if state:
            built = Forest.parse(self.store.schema, json.dumps(state), "json",
                                 config_only=False, validate=False)
            try:
                parts.append(select(built, xpath) if xpath else built.dup())
            finally:
                built.free()
        for part in parts:
            if with_origin:
                annotate_origin(part, ORIGIN_SYSTEM, state_only=True)
            merge_into(forest, part)

    def monitoring_state(self) -> dict[str, Any]:
        """/netconf-state (RFC 6022 §2)."""
        locks = []
        for ds in (Datastore.RUNNING, Datastore.CANDIDATE, Datastore.STARTUP):
            entry: dict[str, Any] = {"name": ds.value}
            holder = self.store.locks.holder(ds.value)
            if holder is not None:
                entry["locks"] = {"global-lock": {"locked-by-session": holder,
                                                  "locked-time": self.stats.start_time}}
            locks.append(entry)
        sessions = [{
            "session-id": s.session_id, "transport": "ietf-netconf-monitoring:netconf-ssh",
            "username": s.username, "source-host": s.source_host, "login-time": s.login_time,
            "in-rpcs": s.in_rpcs, "in-bad-rpcs": s.in_bad_rpcs,
            "out-rpc-errors": s.out_rpc_errors, "out-notifications": s.out_notifications,
        } for s in self.all_sessions()]
        st = self.stats
        state: dict[str, Any] = {
            "capabilities": {"capability": self.capabilities},
            "datastores": {"datastore": locks},
            "schemas": {"schema": self.library.schemas_state()},
            "statistics": {
                "netconf-start-time": st.start_time, "in-bad-hellos": st.in_bad_hellos,
                "in-sessions": st.in_sessions, "dropped-sessions": st.dropped_sessions,
                "in-rpcs": st.in_rpcs, "in-bad-rpcs": st.in_bad_rpcs,
                "out-rpc-errors": st.out_rpc_errors,
                "out-notifications": st.out_notifications},
        }
        if sessions:
            state["sessions"] = {"session": sessions}
        return state
