"""`sdqn request|topology|alarms|commit|rollback|commits|drill|watch`: the controller from
a shell.

Every command talks gRPC (sdqn.v1) to a running controller. Output is a rich table for
people, or with --json one JSON document (protobuf field names; `watch` prints one JSON
object per line) for scripts. Request edits go to the candidate unless --running is
given; `sdqn commit` applies the candidate, `sdqn commit --dry-run` shows what it would
do (plan and per-device changes) without touching anything. `sdqn commits` reads the
commit history (every change of running, whichever interface made it) and rolls back.
`sdqn drill` runs a training drill on the emulated network (sdqn-drills).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from controller.clients.endpoint import (
    DEFAULT_TARGET,
    CaOpt,
    CertOpt,
    ClientError,
    Endpoint,
    JsonOpt,
    KeyOpt,
    TargetOpt,
    TokenOpt,
)
from controller.grpc_api.applications import APPLICATION_CODES

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from controller.clients.grpc_client import Client

request_app = typer.Typer(no_args_is_help=True, help="Entanglement service requests.")
topology_app = typer.Typer(no_args_is_help=True, help="The configured network.")
commits_app = typer.Typer(no_args_is_help=True, help="The commit history: every change of "
                          "running, whichever interface made it.")
drill_app = typer.Typer(no_args_is_help=True, help="Training drills: a hidden fault on the "
                        "emulated network, localised and scored.")
RunningOpt = Annotated[bool, typer.Option("--running",
                                          help="edit running directly (default: candidate)")]


# gRPC, protobuf's JSON printer and rich are imported where first used: `--help` needs
# none of them, and a call's request leaves before the reply's rendering is loaded.


def _connect(endpoint: Endpoint) -> Client:
    from controller.clients.grpc_client import Client

    return Client(endpoint)


def _out(*, stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=True) if stderr else Console(soft_wrap=True)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _as_dict(message: Any) -> dict[str, Any]:
    from google.protobuf.json_format import MessageToDict

    result: dict[str, Any] = MessageToDict(message, preserving_proto_field_name=True,
                                           always_print_fields_with_no_presence=True)
    return result


def _run(endpoint: Endpoint, as_json: bool, action: Callable[[Client], Any],
         render: Callable[[Any], None]) -> None:
    """Call, print (JSON or table), and turn a gRPC error into exit status 1."""
    try:
        with _connect(endpoint) as client:
            result = action(client)
    except ClientError as err:
        _fail(err, as_json)
    if as_json:
        print(json.dumps(_as_dict(result), indent=2, sort_keys=True))
    else:
        render(result)


def _fail(err: ClientError, as_json: bool) -> NoReturn:
    """The gRPC status and message, as JSON on stdout for scripts; exit status 1."""
    if as_json:
        print(json.dumps({"error": {"code": err.code, "message": err.message}}))
    else:
        # The message is the server's text, not markup: an XPath key predicate such as
        # request[name='x'] would otherwise be read as a rich style tag and vanish.
        _out(stderr=True).print(f"[red]error[/red] {_escape(err.code)}: {_escape(err.message)}")
    raise typer.Exit(1)


def _endpoint(target: str, token: str | None, ca: Any, cert: Any, key: Any) -> Endpoint:
    return Endpoint(target=target, token=token, tls_ca=ca, tls_cert=cert, tls_key=key)


def _table(title: str, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> Table:
    from rich.table import Table

    table = Table(title=_escape(title))
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else _escape(str(v)) for v in row))
    return table


def _num(message: Any, field: str, fmt: str = "{:.4g}") -> str:
    return fmt.format(getattr(message, field)) if message.HasField(field) else ""


# -- requests -----------------------------------------------------------------------------


def _target(pb: Any, running: bool) -> int:
    """--running: the running datastore; otherwise the candidate, said explicitly."""
    return int(pb.TARGET_RUNNING if running else pb.TARGET_CANDIDATE)


def _application(name: str) -> int:
    code = APPLICATION_CODES.get(name.lower())
    if code is None:
        raise typer.BadParameter(f"application must be one of {', '.join(APPLICATION_CODES)}")
    return code


@request_app.command("add")
def request_add(
        name: Annotated[str, typer.Argument(help="request name (1..64 characters)")],
        source: Annotated[str, typer.Option("--src", help="source node-id")],
        destination: Annotated[str, typer.Option("--dst", help="destination node-id")],
        application: Annotated[str, typer.Option("--app", help="qkd, dqc, dqs, teleportation")],
        min_fidelity: Annotated[float, typer.Option(help="lowest useful fidelity")],
        rate: Annotated[float, typer.Option(help="demanded pairs/s")],
        weight: Annotated[float | None, typer.Option(help="utility weight")] = None,
        priority: Annotated[int | None, typer.Option(help="0..255")] = None,
        slice_: Annotated[str | None, typer.Option("--slice", help="network slice")] = None,
        running: RunningOpt = False, target: TargetOpt = DEFAULT_TARGET,
        token: TokenOpt = None, tls_ca: CaOpt = None, tls_cert: CertOpt = None,
        tls_key: KeyOpt = None, as_json: JsonOpt = False) -> None:
    """Submit a new entanglement request."""
    def action(client: Client) -> Any:
        pb = client.pb
        fields: dict[str, Any] = {"name": name, "source_node": source,
                                  "destination_node": destination,
                                  "application": _application(application),
                                  "min_fidelity": min_fidelity, "demanded_rate": rate}
        if weight is not None:
            fields["weight"] = weight
        if priority is not None:
            fields["priority"] = priority
        if slice_ is not None:
            fields["slice"] = slice_
        return client.call("SubmitRequest", pb.SubmitRequestRequest(
            request=pb.EntanglementRequest(**fields), target=_target(pb, running)))

    _run(_endpoint(target, token, tls_ca, tls_cert, tls_key), as_json, action, _edited)


@request_app.command("modify")
def request_modify(
        name: Annotated[str, typer.Argument(help="request name")],
        min_fidelity: Annotated[float | None, typer.Option()] = None,
        rate: Annotated[float | None, typer.Option(help="demanded pairs/s")] = None,
        weight: Annotated[float | None, typer.Option()] = None,
        priority: Annotated[int | None, typer.Option()] = None,
        enabled: Annotated[bool | None, typer.Option("--enabled/--disabled")] = None,
        slice_: Annotated[str | None, typer.Option("--slice", help="network slice")] = None,
        running: RunningOpt = False, target: TargetOpt = DEFAULT_TARGET,
        token: TokenOpt = None, tls_ca: CaOpt = None, tls_cert: CertOpt = None,
        tls_key: KeyOpt = None, as_json: JsonOpt = False) -> None:
    """Change some fields of an existing request."""
    def action(client: Client) -> Any:
        pb = client.pb
        fields = {k: v for k, v in (("min_fidelity", min_fidelity), ("demanded_rate", rate),
                                    ("weight", weight), ("priority", priority),
                                    ("enabled", enabled), ("slice", slice_))
                  if v is not None}
        return client.call("ModifyRequest", pb.ModifyRequestRequest(
            request=pb.EntanglementRequest(name=name, **fields),
            target=_target(pb, running)))

    _run(_endpoint(target, token, tls_ca, tls_cert, tls_key), as_json, action, _edited)


@request_app.command("withdraw")
def request_withdraw(
        name: Annotated[str, typer.Argument(help="request name")],
        running: RunningOpt = False, target: TargetOpt = DEFAULT_TARGET,
        token: TokenOpt = None, tls_ca: CaOpt = None, tls_cert: CertOpt = None,
        tls_key: KeyOpt = None, as_json: JsonOpt = False) -> None:
    """Withdraw (delete) a request."""
    def action(client: Client) -> Any:
        pb = client.pb
        return client.call("WithdrawRequest", pb.WithdrawRequestRequest(
            name=name, target=_target(pb, running)))

    _run(_endpoint(target, token, tls_ca, tls_cert, tls_key), as_json, action, _edited)


def _edited(result: Any) -> None:
    hint = " — run `sdqn commit` to apply" if result.candidate_dirty \
        and result.datastore == "candidate" else ""
    _out().print(f"{_escape(result.datastore)} updated (version {result.version}){hint}")


@request_app.command("list")
def request_list(target: TargetOpt = DEFAULT_TARGET, token: TokenOpt = None,
                 tls_ca: CaOpt = None, tls_cert: CertOpt = None, tls_key: KeyOpt = None,
                 as_json: JsonOpt = False) -> None:
    """Every request with the controller's decision and its service state."""
    def render(result: Any) -> None:
        _out().print(_table("entanglement requests", (
            "name", "src", "dst", "app", "min F", "rate", "admission", "oper", "path",
            "pred. rate", "pred. F"), (
            (s.request.name, s.request.source_node, s.request.destination_node,
             _app_name(s.request.application), _num(s.request, "min_fidelity"),
             _num(s.request, "demanded_rate"), s.state.admission, s.state.oper_state,
             " → ".join(s.state.path), _num(s.state, "predicted_rate"),
             _num(s.state, "predicted_fidelity")) for s in result.requests)))

    _run(_endpoint(target, token, tls_ca, tls_cert, tls_key), as_json,
         lambda c: c.call("ListRequests", c.pb.ListRequestsRequest()), render)


