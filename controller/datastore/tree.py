"""A datastore's content: a forest of libyang top-level data trees, and the undo log.

Edits change the forest in place so that a one-leaf change costs microseconds, not a copy
of a 4,000-entry topology. Atomicity comes from `UndoLog`: every structural change is
recorded, removed subtrees are unlinked (kept alive) rather than freed, and `rollback()`
replays the log backwards. Only `UndoLog.release()` frees what an edit removed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from controller.datastore import ly
from controller.datastore.ly import NodePtr, c2s, ffi, lib
from controller.datastore.schema import Schema
from controller.errors import ErrorTag, ErrorType, NetconfError, RpcError

NULL = ffi.NULL
LY_SUCCESS = 0
LY_EEXIST = int(lib.LY_EEXIST)
LY_ENOT = int(lib.LY_ENOT)


class WithDefaults(StrEnum):
    """RFC 6243 retrieval modes (our basic-mode is `explicit`)."""

    EXPLICIT = "explicit"
    TRIM = "trim"
    REPORT_ALL = "report-all"
    REPORT_ALL_TAGGED = "report-all-tagged"


_WD_FLAGS = {
    WithDefaults.EXPLICIT: lib.LYD_PRINT_WD_EXPLICIT,
    WithDefaults.TRIM: lib.LYD_PRINT_WD_TRIM,
    WithDefaults.REPORT_ALL: lib.LYD_PRINT_WD_ALL,
    WithDefaults.REPORT_ALL_TAGGED: lib.LYD_PRINT_WD_ALL_TAG,
}
_FORMATS = {"json": lib.LYD_JSON, "xml": lib.LYD_XML}


def node_path(node: NodePtr) -> str:
    raw = lib.lyd_path(node, lib.LYD_PATH_STD, ffi.NULL, 0)
    try:
        return str(ffi.string(raw).decode())
    finally:
        lib.free(raw)


def is_default(node: NodePtr) -> bool:
    return bool(node.flags & lib.LYD_DEFAULT)


def term_value(node: NodePtr) -> str | None:
    return c2s(lib.lyd_get_value(node))


def schema_name(node: NodePtr) -> str:
    return str(ffi.string(node.schema.name).decode())


def schema_module(node: NodePtr) -> str:
    return str(ffi.string(node.schema.module.name).decode())


def children(node: NodePtr) -> Iterator[NodePtr]:
    child = lib.lyd_child(node)
    while child != NULL:
        nxt = child.next
        yield child
        child = nxt


def collect_ly_errors(schema: Schema, *, default_tag: ErrorTag = ErrorTag.OPERATION_FAILED,
                      fallback: str = "libyang error") -> list[RpcError]:
    """Turn libyang's stored errors into rpc-errors (RFC 7950 §15 app-tags where defined)."""
    errors: list[RpcError] = []
    item = lib.ly_err_first(schema.ctx.cdata)
    while item != NULL:
        if item.level == lib.LY_LLERR:
            errors.append(_map_ly_error(c2s(item.msg) or fallback, c2s(item.path),
                                        c2s(item.apptag), default_tag))
        item = item.next
    lib.ly_err_clean(schema.ctx.cdata, NULL)
    if not errors:
        errors.append(RpcError(tag=default_tag, message=fallback))
    return errors


def clear_ly_errors(schema: Schema) -> None:
    lib.ly_err_clean(schema.ctx.cdata, NULL)


_LOCATION = re.compile(r'(data|schema) location "([^"]*)"', re.IGNORECASE)


def location_path(raw: str | None) -> str | None:
    """libyang reports 'Schema location "…", data location "…".': prefer the data path."""
    if not raw:
        return None
    found = {kind.lower(): path for kind, path in _LOCATION.findall(raw)}
    return found.get("data") or found.get("schema") or raw


