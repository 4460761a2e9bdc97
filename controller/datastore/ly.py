"""Low-level access to libyang beyond what libyang-python 2.7 exposes.

libyang-python's cdefs omit a few libyang 2.1 calls the datastore engine needs for
in-place, undoable edits (unlink, ordered insert, per-module validation, term change).
They are reached in cffi ABI mode on the *same* shared object the binding already loaded,
so data pointers are interchangeable; nothing is compiled at install time.
"""

from __future__ import annotations

from typing import Any

import cffi
import libyang  # noqa: F401  (its import configures logging; ours below must come after)
from _libyang import ffi, lib  # the binding's own cffi module

_abi = cffi.FFI()
_abi.cdef(
    """
    typedef int LY_ERR;
    void lyd_unlink_tree(void *node);
    LY_ERR lyd_insert_sibling(void *sibling, void *node, void **first);
    LY_ERR lyd_insert_before(void *sibling, void *node);
    LY_ERR lyd_insert_after(void *sibling, void *node);
    LY_ERR lyd_validate_module(void **tree, const void *module, uint32_t val_opts, void **diff);
    LY_ERR lyd_change_term(void *term, const char *val_str);
    LY_ERR lyd_new_implicit_tree(void *tree, uint32_t implicit_options, void **diff);
    LY_ERR lyd_new_implicit_module(void **tree, const void *module, uint32_t implicit_options,
                                   void **diff);
    struct ly_set_abi { uint32_t size; uint32_t count; void **objs; };
    LY_ERR lys_find_expr_atoms(const void *ctx_node, const void *cur_mod, const void *expr,
                               const void *prefixes, uint32_t options,
                               struct ly_set_abi **set);
    void ly_set_free(struct ly_set_abi *set, void *destructor);
    LY_ERR lyd_eval_xpath3(const void *ctx_node, const void *cur_mod, const char *xpath,
                           int format, void *prefix_data, const void *vars, uint8_t *result);
    LY_ERR lyd_find_sibling_val(const void *siblings, const void *schema,
                                const char *key_or_value, size_t val_len, void **match);
    LY_ERR lyplg_type_resolve_leafref(const void *lref, const void *node, void *value,
                                      const void *tree, void **target, char **errmsg);
    LY_ERR lyd_any_copy_value(void *trg, const void *value, int value_type);
    """
)
_extra = _abi.dlopen("libyang.so.2")


def _typed(name: str, signature: str) -> Any:
    """An ABI-mode function re-typed with the binding's own structs, so that hot paths
    pass the binding's cdata straight through (no pointer conversion per call)."""
    return ffi.cast(signature, int(_abi.cast("uintptr_t", getattr(_extra, name))))


#: lyd_eval_xpath3: an XPath 1.0 expression's boolean value at a data node
eval_xpath_bool = _typed(
    "lyd_eval_xpath3",
    "LY_ERR (*)(const struct lyd_node *, const struct lys_module *, const char *, "
    "LY_VALUE_FORMAT, void *, void *, ly_bool *)")
#: lyd_find_sibling_val: the first instance of a schema node among siblings (hashed)
find_sibling = _typed(
    "lyd_find_sibling_val",
    "LY_ERR (*)(const struct lyd_node *, const struct lysc_node *, const char *, size_t, "
    "struct lyd_node **)")
#: lyplg_type_resolve_leafref: libyang's own require-instance check of one leafref value
resolve_leafref = _typed(
    "lyplg_type_resolve_leafref",
    "LY_ERR (*)(const struct lysc_type_leafref *, const struct lyd_node *, "
    "struct lyd_value *, const struct lyd_node *, struct lyd_node **, char **)")

#: lyd_any_copy_value: replace an anydata node's value (libyang copies it)
any_copy_value = _typed(
    "lyd_any_copy_value",
    "LY_ERR (*)(struct lyd_node *, const union lyd_any_value *, LYD_ANYDATA_VALUETYPE)")

NodePtr = Any  # "struct lyd_node *" cdata of the binding's ffi (or NULL)


def _as_void(ptr: NodePtr) -> Any:
    return _abi.cast("void *", int(ffi.cast("uintptr_t", ptr)))


def _from_void(ptr: Any) -> NodePtr:
    return ffi.cast("struct lyd_node *", int(_abi.cast("uintptr_t", ptr)))


def unlink(node: NodePtr) -> None:
    """Detach a subtree without freeing it, so an edit can be undone by re-inserting it."""
    _extra.lyd_unlink_tree(_as_void(node))


