"""The parsed form of an edit, independent of its encoding (NETCONF XML or RFC 7951 JSON).

Parsing first into `EditNode`s (schema-resolved, keys extracted, operations attached) lets
one applier implement RFC 6241 §7.2 for every northbound interface, and lets every
structural error (unknown element/namespace, missing key, bad attribute) be reported with
the exact RFC 6241 Appendix A tag before anything is touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import libyang

from controller.errors import ErrorTag, ErrorType, NetconfError, RpcError


class Operation(StrEnum):
    """RFC 6241 §7.2 `operation` attribute values (plus `none` for default-operation)."""

    MERGE = "merge"
    REPLACE = "replace"
    CREATE = "create"
    DELETE = "delete"
    REMOVE = "remove"
    NONE = "none"


class Insert(StrEnum):
    """RFC 7950 §7.8.6 / §7.7.9 `insert` attribute values for ordered-by user nodes."""

    FIRST = "first"
    LAST = "last"
    BEFORE = "before"
    AFTER = "after"


CREATING_OPS = frozenset({Operation.MERGE, Operation.REPLACE, Operation.CREATE})


@dataclass
class EditNode:
    snode: libyang.SNode
    module: str
    name: str
    kind: str  # container | list | leaf | leaf-list | anydata
    value: str | None = None
    keys: list[tuple[str, str]] = field(default_factory=list)
    operation: Operation | None = None
    insert: Insert | None = None
    anchor: str | None = None  # yang:key predicate or yang:value
    children: list[EditNode] = field(default_factory=list)
    path: str = ""  # absolute data path, for error-path

    def segment(self, parent_module: str | None) -> str:
        """Path step of this node relative to its parent (JSON-style prefixes)."""
        step = self.name if parent_module == self.module else f"{self.module}:{self.name}"
        if self.kind == "list":
            step += "".join(f"[{k}={quote(v)}]" for k, v in self.keys)
        elif self.kind == "leaf-list":
            step += f"[.={quote(self.value or '')}]"
        return step

    def subtree_ops(self) -> set[Operation]:
        ops: set[Operation] = set()
        stack = list(self.children)
        while stack:
            node = stack.pop()
            if node.operation is not None:
                ops.add(node.operation)
            stack.extend(node.children)
        return ops


def quote(value: str) -> str:
    """Quote a predicate value (XPath 1.0 has no escapes: pick the quote not in the value)."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise NetconfError.of(ErrorTag.INVALID_VALUE,
                          "a key value cannot contain both ' and \" characters")


def bad_attribute(attr: str, element: str, message: str, path: str,
                  app_tag: str | None = None) -> NetconfError:
    return NetconfError(RpcError(tag=ErrorTag.BAD_ATTRIBUTE, type=ErrorType.PROTOCOL,
                                 message=message, path=path, app_tag=app_tag,
                                 info=(("bad-attribute", attr), ("bad-element", element))))


def unknown_element(element: str, message: str, path: str,
                    tag: ErrorTag = ErrorTag.UNKNOWN_ELEMENT) -> NetconfError:
    return NetconfError(RpcError(tag=tag, type=ErrorType.APPLICATION, message=message,
                                 path=path, info=(("bad-element", element),)))


def parse_operation(raw: str, element: str, path: str) -> Operation:
    try:
        op = Operation(raw)
    except ValueError:
        raise bad_attribute("operation", element,
                            f"invalid operation {raw!r} (merge, replace, create, delete, remove)",
                            path) from None
    if op is Operation.NONE:
        raise bad_attribute("operation", element, "'none' is only a default-operation", path)
    return op


def parse_insert(raw: str, element: str, path: str) -> Insert:
    try:
        return Insert(raw)
    except ValueError:
        raise bad_attribute("insert", element,
                            f"invalid insert {raw!r} (first, last, before, after)", path) from None


def check_operation_nesting(node: EditNode, inherited: Operation | None) -> None:
    """Under delete/remove only delete/remove may appear (nothing can be created there)."""
    if inherited in (Operation.DELETE, Operation.REMOVE) and node.operation in CREATING_OPS:
        raise bad_attribute("operation", node.name,
                            f"operation {node.operation} is not allowed inside a "
                            f"{inherited} subtree", node.path)
    effective = node.operation or inherited
    for child in node.children:
        check_operation_nesting(child, effective)


def reject_duplicates(nodes: list[EditNode], tag: ErrorTag,
                      inherited: Operation | None = None) -> None:
    """One edit names each data node once: a list entry (by its keys), a leaf or a
    container twice among the same siblings is refused rather than merged, since the
    two may say different things (RFC 7950 §7.8.2: the keys identify an entry uniquely;
    §7.5 and §7.6: a container or leaf has one instance). A leaf-list value repeated is
    left to merge: its value is all it carries, so the two cannot disagree.
    `tag` is the encoding's error-tag (operation-failed over NETCONF, RFC 6241 App. A;
    invalid-value over RESTCONF, RFC 8040 §7); two `create`s of one node are data-exists
    (RFC 6241 §7.2 create). The error-path names the duplicate."""
    seen: dict[tuple[str, ...], Operation | None] = {}
    for node in nodes:
        if node.kind == "leaf-list":
            continue
        effective = node.operation or inherited
        identity = _identity(node)
        if identity in seen:
            both_create = effective is Operation.CREATE and seen[identity] is Operation.CREATE
            raise NetconfError(RpcError(
                tag=ErrorTag.DATA_EXISTS if both_create else tag,
                message=f"{node.path} appears more than once in one edit",
                path=node.path, info=(("bad-element", node.name),)))
        seen[identity] = effective
        reject_duplicates(node.children, tag, effective)


def _identity(node: EditNode) -> tuple[str, ...]:
    if node.kind == "list":
        return (node.module, node.name, *(value for _, value in node.keys))
    return (node.module, node.name)