def _map_ly_error(msg: str, raw_path: str | None, apptag: str | None,
                  default_tag: ErrorTag) -> RpcError:
    path = location_path(raw_path)
    low = msg.lower()
    tag, app = default_tag, apptag
    if apptag == "instance-required" or "leafref" in low or "required instance" in low:
        tag, app = ErrorTag.DATA_MISSING, "instance-required"      # RFC 7950 §15.5
    elif "mandatory" in low and "choice" in low:
        tag, app = ErrorTag.DATA_MISSING, "missing-choice"         # RFC 7950 §15.6
    elif "mandatory node" in low:
        tag = ErrorTag.DATA_MISSING
    elif "must condition" in low:
        tag, app = ErrorTag.OPERATION_FAILED, apptag or "must-violation"  # RFC 7950 §15.4
    elif "unique data" in low:
        tag, app = ErrorTag.OPERATION_FAILED, "data-not-unique"   # RFC 7950 §15.1
    elif "too many" in low:
        tag, app = ErrorTag.OPERATION_FAILED, "too-many-elements"  # RFC 7950 §15.2
    elif "too few" in low:
        tag, app = ErrorTag.OPERATION_FAILED, "too-few-elements"   # RFC 7950 §15.3
    elif "when condition" in low:
        tag = ErrorTag.OPERATION_FAILED
    elif ("invalid" in low and ("value" in low or "type" in low)) or "does not satisfy" in low:
        tag = ErrorTag.INVALID_VALUE
    elif ("not found" in low and "schema" in low) or "unknown" in low:
        tag = ErrorTag.UNKNOWN_ELEMENT
    elif "duplicate" in low:
        tag = ErrorTag.DATA_EXISTS
    return RpcError(tag=tag, message=msg, type=ErrorType.APPLICATION, path=path, app_tag=app)


