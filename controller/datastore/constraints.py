"""Targeted constraint evaluation: after an edit that only changed the values of existing
leaves, re-check only the must / when / leafref / unique instances that can observe those
leaves, with libyang's own XPath engine, instead of validating whole trees.

Why it is sound. The datastore was valid before the edit (running and startup always
are), so only a constraint instance whose evaluation reads a changed leaf can change its
verdict. Which schema nodes an expression reads comes from libyang itself
(`lys_find_expr_atoms`, which also lists the nodes a `..` step passes through), plus the
leaves below a container or list whose string value it takes (xpath_reach.py). Evaluated
from an instance of its context node, a relative expression only reaches data below the
lowest common ancestor A of its context node and its atoms: leaving A's subtree would
step through A's parent, which would then be an atom too. So after a change of leaf
instance L only the context instances below L's A-ancestor can change verdict. The root
above a top-level node is no schema node, so a `..` out of a top-level list, an absolute
path, `deref()`, an axis or a function not known to stay put make A the whole forest.

What this does not decide exactly it leaves to the full validation (`ConstraintIndex.holds`
answers False and the caller validates the affected trees as before): a changed key,
leaf-list entry or leaf under a `when`; types whose validation reads other data in ways
not indexed here (instance-identifier, unions holding a leafref or instance-identifier);
a `when` on a choice or case, or one whose new verdict would make libyang delete or
create nodes; more evaluations than `MAX_EVALUATIONS`. A violation answers False too: the
full validation then reports it with libyang's own message, error order and every
independent error (RFC 7950 §8.3.1), and a rejected edit is rolled back either way.

Evaluation mirrors libyang 2.1's validation (validation.c): a must is evaluated at its
node, a when at its context node (the node itself, or its parent for a when inherited
from augment/uses), a leafref by `lyplg_type_resolve_leafref` (the call the leafref type
plugin makes), a unique by comparing one entry's tuple with its siblings' (defaults
included, entries with an unset leaf never clash: RFC 7950 §7.8.3).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from controller.datastore import ly
from controller.datastore.ly import NodePtr, c2s, ffi, lib
from controller.datastore.xpath_reach import climbs, reaches_anywhere, value_steps

NULL = ffi.NULL

#: Above this many constraint evaluations for one edit, validating the affected trees
#: whole is about as cheap and certainly exact.
MAX_EVALUATIONS = 500

_DATA_NODES = lib.LYS_CONTAINER | lib.LYS_LIST | lib.LYS_LEAF | lib.LYS_LEAFLIST \
    | lib.LYS_ANYDATA | lib.LYS_ANYXML
_SCHEMA_ONLY = lib.LYS_CHOICE | lib.LYS_CASE
_OPERATIONS = lib.LYS_RPC | lib.LYS_ACTION | lib.LYS_NOTIF


class Kind(Enum):
    MUST = "must"
    WHEN = "when"
    LEAFREF = "leafref"
    UNIQUE = "unique"
    OPAQUE = "opaque"  # observed changes are left to the full validation


@dataclass(eq=False)
class Constraint:
    """One constraint of the schema and where its instances live.

    `target` is the schema node whose instances are visited: the must's node, the
    leafref leaf, the unique's list, or a when's owner's parent (the owner may be missing,
    and whether it exists is part of the check). `scope` is the lowest common ancestor of
    the target and the atoms (NULL: the whole forest); `chain` the data schema nodes from
    just below the scope down to the target.
    """

    kind: Kind
    owner: Any
    target: Any = NULL
    scope: Any = NULL
    chain: tuple[Any, ...] = ()
    expr: Any = NULL
    module: Any = NULL
    prefixes: Any = NULL
    leafref: Any = NULL
    when_on_owner: bool = False
    implicit: bool = False
    unique_leaves: tuple[tuple[Any, ...], ...] = ()
    atoms: frozenset[int] = field(default_factory=frozenset)
    observed: frozenset[int] = field(default_factory=frozenset)


class ConstraintIndex:
    """Schema node → the constraints that can observe its value, built once per schema."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx.cdata
        self.constraints: list[Constraint] = []
        self.observers: dict[int, list[Constraint]] = {}
        self.own_leafref: dict[int, Constraint] = {}  # leafref leaf → its own check
        self.uncovered: set[int] = set()  # leaves whose value change is not decided here
        self.when_atoms: set[int] = set()   # what any config `when` reads
        self.when_nodes: list[Any] = []     # config data nodes carrying a `when`
        for mod in ctx:
            if not mod.implemented() or mod.cdata.compiled == NULL:
                continue
            compiled = mod.cdata.compiled
            node = lib.lys_getnext(NULL, NULL, compiled, lib.LYS_GETNEXT_WITHCHOICE)
            while node != NULL:
                self._visit(node)
                node = lib.lys_getnext(node, NULL, compiled, lib.LYS_GETNEXT_WITHCHOICE)
        for constraint in self.constraints:
            for address in constraint.observed:
                self.observers.setdefault(address, []).append(constraint)

    # -- building ------------------------------------------------------------------------

    def _visit(self, node: Any) -> None:
        if node.nodetype & _OPERATIONS or node.flags & lib.LYS_CONFIG_R:
            return  # never in a configuration datastore (RFC 8342 §5.1)
        musts = lib.lysc_node_musts(node)
        for i in range(ly.array_count(musts)):
            self._add_expr(Kind.MUST, node, node, node, musts[i].cond, musts[i].prefixes)
        whens = lib.lysc_node_when(node)
        for i in range(ly.array_count(whens)):
            self._add_when(node, whens[i])
        if not node.nodetype & _SCHEMA_ONLY and has_when(node):
            self.when_nodes.append(node)
        if node.nodetype & (lib.LYS_LEAF | lib.LYS_LEAFLIST):
            self._visit_type(node)
            if node.flags & lib.LYS_KEY or has_when(node):
                self.uncovered.add(ly.address(node))
        if node.nodetype == lib.LYS_LIST:
            lst = ffi.cast("struct lysc_node_list *", node)
            for i in range(ly.array_count(lst.uniques)):
                self._add_unique(node, lst.uniques[i])
        child = lib.lysc_node_child(node)
        while child != NULL:
            self._visit(child)
            child = child.next

    def _add_expr(self, kind: Kind, owner: Any, context: Any, target: Any, cond: Any,
                  prefixes: Any, **extra: Any) -> Constraint:
        """A must, when or leafref: its atoms as libyang finds them from `context`, and
        the scope its instances visited from `target` can see."""
        atoms = frozenset(ly.expr_atoms(context, owner.module, cond, prefixes))
        expr = lib.lyxp_get_expr(cond)
        text = c2s(expr) or ""
        scope = NULL if reaches_anywhere(text) else \
            _common_ancestor([target, context, *(_node(a) for a in atoms)])
        if scope != NULL and data_parent(scope) == NULL \
                and scope.nodetype & (lib.LYS_LIST | lib.LYS_LEAFLIST) and climbs(text):
            scope = NULL  # `..` from a top-level entry reaches its siblings via the root
        observed = _observed(atoms, context, text)
        if kind is Kind.MUST:
            observed |= {ly.address(owner)}  # `.` or an argument-less string() may read it
        constraint = Constraint(kind, owner, target=target, scope=scope,
                                chain=_chain(scope, target), expr=expr, module=owner.module,
                                prefixes=ffi.cast("void *", prefixes), atoms=atoms,
                                observed=frozenset(observed), **extra)
        self.constraints.append(constraint)
        return constraint

    def _add_when(self, owner: Any, when: Any) -> None:
        base = data_parent(owner)
        on_owner = when.context == owner
        if owner.nodetype & _SCHEMA_ONLY or base == NULL \
                or not (on_owner or when.context == base):
            atoms = ly.expr_atoms(when.context, owner.module, when.cond, when.prefixes)
            self.when_atoms.update(atoms)
            self._add_opaque(owner, _observed(frozenset(atoms), when.context,
                                              c2s(lib.lyxp_get_expr(when.cond)) or ""))
            return
        self.when_atoms |= self._add_expr(
            Kind.WHEN, owner, when.context, base, when.cond, when.prefixes,
            when_on_owner=on_owner, implicit=_implicit(owner)).atoms

    def _add_opaque(self, owner: Any, observed: Iterable[int]) -> None:
        self.constraints.append(Constraint(Kind.OPAQUE, owner, observed=frozenset(observed)))

    def _visit_type(self, node: Any) -> None:
        """Leafrefs with require-instance are checked here; other types whose validation
        reads data (instance-identifier, a union holding either) are left to the full
        validation, for changes of the leaf itself and of what its leafrefs point at."""
        typ = ffi.cast("struct lysc_node_leaf *", node).type
        if typ.basetype == lib.LY_TYPE_LEAFREF:
            lref = ffi.cast("struct lysc_type_leafref *", typ)
            if not lref.require_instance:
                return  # nothing to resolve (RFC 7950 §9.9.3)
            if node.nodetype == lib.LYS_LEAF:
                self.own_leafref[ly.address(node)] = self._add_expr(
                    Kind.LEAFREF, node, node, node, lref.path, lref.prefixes, leafref=lref)
            else:
                self.uncovered.add(ly.address(node))
                self._add_opaque(node, ly.expr_atoms(node, node.module, lref.path,
                                                     lref.prefixes))
            return
        hidden: set[int] = set()
        pending = [typ]
        opaque = False
        while pending:
            current = pending.pop()
            if current.basetype == lib.LY_TYPE_INST:
                opaque = True
            elif current.basetype == lib.LY_TYPE_LEAFREF:
                opaque = True
                lref = ffi.cast("struct lysc_type_leafref *", current)
                hidden.update(ly.expr_atoms(node, node.module, lref.path, lref.prefixes))
            elif current.basetype == lib.LY_TYPE_UNION:
                union = ffi.cast("struct lysc_type_union *", current)
                pending.extend(union.types[i] for i in range(ly.array_count(union.types)))
        if opaque:
            self.uncovered.add(ly.address(node))
            self._add_opaque(node, hidden)

    def _add_unique(self, lst: Any, unique: Any) -> None:
        leaves = [unique[j] for j in range(ly.array_count(unique))]
        paths = tuple(_chain(lst, ffi.cast("struct lysc_node *", leaf)) for leaf in leaves)
        atoms = frozenset(ly.address(leaf) for leaf in leaves)
        self.constraints.append(Constraint(Kind.UNIQUE, lst, target=lst, unique_leaves=paths,
                                           atoms=atoms, observed=atoms))

    def observes(self, snode: Any) -> bool:
        """Whether a change of this leaf's value can matter to any constraint (its type
        aside, which libyang checks when the value is set)."""
        address = ly.address(snode)
        return address in self.observers or address in self.own_leafref \
            or address in self.uncovered

    # -- evaluation ----------------------------------------------------------------------

    def holds(self, first: NodePtr, leaves: Sequence[NodePtr]) -> bool:
        """True when every constraint that can observe `leaves` (whose values just
        changed in the forest starting at `first`, valid before the change) still holds.
        False when one does not, or when that is not decided here: the caller then
        validates the affected trees whole."""
        work = self.plan(first, leaves)
        if work is None:
            return False
        try:
            return all(self._check(constraint, node, first) for constraint, node in work)
        finally:
            lib.ly_err_clean(self.ctx, NULL)  # a failed check must not leak into errors

    def plan(self, first: NodePtr, leaves: Sequence[NodePtr]
             ) -> list[tuple[Constraint, NodePtr]] | None:
        """The constraint instances that can observe `leaves`, each once: (constraint,
        the instance of its target). None when the change is not decided here."""
        work: dict[tuple[int, int], tuple[Constraint, NodePtr]] = {}
        for leaf in leaves:
            snode = leaf.schema
            address = ly.address(snode)
            if snode.nodetype != lib.LYS_LEAF or address in self.uncovered:
                return None
            own = self.own_leafref.get(address)
            if own is not None:
                work[(id(own), ly.address(leaf))] = (own, leaf)
            for constraint in self.observers.get(address, ()):
                if not self._plan(constraint, leaf, first, work):
                    return None
                if len(work) > MAX_EVALUATIONS:
                    return None
        return list(work.values())

    def _plan(self, constraint: Constraint, leaf: NodePtr, first: NodePtr,
              work: dict[tuple[int, int], tuple[Constraint, NodePtr]]) -> bool:
        if constraint.kind is Kind.OPAQUE:
            return False
        if constraint.kind is Kind.UNIQUE:
            entry = _ancestor(leaf, constraint.target)
            if entry == NULL:
                return False
            work[(id(constraint), ly.address(entry))] = (constraint, entry)
            return True
        start = NULL
        if constraint.scope != NULL:
            start = _ancestor(leaf, constraint.scope)
            if start == NULL:
                return False
        found = instances(first, start, constraint.chain, MAX_EVALUATIONS - len(work))
        if found is None:
            return False
        for node in found:
            work[(id(constraint), ly.address(node))] = (constraint, node)
        return True

    def _check(self, constraint: Constraint, node: NodePtr, first: NodePtr) -> bool:
        if constraint.kind is Kind.MUST:
            return self._true(constraint, node)
        if constraint.kind is Kind.LEAFREF:
            return _resolves(constraint.leafref, node, first)
        if constraint.kind is Kind.UNIQUE:
            return self._unique(constraint, node, first)
        return self._when(constraint, node, first)

    def _true(self, constraint: Constraint, node: NodePtr) -> bool:
        """The XPath's boolean value at `node`; an evaluation error counts as false
        (the full validation then says what is wrong)."""
        result = ffi.new("ly_bool *")
        rc = ly.eval_xpath_bool(node, constraint.module, constraint.expr,
                                lib.LY_VALUE_SCHEMA_RESOLVED, constraint.prefixes, NULL, result)
        return rc == 0 and bool(result[0])

    def _when(self, constraint: Constraint, parent: NodePtr, first: NodePtr) -> bool:
        """The owner's existence agrees with its when at this parent: libyang would
        otherwise delete the owner (when now false) or create its defaults (now true)."""
        owners = _children(first, parent, constraint.owner)
        if constraint.when_on_owner:
            if not owners:
                return not constraint.implicit  # cannot evaluate a node that is missing
            return all(self._true(constraint, owner) for owner in owners)
        if self._true(constraint, parent):
            return bool(owners) or not constraint.implicit
        return not owners

    def _unique(self, constraint: Constraint, entry: NodePtr, first: NodePtr) -> bool:
        mine = self._tuple(constraint, entry)
        if None in mine:
            return True
        siblings = _children(first, _parent(entry), constraint.owner)
        if len(siblings) > MAX_EVALUATIONS:
            return False
        for other in siblings:
            if other != entry and self._tuple(constraint, other) == mine:
                return False
        return True

    def _tuple(self, constraint: Constraint, entry: NodePtr) -> list[str | None]:
        values: list[str | None] = []
        for path in constraint.unique_leaves:
            node = entry
            for snode in path:
                found = _children(NULL, node, snode, single=True)
                if not found:
                    node = NULL
                    break
                node = found[0]
            if node != NULL:
                values.append(c2s(lib.lyd_get_value(node)))
                continue
            dflt = ffi.cast("struct lysc_node_leaf *", path[-1]).dflt
            values.append(c2s(lib.lyd_value_get_canonical(self.ctx, dflt))
                          if dflt != NULL else None)
        return values


