"""Decode edits from NETCONF XML (RFC 6241 §7.2) and RFC 7951 JSON into `EditNode`s."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import libyang
from lxml import etree

from controller.datastore.editnode import (
    EditNode,
    Insert,
    check_operation_nesting,
    parse_insert,
    parse_operation,
    reject_duplicates,
    unknown_element,
)
from controller.datastore.editnode import bad_attribute as _bad_attribute
from controller.datastore.ly import c2s, ffi, lib
from controller.datastore.schema import Schema
from controller.errors import ErrorTag, ErrorType, NetconfError, RpcError

NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
YANG_NS = "urn:ietf:params:xml:ns:yang:1"

_KIND = {
    libyang.SNode.CONTAINER: "container",
    libyang.SNode.LIST: "list",
    libyang.SNode.LEAF: "leaf",
    libyang.SNode.LEAFLIST: "leaf-list",
    libyang.SNode.ANYDATA: "anydata",
    libyang.SNode.ANYXML: "anydata",
}


_CHILD_TYPES = (lib.LYS_CONTAINER, lib.LYS_LIST, lib.LYS_LEAF, lib.LYS_LEAFLIST,
                lib.LYS_ANYDATA, lib.LYS_ANYXML, lib.LYS_ACTION, lib.LYS_RPC, lib.LYS_NOTIF)


class SchemaIndex:
    """Fast child lookup by (module, name), cached per schema node."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.by_namespace: dict[str, str] = {}
        self._top: dict[tuple[str, str], libyang.SNode] = {}
        self._children: dict[int, dict[tuple[str, str], libyang.SNode]] = {}
        for mod in schema.ctx:
            ns = c2s(mod.cdata.ns)
            if ns:
                self.by_namespace[ns] = mod.name()
            if not mod.implemented():
                continue
            for snode in mod.children():
                if isinstance(snode, libyang.schema.SRpc | libyang.schema.SNotif):
                    continue
                self._top[(snode.module().name(), snode.name())] = snode

    def top(self, module: str, name: str) -> libyang.SNode | None:
        return self._top.get((module, name))

    def child(self, parent: libyang.SNode, module: str, name: str) -> libyang.SNode | None:
        key = int(ffi.cast("uintptr_t", parent.cdata))
        table = self._children.get(key)
        if table is None:
            table = {}
            if isinstance(parent, libyang.SContainer | libyang.SList):
                # anydata/anyxml too (libyang-python leaves them out by default): they are
                # data nodes a path, filter or RESTCONF resource may name (RFC 8040 §3.5).
                for snode in parent.children(types=_CHILD_TYPES):
                    table[(snode.module().name(), snode.name())] = snode
            self._children[key] = table
        return table.get((module, name))

    def module_names(self) -> Iterable[str]:
        return self.by_namespace.values()


def _kind(snode: libyang.SNode) -> str:
    return _KIND.get(snode.nodetype(), "other")


def _key_names(snode: libyang.SNode) -> list[str]:
    assert isinstance(snode, libyang.SList)
    return [k.name() for k in snode.keys()]  # noqa: SIM118 (libyang API, not a dict)


def _step(parent_path: str, parent_module: str | None, module: str, name: str) -> str:
    return f"{parent_path}/{name if module == parent_module else f'{module}:{name}'}"


def _finish_list_path(node: EditNode) -> None:
    from controller.datastore.editnode import quote

    node.path += "".join(f"[{k}={quote(v)}]" for k, v in node.keys)


def _reject_state(snode: libyang.SNode, name: str, path: str) -> None:
    if snode.config_false():
        raise unknown_element(name, f"{name!r} is state data (config false) and cannot be "
                                    "edited", path)


def _extract_keys(node: EditNode, key_names: list[str]) -> None:
    present = {c.name: c for c in node.children if c.kind == "leaf"}
    for key in key_names:
        child = present.get(key)
        if child is None or child.value is None:
            raise NetconfError(RpcError(tag=ErrorTag.MISSING_ELEMENT, type=ErrorType.PROTOCOL,
                                        message=f"list {node.name!r} entry lacks key {key!r}",
                                        path=node.path, info=(("bad-element", key),)))
        node.keys.append((key, child.value))
    node.children = [c for c in node.children if not (c.kind == "leaf" and c.name in key_names)]


# ----------------------------------------------------------------------------------------
# XML


def parse_xml_config(index: SchemaIndex, config: etree._Element) -> list[EditNode]:
    """Children of a NETCONF <config> element (RFC 6241 §7.2) as edit trees."""
    nodes = [_xml_node(index, el, None, "", None) for el in config
             if isinstance(el.tag, str)]
    for node in nodes:
        check_operation_nesting(node, None)
    reject_duplicates(nodes, ErrorTag.OPERATION_FAILED)
    return nodes


def _xml_qname(el: etree._Element) -> tuple[str | None, str]:
    q = etree.QName(el)
    return q.namespace, q.localname