class Forest:
    """Owns the top-level siblings of one datastore (may be empty)."""

    __slots__ = ("first", "schema")

    def __init__(self, schema: Schema, first: NodePtr = NULL) -> None:
        self.schema = schema
        self.first = first

    # -- navigation ----------------------------------------------------------------------

    def tops(self) -> Iterator[NodePtr]:
        node = self.first
        while node != NULL:
            nxt = node.next
            yield node
            node = nxt

    def find(self, path: str) -> NodePtr:
        """Node at an absolute data path, or NULL."""
        if self.first == NULL:
            return NULL
        out = ffi.new("struct lyd_node **")
        rc = lib.lyd_find_path(self.first, path.encode(), 0, out)
        if rc != LY_SUCCESS:
            clear_ly_errors(self.schema)
            return NULL
        return out[0]

    def find_xpath(self, xpath: str) -> list[NodePtr]:
        nset = ffi.new("struct ly_set **")
        if self.first == NULL:
            # Nothing to select, but a malformed expression is still an error: check it
            # against the schema.
            rc = lib.lys_find_xpath(self.schema.ctx.cdata, ffi.NULL, xpath.encode(), 0, nset)
            if rc == LY_SUCCESS:
                lib.ly_set_free(nset[0], ffi.NULL)
                return []
        else:
            rc = lib.lyd_find_xpath(self.first, xpath.encode(), nset)
        if rc != LY_SUCCESS:
            errors = collect_ly_errors(self.schema, default_tag=ErrorTag.INVALID_VALUE,
                                       fallback=f"invalid XPath {xpath!r}")
            raise NetconfError(errors)
        try:
            return [nset[0].dnodes[i] for i in range(nset[0].count)]
        finally:
            lib.ly_set_free(nset[0], ffi.NULL)

    def more_nodes_than(self, limit: int) -> bool:
        """Whether the forest holds more than `limit` data nodes, counted by libyang
        (one XPath count, no list of nodes built): a cheap size check before printing."""
        if self.first == NULL:
            return False
        result = ffi.new("ly_bool *")
        rc = ly.eval_xpath_bool(self.first, self.first.schema.module,
                                f"count(//*) > {int(limit)}".encode(), lib.LY_VALUE_JSON,
                                ffi.NULL, ffi.NULL, result)
        return rc == 0 and bool(result[0])

    def top_modules(self) -> set[str]:
        return {schema_module(n) for n in self.tops()}

    # -- structural changes (callers record them in an UndoLog) ---------------------------

    def insert_top(self, node: NodePtr) -> None:
        self.first = node if self.first == NULL else ly.insert_sibling(self.first, node)

    def unlink(self, node: NodePtr) -> None:
        if node == self.first:
            self.first = node.next if node.next != NULL else NULL
        ly.unlink(node)

    def free(self) -> None:
        if self.first != NULL:
            lib.lyd_free_all(self.first)
        self.first = NULL

    def replace_content(self, first: NodePtr) -> NodePtr:
        """Swap in a new forest; returns the old first node (caller owns it)."""
        old, self.first = self.first, first
        return old

    def add_implicit_defaults(self, *, config_only: bool = False) -> None:
        """Create the default nodes libyang adds during validation, without validating
        (for views of datastores that are not validated: intended, operational, a
        candidate edited with test-option set)."""
        tree = ffi.new("struct lyd_node **", self.first)   # NULL: an empty datastore
        options = lib.LYD_IMPLICIT_NO_STATE if config_only else 0
        if lib.lyd_new_implicit_all(tree, self.schema.ctx.cdata, options,
                                    ffi.NULL) != LY_SUCCESS:
            clear_ly_errors(self.schema)
            return
        self.first = lib.lyd_first_sibling(tree[0])

    # -- copies and (de)serialisation ---------------------------------------------------

    def dup(self) -> Forest:
        if self.first == NULL:
            return Forest(self.schema)
        out = ffi.new("struct lyd_node **")
        rc = lib.lyd_dup_siblings(self.first, ffi.NULL,
                                  lib.LYD_DUP_RECURSIVE | lib.LYD_DUP_WITH_FLAGS, out)
        if rc != LY_SUCCESS:
            raise NetconfError(collect_ly_errors(self.schema))
        return Forest(self.schema, out[0])

    def print(self, fmt: str = "json", *, with_defaults: WithDefaults = WithDefaults.EXPLICIT,
              shrink: bool = True) -> str:
        if self.first == NULL:
            return "{}" if fmt == "json" else ""
        return print_nodes(self.first, fmt, with_siblings=True, with_defaults=with_defaults,
                           shrink=shrink)

    def to_dict(self) -> dict[str, Any]:
        text = self.print("json")
        result: dict[str, Any] = json.loads(text) if text.strip() else {}
        return result

    @classmethod
    def parse(cls, schema: Schema, text: str, fmt: str = "json", *, config_only: bool = True,
              validate: bool = True) -> Forest:
        """Parse a whole datastore's content; strict (unknown nodes are errors)."""
        if fmt == "json":
            _check_json_syntax(text)
        flags = lib.LYD_PARSE_STRICT
        if config_only:
            flags |= lib.LYD_PARSE_NO_STATE
        if not validate:
            flags |= lib.LYD_PARSE_ONLY
        vflags = lib.LYD_VALIDATE_NO_STATE if config_only else 0
        out = ffi.new("struct lyd_node **")
        data = ffi.new("char[]", text.encode())
        rc = lib.lyd_parse_data_mem(schema.ctx.cdata, data, _FORMATS[fmt], flags, vflags, out)
        if rc != LY_SUCCESS:
            if out[0] != NULL:
                lib.lyd_free_all(out[0])
            raise NetconfError(collect_ly_errors(schema, default_tag=ErrorTag.INVALID_VALUE,
                                                 fallback="content does not parse"))
        twice = None if validate else first_duplicate(out[0])
        if twice is not None:
            # Keys identify one entry (RFC 7950 §7.8.2) whatever waits for <validate>:
            # without validation libyang keeps both instances, so refuse them here.
            lib.lyd_free_all(out[0])
            raise NetconfError(RpcError(tag=ErrorTag.DATA_EXISTS, type=ErrorType.APPLICATION,
                                        message=f"{twice} appears more than once in the "
                                                "content", path=twice))
        return cls(schema, out[0])


def first_duplicate(first: NodePtr) -> str | None:
    """The path of the first node that has a sibling with the same path (one list entry,
    leaf-list value or single node given twice), or None."""
    chains = [first]
    while chains:
        node, seen = chains.pop(), set()
        while node != NULL:
            path = node_path(node)
            if path in seen:
                return path
            seen.add(path)
            child = lib.lyd_child(node)
            if child != NULL:
                chains.append(child)
            node = node.next
    return None