# ----------------------------------------------------------------------------------------
# schema helpers


def has_when(snode: Any) -> bool:
    """libyang's lysc_has_when: a when on the node or on its choice/case parents."""
    node = snode
    while node != NULL:
        if ly.array_count(lib.lysc_node_when(node)):
            return True
        node = node.parent
        if node == NULL or not node.nodetype & _SCHEMA_ONLY:
            return False
    return False


def data_parent(snode: Any) -> Any:
    """The nearest ancestor that has data instances (choice and case have none)."""
    node = snode.parent
    while node != NULL and node.nodetype & _SCHEMA_ONLY:
        node = node.parent
    return node


def _data_ancestry(snode: Any) -> list[Any]:
    """Data schema nodes from the top down to `snode` (inclusive)."""
    chain = []
    node = snode
    while node != NULL:
        if node.nodetype & _DATA_NODES:
            chain.append(node)
        node = node.parent
    chain.reverse()
    return chain


def _common_ancestor(nodes: Iterable[Any]) -> Any:
    common: list[Any] | None = None
    for node in nodes:
        ancestry = _data_ancestry(node)
        if common is None:
            common = ancestry
            continue
        size = 0
        while size < min(len(common), len(ancestry)) and common[size] == ancestry[size]:
            size += 1
        common = common[:size]
    return common[-1] if common else NULL


