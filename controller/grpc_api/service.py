"""The sdqn.v1.ControllerService service: each rpc is a NACM-checked operation on the store.

Edits go through `DataAccess.edit` (NACM write check, then one atomic store edit), reads
through `DataAccess.read` (NACM-pruned <operational>), Commit through `DataAccess.commit`
after the same exec check NETCONF applies to ietf-netconf:commit, Rollback through a
NACM-checked replacement of running (copy-config). The commit history (ListCommits,
ShowCommit, DiffCommits, Rollback) is the one NETCONF and RESTCONF serve as
sdqn-controller rpcs (`CommitHistory`); the drill rpcs call the DrillService NETCONF and
RESTCONF use for sdqn-drills. Engine errors keep their RFC 6241 error-tag and
map to the gRPC status that means the same (`STATUS_OF`). Bad input never passes
silently: a name that matches nothing (request, network, what-if withdrawal, commit) is
NOT_FOUND with a message that names it, an unknown enum value is INVALID_ARGUMENT
(https://grpc.github.io/grpc/core/md_doc_statuscode.html), and either changes nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import grpc
import structlog

from controller.datastore.editnode import Operation, quote
from controller.datastore.history import Record, RunningHistory
from controller.datastore.nmda import Datastore
from controller.datastore.sessions import SERVER, ChangeNote
from controller.errors import ErrorTag, NetconfError
from controller.grpc_api import convert
from controller.grpc_api.auth import TokenAuth
from controller.grpc_api.whatif import apply_hypothesis, configuration, what_if
from controller.netconf.actions import Actions
from controller.netconf.commits import MAX_LIMIT, CommitHistory
from controller.restconf.access import DataAccess
from controller.restconf.events import (
    ALARM_EVENT,
    CONFIG_EVENT,
    LINK_EVENT,
    SERVICE_EVENT,
    Event,
    EventHub,
)
from controller.service.change import ChangeControl
from controller.service.drills import DRILL_KINDS, DRILLS, DrillService, UnknownDrill
from controller.service.expansion import QnumExpander
from controller.service.history_api import HistoryApi

log = structlog.get_logger(__name__)
_T = TypeVar("_T")

SERVICES = "/sdqn-services:entanglement-services"
NETWORKS = "/ietf-network:networks"
LAST_SOLVE = "/sdqn-controller:controller/optimiser/last-solve"
SOUTHBOUND = "/sdqn-controller:controller/southbound"
ALARMS = "/ietf-alarms:alarms/alarm-list"
OP = "ietf-netconf:operation"

STATUS_OF: dict[ErrorTag, grpc.StatusCode] = {
    ErrorTag.ACCESS_DENIED: grpc.StatusCode.PERMISSION_DENIED,
    ErrorTag.DATA_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    ErrorTag.DATA_MISSING: grpc.StatusCode.NOT_FOUND,
    ErrorTag.IN_USE: grpc.StatusCode.ABORTED,
    ErrorTag.LOCK_DENIED: grpc.StatusCode.ABORTED,
    ErrorTag.RESOURCE_DENIED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorTag.TOO_BIG: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorTag.OPERATION_NOT_SUPPORTED: grpc.StatusCode.UNIMPLEMENTED,
    ErrorTag.OPERATION_FAILED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorTag.ROLLBACK_FAILED: grpc.StatusCode.INTERNAL,
    ErrorTag.PARTIAL_OPERATION: grpc.StatusCode.INTERNAL,
}

_CONSTRAINTS = frozenset({"instance-required", "must-violation", "data-not-unique",
                          "too-many-elements", "too-few-elements", "missing-choice"})


def status_of(err: NetconfError) -> grpc.StatusCode:
    """Value, element, attribute and namespace errors are the caller's: INVALID_ARGUMENT,
    and so are the YANG constraint violations of RFC 7950 §15 (a reference to a node that
    does not exist, a failed `must`, ...): the submitted configuration is wrong in itself,
    whereas a missing resource or a failed operation is NOT_FOUND / FAILED_PRECONDITION."""
    if err.first.app_tag in _CONSTRAINTS:
        return grpc.StatusCode.INVALID_ARGUMENT
    return STATUS_OF.get(err.first.tag, grpc.StatusCode.INVALID_ARGUMENT)


def describe(err: NetconfError) -> str:
    return "; ".join(f"{e.tag.value}: {e.message}" + (f" ({e.path})" if e.path else "")
                     for e in err.errors)


class ControllerService:
    def __init__(self, access: DataAccess, *, hub: EventHub | None, auth: TokenAuth,
                 history: RunningHistory, expander: QnumExpander | None = None,
                 solve_time_limit_s: float = 10.0,
                 history_api: HistoryApi | None = None,
                 calibrate: Callable[[str, bool], dict[str, Any]] | None = None,
                 drills: DrillService | None = None) -> None:
        self.access = access
        self.store = access.store
        self.hub = hub
        self.auth = auth
        self.history = history
        self.commits = CommitHistory(history, access.core)
        self.expander = expander
        self.solve_time_limit_s = solve_time_limit_s
        self.history_api = history_api
        #: sdqn-controller:calibrate-apc (the service layer's, None without one)
        self.calibrate = calibrate
        #: the training drills NETCONF and RESTCONF serve too (None: not served here)
        self.drills = drills
        self.actions = Actions(access.core)
        from controller.grpc_api.stubs import load

        self.pb = load()[0]

    # -- plumbing ----------------------------------------------------------------------------

    def user(self, context: Any) -> str:
        user = self.auth.user(context)
        if user is None:
            context.abort(grpc.StatusCode.UNAUTHENTICATED,
                          "send 'authorization: Bearer <token>' metadata or a client "
                          "certificate")
        assert user is not None
        return user

    def _read(self, ds: Datastore, xpath: str, user: str) -> dict[str, Any]:
        forest = self.access.read(ds, [xpath], user)
        try:
            return forest.to_dict()
        finally:
            forest.free()

    def _ds(self, target: int) -> Datastore:
        """Target as a datastore; proto3 enums are open, so a number the proto does not
        define arrives here and is refused rather than taken as the candidate."""
        if target == self.pb.TARGET_RUNNING:
            return Datastore.RUNNING
        if target in (self.pb.TARGET_CANDIDATE, self.pb.TARGET_UNSPECIFIED):
            return Datastore.CANDIDATE
        raise convert.bad(f"unknown target {target}: TARGET_CANDIDATE or TARGET_RUNNING")

    def _edit_request(self, ds: Datastore, entry: dict[str, Any], op: Operation, user: str,
                      response: Any) -> Any:
        """One edit of the request list; `response` is the rpc's response class (each
        rpc has its own, with the same three fields)."""
        doc = {"sdqn-services:entanglement-services": {"request": [
            {**entry, "@": {OP: op.value}}]}}
        self.access.edit(ds, self.store.parse_json(doc), user)
        return response(datastore=ds.value, version=self.store.versions[ds],
                        candidate_dirty=self.store.candidate_dirty)

    def _last_solve(self, user: str) -> Any:
        doc = self._read(Datastore.OPERATIONAL, LAST_SOLVE, user)
        last = doc.get("sdqn-controller:controller", {}).get("optimiser", {}).get(
            "last-solve", {})
        return convert.solve_from_yang(self.pb, last)

    # -- requests -----------------------------------------------------------------------------

    # Method names are the proto's (the handlers are looked up by them).
    def SubmitRequest(self, req: Any, context: Any) -> Any:
        user = self.user(context)
        entry = convert.request_to_yang(self.store.schema, req.request, full=True)
        return self._edit_request(self._ds(req.target), entry, Operation.CREATE, user,
                                  self.pb.SubmitRequestResponse)

    def ModifyRequest(self, req: Any, context: Any) -> Any:
        user = self.user(context)
        entry = convert.request_to_yang(self.store.schema, req.request, full=False)
        ds = self._ds(req.target)
        with self.store.atomic():  # a modification never creates the request
            path = f"{SERVICES}/request[name={quote(entry['name'])}]"
            access = self.access.access(user)
            forest = self.store.forest(ds)
            if not forest.find_xpath(path) or (access is not None
                                               and access.hides(forest, path)):
                raise NetconfError.of(ErrorTag.DATA_MISSING,
                                      f"no request {entry['name']!r} in {ds.value}", path=path)
            return self._edit_request(ds, entry, Operation.MERGE, user,
                                      self.pb.ModifyRequestResponse)

    def WithdrawRequest(self, req: Any, context: Any) -> Any:
        user = self.user(context)
        if not req.name:
            raise convert.bad("request name is empty")
        return self._edit_request(self._ds(req.target), {"name": req.name}, Operation.DELETE,
                                  user, self.pb.WithdrawRequestResponse)

    def ListRequests(self, req: Any, context: Any) -> Any:
        doc = self._read(Datastore.OPERATIONAL, SERVICES, self.user(context))
        return self.pb.ListRequestsResponse(requests=[
            convert.status_from_yang(self.pb, e) for e in convert.requests_from(doc)])

    def GetRequest(self, req: Any, context: Any) -> Any:
        user = self.user(context)
        if not req.name:
            raise convert.bad("request name is empty")
        path = f"{SERVICES}/request[name={quote(req.name)}]"
        found = convert.requests_from(self._read(Datastore.OPERATIONAL, path, user))
        if not found:
            raise NetconfError.of(ErrorTag.DATA_MISSING, f"no request {req.name!r}", path=path)
        return convert.status_from_yang(self.pb, found[0], self.pb.GetRequestResponse)

    # -- network view ---------------------------------------------------------------------------

    def GetTopology(self, req: Any, context: Any) -> Any:
        doc = self._read(Datastore.OPERATIONAL, NETWORKS, self.user(context))
        if req.network_id and req.network_id not in convert.network_ids(doc):
            raise NetconfError.of(ErrorTag.DATA_MISSING, f"no network {req.network_id!r}",
                                  path=f"{NETWORKS}/network[network-id="
                                       f"{quote(req.network_id)}]")
        return convert.topology_from(self.pb, doc, req.network_id)

    def GetMetrics(self, req: Any, context: Any) -> Any:
        user = self.user(context)
        requests = convert.requests_from(self._read(Datastore.OPERATIONAL, SERVICES, user))
        topology = convert.topology_from(self.pb, self._read(Datastore.OPERATIONAL, NETWORKS,
                                                             user))
        devices = self._read(Datastore.OPERATIONAL, SOUTHBOUND, user).get(
            "sdqn-controller:controller", {}).get("southbound", {}).get("device", [])
        return self.pb.GetMetricsResponse(
            last_solve=self._last_solve(user),
            requests=[convert.status_from_yang(self.pb, e) for e in requests],
            links=topology.links,
            devices=[self.pb.DeviceSync(node_id=d["node-id"], adapter=d.get("adapter", ""),
                                        connection_state=d.get("connection-state", ""),
                                        sync_state=d.get("sync-state", ""),
                                        last_error=d.get("last-error", "")) for d in devices],
            running_version=self.store.versions[Datastore.RUNNING],
            operational_version=self.store.versions[Datastore.OPERATIONAL])

    def ListAlarms(self, req: Any, context: Any) -> Any:
        doc = self._read(Datastore.OPERATIONAL, ALARMS, self.user(context))
        alarms = doc.get("ietf-alarms:alarms", {}).get("alarm-list", {}).get("alarm", [])
        return self.pb.ListAlarmsResponse(alarms=[
            convert.alarm_from_yang(self.pb, a) for a in alarms
            if req.include_cleared or not a.get("is-cleared", False)])

    # -- transactions ----------------------------------------------------------------------------

    def WhatIf(self, req: Any, context: Any) -> Any:
        """A dry run with hypothetical requests: the same NACM exec check as
        sdqn-controller:dry-run (RFC 8341 §3.4.4), since it reads the whole candidate."""
        user = self.user(context)
        self.access.require_rpc(user, "sdqn-controller", "dry-run")
        limit = req.time_limit_s or self.solve_time_limit_s
        if not math.isfinite(limit) or limit <= 0:
            raise convert.bad("time_limit_s must be a positive number")
        if limit > self.solve_time_limit_s:   # refused, not silently cut to the cap
            raise convert.bad(f"time_limit_s {limit:g} is above the server's cap of "
                              f"{self.solve_time_limit_s:g} s")
        config = configuration(self.store)
        known = {r["name"]: r for r in convert.requests_from(config)}
        names = [msg.name for msg in req.upsert]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:   # one list key twice in one edit is ambiguous (RFC 7950 §7.8.2)
            raise convert.bad("upsert names a request more than once: " + ", ".join(
                f"request[name={quote(name)}]" for name in twice))
        upserts = []
        for msg in req.upsert:
            partial = convert.request_to_yang(self.store.schema, msg,
                                              full=msg.name not in known)
            upserts.append({**known.get(msg.name, {}), **partial})
        hypothetical = set(known) | {u["name"] for u in upserts}
        unknown = [name for name in req.withdraw if name not in hypothetical]
        if unknown:   # a withdrawal that matches nothing is a typo, not a no-op
            raise NetconfError.of(ErrorTag.DATA_MISSING, "cannot withdraw " + ", ".join(
                f"{SERVICES}/request[name={quote(name)}]" for name in unknown)
                + ": no such request", path=f"{SERVICES}/request[name={quote(unknown[0])}]")
        self.access.core.what_if.take(user)  # after the input checks: bad input is free
        result = what_if(apply_hypothesis(config, upserts, req.withdraw),
                         time_limit_s=limit,
                         expander=self.expander)
        response = self.pb.WhatIfResponse(device_diff_available=result.device_diff_available,
                                          notes=result.notes, pushed=False)
        if result.plan is not None:
            response.solve.CopyFrom(convert.solve_from_plan(self.pb, result.plan))
            response.requests.extend(convert.planned_from(self.pb, result.plan))
        for device in result.devices:
            response.devices.add(node_id=device.node_id, changes=[
                convert.leaf_change(self.pb, c) for c in device.changes])
        return response

    def Commit(self, req: Any, context: Any) -> Any:
        user = self.user(context)
        note = ChangeNote("commit", req.label, req.comment)
        self.access.require_rpc(user, "ietf-netconf", "commit")
        with self.history.recording():
            self.access.commit(user, note=note)
            record = self.history.last
        return self._commit_response(record, note, user, self.pb.CommitResponse)

    def Rollback(self, req: Any, context: Any) -> Any:
        """Running as it was before a change (by id, or `steps` changes back)."""
        user = self.user(context)
        self.access.require_rpc(user, "ietf-netconf", "copy-config")
        if req.commit_id and req.steps:
            raise convert.bad("give commit_id or steps, not both")
        if req.commit_id:
            commit_id = req.commit_id
        else:
            steps = req.steps or 1
            recent = self.history.log.recent(steps)
            if len(recent) < steps:
                raise NetconfError.of(ErrorTag.DATA_MISSING,
                                      f"only {len(recent)} change(s) in the history")
            commit_id = recent[steps - 1].commit_id
        note = ChangeNote("rollback", req.label or f"rollback to before {commit_id}",
                          req.comment)

        def replace(content: str) -> None:
            self.access.replace(Datastore.RUNNING, content, "json", user)

        done = self.commits.rollback_to(commit_id, replace, label=note.label,
                                        comment=note.comment)
        return self._commit_response(done, note, user, self.pb.RollbackResponse)

    def _commit_response(self, record: Record | None, note: ChangeNote, user: str,
                         cls: Any) -> Any:
        """CommitResponse or RollbackResponse (the same fields)."""
        response = cls(label=note.label, comment=note.comment, changed=record is not None,
                       solve=self._last_solve(user))
        if record is not None:
            response.commit_id, response.seq = record.commit_id, record.seq
        return response

    def _change(self) -> ChangeControl:
        if self.expander is None:
            raise NetconfError.of(ErrorTag.OPERATION_NOT_SUPPORTED,
                                  "the service layer (Q-NUM expansion) is not running")
        return ChangeControl(self.store, self.expander)

    def AcknowledgeAlarm(self, req: Any, context: Any) -> Any:
        """RFC 8632 set-operator-state through the same action path as NETCONF's
        <action> and RESTCONF's POST (controller.netconf.actions): NACM exec on the
        action before the alarm is looked up."""
        user = self.user(context)
        entry = {"resource": req.resource, "alarm-type-id": req.alarm_type_id,
                 "alarm-type-qualifier": req.alarm_type_qualifier,
                 "set-operator-state": {"state": req.state or "ack",
                                        **({"text": req.text} if req.text else {})}}
        node = self.actions.parse_json({"ietf-alarms:alarms": {"alarm-list": {
            "alarm": [entry]}}})
        self.actions.invoke(user, node)
        doc = self._read(Datastore.OPERATIONAL, ALARMS, user)
        for alarm in doc.get("ietf-alarms:alarms", {}).get("alarm-list", {}).get("alarm", []):
            if (alarm.get("resource"), alarm.get("alarm-type-id"),
                    alarm.get("alarm-type-qualifier", "")) == (
                    req.resource, req.alarm_type_id, req.alarm_type_qualifier):
                changes = [c for c in alarm.get("operator-state-change", [])
                           if c.get("operator") == user]
                if changes:
                    newest = max(changes, key=lambda c: str(c["time"]))
                    return self.pb.AcknowledgeAlarmResponse(
                        time=newest["time"], operator=newest["operator"],
                        state=newest["state"])
        return self.pb.AcknowledgeAlarmResponse(operator=user, state=req.state or "ack")

    def CalibrateApc(self, req: Any, context: Any) -> Any:
        """sdqn-controller:calibrate-apc, with NETCONF's NACM exec check."""
        user = self.user(context)
        self.access.require_rpc(user, "sdqn-controller", "calibrate-apc")
        if self.calibrate is None:
            raise NetconfError.of(ErrorTag.OPERATION_NOT_SUPPORTED,
                                  "the service layer (APC calibration) is not running")
        output = self.calibrate(req.node_id, req.force)
        return self.pb.CalibrateApcResponse(
            result=output["result"],
            expected_duration_s=float(output.get("expected-duration", 0)))

    # -- training drills (sdqn-drills) ------------------------------------------------------

    def _drills(self, user: str, rpc: str) -> DrillService:
        return self._serving(user, "sdqn-drills", rpc, self.drills,
                             "training drills are not served by this controller")

    def _serving(self, user: str, module: str, rpc: str, part: _T | None,
                 missing: str) -> _T:
        """The part of the controller that answers module:rpc, after NETCONF's NACM exec
        check on it (first, as NETCONF's dispatcher does); operation-not-supported
        (UNIMPLEMENTED) when that part is not running."""
        self.access.require_rpc(user, module, rpc)
        if part is None:
            raise NetconfError.of(ErrorTag.OPERATION_NOT_SUPPORTED, missing)
        return part

    @staticmethod
    def _on_drill(drill_id: str, call: Callable[[str], _T]) -> _T:
        """`call` on a non-empty drill id; NOT_FOUND for an id no drill has (NETCONF's
        invalid-value, told apart)."""
        if not drill_id:
            raise convert.bad("drill_id is empty")
        try:
            return call(drill_id)
        except UnknownDrill as err:
            raise NetconfError.of(ErrorTag.DATA_MISSING, f"{err.first.message} (drill_id)",
                                  path=f"{DRILLS}/drill[id={quote(drill_id)}]") from None

    def StartDrill(self, req: Any, context: Any) -> Any:
        """sdqn-drills:start-drill: a fault kind the module does not define is refused
        before the emulator is touched."""
        drills = self._drills(self.user(context), "start-drill")
        if req.fault_kind and req.fault_kind not in DRILL_KINDS:
            raise convert.bad(f"fault_kind {req.fault_kind!r} is not one of "
                              f"{', '.join(DRILL_KINDS)}")
        drill = drills.start(req.fault_kind or None)
        return self.pb.StartDrillResponse(drill_id=drill.drill_id, started=drill.started)

    def SubmitLocalisation(self, req: Any, context: Any) -> Any:
        """sdqn-drills:submit-localisation."""
        drills = self._drills(self.user(context), "submit-localisation")
        if not req.resource.strip():
            raise convert.bad("resource is empty")
        score = self._on_drill(req.drill_id, lambda d: drills.submit(d, req.resource))
        return self.pb.SubmitLocalisationResponse(
            score=convert.drill_score(self.pb, score.to_json()))

    def EndDrill(self, req: Any, context: Any) -> Any:
        """sdqn-drills:end-drill: the fault cleared and revealed."""
        drills = self._drills(self.user(context), "end-drill")
        drill = self._on_drill(req.drill_id, drills.end)
        return self.pb.EndDrillResponse(
            fault=convert.drill_fault(self.pb, drill.fault_json()),
            score=convert.drill_score(self.pb, drill.result.to_json() if drill.result else {}))

    def ListDrills(self, req: Any, context: Any) -> Any:
        """/drills/drill from <operational>, NACM-pruned like a NETCONF get-data."""
        doc = self._read(Datastore.OPERATIONAL, DRILLS, self.user(context))
        return self.pb.ListDrillsResponse(drills=[
            convert.drill_from_yang(self.pb, entry)
            for entry in doc.get("sdqn-drills:drills", {}).get("drill", [])])

    def DryRun(self, req: Any, context: Any) -> Any:
        """sdqn-controller:dry-run, with NETCONF's NACM exec check."""
        user = self.user(context)
        action = req.action or "commit"
        if action not in ("commit", "optimise"):
            raise convert.bad(f"action must be commit or optimise, not {action!r}")
        edit = self._edit_members(req.edit_json, action)
        self.access.require_rpc(user, "sdqn-controller", "dry-run")
        change = self._change()
        self.access.core.what_if.take(user)
        if edit is None:
            impact = change.dry_run(action)
        else:
            nodes = change.store.parse_json(edit)
            impact = change.dry_run_edit(nodes, check=self.access.core.merge_check(user, nodes),
                                         session_id=self.access.session_id(user))
        return convert.impact_from(self.pb, impact.to_json(), self.pb.DryRunResponse)

    @staticmethod
    def _edit_members(text: str, action: str) -> dict[str, Any] | None:
        """DryRunRequest.edit_json as RFC 7951 members, None when empty."""
        if not text:
            return None
        if action != "commit":
            raise convert.bad("edit_json previews a commit: it goes with action commit only")
        try:
            members = json.loads(text)
        except json.JSONDecodeError as exc:
            raise convert.bad(f"edit_json is not JSON: {exc}") from None
        if not isinstance(members, dict):
            raise convert.bad("edit_json must be a JSON object of top-level members "
                              "(RFC 7951)")
        return members

    def Optimise(self, req: Any, context: Any) -> Any:
        """sdqn-controller:optimise (exec-checked like NETCONF's)."""
        user = self.user(context)
        self.access.require_rpc(user, "sdqn-controller", "optimise")
        change = self._change()
        if req.dry_run:
            self.access.core.what_if.take(user)
        impact = (change.dry_run("optimise") if req.dry_run
                  else change.optimise(session_id=self.access.session_id(user)))
        return convert.impact_from(self.pb, impact.to_json(), self.pb.OptimiseResponse)

    def ListCommits(self, req: Any, context: Any) -> Any:
        # The history rpcs carry NETCONF's NACM exec checks (RFC 8341 §3.4.4).
        self.access.require_rpc(self.user(context), "sdqn-controller", "list-commits")
        if req.limit > MAX_LIMIT:   # the YANG rpc's range 1..1000, as NETCONF refuses it
            raise convert.bad(f"limit must be at most {MAX_LIMIT}, not {req.limit}")
        return self.pb.ListCommitsResponse(commits=[
            self._record(r) for r in self.commits.list_commits(req.limit or 20)])

    def ShowCommit(self, req: Any, context: Any) -> Any:
        user = self.user(context)
        if not req.commit_id:
            raise convert.bad("commit_id is empty")
        self.access.require_rpc(user, "sdqn-controller", "show-commit")
        record, changes = self.commits.show_commit(user, req.commit_id)
        devices = self.commits.device_changes(user, record.commit_id)
        impact = self.commits.impact(user, record.commit_id)
        return self.pb.ShowCommitResponse(
            commit=self._record(record),
            changes=[convert.leaf_change(self.pb, c) for c in changes],
            devices=[convert.device_diff(self.pb, d) for d in devices],
            impact=(convert.impact_from(self.pb, {"impact": impact}, self.pb.DryRunResponse)
                    if impact is not None else None))

    def DiffCommits(self, req: Any, context: Any) -> Any:
        user = self.user(context)
        if not req.from_commit_id:
            raise convert.bad("from_commit_id is empty")
        self.access.require_rpc(user, "sdqn-controller", "diff-commits")
        changes = self.commits.diff_commits(user, req.from_commit_id,
                                            req.to_commit_id or None)
        return self.pb.DiffCommitsResponse(changes=[convert.leaf_change(self.pb, c)
                                                    for c in changes])

    # -- the time-series history (sdqn-history) --------------------------------------------

    def _history(self, user: str, rpc: str) -> HistoryApi:
        return self._serving(user, "sdqn-history", rpc, self.history_api,
                             "the history store is not running")

    def _sample(self, members: Mapping[str, Any], resource_key: str = "resource",
                time_key: str = "time") -> Any:
        fixed = {resource_key, time_key, "kind", "event", "root-cause-resource"}
        return self.pb.HistorySample(
            time=members.get(time_key, ""), kind=members.get("kind", ""),
            resource=members.get(resource_key, ""), event=members.get("event", ""),
            values=[self.pb.HistoryValue(
                name=k, value=str(v).lower() if isinstance(v, bool) else str(v))
                for k, v in members.items() if k not in fixed],
            root_cause_resources=members.get("root-cause-resource", []))

    def GetHistory(self, req: Any, context: Any) -> Any:
        """sdqn-history:get-history, exec-checked like NETCONF's (RFC 8341 §3.4.4)."""
        user = self.user(context)
        out = self._history(user, "get-history").get_history(
            user, start=req.start or None, end=req.end or None,
            kinds=list(req.kinds) or None, resource=req.resource or None)
        return self.pb.GetHistoryResponse(
            window_start=out["window-start"], window_end=out["window-end"],
            samples=[self._sample(m) for m in out["sample"]])

    def GetSnapshot(self, req: Any, context: Any) -> Any:
        """sdqn-history:get-snapshot."""
        user = self.user(context)
        out = self._history(user, "get-snapshot").get_snapshot(user, time=req.time or None)
        return self.pb.GetSnapshotResponse(
            window_start=out["window-start"], window_end=out["window-end"], time=out["time"],
            links=[self._sample({**m, "kind": "link"}, "link-id", "sampled")
                   for m in out["link"]],
            nodes=[self._sample({**m, "kind": "node"}, "node-id", "sampled")
                   for m in out["node"]],
            services=[self._sample({**m, "kind": "service"}, "name", "sampled")
                      for m in out["service"]],
            alarms=[self._sample({**m, "kind": "alarm"}, time_key="sampled")
                    for m in out["alarm"]])

    def _record(self, r: Record) -> Any:
        return self.pb.CommitRecord(commit_id=r.commit_id, seq=r.seq, label=r.label,
                                    user=r.user, timestamp=r.timestamp, kind=r.kind,
                                    source_host=r.source_host, comment=r.comment)

    # -- events ----------------------------------------------------------------------------------

    def Watch(self, req: Any, context: Any) -> Iterator[Any]:
        user = self.user(context)
        if self.hub is None:
            raise NetconfError.of(ErrorTag.OPERATION_NOT_SUPPORTED, "no event source")
        everything = not (req.alarms or req.services or req.config or req.links)
        wanted = {key for key, on in ((ALARM_EVENT, req.alarms), (SERVICE_EVENT, req.services),
                                      (CONFIG_EVENT, req.config), (LINK_EVENT, req.links))
                  if on or everything}
        access = self.access.access(user)

        def accept(event: Event) -> bool:
            return (event.module, event.name) in wanted and (
                access is None or (
                    access.notification_allowed(event.module, event.name)
                    and access.notification_visible(event.module, event.name, event.body)))

        with self.hub.subscribe(accept) as subscription:
            while context.is_active():
                event = subscription.get(0.25)
                if event is not None:
                    yield self._event(event, subscription.dropped)

    def _event(self, event: Event, dropped: int) -> Any:
        msg = self.pb.WatchResponse(event_time=event.event_time, dropped=dropped)
        body = event.body
        if (event.module, event.name) == SERVICE_EVENT:
            msg.service.CopyFrom(self.pb.ServiceStateChange(
                name=body.get("name", ""), oper_state=body.get("oper-state", ""),
                reason=body.get("reason", "")))
        elif (event.module, event.name) == ALARM_EVENT:
            msg.alarm.CopyFrom(self.pb.AlarmEvent(
                resource=str(body.get("resource", "")),
                alarm_type_id=str(body.get("alarm-type-id", "")),
                alarm_type_qualifier=str(body.get("alarm-type-qualifier", "")),
                perceived_severity=str(body.get("perceived-severity", ""))))
        elif (event.module, event.name) == LINK_EVENT:
            msg.link.CopyFrom(self.pb.LinkStateChange(
                network_id=str(body.get("network-id", "")), link_id=str(body.get("link-id", "")),
                oper_status=str(body.get("oper-status", ""))))
        else:
            changed_by = body.get("changed-by", {})
            msg.config.CopyFrom(self.pb.ConfigChange(
                datastore=body.get("datastore", ""),
                paths=[e["target"] for e in body.get("edit", [])],
                user=str(changed_by.get("username", SERVER)),
                source_host=str(changed_by.get("source-host", ""))))
        return msg