def _check_json_syntax(text: str) -> None:
    """libyang 2.1 accepts some truncated JSON documents; reject them first."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise NetconfError(RpcError(tag=ErrorTag.MALFORMED_MESSAGE, type=ErrorType.RPC,
                                    message=f"malformed JSON: {exc}")) from None
    if not isinstance(doc, dict):
        raise NetconfError(RpcError(tag=ErrorTag.MALFORMED_MESSAGE, type=ErrorType.RPC,
                                    message="JSON content must be an object"))


def print_nodes(node: NodePtr, fmt: str, *, with_siblings: bool,
                with_defaults: WithDefaults = WithDefaults.EXPLICIT, shrink: bool = True,
                keep_empty: bool = False) -> str:
    """`keep_empty`: print empty non-presence containers too (a fragment that must hold
    its node even when nothing below it is printed)."""
    flags = _WD_FLAGS[with_defaults]
    if with_siblings:
        flags |= lib.LYD_PRINT_WITHSIBLINGS
    if shrink:
        flags |= lib.LYD_PRINT_SHRINK
    if keep_empty:
        flags |= lib.LYD_PRINT_KEEPEMPTYCONT
    buf = ffi.new("char **")
    rc = lib.lyd_print_mem(buf, node, _FORMATS[fmt], flags)
    if rc != LY_SUCCESS or buf[0] == NULL:
        return ""
    try:
        return str(ffi.string(buf[0]).decode())
    finally:
        lib.free(buf[0])


def fragment_with_parents(node: NodePtr) -> str:
    """JSON of `node`'s subtree wrapped in its ancestors (keys only): a replayable fragment
    (holding the node even when it is an empty non-presence container, which a plain
    print leaves out)."""
    out = ffi.new("struct lyd_node **")
    rc = lib.lyd_dup_single(node, ffi.NULL,
                            lib.LYD_DUP_RECURSIVE | lib.LYD_DUP_WITH_PARENTS, out)
    if rc != LY_SUCCESS:
        raise RuntimeError("lyd_dup_single failed")
    root = out[0]
    while root.parent != NULL:
        root = ffi.cast("struct lyd_node *", root.parent)
    try:
        return print_nodes(root, "json", with_siblings=False, keep_empty=True)
    finally:
        lib.lyd_free_tree(root)


# ----------------------------------------------------------------------------------------
# Undo log

#: an op of the inverse of a change, in the journal's vocabulary (apply.py `JournalOp`)
InverseOp = tuple[str, str | None, str | None]


@dataclass
class _Created:
    node: NodePtr
    path: str = ""      # recorded when the log tracks paths: the node may be detached later


@dataclass
class _Removed:
    node: NodePtr
    parent: NodePtr
    next: NodePtr
    path: str
    anchor: NodePtr = NULL          # the sibling re-inserting it must put it before again
    anchor_path: str | None = None  # its path (tracked logs only)


@dataclass
class _Changed:
    node: NodePtr
    old_value: str
    was_default: bool
    path: str = ""


@dataclass
class _Reset:
    old_first: NodePtr


@dataclass
class UndoLog:
    """Reversible record of the structural changes made to one forest.

    `track_paths`: record every touched node's path when it is touched, so that
    `inverse()` can describe the change backwards even for nodes the same change detached
    afterwards (a leaf changed, then its list entry deleted). Only running's log needs
    it (its inverse is what the commit history keeps)."""

    forest: Forest
    entries: list[_Created | _Removed | _Changed | _Reset] = field(default_factory=list)
    track_paths: bool = False

    def created(self, node: NodePtr) -> None:
        self.entries.append(_Created(node, node_path(node) if self.track_paths else ""))

    def remove(self, node: NodePtr) -> None:
        """Unlink `node` (keep it alive for rollback)."""
        parent = ffi.cast("struct lyd_node *", node.parent) if node.parent != NULL else NULL
        anchor = _anchor(node)
        entry = _Removed(node, parent, node.next if node.next != NULL else NULL, node_path(node),
                         anchor, node_path(anchor) if self.track_paths and anchor != NULL
                         else None)
        self.forest.unlink(node)
        self.entries.append(entry)

    def change_leaf(self, node: NodePtr, value: str) -> bool:
        """Set a leaf's value; False (and nothing recorded) when it already had it."""
        old = term_value(node) or ""
        was_default = is_default(node)
        rc = ly.change_term(node, value)
        if rc in (LY_SUCCESS, LY_EEXIST):
            # after the change: a leaf-list instance's path names its (new) value
            self.entries.append(_Changed(node, old, was_default,
                                         node_path(node) if self.track_paths else ""))
            return True
        if rc == LY_ENOT:  # same value, explicitly set already
            return False
        raise NetconfError(collect_ly_errors(self.forest.schema,
                                             default_tag=ErrorTag.INVALID_VALUE,
                                             fallback=f"invalid value {value!r}"))

    def reset(self, new_first: NodePtr) -> None:
        self.entries.append(_Reset(self.forest.replace_content(new_first)))

    def inverse(self) -> list[InverseOp]:
        """Journal ops that take the forest from its content now back to its content
        before the logged changes (call before `release`, while removed nodes are alive;
        the log must track paths).

        The entries are walked backwards, as `rollback` does in memory: a created node is
        deleted, a removed one comes back (its subtree wrapped in its ancestors, then put
        before the sibling it stood before: libyang appends re-inserted list entries, and
        orders top-level trees of different modules by arrival), a changed leaf gets its
        old value (or goes, when it was a default: validation brings the default back), a
        reset is undone by the whole old document, which makes every later op moot."""
        assert self.track_paths, "inverse() needs a log that tracks paths"
        schema = self.forest.schema
        ops: list[InverseOp] = []
        for entry in reversed(self.entries):
            if isinstance(entry, _Created):
                ops.append(("delete", entry.path, None))
            elif isinstance(entry, _Removed):
                if is_default(entry.node):
                    continue   # an implicit default is not content (validation adds it)
                ops.append(("replace", entry.path, _wrapped(schema, entry.node, entry.path)))
                if entry.anchor_path is not None:
                    ops.append(("before", entry.path, entry.anchor_path))
            elif isinstance(entry, _Changed):
                ops.append(("delete", entry.path, None) if entry.was_default
                           else ("set", entry.path, entry.old_value))
            else:
                old = Forest(schema, entry.old_first).print("json")
                ops = [("reset", None, old)]
        return ops

    def rollback(self) -> None:
        forest = self.forest
        for entry in reversed(self.entries):
            if isinstance(entry, _Created):
                forest.unlink(entry.node)
                lib.lyd_free_tree(entry.node)
            elif isinstance(entry, _Removed):
                _reinsert(forest, entry)
            elif isinstance(entry, _Changed):
                ly.change_term(entry.node, entry.old_value)
                if entry.was_default:
                    entry.node.flags |= lib.LYD_DEFAULT
            else:
                current = forest.replace_content(entry.old_first)
                if current != NULL:
                    lib.lyd_free_all(current)
        self.entries.clear()

    def release(self) -> None:
        """Commit point: free what the edit removed; the log can no longer roll back."""
        for entry in self.entries:
            if isinstance(entry, _Removed):
                lib.lyd_free_tree(entry.node)
            elif isinstance(entry, _Reset) and entry.old_first != NULL:
                lib.lyd_free_all(entry.old_first)
        self.entries.clear()

    def removed_nodes(self) -> set[int]:
        return {int(ffi.cast("uintptr_t", e.node)) for e in self.entries
                if isinstance(e, _Removed)}


