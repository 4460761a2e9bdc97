"""In-place reductions of a retrieved forest for <get-data> (RFC 8526 §3.1.1).

Each function frees the nodes it drops and never drops a list key whose entry stays
(the entry would no longer be valid data). They run on the private copy a read returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from controller.datastore.anydata import encode_for_xml
from controller.datastore.ly import NodePtr, address, c2s, ffi, lib
from controller.datastore.tree import NULL, Forest, WithDefaults
from controller.netconf.nodes import children, is_key

ORIGIN_BASE = "ietf-origin:origin"


def _is_config(node: NodePtr) -> bool:
    return bool(node.schema != NULL and node.schema.flags & lib.LYS_CONFIG_W)


def _is_inner(node: NodePtr) -> bool:
    return bool(node.schema != NULL and node.schema.nodetype & (lib.LYS_CONTAINER | lib.LYS_LIST))


def _drop_tops(forest: Forest, keep: Callable[[NodePtr], bool]) -> None:
    for top in list(forest.tops()):
        if not keep(top):
            forest.unlink(top)
            lib.lyd_free_tree(top)


def _prune_children(node: NodePtr, keep: Callable[[NodePtr], bool]) -> bool:
    """Apply `keep` to every non-key child; True when at least one non-key child stays."""
    kept = False
    for child in children(node):
        if is_key(child):
            continue
        if keep(child):
            kept = True
        else:
            lib.lyd_free_tree(child)
    return kept


# -- config-filter ------------------------------------------------------------------------


def filter_config(forest: Forest, want_config: bool) -> None:
    """Keep only config (True) or only state (False) nodes, with their ancestors."""

    def keep(node: NodePtr) -> bool:
        if not _is_config(node):
            return not want_config  # a config-false subtree holds only state
        if not _is_inner(node):
            return want_config
        kept = _prune_children(node, keep)
        return want_config or kept

    _drop_tops(forest, keep)


# -- origin-filter ------------------------------------------------------------------------


def origin_of(node: NodePtr, ctx: Any) -> str | None:
    meta = node.meta
    while meta != NULL:
        if c2s(meta.name) == "origin":  # the only "origin" annotation is ietf-origin's
            return c2s(lib.lyd_value_get_canonical(ctx, ffi.addressof(meta.value)))
        meta = meta.next
    return None


def filter_origin(forest: Forest, origins: Iterable[str], *, negated: bool) -> None:
    """Keep nodes whose origin is (derived from) one of `origins` (or none, if negated).

    Every origin identity of RFC 8342 is derived directly from or:origin, so "derived
    from or equal" reduces to equality, plus or:origin itself matching everything.
    """
    wanted = set(origins)
    ctx = forest.schema.ctx.cdata

    def matches(origin: str | None) -> bool:
        hit = origin is not None and (origin in wanted or ORIGIN_BASE in wanted)
        return hit != negated

    def keep(node: NodePtr, inherited: str | None) -> bool:
        origin = origin_of(node, ctx) or inherited
        if not _is_inner(node):
            return matches(origin)
        kept = _prune_children(node, lambda c: keep(c, origin))
        return kept or matches(origin)

    _drop_tops(forest, lambda top: keep(top, None))


def strip_origin(forest: Forest) -> None:
    """Remove or:origin annotations (used for filtering, not asked for in the reply)."""
    stack = list(forest.tops())
    while stack:
        node = stack.pop()
        meta = node.meta
        while meta != NULL:
            nxt = meta.next
            if c2s(meta.name) == "origin":
                lib.lyd_free_meta_single(meta)
            meta = nxt
        stack.extend(children(node))


# -- max-depth ------------------------------------------------------------------------------


def limit_depth(forest: Forest, depth: int, xpath: str | None) -> None:
    """Keep `depth` levels below every selected node (1 = the node alone), plus the
    ancestors of selected nodes and the keys of kept list entries."""
    selected = forest.find_xpath(xpath) if xpath else list(forest.tops())
    keep: set[int] = set()
    for node in selected:
        parent = node.parent
        while parent != NULL:
            keep.add(address(ffi.cast("struct lyd_node *", parent)))
            parent = parent.parent
        level = [node]
        for _ in range(depth):
            keep.update(address(n) for n in level)
            level = [c for n in level for c in children(n)]

    def kept(node: NodePtr) -> bool:
        if address(node) not in keep:
            return False
        _prune_children(node, kept)
        return True

    _drop_tops(forest, kept)


# -- printing -------------------------------------------------------------------------------

_LY_WD_NS = b'"urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"'
_WD_ATTRIBUTE_NS = b'"urn:ietf:params:xml:ns:netconf:default:1.0"'
_WD = {WithDefaults.EXPLICIT: lib.LYD_PRINT_WD_EXPLICIT, WithDefaults.TRIM: lib.LYD_PRINT_WD_TRIM,
       WithDefaults.REPORT_ALL: lib.LYD_PRINT_WD_ALL,
       WithDefaults.REPORT_ALL_TAGGED: lib.LYD_PRINT_WD_ALL_TAG}


def print_xml(forest: Forest, with_defaults: WithDefaults, *, keep_empty: bool) -> bytes:
    """XML of the whole forest; `keep_empty` prints non-presence containers left without
    children (max-depth cuts them on purpose, and they must still show)."""
    if forest.first == NULL:
        return b""
    encode_for_xml(forest)  # device data in anydata: in the device modules' own XML
    flags = _WD[with_defaults] | lib.LYD_PRINT_WITHSIBLINGS | lib.LYD_PRINT_SHRINK
    if keep_empty:
        flags |= lib.LYD_PRINT_KEEPEMPTYCONT
    buf = ffi.new("char **")
    if lib.lyd_print_mem(buf, forest.first, lib.LYD_XML, flags) != 0 or buf[0] == NULL:
        return b""
    try:
        text = bytes(ffi.string(buf[0]))
    finally:
        lib.free(buf[0])
    if with_defaults is WithDefaults.REPORT_ALL_TAGGED:
        # RFC 6243 §6: the default attribute lives in the netconf:default:1.0 namespace;
        # libyang tags with the YANG module's namespace instead.
        text = text.replace(_LY_WD_NS, _WD_ATTRIBUTE_NS)
    return text
