"""Guard against libyang deleting configuration whose `when` turned false.

libyang 2.1 evaluates a `when` during validation only for nodes it has not validated
yet, and when such an evaluation turns false on a node it had once found true it frees
the node: a configuration the operator never asked to delete disappears, the engine's
undo log still points into it (a refused edit can then not be put back, and journal or
inverse ops read freed memory), and an existing node whose `when` an edit made false is
not re-checked at all, so running keeps data its YANG says must not exist.

So when a change can affect a `when` (it touches a node some `when` expression reads),
every explicit instance of every node carrying a `when` in the affected trees is marked
as not yet validated and not yet found true (an implicit default node libyang may still
remove: it is not configuration anyone set, and validation recreates it as needed).
libyang then evaluates all of them, and a false one is an error ("When condition ...
not satisfied", RFC 7950 §7.21.5: the node must not exist), never a deletion: the edit
is refused and rolls back whole, and the operator deletes the node explicitly in the
same edit if that is what they mean.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from controller.datastore import ly
from controller.datastore.constraints import has_when
from controller.datastore.ly import NodePtr, c2s, ffi, lib

_SCHEMA_ONLY = lib.LYS_CHOICE | lib.LYS_CASE


class WhenGuard:
    """Which schema nodes a `when` reads, and where the nodes carrying one are."""

    def __init__(self, ctx: Any) -> None:
        #: schema nodes some when reads, and every ancestor of one (a create or delete
        #: of an ancestor can change what the expression sees)
        self.observed: set[int] = set()
        #: per top-level module: data paths (no predicates) of the nodes with a when
        self.paths: dict[str, list[str]] = defaultdict(list)
        for mod in ctx:
            if not mod.implemented() or mod.cdata.compiled == ffi.NULL:
                continue
            node = lib.lys_getnext(ffi.NULL, ffi.NULL, mod.cdata.compiled,
                                   lib.LYS_GETNEXT_WITHCHOICE)
            while node != ffi.NULL:
                self._visit(node)
                node = lib.lys_getnext(node, ffi.NULL, mod.cdata.compiled,
                                       lib.LYS_GETNEXT_WITHCHOICE)

    def _visit(self, node: Any) -> None:
        whens = lib.lysc_node_when(node)
        for i in range(ly.array_count(whens)):
            when = whens[i]
            for atom in ly.expr_atoms(when.context, node.module, when.cond, when.prefixes):
                self._observe(atom)
        if not node.nodetype & _SCHEMA_ONLY and has_when(node):
            path = _data_path(node)
            self.paths[path.lstrip("/").split(":", 1)[0]].append(path)
        child = lib.lysc_node_child(node)
        while child != ffi.NULL:
            self._visit(child)
            child = child.next

    def _observe(self, address: int) -> None:
        node = ffi.cast("struct lysc_node *", address)
        while node != ffi.NULL:
            self.observed.add(int(ffi.cast("uintptr_t", node)))
            node = node.parent

    def affects(self, schema_nodes: Iterable[Any]) -> bool:
        """Whether a change of these schema nodes (a value set, a node created or
        deleted: then its subtree too) can change what some `when` reads."""
        return any(snode == ffi.NULL or int(ffi.cast("uintptr_t", snode)) in self.observed
                   or _below_observed(snode, self.observed) for snode in schema_nodes)

    def arm(self, find_xpath: Callable[[str], list[NodePtr]], modules: Iterable[str]
            ) -> None:
        """Make libyang evaluate every `when` in these modules' trees (searched with
        `find_xpath`, a forest's) as it does for new data."""
        for module in modules:
            for path in self.paths.get(module, ()):
                for node in find_xpath(path):
                    if node.flags & lib.LYD_DEFAULT:
                        continue   # implicit: libyang removes it silently, as it should
                    node.flags = (node.flags | lib.LYD_NEW) & ~lib.LYD_WHEN_TRUE


def _below_observed(snode: Any, observed: set[int]) -> bool:
    """A created or deleted node whose subtree holds something a when reads."""
    stack = [lib.lysc_node_child(snode)]
    while stack:
        child = stack.pop()
        while child != ffi.NULL:
            if int(ffi.cast("uintptr_t", child)) in observed:
                return True
            stack.append(lib.lysc_node_child(child))
            child = child.next
    return False


def _data_path(snode: Any) -> str:
    raw = lib.lysc_path(snode, lib.LYSC_PATH_DATA, ffi.NULL, 0)
    try:
        return c2s(raw) or ""
    finally:
        lib.free(raw)
