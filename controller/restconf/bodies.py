"""Request bodies → RFC 7951 edit documents for the engine (store.parse_json / edit).

Every write ends as one JSON document from the datastore root: the target's ancestors
(keys only) wrapped around the body, the target carrying RFC 7952 metadata
{"ietf-netconf:operation": ...} (PUT=replace, POST=create, PATCH=merge, DELETE=delete)
and the rest of the document applied with default-operation "none", so that ancestors
are only navigated (RFC 6241 §7.2). XML bodies are first turned into the same JSON by
libyang, parsed inside their ancestors so that the schema types every value.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from lxml import etree

from controller.datastore.editnode import Operation
from controller.datastore.ly import ffi
from controller.datastore.schema import Schema
from controller.datastore.tree import Forest
from controller.errors import ErrorTag, ErrorType, NetconfError
from controller.netconf.xml import make_parser, parse_message
from controller.restconf.errors import RESTCONF_NS
from controller.restconf.paths import Step, Target, invalid

OP_META = "ietf-netconf:operation"
_local = threading.local()


def malformed(message: str) -> NetconfError:
    return NetconfError.of(ErrorTag.MALFORMED_MESSAGE, message, type=ErrorType.RPC)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise malformed(f"member {key!r} appears twice (RFC 7951 §4)")
        out[key] = value
    return out


def parse_json(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise malformed("the request needs a message body")
    try:
        doc = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError:
        raise malformed("the message body is not UTF-8") from None
    except RecursionError:
        raise malformed("JSON nested too deeply") from None
    except ValueError as exc:
        if isinstance(exc.__cause__, NetconfError):
            raise exc.__cause__ from None
        raise malformed(f"malformed JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise malformed("the message body must be a JSON object")
    return doc


def parse_xml(raw: bytes) -> etree._Element:
    if not raw.strip():
        raise malformed("the request needs a message body")
    parser = getattr(_local, "parser", None)
    if parser is None:  # lxml parsers are not thread-safe: one per thread
        parser = _local.parser = make_parser()
    return parse_message(raw, parser)


# -- navigation in RFC 7951 documents -----------------------------------------------------


def member_name(step: Step, parent: Step | None) -> str:
    """How RFC 7951 names `step` under `parent` (qualified when the module changes)."""
    return step.name if parent is not None and parent.module == step.module else step.member


def wrap(target: Target, members: dict[str, Any]) -> dict[str, Any]:
    """`members` (already named relative to the target) inside the target's ancestors."""
    doc: dict[str, Any] = members
    for i in range(len(target.steps) - 1, -1, -1):
        step = target.steps[i]
        parent = target.steps[i - 1] if i else None
        if step.kind == "list":
            entry = {k: v for k, v in step.keys}
            entry.update(doc)
            doc = {member_name(step, parent): [entry]}
        else:
            doc = {member_name(step, parent): doc}
    return doc


def relative(members: dict[str, Any], parent: Step | None) -> dict[str, Any]:
    """Top-level (qualified) member names of a body, renamed for placement under
    `parent` (RFC 7951 §4: unqualified when the module is the parent's)."""
    if parent is None:
        return members
    out: dict[str, Any] = {}
    for name, value in members.items():
        bare = name[1:] if name.startswith("@") else name
        module, _, local = bare.partition(":")
        key = local if module == parent.module else bare
        out["@" + key if name.startswith("@") else key] = value
    return out


def descend(doc: dict[str, Any], target: Target) -> dict[str, Any]:
    """The members at the target's level of a document that `wrap` built (the inverse)."""
    node: Any = doc
    for i, step in enumerate(target.steps):
        parent = target.steps[i - 1] if i else None
        found = node.get(member_name(step, parent)) if isinstance(node, dict) else None
        if isinstance(found, list):
            found = found[0] if found else None
        if not isinstance(found, dict):
            return {}
        node = found
    return {k: v for k, v in node.items() if not _is_key_of(k, target)}


def _is_key_of(member: str, target: Target) -> bool:
    return bool(target.steps) and any(k == member for k, _ in target.last.keys)


def requalify(members: dict[str, Any], parent: Step | None) -> dict[str, Any]:
    """Inverse of `relative`: every member module-qualified, as a top-level body."""
    if parent is None:
        return members
    out: dict[str, Any] = {}
    for name, value in members.items():
        meta = name.startswith("@")
        bare = name[1:] if meta else name
        qualified = bare if ":" in bare or not bare else f"{parent.module}:{bare}"
        out["@" + qualified if meta else qualified] = value
    return out


# -- XML bodies ------------------------------------------------------------------------


def xml_to_json(schema: Schema, target: Target, elements: list[etree._Element]
                ) -> dict[str, Any]:
    """XML data elements placed under `target` → their RFC 7951 members (qualified)."""
    if not elements:
        return {}
    root: etree._Element | None = None
    parent: etree._Element | None = None
    for step in target.steps:
        ns = _namespace(schema, step.module)
        el = etree.Element(f"{{{ns}}}{step.name}", nsmap={None: ns})
        for key, value in step.keys:
            etree.SubElement(el, f"{{{ns}}}{key}").text = value
        if parent is None:
            root = el
        else:
            parent.append(el)
        parent = el
    texts: list[str] = []
    if parent is None:
        texts = [etree.tostring(e, encoding="unicode") for e in elements]
    else:
        for element in elements:
            parent.append(element)
        assert root is not None
        texts = [etree.tostring(root, encoding="unicode")]
    try:
        forest = Forest.parse(schema, "".join(texts), "xml", config_only=False,
                              validate=False)
    except NetconfError as err:
        raise invalid(f"the XML body does not match the schema: {err.first.message}",
                      path=err.first.path) from None
    try:
        doc = forest.to_dict()
    finally:
        forest.free()
    parent_step = target.steps[-1] if target.steps else None
    return requalify(descend(doc, target), parent_step)