def _chain(scope: Any, target: Any) -> tuple[Any, ...]:
    ancestry = _data_ancestry(target)
    if scope == NULL:
        return tuple(ancestry)
    for i, node in enumerate(ancestry):
        if node == scope:
            return tuple(ancestry[i + 1:])
    raise ValueError("scope is not an ancestor of the target")


def _implicit(snode: Any) -> bool:
    """libyang creates an instance by itself (lyd_new_implicit): a non-presence container,
    a leaf with a default, a leaf-list with defaults."""
    if snode.nodetype == lib.LYS_CONTAINER:
        return not snode.flags & lib.LYS_PRESENCE
    if snode.nodetype == lib.LYS_LEAF:
        return bool(ffi.cast("struct lysc_node_leaf *", snode).dflt != NULL)
    if snode.nodetype == lib.LYS_LEAFLIST:
        return ly.array_count(ffi.cast("struct lysc_node_leaflist *", snode).dflts) > 0
    return False


def _observed(atoms: frozenset[int], context: Any, expr: str) -> set[int]:
    """The leaves whose value an expression can read: its atoms, and every leaf below a
    container or list whose string value it may take (XPath 1.0 §5.2: the concatenated
    text of all descendants), which libyang's atoms do not list."""
    observed = set(atoms)
    names = value_steps(expr)
    if not names:
        return observed
    for address in atoms:
        node = _node(address)
        if node.nodetype & (lib.LYS_CONTAINER | lib.LYS_LIST) \
                and (".." in names or c2s(node.name) in names):
            observed |= _leaves_below(node)
    if context != NULL and context.nodetype & (lib.LYS_CONTAINER | lib.LYS_LIST) \
            and "." in names:
        observed |= _leaves_below(context)
    return observed