@request_app.command("show")
def request_show(name: Annotated[str, typer.Argument(help="request name")],
                 target: TargetOpt = DEFAULT_TARGET, token: TokenOpt = None,
                 tls_ca: CaOpt = None, tls_cert: CertOpt = None, tls_key: KeyOpt = None,
                 as_json: JsonOpt = False) -> None:
    """One request: its parameters and state."""
    def render(status: Any) -> None:
        rows = [(f"request.{k}", v) for k, v in _as_dict(status.request).items()]
        rows += [(f"state.{k}", " → ".join(v) if isinstance(v, list) else v)
                 for k, v in _as_dict(status.state).items() if v not in ("", 0, [])]
        _out().print(_table(f"request {status.request.name}", ("field", "value"), rows))

    _run(_endpoint(target, token, tls_ca, tls_cert, tls_key), as_json,
         lambda c: c.call("GetRequest", c.pb.GetRequestRequest(name=name)), render)


def _app_name(code: int) -> str:
    return next((n for n, c in APPLICATION_CODES.items() if c == code), "")


# -- network --------------------------------------------------------------------------------


@topology_app.command("show")
def topology_show(network: Annotated[str, typer.Option(help="network-id (default: all)")] = "",
                  target: TargetOpt = DEFAULT_TARGET, token: TokenOpt = None,
                  tls_ca: CaOpt = None, tls_cert: CertOpt = None, tls_key: KeyOpt = None,
                  as_json: JsonOpt = False) -> None:
    """Nodes and links with their measured state."""
    def render(topo: Any) -> None:
        out = _out()
        out.print(_table("nodes", ("network", "node", "kind", "qubits", "T2 s", "status"), (
            (n.network_id, n.node_id, n.device_kind, n.memory_qubits,
             _num(n, "coherence_time"), n.oper_status) for n in topo.nodes)))
        out.print(_table("links", ("network", "link", "ends", "km", "F link", "F meas.",
                                   "QBER", "rate", "status"), (
            (ln.network_id, ln.link_id, f"{ln.source} – {ln.destination}",
             _num(ln, "fibre_length_km"), _num(ln, "link_fidelity"),
             _num(ln, "measured_fidelity"), _num(ln, "qber"), _num(ln, "generation_rate"),
             ln.oper_status) for ln in topo.links)))

    _run(_endpoint(target, token, tls_ca, tls_cert, tls_key), as_json,
         lambda c: c.call("GetTopology", c.pb.GetTopologyRequest(network_id=network)), render)


