"""What changed in a subscription's selection between two pushes, as the edits of a
YANG Patch (RFC 8072) for push-change-update (RFC 8641 §3.7).

A selection is flattened to {node path: (kind, value)}: two of them name what was
created, replaced or deleted. A created or deleted subtree is one edit at its top node,
a changed leaf one replace; targets are RFC 8040 §3.5.3 data resource identifiers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from lxml import etree

from controller.datastore.ly import lib
from controller.datastore.tree import Forest, node_path, print_nodes, term_value
from controller.netconf.nodes import children
from controller.netconf.paths import PathSyntaxError, parse_path

PATCH_NS = "urn:ietf:params:xml:ns:yang:ietf-yang-patch"
Snapshot = dict[str, tuple[str, str | None]]
Edit = tuple[str, str, "etree._Element | None"]


def flatten(forest: Forest) -> Snapshot:
    """Every data node of `forest` by its path: (kind, value), the value of terminal
    nodes only. Two of these say what was created, replaced or deleted."""
    flat: Snapshot = {}
    stack = list(forest.tops())
    while stack:
        node = stack.pop()
        inner = list(children(node))
        flat[node_path(node)] = ("inner", None) if inner or _is_inner(node) \
            else ("leaf", term_value(node))
        stack.extend(inner)
    return flat


def _is_inner(node: Any) -> bool:
    return bool(node.schema.nodetype & (lib.LYS_CONTAINER | lib.LYS_LIST))


def changes(old: Snapshot, new: Snapshot,
             forest: Forest, excluded: frozenset[str]
             ) -> list[Edit]:
    """YANG Patch edits from `old` to `new`: a created or deleted subtree is one edit at
    its top node, a changed leaf one replace (RFC 8641 §3.7)."""
    edits: list[Edit] = []

    def parent(path: str) -> str | None:
        steps = _split(path)
        return "/" + "/".join(steps[:-1]) if len(steps) > 1 else None

    for path in sorted(new):
        kind, value = new[path]
        up = parent(path)
        if path not in old:
            if (up is None or up in old) and "create" not in excluded:
                edits.append(("create", _api_path(path), _value(forest, path)))
        elif kind == "leaf" and old[path][1] != value and "replace" not in excluded:
            edits.append(("replace", _api_path(path), _value(forest, path)))
    for path in sorted(old):
        up = parent(path)
        if path not in new and (up is None or up in new) and "delete" not in excluded:
            edits.append(("delete", _api_path(path), None))
    return edits


def _value(forest: Forest, path: str) -> etree._Element | None:
    """RFC 8072 §2.5 edit value: the target node itself."""
    text = print_nodes(forest.find(path), "xml", with_siblings=False)
    return etree.fromstring(text.encode()) if text else None


def _split(path: str) -> list[str]:
    """Steps of a libyang node path, not splitting inside key predicates."""
    steps, depth, quote_char, current = [], 0, "", ""
    for ch in path[1:]:
        if quote_char:
            quote_char = "" if ch == quote_char else quote_char
        elif ch in "'\"":
            quote_char = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "/" and depth == 0:
            steps.append(current)
            current = ""
            continue
        current += ch
    steps.append(current)
    return steps


def _api_path(path: str) -> str:
    """A node path as RFC 8040 §3.5.3 data resource identifier (RFC 8072 edit target)."""
    try:
        steps = parse_path(path)
    except PathSyntaxError:
        return path
    out, module = [], None
    for step in steps:
        name = step.name if step.module in (None, module) else f"{step.module}:{step.name}"
        module = step.module or module
        keys = [quote(v, safe="") for k, v in step.predicates if k not in ("#",)]
        out.append(name + ("=" + ",".join(keys) if keys else ""))
    return "/" + "/".join(out)