def _leaves_below(snode: Any) -> set[int]:
    found: set[int] = set()
    pending = [snode]
    while pending:
        node = pending.pop()
        if node.flags & lib.LYS_CONFIG_R:
            continue
        if node.nodetype & (lib.LYS_LEAF | lib.LYS_LEAFLIST):
            found.add(ly.address(node))
        child = lib.lysc_node_child(node)
        while child != NULL:
            pending.append(child)
            child = child.next
    return found


def _node(address: int) -> Any:
    return ffi.cast("struct lysc_node *", address)


# ----------------------------------------------------------------------------------------
# data helpers


def _parent(node: NodePtr) -> NodePtr:
    return ffi.cast("struct lyd_node *", node.parent) if node.parent != NULL else NULL


def _ancestor(node: NodePtr, snode: Any) -> NodePtr:
    """`node` or its nearest ancestor that is an instance of `snode` (NULL if none)."""
    current = node
    while current != NULL and current.schema != snode:
        current = _parent(current)
    return current


def _children(first: NodePtr, parent: NodePtr, snode: Any, *,
              single: bool = False) -> list[NodePtr]:
    """The instances of `snode` among `parent`'s children (the top-level siblings from
    `first` when `parent` is NULL). libyang keeps the instances of one schema node next
    to each other and finds the first by hash."""
    siblings = lib.lyd_child(parent) if parent != NULL else first
    if siblings == NULL:
        return []
    out = ffi.new("struct lyd_node **")
    if ly.find_sibling(siblings, snode, NULL, 0, out) != 0:
        return []
    found = []
    node = out[0]
    while node != NULL and node.schema == snode:
        found.append(node)
        if single:
            break
        node = node.next
    return found


def instances(first: NodePtr, start: NodePtr, chain: Sequence[Any],
              limit: int) -> list[NodePtr] | None:
    """Instances of `chain[-1]` below `start` (NULL: the whole forest), walking the
    schema chain down; None when there are more than `limit`."""
    level = [start]
    for snode in chain:
        below: list[NodePtr] = []
        for parent in level:
            below.extend(_children(first, parent, snode))
            if len(below) > limit:
                return None
        level = below
    return level


def _resolves(lref: Any, node: NodePtr, first: NodePtr) -> bool:
    """libyang's require-instance check of one leafref instance (RFC 7950 §9.9)."""
    term = ffi.cast("struct lyd_node_term *", node)
    errmsg = ffi.new("char **")
    rc = int(ly.resolve_leafref(lref, node, ffi.addressof(term, "value"), first, NULL, errmsg))
    if errmsg[0] != NULL:
        lib.free(errmsg[0])
    return rc == 0
