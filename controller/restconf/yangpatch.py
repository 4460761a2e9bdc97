"""YANG Patch (RFC 8072): an ordered list of edits applied as one transaction.

Each edit becomes an RFC 7951 edit document (bodies.edit_document) for its own target,
all of them parsed first (so a bad edit is reported by its edit-id before anything
runs) and then applied in order in a single store edit: all or nothing (§2.3).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from lxml import etree

from controller.datastore.editnode import EditNode, Operation
from controller.datastore.nmda import Datastore
from controller.datastore.sessions import ChangeNote
from controller.errors import NetconfError, RpcError
from controller.netconf.paths import to_xml_path
from controller.restconf import bodies
from controller.restconf.access import DataAccess
from controller.restconf.errors import status_of
from controller.restconf.paths import Target, invalid, resolve

YP_NS = "urn:ietf:params:xml:ns:yang:ietf-yang-patch"
YP = "ietf-yang-patch"
_OPS = {"create": Operation.CREATE, "delete": Operation.DELETE, "insert": Operation.CREATE,
        "merge": Operation.MERGE, "move": Operation.MERGE, "replace": Operation.REPLACE,
        "remove": Operation.REMOVE}
_NEEDS_VALUE = frozenset({"create", "insert", "merge", "replace"})


@dataclass
class Edit:
    edit_id: str
    operation: str
    target: Target
    nodes: list[EditNode]


@dataclass
class PatchResult:
    status: int
    body: dict[str, Any]


def parse_json_patch(doc: dict[str, Any]) -> dict[str, Any]:
    patch = doc.get(f"{YP}:yang-patch")
    if not isinstance(patch, dict) or len(doc) != 1:
        raise invalid(f"the body must be one {YP}:yang-patch object (RFC 8072 §2.2)")
    return patch


class YangPatch:
    def __init__(self, access: DataAccess) -> None:
        self.access = access
        self.index = access.store.index

    def target_of(self, base: Target, text: str) -> Target:
        """RFC 8072 §2.2: an edit's target is a data-resource-identifier relative to the
        request's target resource ("/" = the target itself)."""
        if not isinstance(text, str) or not text.startswith("/"):
            raise invalid(f"edit target {text!r} must start with '/'")
        relative = text.strip("/")
        if not relative:
            return base
        if base.is_datastore:
            return resolve(self.index, relative)
        return resolve(self.index, f"{base.api_path()}/{relative}")

    def parse_xml(self, base: Target, root: etree._Element) -> dict[str, Any]:
        """<yang-patch> → the JSON shape, edit values converted through the schema."""
        q = etree.QName(root)
        if q.namespace != YP_NS or q.localname != "yang-patch":
            raise invalid(f"the body must be a <yang-patch xmlns=\"{YP_NS}\"> element")
        patch: dict[str, Any] = {"edit": []}
        for child in _elements(root):
            name = etree.QName(child).localname
            if name != "edit":
                patch[name] = child.text or ""
                continue
            edit: dict[str, Any] = {}
            values: list[etree._Element] | None = None
            for item in _elements(child):
                if etree.QName(item).localname == "value":
                    values = _elements(item)
                else:
                    edit[etree.QName(item).localname] = item.text or ""
            if values is not None:
                target = self.target_of(base, str(edit.get("target", "")))
                edit["value"] = bodies.xml_to_json(self.access.store.schema, target.parent,
                                                   values)
            patch["edit"].append(edit)
        return patch

    def apply(self, ds: Datastore, base: Target, patch: dict[str, Any], user: str
              ) -> PatchResult:
        patch_id = patch.get("patch-id")
        if not isinstance(patch_id, str) or not patch_id:
            raise invalid("yang-patch needs a patch-id")
        raw_edits = patch.get("edit", [])
        if not isinstance(raw_edits, list) or not raw_edits:
            raise invalid("yang-patch needs at least one edit")
        edits: list[Edit] = []
        for raw in raw_edits:
            edit_id = raw.get("edit-id") if isinstance(raw, dict) else None
            if not isinstance(edit_id, str) or not edit_id:
                raise invalid("every edit needs an edit-id")
            try:
                edits.append(self._parse_edit(base, edit_id, raw))
            except NetconfError as err:
                return _failed(patch_id, err, edit_id)
        nodes = [node for edit in edits for node in edit.nodes]
        note = self._note(ds, patch_id, patch.get("comment"))
        try:
            with self.access.store.sessions.noted(note) if note else nullcontext():
                self.access.edit(ds, nodes, user)
        except NetconfError as err:
            return _failed(patch_id, err, _culprit(edits, err.first))
        return PatchResult(200, {f"{YP}:yang-patch-status": {"patch-id": patch_id,
                                                               "ok": [None]}})

    @staticmethod
    def _note(ds: Datastore, patch_id: str, comment: object) -> ChangeNote | None:
        """A patch of running is recorded in the commit history with its patch-id as the
        label and its comment (RFC 8072 §2.2: both describe the entire patch); a patch of
        the candidate says nothing until its commit, which carries its own note."""
        if ds is not Datastore.RUNNING:
            return None
        if comment is not None and not isinstance(comment, str):
            raise invalid("the yang-patch comment is a string (RFC 8072 §2.2)")
        return ChangeNote("edit", patch_id, comment or "")

    def _parse_edit(self, base: Target, edit_id: str, raw: dict[str, Any]) -> Edit:
        operation = raw.get("operation")
        if operation not in _OPS:
            raise invalid(f"edit {edit_id}: unknown operation {operation!r} (RFC 8072 §2.2)")
        target = self.target_of(base, raw.get("target", ""))
        if target.is_datastore:
            raise invalid(f"edit {edit_id}: the target must be a data node")
        extra = self._position(base, edit_id, operation, raw, target)
        value = raw.get("value")
        if operation in _NEEDS_VALUE:
            if not isinstance(value, dict):
                raise invalid(f"edit {edit_id}: {operation} needs a value")
            body_value = bodies.target_body(target, value)
        elif value is not None:
            raise invalid(f"edit {edit_id}: {operation} takes no value")
        else:
            body_value = None
        doc = bodies.edit_document(target, _OPS[operation], body_value, extra)
        return Edit(edit_id, operation, target, self.access.store.parse_json(doc))

    def _position(self, base: Target, edit_id: str, operation: str, raw: dict[str, Any],
                  target: Target) -> dict[str, str]:
        """insert/move: where = first|last|before|after, point = the anchor (§2.2)."""
        if operation not in ("insert", "move"):
            return {}
        where = raw.get("where", "last")
        if where not in ("first", "last", "before", "after"):
            raise invalid(f"edit {edit_id}: invalid where {where!r}")
        extra = {"yang:insert": where}
        if where in ("before", "after"):
            point = self.target_of(base, raw.get("point", ""))
            extra.update(anchor_meta(target, point))
        return extra