def alarms(include_cleared: Annotated[bool, typer.Option("--all",
                                                         help="cleared alarms too")] = False,
           target: TargetOpt = DEFAULT_TARGET, token: TokenOpt = None, tls_ca: CaOpt = None,
           tls_cert: CertOpt = None, tls_key: KeyOpt = None, as_json: JsonOpt = False) -> None:
    """The alarm list (RFC 8632) of the controller."""
    def render(result: Any) -> None:
        _out().print(_table("alarms", ("resource", "type", "severity", "cleared", "text",
                                       "last change"), (
            (a.resource, a.alarm_type_id, a.perceived_severity, a.is_cleared, a.alarm_text,
             a.last_changed) for a in result.alarms)))

    _run(_endpoint(target, token, tls_ca, tls_cert, tls_key), as_json,
         lambda c: c.call("ListAlarms", c.pb.ListAlarmsRequest(
             include_cleared=include_cleared)), render)


# -- transactions --------------------------------------------------------------------------


LabelOpt = Annotated[str, typer.Option("--label", "-m", help="short name of the change "
                                       "(up to 256 characters)")]
CommentOpt = Annotated[str, typer.Option("--comment", "-c", help="why the change is made "
                                         "(free text, kept in the history)")]


def commit(label: LabelOpt = "", comment: CommentOpt = "",
           dry_run: Annotated[bool, typer.Option("--dry-run", help="show the impact (services "
                                                 "added, removed, moved; per-device "
                                                 "changes); change nothing")] = False,
           target: TargetOpt = DEFAULT_TARGET, token: TokenOpt = None, tls_ca: CaOpt = None,
           tls_cert: CertOpt = None, tls_key: KeyOpt = None, as_json: JsonOpt = False) -> None:
    """Commit the candidate (Q-NUM expansion, device push), or --dry-run it."""
    if dry_run:
        _run(_endpoint(target, token, tls_ca, tls_cert, tls_key), as_json,
             lambda c: c.call("DryRun", c.pb.DryRunRequest(action="commit")),
             lambda impact: _render_impact(impact, "dry run: nothing was changed or pushed"))
        return
    _run(_endpoint(target, token, tls_ca, tls_cert, tls_key), as_json,
         lambda c: c.call("Commit", c.pb.CommitRequest(label=label, comment=comment)),
         _render_commit)