def _anchor(node: NodePtr) -> NodePtr:
    """The sibling `node` stands before where re-inserting it would not put it back by
    itself (NULL: none): the next entry of the same list or leaf-list (libyang 2.1 appends
    a re-inserted entry, whatever the list's ordering), or at the top level, where libyang
    orders the trees of different modules by arrival, the next tree that is not an
    implicit default. Never an implicit default: validation may free those."""
    sibling = node.next
    if node.parent != NULL:
        return sibling if sibling != NULL and sibling.schema == node.schema \
            and not is_default(sibling) else NULL
    while sibling != NULL and is_default(sibling):
        sibling = sibling.next
    return sibling if sibling != NULL else NULL


def place_before(forest: Forest, node: NodePtr, anchor: NodePtr) -> None:
    """Put `node` right before its sibling `anchor`. libyang 2.1 moves only user-ordered
    entries before a sibling, so the anchor and the siblings after it (the rest of its
    list, or every top-level tree after it) are taken out and put back, each where
    libyang appends it: after `node`. A pure reordering, recorded in no undo log."""
    if node == anchor or node.parent != anchor.parent:
        return
    parent = ffi.cast("struct lyd_node *", node.parent) if node.parent != NULL else NULL
    tail: list[NodePtr] = []
    sibling = anchor
    while sibling != NULL and (parent == NULL or sibling.schema == anchor.schema):
        if sibling != node:
            tail.append(sibling)
        sibling = sibling.next
    for moved in tail:
        forest.unlink(moved)
    for moved in tail:
        if parent == NULL:
            forest.insert_top(moved)
        elif lib.lyd_insert_child(parent, moved) != LY_SUCCESS:
            raise RuntimeError(f"cannot put {node_path(moved)} back")


