"""Apply edits to a forest with RFC 6241 §7.2 semantics, recording undo and journal ops.

Journal ops are what a datastore change *did*, in absolute terms, so they can be replayed
onto another forest (candidate → running on commit, running → intended for the identity
expansion, the SQLite journal on restart):
  ("replace", path, json_fragment)  the node at path becomes the fragment's node
  ("delete", path, None)            the node at path disappears
  ("reset", None, json_document)    the whole datastore becomes the document
  ("move", path, anchor_path|None)  the ordered-by-user entry at path (just written by
                                    the op before) goes right after the entry at
                                    anchor_path, or first among its list's entries
                                    (RFC 7950 §7.8.6: an entry's position is content)
  ("set", path, value)              the leaf at path takes the value (created with its
                                    parents when absent): a leaf change without a fragment
  ("before", path, anchor_path)     the node at path (just written by the op before) goes
                                    right before its sibling at anchor_path, whatever its
                                    list's ordering: the commit history's inverse ops put
                                    a removed node back exactly where it stood with it
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from controller.datastore import ly
from controller.datastore.editnode import CREATING_OPS, EditNode, Insert, Operation, quote
from controller.datastore.ly import NodePtr, ffi, lib
from controller.datastore.tree import (
    LY_SUCCESS,
    NULL,
    Forest,
    UndoLog,
    clear_ly_errors,
    collect_ly_errors,
    fragment_with_parents,
    is_default,
    node_path,
    place_before,
    schema_module,
    term_value,
)
from controller.errors import ErrorTag, NetconfError, RpcError

JournalOp = tuple[str, str | None, str | None]


@dataclass
class _Record:
    kind: str  # create | delete | leaf
    node: NodePtr = NULL
    path: str = ""


@dataclass
class Changes:
    """What one edit did to one forest."""

    records: list[_Record] = field(default_factory=list)
    top_modules: set[str] = field(default_factory=set)
    reset: bool = False

    def touched(self, node: NodePtr) -> None:
        top = node
        while top.parent != NULL:
            top = ffi.cast("struct lyd_node *", top.parent)
        self.top_modules.add(schema_module(top))

    def __bool__(self) -> bool:
        return bool(self.records) or self.reset


class EditApplier:
    """One edit against one forest; every change goes through `undo`."""

    def __init__(self, forest: Forest, undo: UndoLog, changes: Changes, *,
                 continue_on_error: bool = False) -> None:
        self.forest = forest
        self.undo = undo
        self.changes = changes
        self.continue_on_error = continue_on_error
        self.errors: list[RpcError] = []
        self._fresh: set[int] = set()  # nodes created by this edit (their subtree is recorded)

    # -- entry points ----------------------------------------------------------------------

    def apply(self, nodes: Sequence[EditNode], default_operation: Operation) -> None:
        """Apply every node; in continue-on-error mode failures are collected in `errors`
        (RFC 6241 §7.2) instead of aborting, otherwise the first one is raised."""
        for node in nodes:
            self._guarded(node, NULL, None, default_operation)

    def _guarded(self, node: EditNode, parent: NodePtr, parent_module: str | None,
                 inherited: Operation) -> None:
        try:
            self._apply(node, parent, parent_module, inherited)
        except NetconfError as exc:
            if not self.continue_on_error:
                raise
            self.errors.extend(exc.errors)

    # -- lookups -------------------------------------------------------------------------

    def _find(self, node: EditNode, parent: NodePtr, parent_module: str | None) -> NodePtr:
        if parent == NULL:
            return self.forest.find("/" + node.segment(None))
        out = ffi.new("struct lyd_node **")
        rc = lib.lyd_find_path(parent, node.segment(parent_module).encode(), 0, out)
        if rc != LY_SUCCESS:
            lib.ly_err_clean(self.forest.schema.ctx.cdata, NULL)
            return NULL
        return out[0]

    # -- the operations --------------------------------------------------------------------

    def _apply(self, node: EditNode, parent: NodePtr, parent_module: str | None,
               inherited: Operation) -> None:
        op = node.operation or inherited
        existing = self._find(node, parent, parent_module)
        present = existing != NULL and not is_default(existing)
        if op is Operation.CREATE and present:
            raise NetconfError(RpcError(tag=ErrorTag.DATA_EXISTS,
                                        message=f"{node.path} already exists", path=node.path))
        if op is Operation.DELETE and not present:
            raise NetconfError(RpcError(tag=ErrorTag.DATA_MISSING,
                                        message=f"{node.path} does not exist", path=node.path))
        if op in (Operation.DELETE, Operation.REMOVE):
            if present:
                self._remove(existing)
            return
        if op is Operation.REPLACE and present and node.kind in ("container", "list"):
            self._remove(existing)
            existing, present = NULL, False
        if op is Operation.NONE and existing == NULL:
            child_ops = node.subtree_ops()
            if not child_ops & CREATING_OPS:
                # Navigation only: nothing to create; deletes below would hit missing data.
                for child in node.children:
                    self._apply_missing_parent(child)
                return
        if node.kind in ("leaf", "leaf-list"):
            self._set_term(node, parent, parent_module, existing, op)
            return
        if existing == NULL:
            existing = self._create(node, parent, parent_module, None)
        elif node.insert is not None:   # the edit's children go to the moved entry
            existing = self._move(node, existing, parent, parent_module)
        child_default = Operation.MERGE if op in CREATING_OPS else op
        for child in node.children:
            self._guarded(child, existing, node.module, child_default)

    def _apply_missing_parent(self, node: EditNode) -> None:
        op = node.operation
        if op is Operation.DELETE:
            raise NetconfError(RpcError(tag=ErrorTag.DATA_MISSING,
                                        message=f"{node.path} does not exist", path=node.path))
        for child in node.children:
            self._apply_missing_parent(child)

    def _set_term(self, node: EditNode, parent: NodePtr, parent_module: str | None,
                  existing: NodePtr, op: Operation) -> None:
        if op is Operation.NONE:
            return
        if node.kind == "leaf" and existing != NULL:
            try:
                changed = self.undo.change_leaf(existing, node.value or "")
            except NetconfError as exc:
                raise NetconfError([RpcError(tag=e.tag, type=e.type, message=e.message,
                                             path=node.path, app_tag=e.app_tag,
                                             info=(("bad-element", node.name),))
                                    for e in exc.errors]) from None
            if changed:
                self.changes.records.append(_Record("leaf", existing))
                self.changes.touched(existing)
            return
        if node.kind == "leaf-list" and existing != NULL:
            if is_default(existing):
                self.undo.change_leaf(existing, node.value or "")
                self.changes.records.append(_Record("leaf", existing))
                self.changes.touched(existing)
            if node.insert is not None:
                self._move(node, existing, parent, parent_module)
            return
        self._create(node, parent, parent_module, node.value)

    def _create(self, node: EditNode, parent: NodePtr, parent_module: str | None,
                value: str | None) -> NodePtr:
        out = ffi.new("struct lyd_node **")
        val = ffi.new("char[]", value.encode()) if value is not None else ffi.NULL
        if parent == NULL:
            rc = lib.lyd_new_path(ffi.NULL, self.forest.schema.ctx.cdata,
                                  ("/" + node.segment(None)).encode(), val, 0, out)
        else:
            seg = node.segment(parent_module)
            if node.kind == "leaf-list":
                seg = seg[: seg.index("[")]  # value passed separately
            rc = lib.lyd_new_path(parent, ffi.NULL, seg.encode(), val, 0, out)
        if rc != LY_SUCCESS or out[0] == NULL:
            raise NetconfError(self._path_errors(node))
        created = out[0]
        if parent == NULL:
            self.forest.insert_top(created)
        self.undo.created(created)
        self._delete_other_cases(created)
        if node.insert is not None:
            self._position(node, created, parent, parent_module)
        address = int(ffi.cast("uintptr_t", created))
        self._fresh.add(address)
        if parent == NULL or int(ffi.cast("uintptr_t", parent)) not in self._fresh:
            self.changes.records.append(_Record("create", created))
        self.changes.touched(created)
        return created

    def _path_errors(self, node: EditNode) -> list[RpcError]:
        errors = collect_ly_errors(self.forest.schema, default_tag=ErrorTag.INVALID_VALUE,
                                   fallback=f"cannot create {node.path}")
        return [RpcError(tag=e.tag, type=e.type, message=e.message, path=node.path,
                         app_tag=e.app_tag, info=(("bad-element", node.name),))
                for e in errors]

    def _remove(self, existing: NodePtr) -> None:
        self.changes.touched(existing)
        self.changes.records.append(_Record("delete", path=node_path(existing)))
        self.undo.remove(existing)

    def _delete_other_cases(self, created: NodePtr) -> None:
        """RFC 7950 §7.9.6: creating a node of one case deletes the nodes of other cases."""
        snode = created.schema
        case = snode.parent
        if case == NULL or case.nodetype != lib.LYS_CASE:
            return
        choice = case.parent
        sibling = lib.lyd_first_sibling(created)
        doomed = []
        while sibling != NULL:
            if sibling != created and not is_default(sibling):
                scase = sibling.schema.parent
                if scase != NULL and scase.nodetype == lib.LYS_CASE and scase != case \
                        and scase.parent == choice:
                    doomed.append(sibling)
            sibling = sibling.next
        for victim in doomed:
            self._remove(victim)

    # -- ordered-by user (RFC 7950 §7.8.6) -------------------------------------------------

    def _anchor(self, node: EditNode, parent: NodePtr, parent_module: str | None) -> NodePtr:
        base = node.segment(parent_module)
        base = base[: base.index("[")] if "[" in base else base
        if node.kind == "list":
            path = base + (node.anchor or "")
        else:
            path = f"{base}[.={quote(node.anchor or '')}]"
        probe = path if parent != NULL else "/" + path
        if parent == NULL:
            found = self.forest.find(probe)
        else:
            out = ffi.new("struct lyd_node **")
            rc = lib.lyd_find_path(parent, probe.encode(), 0, out)
            lib.ly_err_clean(self.forest.schema.ctx.cdata, NULL)
            found = out[0] if rc == LY_SUCCESS else NULL
        if found == NULL:
            raise NetconfError(RpcError(tag=ErrorTag.BAD_ATTRIBUTE, app_tag="missing-instance",
                                        message=f"insert anchor {node.anchor!r} does not exist",
                                        path=node.path,
                                        info=(("bad-attribute", "key" if node.kind == "list"
                                               else "value"), ("bad-element", node.name))))
        return found

    def _position(self, node: EditNode, target: NodePtr, parent: NodePtr,
                  parent_module: str | None) -> None:
        if node.insert in (None, Insert.LAST):
            return
        if node.insert is Insert.FIRST:
            first = lib.lyd_first_sibling(target)
            while first != NULL and first.schema != target.schema:
                first = first.next
            if first in (NULL, target):
                return
            self.forest.unlink(target)
            ly.insert_before(first, target)
        else:
            anchor = self._anchor(node, parent, parent_module)
            if anchor == target:
                return
            self.forest.unlink(target)
            if node.insert is Insert.BEFORE:
                ly.insert_before(anchor, target)
            else:
                ly.insert_after(anchor, target)
        if parent == NULL:   # a top-level entry may now come first
            self.forest.first = lib.lyd_first_sibling(target)

    def _move(self, node: EditNode, existing: NodePtr, parent: NodePtr,
              parent_module: str | None) -> NodePtr:
        """Move an existing user-ordered entry: remove + re-create keeps undo exact.
        Returns the entry in its new place (the old one is detached)."""
        copy = ffi.new("struct lyd_node **")
        if lib.lyd_dup_single(existing, ffi.NULL, lib.LYD_DUP_RECURSIVE, copy) != LY_SUCCESS:
            raise NetconfError.of(ErrorTag.OPERATION_FAILED, f"cannot move {node.path}")
        self._remove(existing)
        moved = copy[0]
        if parent == NULL:
            self.forest.insert_top(moved)
        elif lib.lyd_insert_child(parent, moved) != LY_SUCCESS:
            lib.lyd_free_tree(moved)
            raise NetconfError.of(ErrorTag.OPERATION_FAILED, f"cannot move {node.path}")
        self.undo.created(moved)
        self._position(node, moved, parent, parent_module)
        self.changes.records.append(_Record("create", moved))
        return moved


# ----------------------------------------------------------------------------------------
# Journal ops: produce after success, replay onto another forest


def journal_ops(forest: Forest, changes: Changes, undo: UndoLog) -> list[JournalOp]:
    """Absolute description of `changes` (call before `undo.release()`)."""
    if changes.reset:
        return [("reset", None, forest.print("json"))]
    removed = undo.removed_nodes()
    ops: list[JournalOp] = []
    for rec in changes.records:
        if rec.kind == "delete":
            ops.append(("delete", rec.path, None))
            continue
        if not _attached(rec.node, removed):
            continue
        path = node_path(rec.node)
        if rec.kind == "leaf" and rec.node.schema.nodetype == lib.LYS_LEAF:
            ops.append(("set", path, term_value(rec.node) or ""))
            continue
        ops.append(("replace", path, fragment_with_parents(rec.node)))
        if rec.node.schema.flags & lib.LYS_ORDBY_USER:
            ops.append(("move", path, _previous_entry_path(rec.node)))
    return ops


def _previous_entry_path(node: NodePtr) -> str | None:
    """The entry of the same list (or leaf-list) right before `node`, None when it is the
    first (libyang keeps a list's entries together; `prev` of a first sibling is the
    last sibling)."""
    prev = node.prev
    if prev in (NULL, node) or prev.next == NULL or prev.schema != node.schema:
        return None
    return node_path(prev)


def _attached(node: NodePtr, removed: set[int]) -> bool:
    cur = node
    while cur != NULL:
        if int(ffi.cast("uintptr_t", cur)) in removed:
            return False
        cur = ffi.cast("struct lyd_node *", cur.parent) if cur.parent != NULL else NULL
    return True


def replay(forest: Forest, ops: Iterable[JournalOp], undo: UndoLog, changes: Changes) -> None:
    """Apply journal ops (strictly: a replace path whose parent is missing gets parents)."""
    schema = forest.schema
    for kind, path, payload in ops:
        if kind == "reset":
            new = Forest.parse(schema, payload or "{}", validate=False)
            changes.top_modules |= forest.top_modules() | new.top_modules()
            undo.reset(new.first)
            changes.reset = True
            continue
        assert path is not None
        if kind == "move":
            _move_entry(forest, path, payload, undo, changes)
            continue
        if kind == "set":
            _set_leaf(forest, path, payload or "", undo, changes)
            continue
        if kind == "before":
            _place_before(forest, path, payload or "")
            continue
        existing = forest.find(path)
        if kind == "replace" and existing != NULL and _set_leaf_from(forest, existing,
                                                                      path, payload, undo,
                                                                      changes):
            continue
        if existing != NULL:
            changes.touched(existing)
            changes.records.append(_Record("delete", path=path))
            undo.remove(existing)
        if kind == "delete":
            continue
        _graft(forest, path, payload or "{}", undo, changes)


def _move_entry(forest: Forest, path: str, anchor_path: str | None, undo: UndoLog,
                changes: Changes) -> None:
    """Put the entry at `path` right after `anchor_path` (None: first of its list), as a
    removal and re-insertion so that the undo log can put it back."""
    node = forest.find(path)
    anchor = forest.find(anchor_path) if anchor_path is not None else NULL
    if node == NULL or (anchor_path is not None and anchor == NULL):
        raise NetconfError.of(ErrorTag.OPERATION_FAILED,
                              f"journal move of {path} after {anchor_path}: not found")
    first = NULL
    if anchor == NULL:
        first = lib.lyd_first_sibling(node)
        while first != NULL and first.schema != node.schema:
            first = first.next
        if first == node:
            return
    elif node.prev == anchor:
        return
    copy = ffi.new("struct lyd_node **")
    if lib.lyd_dup_single(node, ffi.NULL, lib.LYD_DUP_RECURSIVE | lib.LYD_DUP_WITH_FLAGS,
                          copy) != LY_SUCCESS:
        raise NetconfError(collect_ly_errors(forest.schema))
    changes.touched(node)
    undo.remove(node)
    moved = copy[0]
    if anchor == NULL:
        ly.insert_before(first, moved)
        if forest.first == first:
            forest.first = moved
    else:
        ly.insert_after(anchor, moved)
    undo.created(moved)
    changes.records.append(_Record("create", moved))


def _set_leaf_from(forest: Forest, existing: NodePtr, path: str, payload: str | None,
                   undo: UndoLog, changes: Changes) -> bool:
    """Replay a leaf replace as an in-place value change (keeps commits on the fast path)."""
    if existing.schema == NULL or existing.schema.nodetype != lib.LYS_LEAF:
        return False
    frag = Forest.parse(forest.schema, payload or "{}", validate=False)
    try:
        node = frag.find(path)
        if node == NULL:
            return False
        value = term_value(node) or ""
    finally:
        frag.free()
    if undo.change_leaf(existing, value):
        changes.records.append(_Record("leaf", existing))
        changes.touched(existing)
    return True


def _set_leaf(forest: Forest, path: str, value: str, undo: UndoLog, changes: Changes) -> None:
    """Replay a "set": change the leaf in place, or create it with its missing parents."""
    existing = forest.find(path)
    if existing != NULL:
        if undo.change_leaf(existing, value):
            changes.records.append(_Record("leaf", existing))
            changes.touched(existing)
        return
    out = ffi.new("struct lyd_node **")
    val = ffi.new("char[]", value.encode())
    empty = forest.first == NULL
    rc = lib.lyd_new_path(ffi.NULL if empty else forest.first,
                          forest.schema.ctx.cdata if empty else ffi.NULL,
                          path.encode(), val, 0, out)
    if rc != LY_SUCCESS or out[0] == NULL:
        raise NetconfError(collect_ly_errors(forest.schema, default_tag=ErrorTag.INVALID_VALUE,
                                             fallback=f"cannot set {path}"))
    created = out[0]    # the first node created: the leaf or its topmost new ancestor
    forest.first = created if empty else lib.lyd_first_sibling(forest.first)
    undo.created(created)
    changes.records.append(_Record("create", created))
    changes.touched(created)


def _place_before(forest: Forest, path: str, anchor_path: str) -> None:
    """Replay a "before" (a pure reordering, so nothing is recorded for undo). A node or
    anchor that is not there (ops replayed onto another forest) leaves the order as is."""
    node, anchor = forest.find(path), forest.find(anchor_path)
    if NULL not in (node, anchor):
        place_before(forest, node, anchor)


def _graft(forest: Forest, path: str, fragment: str, undo: UndoLog, changes: Changes) -> None:
    schema = forest.schema
    frag = Forest.parse(schema, fragment, validate=False)
    try:
        node = frag.find(path)
        if node == NULL:
            raise NetconfError.of(ErrorTag.OPERATION_FAILED,
                                  f"journal fragment does not contain {path}")
        parent_path = node_path(ffi.cast("struct lyd_node *", node.parent)) \
            if node.parent != NULL else None
        frag.unlink(node)
    finally:
        frag.free()
    if parent_path is None:
        forest.insert_top(node)
        undo.created(node)
    else:
        parent = forest.find(parent_path)
        if parent == NULL:
            parent = _create_path(forest, parent_path, undo, node)
        if lib.lyd_insert_child(parent, node) != LY_SUCCESS:
            lib.lyd_free_tree(node)
            raise NetconfError(collect_ly_errors(schema))
        undo.created(node)
    changes.records.append(_Record("create", node))
    changes.touched(node)


def _create_path(forest: Forest, path: str, undo: UndoLog, orphan: NodePtr) -> NodePtr:
    """Create the missing ancestors at `path` (recorded for undo) and return the last."""
    schema = forest.schema
    out = ffi.new("struct lyd_node **")
    if forest.first == NULL:
        rc = lib.lyd_new_path(ffi.NULL, schema.ctx.cdata, path.encode(), ffi.NULL, 0, out)
    else:
        rc = lib.lyd_new_path(forest.first, ffi.NULL, path.encode(), ffi.NULL, 0, out)
    if rc != LY_SUCCESS or out[0] == NULL:
        lib.lyd_free_tree(orphan)
        raise NetconfError(collect_ly_errors(schema, fallback=f"cannot create {path}"))
    created = out[0]
    if forest.first == NULL:
        top = created
        while top.parent != NULL:
            top = ffi.cast("struct lyd_node *", top.parent)
        forest.first = top
    else:
        forest.first = lib.lyd_first_sibling(forest.first)
    undo.created(created)
    return forest.find(path)


def needs_validation(forest: Forest, changes: Changes) -> bool:
    """False only when every change sets the value of an existing leaf that no constraint
    can observe (controller/datastore/constraints.py): then the type check done while setting it is
    the whole of validation. Creates, deletes and resets always validate."""
    if changes.reset:
        return True
    schema = forest.schema
    for rec in changes.records:
        if rec.kind != "leaf" or not schema.leaf_is_free(rec.node.schema):
            return True
    return False


def validate_changes(forest: Forest, changes: Changes, *,
                     was_valid: bool = True) -> list[RpcError]:
    """Validation of one edit of `forest`: nothing when no constraint can observe what
    changed (`needs_validation`); when every change sets an existing leaf's value of a
    forest that was valid before (`was_valid`), only the constraint instances that can
    observe those leaves (controller/datastore/constraints.py); else the affected trees
    whole (`validate_forest`), which also reports every error of a refused edit."""
    if not needs_validation(forest, changes):
        return []
    if was_valid and all(rec.kind == "leaf" for rec in changes.records) \
            and forest.schema.constraints.holds(forest.first,
                                                [rec.node for rec in changes.records]):
        return []
    guard = forest.schema.whens
    if changes.reset or guard.affects(change_schemas(forest, changes.records)):
        guard.arm(forest.find_xpath, forest.schema.validation_set(changes.top_modules))
    return validate_forest(forest, changes.top_modules)


def change_schemas(forest: Forest, records: Iterable[_Record]) -> list[Any]:
    """The schema node of each change record (a deleted node's from its path; NULL when
    it cannot be found, which `WhenGuard.affects` takes as "may affect")."""
    out = []
    for rec in records:
        if rec.node != NULL:
            out.append(rec.node.schema)
            continue
        bare = re.sub(r"\[[^\]]*\]", "", rec.path)
        found = lib.lys_find_path(forest.schema.ctx.cdata, ffi.NULL, bare.encode(), 0)
        if found == ffi.NULL:
            clear_ly_errors(forest.schema)
        out.append(found)
    return out


def validate_forest(forest: Forest, top_modules: Iterable[str], *,
                    max_errors: int = 20) -> list[RpcError]:
    """Validate the given trees (and their dependents); collect up to `max_errors`.

    libyang 2.1 stops at the first error. To report every independent error, the failing
    node is detached (recorded in a throw-away undo log) and validation re-run, skipping
    follow-on errors at or above a detached node; the forest is restored afterwards.
    A detached node can also falsify a must or a leafref elsewhere that reads it (a
    request whose source-node names a missing node would then fail "source and
    destination differ"): such an error found after a detach is kept only if the
    forest as it is violates it too (RFC 7950 §8.3.3: report what the data violates).
    """
    schema = forest.schema
    modules = sorted(schema.validation_set(top_modules))
    scratch = UndoLog(forest)
    errors: list[RpcError] = []
    after_detach: list[RpcError] = []
    detached: list[str] = []
    try:
        for _ in range(4 * max_errors):   # each round detaches a node: it ends
            if len(errors) >= max_errors:
                break
            failure = _validate_once(forest, modules)
            if failure is None:
                break
            failure = [_instance_path(forest, e) for e in failure]
            new = [e for e in failure if not any(_related(e.path, d) for d in detached)]
            errors.extend(new)
            if detached:
                after_detach.extend(new)
            # Detach the culprit, or the nearest ancestor present when the culprit is
            # missing (a mandatory leaf, or a follow-on of a detached node), so that
            # the next round gets past it.
            culprit = _present(forest, failure[0].path or "")
            if culprit is None or culprit[0] in detached:
                break
            detached.append(culprit[0])
            scratch.remove(culprit[1])
    finally:
        scratch.rollback()
        if detached:
            refresh(forest, modules)
    return [e for e in errors if not any(e is a for a in after_detach)
            or not _holds(forest, e)]


def _instance_path(forest: Forest, error: RpcError) -> RpcError:
    """libyang 2.1 names a missing mandatory leaf by its schema path; the error-path is
    the instance's (RFC 6241 §4.3): the first parent instance lacking it, in document
    order, the one libyang's validation stopped at."""
    path = error.path
    if error.tag is not ErrorTag.DATA_MISSING or error.app_tag or not path or "[" in path \
            or forest.find(path) != NULL:
        return error
    parent, _, leaf = path.rpartition("/")
    if not parent:
        return error
    try:
        found = forest.find_xpath(f"{parent}[not({leaf})]")
    except NetconfError:
        return error
    finally:
        clear_ly_errors(forest.schema)
    if not found:
        return error
    return dataclasses.replace(error, path=f"{node_path(found[0])}/{leaf}")


def _present(forest: Forest, path: str) -> tuple[str, NodePtr] | None:
    """The node at `path`, or its nearest ancestor in the forest (None: neither). A list
    key stands for its entry: libyang cannot re-insert a detached key (a leafref key,
    such as a reservation's node-id, is a culprit of its own)."""
    while path:
        node = forest.find(path)
        if node != NULL and not (node.schema != NULL and node.schema.flags & lib.LYS_KEY):
            return path, node
        path = _LAST_STEP.sub("", path)
    return None


#: the last step of a data path, with its predicates (quoted values may hold / and ])
_LAST_STEP = re.compile(r"""/[^/\[]+(?:\[(?:[^\]'"]|'[^']*'|"[^"]*")*\])*$""")


def _holds(forest: Forest, error: RpcError) -> bool:
    """The forest, as it is, satisfies the constraint `error` names (a follow-on of a
    detach): a must of the node, or the node's leafref (require-instance)."""
    if error.app_tag not in ("must-violation", "instance-required") or not error.path:
        return False
    node = forest.find(error.path)
    if node == NULL:
        return False
    try:
        if error.app_tag == "instance-required":
            return _leafref_resolves(node, forest.first)
        musts = lib.lysc_node_musts(node.schema)
        result = ffi.new("ly_bool *")
        for i in range(ly.array_count(musts)):
            rc = ly.eval_xpath_bool(node, node.schema.module, lib.lyxp_get_expr(musts[i].cond),
                                    lib.LY_VALUE_SCHEMA_RESOLVED,
                                    ffi.cast("void *", musts[i].prefixes), NULL, result)
            if rc != LY_SUCCESS or not result[0]:
                return False
        return ly.array_count(musts) > 0
    finally:
        clear_ly_errors(forest.schema)


def _leafref_resolves(node: NodePtr, first: NodePtr) -> bool:
    """libyang's own require-instance check of a leafref leaf (RFC 7950 §9.9)."""
    if not node.schema.nodetype & (lib.LYS_LEAF | lib.LYS_LEAFLIST):
        return False
    typ = ffi.cast("struct lysc_node_leaf *", node.schema).type
    if typ.basetype != lib.LY_TYPE_LEAFREF:
        return False
    term = ffi.cast("struct lyd_node_term *", node)
    errmsg = ffi.new("char **")
    rc = int(ly.resolve_leafref(ffi.cast("struct lysc_type_leafref *", typ), node,
                                ffi.addressof(term, "value"), first, NULL, errmsg))
    if errmsg[0] != NULL:
        lib.free(errmsg[0])
    return rc == LY_SUCCESS


def _schema_path(path: str) -> str:
    return re.sub(r"\[[^\]]*\]", "", path)


def _related(error_path: str | None, detached: str) -> bool:
    """A follow-on error of detaching `detached`: at, above or below it. By data path
    when the error names an instance (another entry of the same list is independent);
    by schema path when libyang named only the schema node (a missing mandatory node
    whose instance `_instance_path` could not tell)."""
    if not error_path:
        return False
    if "[" in error_path:
        return _within(error_path, detached) or _within(detached, error_path)
    err, det = _schema_path(error_path), _schema_path(detached)
    return _within(err, det) or _within(det, err)


def _within(path: str, prefix: str) -> bool:
    """`path` is `prefix` or lies below it (a whole step: not /a/bc under /a/b)."""
    return path.startswith(prefix) and path[len(prefix):len(prefix) + 1] in ("", "/", "[")


def refresh(forest: Forest, modules: Iterable[str]) -> None:
    """Re-run validation after a rollback, ignoring its verdict.

    Re-inserted subtrees carry libyang's "new, when not evaluated" flags, and XPath skips
    such nodes; validating again restores the flags (and the implicit defaults).
    """
    _validate_once(forest, sorted(forest.schema.validation_set(modules)))
    clear_ly_errors(forest.schema)


def _validate_once(forest: Forest, modules: Sequence[str]) -> list[RpcError] | None:
    schema = forest.schema
    for name in modules:
        rc, first = ly.validate_module(forest.first, schema.module_cdata(name),
                                       lib.LYD_VALIDATE_NO_STATE)
        forest.first = first
        if rc != LY_SUCCESS:
            return collect_ly_errors(schema, fallback=f"validation of {name} failed")
    return None


def leaf_values(forest: Forest, xpath: str) -> list[str | None]:
    return [term_value(n) for n in forest.find_xpath(xpath)]