def insert_sibling(sibling: NodePtr, node: NodePtr) -> NodePtr:
    """Insert `node` among the top-level siblings of `sibling`; return the new first sibling."""
    first = _abi.new("void **")
    rc = _extra.lyd_insert_sibling(_as_void(sibling) if sibling != ffi.NULL else _abi.NULL,
                                   _as_void(node), first)
    if rc != 0:
        raise RuntimeError(f"lyd_insert_sibling failed ({rc})")
    return _from_void(first[0])


def insert_before(sibling: NodePtr, node: NodePtr) -> int:
    return int(_extra.lyd_insert_before(_as_void(sibling), _as_void(node)))


def insert_after(sibling: NodePtr, node: NodePtr) -> int:
    return int(_extra.lyd_insert_after(_as_void(sibling), _as_void(node)))


def change_term(node: NodePtr, value: str) -> int:
    """Change a leaf's value in place; LY_SUCCESS changed it, LY_EEXIST only cleared
    its default flag, LY_ENOT means it already had that value explicitly."""
    return int(_extra.lyd_change_term(_as_void(node), value.encode()))


def new_implicit_tree(node: NodePtr) -> int:
    """Create the configuration default nodes (RFC 7950 §7.6.1, §7.5.7) missing in
    `node`'s subtree."""
    return int(_extra.lyd_new_implicit_tree(_as_void(node), lib.LYD_IMPLICIT_NO_STATE,
                                            _abi.NULL))


def new_implicit_module(first: NodePtr, module: Any) -> tuple[int, NodePtr]:
    """Create the top-level configuration default nodes of `module` missing among the
    siblings of `first`; returns (rc, possibly new first sibling)."""
    tree = _abi.new("void **", _as_void(first) if first != ffi.NULL else _abi.NULL)
    rc = _extra.lyd_new_implicit_module(tree, _ptr(module), lib.LYD_IMPLICIT_NO_STATE,
                                        _abi.NULL)
    return int(rc), (_from_void(tree[0]) if tree[0] != _abi.NULL else ffi.NULL)


def validate_module(first: NodePtr, module: Any, options: int) -> tuple[int, NodePtr]:
    """Validate one module's data in a forest; returns (rc, possibly new first sibling)."""
    tree = _abi.new("void **", _as_void(first) if first != ffi.NULL else _abi.NULL)
    rc = _extra.lyd_validate_module(tree, _abi.cast("void *", int(ffi.cast("uintptr_t", module))),
                                    options, _abi.NULL)
    return int(rc), (_from_void(tree[0]) if tree[0] != _abi.NULL else ffi.NULL)


def expr_atoms(ctx_node: Any, cur_mod: Any, expr: Any, prefixes: Any) -> list[int]:
    """Addresses of every schema node an XPath expression can touch (libyang's own analysis)."""
    out = _abi.new("struct ly_set_abi **")
    rc = _extra.lys_find_expr_atoms(_ptr(ctx_node), _ptr(cur_mod), _ptr(expr), _ptr(prefixes),
                                    0, out)
    if rc != 0 or out[0] == _abi.NULL:
        lib.ly_err_clean(ffi.NULL, ffi.NULL)
        raise RuntimeError("lys_find_expr_atoms failed")
    try:
        return [int(_abi.cast("uintptr_t", out[0].objs[i])) for i in range(out[0].count)]
    finally:
        _extra.ly_set_free(out[0], _abi.NULL)


def _ptr(cdata: Any) -> Any:
    if cdata == ffi.NULL:
        return _abi.NULL
    return _abi.cast("void *", int(ffi.cast("uintptr_t", cdata)))


def validate_all(first: NodePtr, ctx: Any, options: int) -> tuple[int, NodePtr]:
    tree = ffi.new("struct lyd_node **", first)
    rc = lib.lyd_validate_all(tree, ctx, options, ffi.NULL)
    return int(rc), tree[0]


def address(cdata: Any) -> int:
    """A libyang pointer as an int (a key for sets and dicts of schema or data nodes)."""
    return int(ffi.cast("uintptr_t", cdata))


def array_count(array: Any) -> int:
    """The length of a libyang sized array (kept just before its first item)."""
    if array == ffi.NULL:
        return 0
    return int(ffi.cast("uint64_t *", array)[-1])


def c2s(value: Any) -> str | None:
    if value == ffi.NULL:
        return None
    return str(ffi.string(value).decode())


__all__ = ["ffi", "lib"]

# libyang builds error paths only when the log callback is registered "with path";
# libyang-python registers none and turns paths off. Errors are stored (LY_LOSTORE) and
# read back by the engine, so ask for paths without a callback.
lib.ly_log_options(lib.LY_LOSTORE)
lib.ly_set_log_clb(ffi.NULL, True)