def optimise(dry_run: Annotated[bool, typer.Option("--dry-run", help="show the impact; "
                                                   "change nothing")] = False,
             target: TargetOpt = DEFAULT_TARGET, token: TokenOpt = None, tls_ca: CaOpt = None,
             tls_cert: CertOpt = None, tls_key: KeyOpt = None, as_json: JsonOpt = False
             ) -> None:
    """Re-optimise: live services move only as their live-move policy allows."""
    heading = "dry run: nothing was changed or pushed" if dry_run else "optimised"
    _run(_endpoint(target, token, tls_ca, tls_cert, tls_key), as_json,
         lambda c: c.call("Optimise", c.pb.OptimiseRequest(dry_run=dry_run)),
         lambda impact: _render_impact(impact, heading))


def rollback(to: Annotated[str, typer.Option("--to", help="commit id: running as it was "
                                             "before that commit")] = "",
             steps: Annotated[int, typer.Option(help="undo the last N commits")] = 1,
             label: LabelOpt = "", comment: CommentOpt = "",
             target: TargetOpt = DEFAULT_TARGET, token: TokenOpt = None, tls_ca: CaOpt = None,
             tls_cert: CertOpt = None, tls_key: KeyOpt = None,
             as_json: JsonOpt = False) -> None:
    """Put running back as it was before a commit made through the API."""
    _run(_endpoint(target, token, tls_ca, tls_cert, tls_key), as_json,
         lambda c: c.call("Rollback", c.pb.RollbackRequest(
             commit_id=to, steps=0 if to else steps, label=label, comment=comment)),
         _render_commit)


