"""Read-side views of datastores: XPath selection, operational composition, diffs."""

from __future__ import annotations

from typing import Any

from controller.datastore.ly import NodePtr, c2s, ffi, lib
from controller.datastore.schema import Schema
from controller.datastore.tree import (
    LY_SUCCESS,
    NULL,
    Forest,
    children,
    collect_ly_errors,
    node_path,
    term_value,
)
from controller.errors import NetconfError

ORIGIN_META = "ietf-origin:origin"
ORIGIN_INTENDED = "ietf-origin:intended"
ORIGIN_LEARNED = "ietf-origin:learned"
ORIGIN_SYSTEM = "ietf-origin:system"


def merge_into(target: Forest, source: Forest) -> None:
    """Merge `source` into `target`, consuming it."""
    if source.first == NULL:
        return
    if target.first == NULL:
        target.first, source.first = source.first, NULL
        return
    tree = ffi.new("struct lyd_node **", target.first)
    rc = lib.lyd_merge_siblings(tree, source.first, lib.LYD_MERGE_DESTRUCT)
    source.first = NULL
    if rc != LY_SUCCESS:
        raise NetconfError(collect_ly_errors(target.schema))
    target.first = lib.lyd_first_sibling(tree[0])


def select(forest: Forest, xpath: str | None) -> Forest:
    """Copy of the nodes an XPath selects, with their ancestors (RFC 6241 §8.9 semantics)."""
    if xpath is None or xpath in ("/", ""):
        return forest.dup()
    result = Forest(forest.schema)
    for node in forest.find_xpath(xpath):
        out = ffi.new("struct lyd_node **")
        if lib.lyd_dup_single(node, ffi.NULL,
                              lib.LYD_DUP_RECURSIVE | lib.LYD_DUP_WITH_PARENTS
                              | lib.LYD_DUP_WITH_FLAGS, out) != LY_SUCCESS:
            result.free()
            raise NetconfError(collect_ly_errors(forest.schema))
        root = out[0]
        while root.parent != NULL:
            root = ffi.cast("struct lyd_node *", root.parent)
        merge_into(result, Forest(forest.schema, root))
    return result


def _is_config(node: NodePtr) -> bool:
    return bool(node.schema != NULL and node.schema.flags & lib.LYS_CONFIG_W)


def annotate_origin(forest: Forest, origin: str, *, state_only: bool) -> None:
    """Set `or:origin` where it changes (RFC 8342 §5.3.4: children inherit it)."""
    for top in forest.tops():
        _annotate(top, origin, state_only, parent_is_config=True)


def _annotate(node: NodePtr, origin: str, state_only: bool, parent_is_config: bool) -> None:
    config = _is_config(node)
    if not state_only or (not config and parent_is_config):
        rc = lib.lyd_new_meta(ffi.NULL, node, ffi.NULL, ORIGIN_META.encode(), origin.encode(),
                              False, ffi.NULL)
        if rc != LY_SUCCESS:
            raise RuntimeError(f"cannot annotate origin on {node_path(node)}")
        if state_only:
            return
        return  # inherited by the whole subtree
    for child in children(node):
        _annotate(child, origin, state_only, config)


def compose_operational(intended: Forest, state: Forest, *, xpath: str | None,
                        with_origin: bool) -> Forest:
    """<operational> = intended config (origin intended) ⊕ learned state (RFC 8342 §5.3)."""
    config = select(intended, xpath)
    learned = select(state, xpath)
    if with_origin:
        annotate_origin(config, ORIGIN_INTENDED, state_only=False)
        annotate_origin(learned, ORIGIN_LEARNED, state_only=True)
    merge_into(config, learned)
    return config


def datastore_diff(old: Forest, new: Forest) -> list[dict[str, Any]]:
    """Changed nodes from `old` to `new`: operation (create/delete/replace), path, values."""
    out = ffi.new("struct lyd_node **")
    rc = lib.lyd_diff_siblings(old.first if old.first != NULL else ffi.NULL,
                               new.first if new.first != NULL else ffi.NULL, 0, out)
    if rc != LY_SUCCESS:
        raise NetconfError(collect_ly_errors(old.schema))
    entries: list[dict[str, Any]] = []
    diff = Forest(old.schema, out[0])
    try:
        for top in diff.tops():
            _walk_diff(old.schema.ctx.cdata, top, "none", entries)
    finally:
        diff.free()
    return entries


def _meta(ctx: Any, node: NodePtr, name: str) -> str | None:
    item = node.meta
    while item != NULL:
        if c2s(item.name) == name:
            return c2s(lib.lyd_value_get_canonical(ctx, ffi.addressof(item.value)))
        item = item.next
    return None


def _walk_diff(ctx: Any, node: NodePtr, inherited: str, entries: list[dict[str, Any]]) -> None:
    op = _meta(ctx, node, "operation") or inherited
    if op != "none":
        entry: dict[str, Any] = {"operation": op, "path": node_path(node)}
        if node.schema != NULL and node.schema.nodetype & (lib.LYS_LEAF | lib.LYS_LEAFLIST):
            entry["value"] = term_value(node)
            previous = _meta(ctx, node, "orig-value")
            if previous is not None:
                entry["previous"] = previous
        entries.append(entry)
        if op in ("create", "delete"):
            return
    for child in children(node):
        _walk_diff(ctx, child, op if op in ("create", "delete") else "none", entries)


def empty(schema: Schema) -> Forest:
    return Forest(schema)


def readable_diff(entries: list[dict[str, Any]]) -> str:
    """One line per change: '+ path = v', '- path', '~ path: old -> new'."""
    lines = []
    for entry in entries:
        op, path = entry["operation"], entry["path"]
        if op == "create":
            lines.append(f"+ {path}" + (f" = {entry['value']}" if "value" in entry else ""))
        elif op == "delete":
            lines.append(f"- {path}")
        else:
            lines.append(f"~ {path}: {entry.get('previous')} -> {entry.get('value')}")
    return "\n".join(lines)
