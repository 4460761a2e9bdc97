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
from controller.datastore.constraints import ConstraintIndex
from controller.datastore.ly import NodePtr, c2s, ffi, lib


class WhenGuard:
    """Which schema nodes a `when` reads, and where the nodes carrying one are: both
    from the schema's constraint index, which has already walked every `when`."""

    def __init__(self, index: ConstraintIndex) -> None:
        #: schema nodes some when reads, and every ancestor of one (a create or delete
        #: of an ancestor can change what the expression sees)
        self.observed: set[int] = set()
        for atom in index.when_atoms:
            node = ffi.cast("struct lysc_node *", atom)
            while node != ffi.NULL:
                self.observed.add(ly.address(node))
                node = node.parent
        #: per top-level module: data paths (no predicates) of the nodes with a when
        self.paths: dict[str, list[str]] = defaultdict(list)
        for node in index.when_nodes:
            path = _data_path(node)
            self.paths[path.lstrip("/").split(":", 1)[0]].append(path)

    def affects(self, schema_nodes: Iterable[Any]) -> bool:
        """Whether a change of these schema nodes (a value set, a node created or
        deleted, its subtree with it) can change what some `when` reads: every
        ancestor of what a `when` reads is in `observed`."""
        return any(snode == ffi.NULL or ly.address(snode) in self.observed
                   for snode in schema_nodes)

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


def _data_path(snode: Any) -> str:
    raw = lib.lysc_path(snode, lib.LYSC_PATH_DATA, ffi.NULL, 0)
    try:
        return c2s(raw) or ""
    finally:
        lib.free(raw)