def _render_commit(result: Any) -> None:
    out = _out()
    if not result.changed:
        out.print("nothing to commit")
        return
    out.print(f"commit {result.commit_id} (#{result.seq}) {_escape(repr(result.label))}")
    if result.comment:
        out.print(f"comment: {_escape(result.comment)}")
    _render_solve(result.solve)


# -- commit history ------------------------------------------------------------------------


@commits_app.command("list")
def commits_list(limit: Annotated[int, typer.Option(help="newest N changes (1..1000)")] = 20,
                 target: TargetOpt = DEFAULT_TARGET, token: TokenOpt = None,
                 tls_ca: CaOpt = None, tls_cert: CertOpt = None, tls_key: KeyOpt = None,
                 as_json: JsonOpt = False) -> None:
    """The newest changes of running, newest first: who, when, how, label and comment."""
    def render(result: Any) -> None:
        _out().print(_table("commit history", (
            "#", "id", "time (UTC)", "kind", "user", "from", "label", "comment"), (
            (r.seq, r.commit_id, _time(r.timestamp), r.kind, r.user, r.source_host,
             r.label, r.comment) for r in result.commits)))

    _run(_endpoint(target, token, tls_ca, tls_cert, tls_key), as_json,
         lambda c: c.call("ListCommits", c.pb.ListCommitsRequest(limit=limit)), render)


@commits_app.command("show")
def commits_show(commit_id: Annotated[str, typer.Argument(help="commit id")],
                 target: TargetOpt = DEFAULT_TARGET, token: TokenOpt = None,
                 tls_ca: CaOpt = None, tls_cert: CertOpt = None, tls_key: KeyOpt = None,
                 as_json: JsonOpt = False) -> None:
    """One change of running: its record and what it changed, leaf by leaf."""
    def render(result: Any) -> None:
        r = result.commit
        _out().print(_table(f"commit {r.commit_id}", ("field", "value"), (
            ("seq", r.seq), ("time (UTC)", _time(r.timestamp)), ("kind", r.kind),
            ("user", r.user), ("from", r.source_host), ("label", r.label),
            ("comment", r.comment))))
        _render_changes(result.changes, "what it changed")

    _run(_endpoint(target, token, tls_ca, tls_cert, tls_key), as_json,
         lambda c: c.call("ShowCommit", c.pb.ShowCommitRequest(commit_id=commit_id)), render)


@commits_app.command("diff")
def commits_diff(from_commit: Annotated[str, typer.Argument(
                     help="running right after this commit ...")],
                 to_commit: Annotated[str, typer.Argument(
                     help="... against running right after this one "
                     "(default: running now)", show_default=False)] = "",
                 target: TargetOpt = DEFAULT_TARGET, token: TokenOpt = None,
                 tls_ca: CaOpt = None, tls_cert: CertOpt = None, tls_key: KeyOpt = None,
                 as_json: JsonOpt = False) -> None:
    """What differs between running after one commit and after another (or now)."""
    _run(_endpoint(target, token, tls_ca, tls_cert, tls_key), as_json,
         lambda c: c.call("DiffCommits", c.pb.DiffCommitsRequest(
             from_commit_id=from_commit, to_commit_id=to_commit)),
         lambda result: _render_changes(result.changes,
                                        f"{from_commit} → {to_commit or 'running now'}"))


@commits_app.command("rollback")
def commits_rollback(commit_id: Annotated[str, typer.Argument(
                         help="running becomes what it was before this commit")],
                     label: LabelOpt = "", comment: CommentOpt = "",
                     target: TargetOpt = DEFAULT_TARGET, token: TokenOpt = None,
                     tls_ca: CaOpt = None, tls_cert: CertOpt = None, tls_key: KeyOpt = None,
                     as_json: JsonOpt = False) -> None:
    """Put running back as it was right before a commit (recorded as a new change)."""
    _run(_endpoint(target, token, tls_ca, tls_cert, tls_key), as_json,
         lambda c: c.call("Rollback", c.pb.RollbackRequest(
             commit_id=commit_id, label=label, comment=comment)), _render_commit)


