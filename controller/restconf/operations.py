"""Operation resources {+restconf}/operations/<module>:<rpc> (RFC 8040 §3.6, §4.4.2).

The candidate workflow of RFC 8527 needs NETCONF's commit, validate, discard-changes
and cancel-commit (ietf-netconf rpcs) over RESTCONF; products register their own rpcs
as "module:name" → handler(username, input members) → output members or None.
Inputs are RFC 7951 JSON ("module:input") or XML (<input> in the module's namespace).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lxml import etree

from controller.datastore.nmda import MAX_CONFIRM_TIMEOUT_S, Datastore
from controller.datastore.sessions import ChangeNote
from controller.errors import ErrorTag, ErrorType, NetconfError, RpcError
from controller.netconf.operations import COMMIT_NOTES, augmented_input
from controller.restconf.access import DataAccess
from controller.restconf.paths import invalid

RpcHandler = Callable[[str, dict[str, Any]], "dict[str, Any] | None"]
NC = "ietf-netconf"


def unknown_input(name: str, rpc: str) -> NetconfError:
    return NetconfError(RpcError(tag=ErrorTag.UNKNOWN_ELEMENT, type=ErrorType.APPLICATION,
                                 message=f"{rpc} has no input {name!r}",
                                 info=(("bad-element", name),)))


def check_members(members: Mapping[str, Any], allowed: set[str], rpc: str) -> None:
    for name in members:
        if name not in allowed:
            raise unknown_input(name, rpc)


def _empty(value: Any) -> bool:
    """A YANG `empty` leaf in RFC 7951 is [null] (RFC 7951 §6.9)."""
    return isinstance(value, list) and len(value) == 1 and value[0] is None


class NetconfOperations:
    """The ietf-netconf rpcs RESTCONF clients need to drive the candidate datastore."""

    def __init__(self, access: DataAccess) -> None:
        self.access = access
        core = access.core
        # RFC 7951 §4: a member from another module's augment is named module:leaf.
        self._commit_notes = {f"{core.module_of(ns)}:{name}": name for name, ns in
                              augmented_input(core, NC, "commit").items()
                              if name in COMMIT_NOTES}

    def table(self) -> dict[str, RpcHandler]:
        return {f"{NC}:commit": self.commit, f"{NC}:validate": self.validate,
                f"{NC}:discard-changes": self.discard_changes,
                f"{NC}:cancel-commit": self.cancel_commit}

    def commit(self, user: str, args: dict[str, Any]) -> None:
        """RFC 6241 §8.3.4.1, §8.4.5.1, with sdqn-controller's label and comment."""
        check_members(args, {"confirmed", "confirm-timeout", "persist", "persist-id",
                             *self._commit_notes}, "commit")
        notes = {self._commit_notes[k]: _text(args, k) or "" for k in args
                 if k in self._commit_notes}
        confirmed = args.get("confirmed")
        if confirmed is not None and not _empty(confirmed):
            raise invalid("confirmed is an empty leaf: [null]")
        timeout = args.get("confirm-timeout", 600)
        # RFC 6241 §8.4.5.1: uint32 seconds (RFC 7951 §6.1: a JSON number for uint32)
        if isinstance(timeout, bool) or not (str(timeout).isascii() and str(timeout).isdigit()) \
                or not 1 <= int(timeout) <= MAX_CONFIRM_TIMEOUT_S:
            raise invalid(f"confirm-timeout is a number of seconds, 1..{MAX_CONFIRM_TIMEOUT_S}")
        self.access.commit(user, confirmed=confirmed is not None, confirm_timeout=int(timeout),
                           persist=_text(args, "persist"), persist_id=_text(args, "persist-id"),
                           note=ChangeNote("commit", notes.get("label", ""),
                                           notes.get("comment", "")))

    def cancel_commit(self, user: str, args: dict[str, Any]) -> None:
        check_members(args, {"persist-id"}, "cancel-commit")
        self.access.cancel_commit(user, _text(args, "persist-id"))

    def discard_changes(self, user: str, args: dict[str, Any]) -> None:
        check_members(args, set(), "discard-changes")
        self.access.discard(user)

    def validate(self, user: str, args: dict[str, Any]) -> None:
        """RFC 6241 §8.6.4.1 on a datastore (inline <config> is NETCONF-only)."""
        check_members(args, {"source"}, "validate")
        source = args.get("source")
        if not isinstance(source, dict) or len(source) != 1:
            raise invalid("validate needs source with exactly one of running, candidate, "
                          "startup")
        (name, value), = source.items()
        if name not in ("running", "candidate", "startup") or not _empty(value):
            raise invalid(f"invalid validate source {name!r}")
        self.access.store.validate(Datastore(name))


def _text(args: Mapping[str, Any], name: str) -> str | None:
    value = args.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(f"{name} is a string")
    return value


def xml_input(root: etree._Element, namespace: str,
              module_of: Callable[[str | None], str | None] = lambda _ns: None
              ) -> dict[str, Any]:
    """<input xmlns="module namespace">…</input> → members (leaf text, [null] if empty).
    A child in another module's namespace (an augment) is named "module:name", as in
    RFC 7951 §4; one of an unknown namespace keeps "{namespace}name" (then unknown)."""
    q = etree.QName(root)
    if q.localname != "input" or q.namespace != namespace:
        raise invalid(f"the XML body must be <input xmlns=\"{namespace}\">")
    return _element_members(root, module_of)


def _element_members(el: etree._Element, module_of: Callable[[str | None], str | None]
                     ) -> dict[str, Any]:
    out: dict[str, Any] = {}
    parent = etree.QName(el).namespace
    for child in el:
        if not isinstance(child.tag, str):
            continue
        q = etree.QName(child)
        name = q.localname
        if q.namespace != parent:
            module = module_of(q.namespace)
            name = f"{module}:{name}" if module else f"{{{q.namespace}}}{name}"
        kids = [c for c in child if isinstance(c.tag, str)]
        value: Any = _element_members(child, module_of) if kids else (
            child.text if child.text else [None])
        out[name] = value
    return out
