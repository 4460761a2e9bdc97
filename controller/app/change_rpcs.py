"""sdqn-controller's `dry-run` and `optimise` rpcs on NETCONF and RESTCONF.

Both northbounds call the service layer's one ChangeControl, so a NETCONF client, a
RESTCONF client and gRPC (controller/grpc_api/service.py) see the same impact. The
dispatchers have already checked NACM exec access to sdqn-controller:<rpc> (RFC 8341
§3.4.4). Input is checked like the base operations' (RFC 6241 Appendix A: an element the
rpc does not define is unknown-element, a bad value invalid-value; RFC 8040 §7 on
RESTCONF); output is the impact container in the module's namespace (RFC 7950 §7.14.4),
or its RFC 7951 members inside "sdqn-controller:output" (RFC 8040 §3.6.2).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree

from controller.errors import ErrorTag
from controller.netconf.core import RpcHandler as NetconfRpc
from controller.netconf.core import ServerCore, SessionContext
from controller.netconf.operations import Params
from controller.netconf.xml import bad_element, json_elements
from controller.restconf.access import DataAccess
from controller.restconf.operations import RpcHandler as RestconfRpc
from controller.restconf.operations import check_members
from controller.restconf.paths import invalid
from controller.service.change import ChangeControl

MODULE = "sdqn-controller"
NAMESPACE = "urn:sdqn:sdqn-controller"
ACTIONS = ("commit", "optimise")
EDIT_WITH_COMMIT_ONLY = "edit previews a commit: it goes with action commit only"


def _action(value: object, bad: Callable[[str], Exception]) -> str:
    action = "commit" if value is None else value
    if action not in ACTIONS:
        raise bad(f"action must be one of {', '.join(ACTIONS)}, not {value!r}")
    return str(action)


def netconf_change_rpcs(change: ChangeControl, core: ServerCore) -> dict[str, NetconfRpc]:
    """Handlers keyed "{namespace}name", as `NetconfServer(extra_rpcs=...)` wants; every
    dry-run spends a token of the user's what-if budget (the core's, shared with RESTCONF
    and gRPC)."""
    what_if = core.what_if

    def dry_run(session: SessionContext, op: etree._Element) -> list[etree._Element]:
        params = Params(op, {"action": NAMESPACE, "edit": NAMESPACE})
        action = _action(params.text("action"), lambda message: bad_element(
            "action", message, ErrorTag.INVALID_VALUE))
        edit = params.get("edit")
        if edit is not None and action != "commit":
            raise bad_element("edit", EDIT_WITH_COMMIT_ONLY, ErrorTag.INVALID_VALUE)
        what_if.take(session.username)
        if edit is None:
            return json_elements(change.dry_run(action).to_json(), NAMESPACE)
        nodes = change.store.parse_xml(edit)
        impact = change.dry_run_edit(nodes, check=core.merge_check(session.username, nodes),
                                     session_id=session.session_id)
        return json_elements(impact.to_json(), NAMESPACE)

    def optimise(session: SessionContext, op: etree._Element) -> list[etree._Element]:
        params = Params(op, {"dry-run": NAMESPACE})
        flag = params.get("dry-run")
        if flag is not None and (flag.text or "").strip():
            raise bad_element("dry-run", "dry-run is an empty leaf", ErrorTag.INVALID_VALUE)
        if flag is not None:
            what_if.take(session.username)
        impact = (change.dry_run("optimise") if flag is not None
                  else change.optimise(session_id=session.session_id))
        return json_elements(impact.to_json(), NAMESPACE)

    return {f"{{{NAMESPACE}}}dry-run": dry_run, f"{{{NAMESPACE}}}optimise": optimise}


def restconf_change_rpcs(change: ChangeControl, access: DataAccess
                         ) -> dict[str, RestconfRpc]:
    """Handlers keyed "module:name" (RFC 8040 §3.6), output members or None."""

    def dry_run(user: str, args: dict[str, Any]) -> dict[str, Any]:
        check_members(args, {"action", "edit"}, "dry-run")
        action = _action(args.get("action"), invalid)
        edit = args.get("edit")
        if edit is not None and (action != "commit" or not isinstance(edit, dict)):
            raise invalid(EDIT_WITH_COMMIT_ONLY if action != "commit" else
                          "edit is anydata: an object of RFC 7951 top-level members "
                          "(RFC 7951 §5.5)", path=f"/{MODULE}:dry-run/input/edit")
        access.core.what_if.take(user)
        if edit is None:
            return change.dry_run(action).to_json()
        nodes = change.store.parse_json(edit)
        return change.dry_run_edit(nodes, check=access.core.merge_check(user, nodes),
                                   session_id=access.session_id(user)).to_json()

    def optimise(user: str, args: dict[str, Any]) -> dict[str, Any]:
        check_members(args, {"dry-run"}, "optimise")
        if "dry-run" in args:
            if args["dry-run"] != [None]:
                raise invalid("dry-run is an empty leaf: [null] (RFC 7951 §6.9)")
            access.core.what_if.take(user)
            return change.dry_run("optimise").to_json()
        return change.optimise(session_id=access.session_id(user)).to_json()

    return {f"{MODULE}:dry-run": dry_run, f"{MODULE}:optimise": optimise}