def path_steps(path: str) -> list[str]:
    """The steps of an absolute data path: split at each "/" outside predicates'
    brackets and quoted key values (which may hold "/" and "]")."""
    steps, depth, quote, start = [], 0, "", 1
    for index, char in enumerate(path):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "/" and depth == 0 and index > 0:
            steps.append(path[start:index])
            start = index + 1
    steps.append(path[start:])
    return steps


def parent_path(path: str) -> str | None:
    """The path of a data path's parent (None for a top-level node)."""
    steps = path_steps(path)
    return "/" + "/".join(steps[:-1]) if len(steps) > 1 else None


def _wrapped(schema: Schema, node: NodePtr, path: str) -> str:
    """JSON of a detached `node`'s subtree inside the ancestors named by its `path` (keys
    only): the replayable fragment that puts it back."""
    copy = ffi.new("struct lyd_node **")
    if lib.lyd_dup_single(node, ffi.NULL, lib.LYD_DUP_RECURSIVE | lib.LYD_DUP_WITH_FLAGS,
                          copy) != LY_SUCCESS:
        raise NetconfError(collect_ly_errors(schema, fallback=f"cannot copy {path}"))
    root = copy[0]
    above = parent_path(path)
    if above is not None:
        chain = ffi.new("struct lyd_node **")
        if lib.lyd_new_path(ffi.NULL, schema.ctx.cdata, above.encode(), ffi.NULL, 0,
                            chain) != LY_SUCCESS:
            lib.lyd_free_tree(root)
            raise NetconfError(collect_ly_errors(schema, fallback=f"cannot create {above}"))
        top = chain[0]
        parent = ffi.new("struct lyd_node **")
        if lib.lyd_find_path(top, above.encode(), 0, parent) != LY_SUCCESS \
                or lib.lyd_insert_child(parent[0], root) != LY_SUCCESS:
            lib.lyd_free_tree(root)
            lib.lyd_free_tree(top)
            raise NetconfError(collect_ly_errors(schema, fallback=f"cannot wrap {path}"))
        root = top
    try:
        return print_nodes(root, "json", with_siblings=False, keep_empty=True)
    finally:
        lib.lyd_free_tree(root)


def _drop_implicit_twin(forest: Forest, entry: _Removed) -> None:
    """While a node was detached, validation may have created an implicit default
    instance of it (NP container, defaulted leaf); re-inserting would make two."""
    schema = entry.node.schema
    if schema == NULL or schema.nodetype & (lib.LYS_LIST | lib.LYS_LEAFLIST):
        return
    sibling = lib.lyd_child(entry.parent) if entry.parent != NULL else forest.first
    while sibling != NULL:
        nxt = sibling.next
        if sibling.schema == schema and sibling != entry.node and is_default(sibling):
            forest.unlink(sibling)
            lib.lyd_free_tree(sibling)
        sibling = nxt


def _reinsert(forest: Forest, entry: _Removed) -> None:
    _drop_implicit_twin(forest, entry)
    user_ordered = entry.node.schema != NULL and bool(entry.node.schema.flags
                                                      & lib.LYS_ORDBY_USER)
    if user_ordered and entry.next != NULL:
        rc = ly.insert_before(entry.next, entry.node)
        if rc == LY_SUCCESS:
            if entry.next == forest.first:
                forest.first = entry.node
            return
    if entry.parent != NULL:
        rc = lib.lyd_insert_child(entry.parent, entry.node)
        if rc != LY_SUCCESS:
            raise RuntimeError(f"undo: cannot re-insert {entry.path}")
    else:
        forest.insert_top(entry.node)
    if entry.anchor != NULL:    # appended: back before the sibling it stood before
        place_before(forest, entry.node, entry.anchor)
