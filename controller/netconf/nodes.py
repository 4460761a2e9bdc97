"""Small accessors on libyang data nodes shared by the tree-pruning passes."""

from __future__ import annotations

from controller.datastore.ly import NodePtr, ffi, lib
from controller.datastore.tree import NULL


def children(node: NodePtr) -> list[NodePtr]:
    """A list (not a generator): callers free children while iterating."""
    out = []
    child = lib.lyd_child(node)
    while child != NULL:
        out.append(child)
        child = child.next
    return out


def is_key(node: NodePtr) -> bool:
    return bool(node.schema != NULL and node.schema.flags & lib.LYS_KEY)


def module_of(node: NodePtr) -> str:
    return str(ffi.string(node.schema.module.name).decode())