# -- training drills -------------------------------------------------------------------------


DrillIdArg = Annotated[str, typer.Argument(help="drill id, as `sdqn drill start` printed it")]


@drill_app.command("start")
def drill_start(kind: Annotated[str, typer.Option(
                    "--kind", help="fault to inject (fibre-cut, crash, drift-surge, "
                    "apc-out-of-spec, detector-failure, memory-degradation, timing-skew; "
                    "default: any)")] = "",
                target: TargetOpt = DEFAULT_TARGET, token: TokenOpt = None,
                tls_ca: CaOpt = None, tls_cert: CertOpt = None, tls_key: KeyOpt = None,
                as_json: JsonOpt = False) -> None:
    """Inject a hidden fault on a random target; one drill runs at a time."""
    _run(_endpoint(target, token, tls_ca, tls_cert, tls_key), as_json,
         lambda c: c.call("StartDrill", c.pb.StartDrillRequest(fault_kind=kind)),
         lambda r: _out().print(f"drill {r.drill_id} started {r.started}: find the fault"))


@drill_app.command("submit")
def drill_submit(drill_id: DrillIdArg,
                 resource: Annotated[str, typer.Argument(
                     help="node-id, link-id or instance-identifier believed faulted")],
                 target: TargetOpt = DEFAULT_TARGET, token: TokenOpt = None,
                 tls_ca: CaOpt = None, tls_cert: CertOpt = None, tls_key: KeyOpt = None,
                 as_json: JsonOpt = False) -> None:
    """Name the resource believed faulted; scored at once (one answer per drill)."""
    _run(_endpoint(target, token, tls_ca, tls_cert, tls_key), as_json,
         lambda c: c.call("SubmitLocalisation", c.pb.SubmitLocalisationRequest(
             drill_id=drill_id, resource=resource)),
         lambda r: _out().print(_score_line(r.score)))


@drill_app.command("end")
def drill_end(drill_id: DrillIdArg, target: TargetOpt = DEFAULT_TARGET,
              token: TokenOpt = None, tls_ca: CaOpt = None, tls_cert: CertOpt = None,
              tls_key: KeyOpt = None, as_json: JsonOpt = False) -> None:
    """Clear the drill's fault and reveal it."""
    def render(result: Any) -> None:
        _out().print(f"fault: {_escape(result.fault.kind)} on {_escape(result.fault.target)}")
        _out().print(_score_line(result.score) if result.HasField("score")
                     else "not answered")

    _run(_endpoint(target, token, tls_ca, tls_cert, tls_key), as_json,
         lambda c: c.call("EndDrill", c.pb.EndDrillRequest(drill_id=drill_id)), render)


@drill_app.command("list")
def drill_list(target: TargetOpt = DEFAULT_TARGET, token: TokenOpt = None,
               tls_ca: CaOpt = None, tls_cert: CertOpt = None, tls_key: KeyOpt = None,
               as_json: JsonOpt = False) -> None:
    """The current drill and the most recent ones, oldest first."""
    def render(result: Any) -> None:
        _out().print(_table("drills", ("id", "state", "started", "ended", "fault", "answer",
                                       "correct", "score"), (
            (d.drill_id, d.state, d.started, d.ended,
             f"{d.fault.kind} on {d.fault.target}" if d.HasField("fault") else "",
             d.answered_resource, d.score.correct if d.HasField("score") else "",
             d.score.score if d.HasField("score") else "") for d in result.drills)))

    _run(_endpoint(target, token, tls_ca, tls_cert, tls_key), as_json,
         lambda c: c.call("ListDrills", c.pb.ListDrillsRequest()), render)


def _score_line(score: Any) -> str:
    verdict = "correct" if score.correct else "incorrect"
    return (f"{verdict}: credit {score.credit:.2f}, {score.time_to_localise_s:.1f} s, "
            f"score {score.score}")