def _elements(el: etree._Element) -> list[etree._Element]:
    return [c for c in el if isinstance(c.tag, str)]


def anchor_meta(target: Target, point: Target) -> dict[str, str]:
    """yang:key / yang:value naming the anchor entry (RFC 7950 §7.8.6, RFC 8040 §4.8.6)."""
    if point.is_datastore or point.last.snode != target.last.snode:
        raise invalid("point must name another instance of the same list or leaf-list")
    if point.last.value is not None:
        return {"yang:value": point.last.value}
    from controller.datastore.editnode import quote

    return {"yang:key": "".join(f"[{k}={quote(v)}]" for k, v in point.last.keys)}


def _culprit(edits: list[Edit], error: RpcError) -> str | None:
    """The edit an error belongs to (RFC 8072 §2.3 edit-status): the one whose target
    holds the error's node most closely (an edit of the patch's whole target contains
    every other's), the later one on a tie, as it was applied over the earlier; else
    one whose target lies below the error's node (a parent it changed)."""
    if error.path is None:
        return None
    inside = [(len(e.target.path), i) for i, e in enumerate(edits)
              if _within(error.path, e.target.path)]
    if inside:
        return edits[max(inside)[1]].edit_id
    below = [e for e in edits if _within(e.target.path, error.path)]
    return below[-1].edit_id if below else None


def _within(path: str, ancestor: str) -> bool:
    return path == ancestor or ancestor == "/" or (
        path.startswith(ancestor) and path[len(ancestor)] in "/[")


def _failed(patch_id: str, err: NetconfError, edit_id: str | None) -> PatchResult:
    """The patch stopped at its first error (RFC 8072 §2.3: the whole patch fails, as
    RFC 6241 §7.2 stop-on-error); what validation found after it is a consequence (a
    must over a dangling leafref), not a further fault of the client's, so the report
    names that one error and its edit."""
    errors = {"error": [err.first.to_restconf()]}
    status: dict[str, Any] = {"patch-id": patch_id}
    if edit_id is None:
        status["errors"] = errors
    else:
        status["edit-status"] = {"edit": [{"edit-id": edit_id, "errors": errors}]}
    return PatchResult(status_of(err), {f"{YP}:yang-patch-status": status})


def status_xml(body: dict[str, Any], namespace_of: Callable[[str], str | None]) -> bytes:
    """yang-patch-status as XML (every node in the ietf-yang-patch namespace)."""
    root = etree.Element(f"{{{YP_NS}}}yang-patch-status", nsmap={None: YP_NS})
    _fill(root, body[f"{YP}:yang-patch-status"], namespace_of)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _fill(parent: etree._Element, value: Any, namespace_of: Callable[[str], str | None]
          ) -> None:
    for name, item in value.items():
        for entry in item if isinstance(item, list) and item != [None] else [item]:
            if name == "error-path" and isinstance(entry, str):
                # an instance-identifier: its prefixes must be declared (RFC 7950 §9.13.2)
                text, nsmap = to_xml_path(entry, namespace_of)
                el = etree.SubElement(parent, f"{{{YP_NS}}}{name}", nsmap=nsmap or None)
                el.text = text
                continue
            el = etree.SubElement(parent, f"{{{YP_NS}}}{name}")
            if isinstance(entry, dict):
                _fill(el, entry, namespace_of)
            elif entry != [None] and entry is not None:
                el.text = entry if isinstance(entry, str) else json.dumps(entry)
