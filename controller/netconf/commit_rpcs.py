"""sdqn-controller's commit-history rpcs over NETCONF: XML input in, XML output out.

Served as extra rpcs of a `NetconfServer` (the dispatcher has already checked NACM exec
access to sdqn-controller:<rpc>, RFC 8341 §3.4.4). Input is checked as the base
operations check theirs (RFC 6241 Appendix A: an element the rpc does not define is
unknown-element, a missing mandatory one missing-element, a bad value invalid-value);
output nodes are the children of <rpc-reply> in the module's namespace (RFC 7950
§7.14.4). A rollback-to is made by the calling session, so its locks apply and its
user and host name the change.
"""

from __future__ import annotations

from lxml import etree

from controller.datastore.jsondiff import change_members
from controller.datastore.nmda import Datastore
from controller.errors import ErrorTag
from controller.netconf.commits import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    NAMESPACE,
    CommitHistory,
    device_members,
    record_members,
)
from controller.netconf.core import RpcHandler, SessionContext
from controller.netconf.operations import Operations, Params
from controller.netconf.xml import bad_element, json_elements, text_of

Output = list[etree._Element]


def commit_history_rpcs(commits: CommitHistory, operations: Operations
                        ) -> dict[str, RpcHandler]:
    """The handlers, keyed "{namespace}name" as `NetconfServer(extra_rpcs=...)` wants."""
    rpcs = _CommitRpcs(commits, operations)
    return {f"{{{NAMESPACE}}}list-commits": rpcs.list_commits,
            f"{{{NAMESPACE}}}show-commit": rpcs.show_commit,
            f"{{{NAMESPACE}}}diff-commits": rpcs.diff_commits,
            f"{{{NAMESPACE}}}rollback-to": rpcs.rollback_to}


class _CommitRpcs:
    def __init__(self, commits: CommitHistory, operations: Operations) -> None:
        self.commits = commits
        self.operations = operations

    def list_commits(self, _session: SessionContext, op: etree._Element) -> Output:
        params = Params(op, {"limit": NAMESPACE})
        limit = _limit(params.text("limit"))
        return json_elements({"commit": [record_members(r) for r in
                                         self.commits.list_commits(limit)]}, NAMESPACE)

    def show_commit(self, session: SessionContext, op: etree._Element) -> Output:
        params = Params(op, {"id": NAMESPACE})
        record, changes = self.commits.show_commit(session.username, _id(params, "id"))
        devices = self.commits.device_changes(session.username, record.commit_id)
        impact = self.commits.impact(session.username, record.commit_id)
        return json_elements({**record_members(record),
                              "change": [change_members(c) for c in changes],
                              "device": [device_members(d) for d in devices],
                              **({"impact": impact} if impact is not None else {})},
                             NAMESPACE)

    def diff_commits(self, session: SessionContext, op: etree._Element) -> Output:
        params = Params(op, {"from": NAMESPACE, "to": NAMESPACE})
        newer = _id(params, "to") if params.get("to") is not None else None
        changes = self.commits.diff_commits(session.username, _id(params, "from"), newer)
        return json_elements({"change": [change_members(c) for c in changes]}, NAMESPACE)

    def rollback_to(self, session: SessionContext, op: etree._Element) -> Output:
        params = Params(op, dict.fromkeys(("id", "label", "comment"), NAMESPACE))

        def replace(content: str) -> None:
            self.operations.replace(session, Datastore.RUNNING, content, "json")

        done = self.commits.rollback_to(_id(params, "id"), replace,
                                        label=params.text("label") or "",
                                        comment=params.text("comment") or "")
        return json_elements({"changed": done is not None,
                              **(record_members(done) if done is not None else {})},
                             NAMESPACE)


def _id(params: Params, name: str) -> str:
    """A commit-id input leaf (sdqn-controller commit-id: 1..64 characters)."""
    value = text_of(params.require(name))
    if not value or len(value) > 64:
        raise bad_element(name, f"{name} must be a commit id of 1 to 64 characters",
                          ErrorTag.INVALID_VALUE)
    return value


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise bad_element("limit", f"limit must be 1..{MAX_LIMIT}, not {text!r}",
                          ErrorTag.INVALID_VALUE)
    return int(text)