def _xml_node(index: SchemaIndex, el: etree._Element, parent: libyang.SNode | None,
              parent_path: str, parent_module: str | None) -> EditNode:
    ns, name = _xml_qname(el)
    path_guess = f"{parent_path}/{name}"
    if ns is None:
        raise unknown_element(name, f"element {name!r} has no namespace", path_guess,
                              ErrorTag.UNKNOWN_NAMESPACE)
    module = index.by_namespace.get(ns)
    if module is None:
        raise NetconfError(RpcError(tag=ErrorTag.UNKNOWN_NAMESPACE, type=ErrorType.PROTOCOL,
                                    message=f"unknown namespace {ns!r}", path=path_guess,
                                    info=(("bad-element", name), ("bad-namespace", ns))))
    snode = index.top(module, name) if parent is None else index.child(parent, module, name)
    path = _step(parent_path, parent_module, module, name)
    if snode is None:
        raise unknown_element(name, f"unknown element {name!r} in module {module!r}", path)
    _reject_state(snode, name, path)
    node = EditNode(snode=snode, module=module, name=name, kind=_kind(snode), path=path)
    _xml_attributes(node, el)
    if node.kind in ("leaf", "leaf-list"):
        if len(el):
            raise unknown_element(name, f"leaf {name!r} cannot have child elements", path,
                                  ErrorTag.BAD_ELEMENT)
        node.value = _xml_leaf_value(index, snode, el)
        if node.kind == "leaf-list":
            from controller.datastore.editnode import quote

            node.path += f"[.={quote(node.value)}]"
        return node
    if node.kind == "anydata":
        raise unknown_element(name, "anydata/anyxml cannot be edited here", path,
                              ErrorTag.OPERATION_NOT_SUPPORTED)
    node.children = [_xml_node(index, child, snode, path, module) for child in el
                     if isinstance(child.tag, str)]
    if node.kind == "list":
        _extract_keys(node, _key_names(snode))
        _finish_list_path(node)
        for child in node.children:
            _rebase(child, path, node.path)
    return node


def _rebase(node: EditNode, old_prefix: str, new_prefix: str) -> None:
    """Children were named before the list keys were known; give them the keyed path."""
    node.path = new_prefix + node.path[len(old_prefix):]
    for child in node.children:
        _rebase(child, old_prefix, new_prefix)


def _xml_attributes(node: EditNode, el: etree._Element) -> None:
    for attr, raw in el.attrib.items():
        q = etree.QName(attr)
        if q.namespace == NC_NS and q.localname == "operation":
            node.operation = parse_operation(raw, node.name, node.path)
        elif q.namespace == YANG_NS and q.localname == "insert":
            node.insert = parse_insert(raw, node.name, node.path)
        elif q.namespace == YANG_NS and q.localname in ("key", "value"):
            node.anchor = raw
        elif q.namespace in (NC_NS, YANG_NS):
            raise NetconfError(RpcError(tag=ErrorTag.UNKNOWN_ATTRIBUTE, type=ErrorType.PROTOCOL,
                                        message=f"unknown attribute {q.localname!r}",
                                        path=node.path,
                                        info=(("bad-attribute", q.localname),
                                              ("bad-element", node.name))))
    _check_insert(node)


def _check_insert(node: EditNode) -> None:
    if node.insert is None:
        return
    ordered = isinstance(node.snode, libyang.SList | libyang.SLeafList) and node.snode.ordered()
    if not ordered:
        raise _bad_attribute("insert", node.name,
                             f"{node.name!r} is not ordered-by user", node.path)
    if node.insert in (Insert.BEFORE, Insert.AFTER) and not node.anchor:
        raise NetconfError(RpcError(tag=ErrorTag.MISSING_ATTRIBUTE, type=ErrorType.PROTOCOL,
                                    message=f"insert={node.insert} needs a key/value attribute",
                                    path=node.path,
                                    info=(("bad-attribute", "key" if node.kind == "list"
                                           else "value"), ("bad-element", node.name))))


def _xml_leaf_value(index: SchemaIndex, snode: libyang.SNode, el: etree._Element) -> str:
    text = el.text or ""
    base = snode.type().base() if isinstance(snode, libyang.SLeaf | libyang.SLeafList) else None
    if base == libyang.Type.IDENT:
        return _identity_to_json(index, text.strip(), el)
    if base == libyang.Type.UNION and ":" in text:
        # A union may hold an identityref: map an XML prefix if it names a known namespace.
        prefix = text.strip().split(":", 1)[0]
        if prefix in (el.nsmap or {}):
            return _identity_to_json(index, text.strip(), el)
    return text


