"""sdqn-controller's commit-history rpcs as RESTCONF operation resources
(/restconf/operations/sdqn-controller:<rpc>, RFC 8040 §3.6).

The resource layer has checked NACM exec access and unwrapped "sdqn-controller:input";
these handlers check the members (RFC 8040 §3.6.1: an unknown one is an error) and
return the output members, RFC 7951-encoded (uint64 as a string, an empty list left
out). A rollback-to replaces running through `DataAccess`, with the write checks of a
RESTCONF PUT on the datastore.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.datastore.jsondiff import change_members
from controller.datastore.nmda import Datastore
from controller.errors import ErrorTag
from controller.netconf.commits import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MODULE,
    CommitHistory,
    device_members,
    record_members,
)
from controller.restconf.access import DataAccess
from controller.restconf.operations import RpcHandler, check_members
from controller.restconf.paths import invalid


def commit_history_rpcs(commits: CommitHistory, access: DataAccess) -> dict[str, RpcHandler]:
    """The handlers, keyed "module:rpc" as `RestconfServer(extra_rpcs=...)` wants."""
    rpcs = _CommitRpcs(commits, access)
    return {f"{MODULE}:list-commits": rpcs.list_commits,
            f"{MODULE}:show-commit": rpcs.show_commit,
            f"{MODULE}:diff-commits": rpcs.diff_commits,
            f"{MODULE}:rollback-to": rpcs.rollback_to}


class _CommitRpcs:
    def __init__(self, commits: CommitHistory, access: DataAccess) -> None:
        self.commits = commits
        self.access = access

    def list_commits(self, _user: str, args: dict[str, Any]) -> dict[str, Any]:
        check_members(args, {"limit"}, "list-commits")
        records = self.commits.list_commits(_limit(args.get("limit")))
        return {"commit": [record_members(r) for r in records]} if records else {}

    def show_commit(self, user: str, args: dict[str, Any]) -> dict[str, Any]:
        check_members(args, {"id"}, "show-commit")
        record, changes = self.commits.show_commit(user, _id(args, "id"))
        devices = self.commits.device_changes(user, record.commit_id)
        impact = self.commits.impact(user, record.commit_id)
        return {**record_members(record), **_changes(changes),
                **({"device": [device_members(d) for d in devices]} if devices else {}),
                **({"impact": impact} if impact is not None else {})}

    def diff_commits(self, user: str, args: dict[str, Any]) -> dict[str, Any]:
        check_members(args, {"from", "to"}, "diff-commits")
        newer = _id(args, "to") if "to" in args else None
        return _changes(self.commits.diff_commits(user, _id(args, "from"), newer))

    def rollback_to(self, user: str, args: dict[str, Any]) -> dict[str, Any]:
        check_members(args, {"id", "label", "comment"}, "rollback-to")

        def replace(content: str) -> None:
            self.access.replace(Datastore.RUNNING, content, "json", user)

        done = self.commits.rollback_to(_id(args, "id"), replace,
                                        label=_string(args, "label"),
                                        comment=_string(args, "comment"))
        return {"changed": done is not None,
                **(record_members(done) if done is not None else {})}


def _changes(changes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"change": [change_members(c) for c in changes]} if changes else {}


def _string(args: Mapping[str, Any], name: str) -> str:
    value = args.get(name, "")
    if not isinstance(value, str):
        raise invalid(f"{name} is a string")
    return value


def _id(args: Mapping[str, Any], name: str) -> str:
    """A commit-id member (sdqn-controller commit-id: 1..64 characters)."""
    if name not in args:
        raise invalid(f"{name} is mandatory", tag=ErrorTag.MISSING_ELEMENT)
    value = _string(args, name)
    if not value or len(value) > 64:
        raise invalid(f"{name} must be a commit id of 1 to 64 characters")
    return value


def _limit(value: Any) -> int:
    """uint32 is a JSON number (RFC 7951 §6.1); XML input gives its text."""
    if value is None:
        return DEFAULT_LIMIT
    text = str(value) if not isinstance(value, bool) else ""
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise invalid(f"limit must be 1..{MAX_LIMIT}, not {value!r}")
    return int(text)
