"""`/console/api/whoami`: who the console talks to and which action controls it shows.

The answer only hides controls a user could not use; the server still decides every
action through NACM (RFC 8341 §3.4.4 for operations, §3.4.5 for writes), so a forged
request from a read-only user is refused whatever the page showed.
"""

from __future__ import annotations

import json

from controller.console.headers import SECURITY_HEADERS
from controller.netconf.nacm import UPDATE, UserAccess
from controller.restconf.access import DataAccess
from controller.restconf.resources import Response

#: action control -> the operations (module, rpc/action name) it invokes
ACTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "commit": (("ietf-netconf", "commit"),),
    "rollback": (("sdqn-controller", "rollback-to"),),
    "calibrate": (("sdqn-controller", "calibrate-apc"),),
    "drill": (("sdqn-drills", "start-drill"), ("sdqn-drills", "submit-localisation")),
    "dry-run": (("sdqn-controller", "dry-run"),),
}
#: action control -> the YANG 1.1 action it invokes on a data node (RFC 8632 set-operator-
#: state acknowledges an alarm), decided as the server decides it: read access to the
#: ancestors and exec access to the action node (RFC 8341 §3.4)
DATA_ACTIONS: dict[str, str] = {
    "acknowledge": "/ietf-alarms:alarms/alarm-list/alarm/set-operator-state"}
#: controls that change data, so they also need write access to this module
WRITES: dict[str, str] = {"commit": "*", "rollback": "*"}


def may_write(access: UserAccess, module: str) -> bool:
    """RFC 8341 §3.4.5 in outline: the first data rule about writing `module` decides,
    else write-default (a per-node check is the server's, at request time)."""
    if access.writes_unrestricted:
        return True
    for rule in access.data_rules:
        if UPDATE in rule.ops and (module == "*" or rule.matches_module(module)) \
                and rule.kind == "any":
            return rule.permit
    return access.policy.write_default


def permissions(access: UserAccess | None) -> dict[str, bool]:
    """Each action control: shown only if NACM would allow it."""
    if access is None:       # NACM off: every authenticated user may do everything
        return dict.fromkeys([*ACTIONS, *DATA_ACTIONS], True)
    may = {control: access.action_path_allowed(path) for control, path in DATA_ACTIONS.items()}
    for control, operations in ACTIONS.items():
        allowed = all(access.rpc_allowed(module, name) for module, name in operations)
        module = WRITES.get(control)
        may[control] = allowed and (module is None or may_write(access, module))
    return may


def whoami(data: DataAccess, username: str) -> Response:
    access = data.access(username)
    groups = sorted(access.policy.user_groups.get(username, set())) if access else []
    if access is not None and access.scope is not None:
        groups.append(access.scope.group)
    body = {"user": username, "groups": groups, "may": permissions(access)}
    return Response(200, json.dumps(body).encode(), "application/json",
                    headers=dict(SECURITY_HEADERS))