def _time(timestamp: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _render_changes(changes: Any, title: str) -> None:
    if not changes:
        _out().print(f"{_escape(title)}: no change")
        return
    _out().print(_table(title, ("operation", "path", "value", "previous"), (
        (c.operation, c.path, c.value[:60], c.previous[:60]) for c in changes)))


def _render_solve(solve: Any) -> None:
    if solve.status:
        _out().print(f"solve: {_escape(solve.status)}, objective {_num(solve, 'objective')}, gap "
                     f"{_num(solve, 'gap')}, {solve.admitted} admitted / {solve.rejected} "
                     f"rejected, {_num(solve, 'solve_time_s', '{:.3f}')} s")


def _render_impact(impact: Any, heading: str) -> None:
    out = _out()
    out.print(f"[bold]{_escape(heading)}[/bold]")
    t = impact.totals
    out.print(f"services: {t.added} added, {t.removed} removed, {t.moved} moved "
              f"({t.hard_switches} hard switches), {t.retuned} retuned, {t.rejected} "
              f"rejected; {t.devices} devices change; utility {t.utility_before:.4g} → "
              f"{t.utility_after:.4g}")
    if impact.services:
        out.print(_table("services", ("request", "change", "policy", "path before",
                                      "path after", "switch", "interruption s", "rate",
                                      "F", "reason"), (
            (s.name, s.change, s.live_move, " → ".join(s.old_path), " → ".join(s.new_path),
             s.switch_kind, _num(s, "expected_interruption_s", "{:.3f}"),
             _before_after(s, "rate"), _before_after(s, "fidelity"), s.reason)
            for s in impact.services)))
    if impact.devices:
        out.print(_table("per-device changes", ("device", "operation", "path", "value"), (
            (d.node_id, c.operation, c.path, c.value[:60])
            for d in impact.devices for c in d.changes)))


def _before_after(service: Any, name: str) -> str:
    def value(figures: str) -> str:
        if not service.HasField(figures):
            return "–"
        return f"{getattr(getattr(service, figures), name):.4g}"

    return f"{value('before')} → {value('after')}"


# -- events ---------------------------------------------------------------------------------


def watch(alarms_only: Annotated[bool, typer.Option("--alarms", help="alarm events")] = False,
          services: Annotated[bool, typer.Option("--services",
                                                 help="service-state changes")] = False,
          config: Annotated[bool, typer.Option("--config", help="configuration changes")]
          = False,
          links: Annotated[bool, typer.Option("--links", help="fibre state changes")] = False,
          count: Annotated[int, typer.Option(help="stop after N events (0: never)")] = 0,
          timeout: Annotated[float, typer.Option(help="stop after S seconds (0: never)")] = 0.0,
          target: TargetOpt = DEFAULT_TARGET, token: TokenOpt = None, tls_ca: CaOpt = None,
          tls_cert: CertOpt = None, tls_key: KeyOpt = None, as_json: JsonOpt = False) -> None:
    """Stream alarm, service-state, configuration and fibre state changes (all by default)."""
    endpoint = _endpoint(target, token, tls_ca, tls_cert, tls_key)
    seen = 0
    try:
        with _connect(endpoint) as client:
            request = client.pb.WatchRequest(alarms=alarms_only, services=services,
                                             config=config, links=links)
            for event in client.stream("Watch", request, timeout or None):
                _print_event(event, as_json)
                seen += 1
                if count and seen >= count:
                    break
    except ClientError as err:
        _fail(err, as_json)
    except KeyboardInterrupt:
        pass


def _print_event(event: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(_as_dict(event), sort_keys=True))
        sys.stdout.flush()
        return
    kind = event.WhichOneof("event")
    body = getattr(event, kind) if kind else None
    text = ", ".join(f"{k}={v}" for k, v in _as_dict(body).items()) if body else ""
    _out().print(f"{event.event_time} [bold]{kind}[/bold] {_escape(text)}")