def _identity_to_json(index: SchemaIndex, text: str, el: etree._Element) -> str:
    """XML identityref values carry XML prefixes (RFC 7950 §9.10.3); libyang wants modules."""
    prefix, _, local = text.rpartition(":")
    ns = el.nsmap.get(prefix if prefix else None)
    module = index.by_namespace.get(ns) if ns else None
    if module is None:
        return text
    return f"{module}:{local}"


# ----------------------------------------------------------------------------------------
# RFC 7951 JSON


def parse_json_config(index: SchemaIndex, data: Mapping[str, Any]) -> list[EditNode]:
    """Top-level members of an RFC 7951 JSON document (member names "module:name")."""
    if not isinstance(data, Mapping):
        raise NetconfError.of(ErrorTag.MALFORMED_MESSAGE, "JSON content must be an object")
    nodes: list[EditNode] = []
    for member, value in data.items():
        if member.startswith("@"):
            continue
        module, sep, name = member.partition(":")
        if not sep:
            raise unknown_element(member, f"top-level member {member!r} needs a module prefix",
                                  f"/{member}", ErrorTag.UNKNOWN_NAMESPACE)
        nodes.extend(_json_member(index, None, "", None, module, name, value,
                                  data.get(f"@{member}")))
    for node in nodes:
        check_operation_nesting(node, None)
    reject_duplicates(nodes, ErrorTag.INVALID_VALUE)
    return nodes


def _json_member(index: SchemaIndex, parent: libyang.SNode | None, parent_path: str,
                 parent_module: str | None, module: str, name: str, value: Any,
                 meta: Any) -> list[EditNode]:
    path = _step(parent_path, parent_module, module, name)
    snode = index.top(module, name) if parent is None else index.child(parent, module, name)
    if snode is None:
        known = module in set(index.module_names())
        raise unknown_element(name, f"unknown member {module}:{name}", path,
                              ErrorTag.UNKNOWN_ELEMENT if known else ErrorTag.UNKNOWN_NAMESPACE)
    _reject_state(snode, name, path)
    kind = _kind(snode)
    if kind == "list":
        if not isinstance(value, list):
            raise _json_type_error(name, "a JSON array", path)
        return [_json_object(index, snode, path, module, name, kind, entry)
                for entry in value]
    if kind == "leaf-list":
        if not isinstance(value, list):
            raise _json_type_error(name, "a JSON array", path)
        metas = meta if isinstance(meta, list) else [None] * len(value)
        result = []
        for item, item_meta in zip(value, metas, strict=False):
            node = EditNode(snode=snode, module=module, name=name, kind=kind,
                            value=_json_scalar(item, name, path), path=path)
            _json_meta(node, item_meta)
            result.append(node)
        return result
    if kind == "leaf":
        node = EditNode(snode=snode, module=module, name=name, kind=kind,
                        value=_json_scalar(value, name, path), path=path)
        _json_meta(node, meta)
        return [node]
    if kind == "container":
        return [_json_object(index, snode, path, module, name, kind, value)]
    raise unknown_element(name, "anydata/anyxml cannot be edited here", path,
                          ErrorTag.OPERATION_NOT_SUPPORTED)


def _json_object(index: SchemaIndex, snode: libyang.SNode, path: str, module: str, name: str,
                 kind: str, value: Any) -> EditNode:
    if not isinstance(value, Mapping):
        raise _json_type_error(name, "a JSON object", path)
    node = EditNode(snode=snode, module=module, name=name, kind=kind, path=path)
    _json_meta(node, value.get("@"))
    for member, child_value in value.items():
        if member.startswith("@"):
            continue
        cmod, sep, cname = member.partition(":")
        if not sep:
            cmod, cname = module, member
        node.children.extend(_json_member(index, snode, path, module, cmod, cname, child_value,
                                          value.get(f"@{member}")))
    if kind == "list":
        _extract_keys(node, _key_names(snode))
        _finish_list_path(node)
        for child in node.children:
            _rebase(child, path, node.path)
    return node


def _json_meta(node: EditNode, meta: Any) -> None:
    """RFC 7952 §5.2 metadata object: {"ietf-netconf:operation": "delete", "yang:insert": …}."""
    if not isinstance(meta, Mapping):
        return
    for key, raw in meta.items():
        if key == "ietf-netconf:operation":
            node.operation = parse_operation(str(raw), node.name, node.path)
        elif key == "yang:insert":
            node.insert = parse_insert(str(raw), node.name, node.path)
        elif key in ("yang:key", "yang:value"):
            node.anchor = str(raw)
    _check_insert(node)


def _json_scalar(value: Any, name: str, path: str) -> str:
    """RFC 7951 §6: numbers, strings, booleans, [null] for empty."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    if value == [None]:
        return ""
    raise _json_type_error(name, "a scalar value", path)


def _json_type_error(name: str, expected: str, path: str) -> NetconfError:
    return NetconfError(RpcError(tag=ErrorTag.INVALID_VALUE, message=f"{name!r} must be {expected}",
                                 path=path, info=(("bad-element", name),)))