def _namespace(schema: Schema, module: str) -> str:
    mod = schema.ctx.get_module(module)
    if mod is None:
        raise invalid(f"unknown module {module!r}")
    return str(mod.cdata.ns and ffi.string(mod.cdata.ns).decode())


def datastore_xml_members(schema: Schema, root: etree._Element) -> dict[str, Any]:
    """<data xmlns=ietf-restconf> (RFC 8040 §4.5 on the datastore) → RFC 7951 members."""
    q = etree.QName(root)
    if q.namespace != RESTCONF_NS or q.localname != "data":
        raise invalid("a datastore body is an ietf-restconf <data> element")
    return xml_to_json(schema, Target(), [c for c in root if isinstance(c.tag, str)])


# -- edit documents ---------------------------------------------------------------------


def _with_op(value: Any, step: Step, meta: dict[str, str], member: str) -> dict[str, Any]:
    """{member: value} with the annotations (RFC 7952 §5.2) put on it."""
    if step.kind == "list":
        entries = [dict(e, **{"@": meta}) for e in value]
        return {member: entries}
    if step.kind == "container":
        return {member: dict(value, **{"@": meta})}
    if step.kind == "leaf-list":
        return {member: value, f"@{member}": [meta] * len(value)}
    return {member: value, f"@{member}": meta}


def target_body(target: Target, body: dict[str, Any]) -> Any:
    """The body's value for the target resource (RFC 8040 §4.5/§4.6.1: the body names
    the target, same keys as the URI)."""
    step = target.last
    members = {k: v for k, v in body.items() if not k.startswith("@")}
    if list(members) != [step.member]:
        raise invalid(f"the message body must contain exactly the target resource "
                      f"{step.member!r}, got {', '.join(members) or 'nothing'}")
    value = members[step.member]
    if step.kind == "list":
        if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
            raise invalid(f"{step.member!r} must be an array with exactly one entry")
        for key, uri_value in step.keys:
            if key not in value[0] or _scalar(value[0][key]) != uri_value:
                raise invalid(f"key {key!r} in the body differs from the URI "
                              "(RFC 8040 §4.5)", path=target.path)
    elif step.kind == "leaf-list":
        if value != [step.value] and not (isinstance(value, list) and len(value) == 1
                                          and _scalar(value[0]) == step.value):
            raise invalid(f"{step.member!r} must be [{step.value!r}] as in the URI",
                          path=target.path)
    elif step.kind == "container" and not isinstance(value, dict):
        raise invalid(f"{step.member!r} must be a JSON object")
    return value


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def edit_document(target: Target, op: Operation, value: Any,
                  extra_meta: dict[str, str] | None = None) -> dict[str, Any]:
    """One edit of `op` on the target resource (value: its body value, or None);
    `extra_meta` adds yang:insert / yang:key / yang:value (RFC 8040 §4.8.5-6)."""
    step = target.last
    parent = target.steps[-2] if len(target.steps) > 1 else None
    member = member_name(step, parent)
    if value is None:
        if step.kind == "list":
            value = [dict(step.keys)]
        elif step.kind == "container":
            value = {}
        elif step.kind == "leaf-list":
            value = [step.value]
        else:
            value = [None]  # RFC 7951 §6.9 "empty": a delete needs no value
    meta = {OP_META: op.value, **(extra_meta or {})}
    return wrap(target.parent, _with_op(value, step, meta, member))


def child_document(target: Target, body: dict[str, Any], op: Operation,
                   extra_meta: dict[str, str] | None = None
                   ) -> tuple[dict[str, Any], str, Any]:
    """POST (RFC 8040 §4.4.1): the body holds exactly one child resource of the target.
    Returns (edit document, qualified member, its value)."""
    members = {k: v for k, v in body.items() if not k.startswith("@")}
    if len(members) != 1:
        raise invalid("a POST body must contain exactly one child resource "
                      f"(RFC 8040 §4.4.1), got {len(members)}")
    (member, value), = members.items()
    if ":" not in member:
        raise invalid(f"member {member!r} needs a module prefix (RFC 7951 §4)")
    if isinstance(value, list) and len(value) != 1:
        raise invalid(f"{member!r} must have exactly one entry to create")
    meta = {OP_META: op.value, **(extra_meta or {})}
    if isinstance(value, list) and value and isinstance(value[0], dict):
        placed: Any = [dict(value[0], **{"@": meta})]
        annotations: dict[str, Any] = {}
    elif isinstance(value, dict):
        placed, annotations = dict(value, **{"@": meta}), {}
    elif isinstance(value, list):
        placed, annotations = value, {f"@{member}": [meta]}
    else:
        placed, annotations = value, {f"@{member}": meta}
    parent = target.steps[-1] if target.steps else None
    doc = wrap(target, relative({member: placed, **annotations}, parent))
    return doc, member, value
