"""RESTCONF query parameters (RFC 8040 §4.8, RFC 8527 §3.2.2 with-origin).

Each parameter may appear once and only with the methods §4.8 lists; anything else is
a 400 invalid-value before the request touches the store.
"""

from __future__ import annotations

from dataclasses import dataclass

import libyang

from controller.datastore.editparse import SchemaIndex
from controller.datastore.tree import WithDefaults
from controller.restconf.paths import Target, child_snode, invalid, kind_of, percent_decode
from controller.restconf.paths import split_identifier as _split

_READ = frozenset({"GET", "HEAD"})
ALLOWED: dict[str, frozenset[str]] = {
    "content": _READ, "depth": _READ, "fields": _READ, "with-defaults": _READ,
    "with-origin": _READ, "insert": frozenset({"POST", "PUT"}),
    "point": frozenset({"POST", "PUT"}),
    "filter": _READ, "start-time": _READ, "stop-time": _READ,
}


@dataclass
class Query:
    content: str = "all"                        # all | config | nonconfig
    depth: int | None = None                    # None = unbounded
    fields: list[list[str]] | None = None       # api-identifier paths
    with_defaults: WithDefaults = WithDefaults.EXPLICIT
    with_origin: bool = False
    insert: str | None = None                   # first | last | before | after
    point: str | None = None                    # api-path of the insertion anchor


def parse_query(raw: str, method: str) -> Query:
    query = Query()
    seen: set[str] = set()
    for item in raw.split("&") if raw else []:
        name, has_value, value_text = item.partition("=")
        name = percent_decode(name, "query parameter name")
        # point is an api-path: its keys stay percent-encoded until the path is resolved
        value = value_text if name == "point" else percent_decode(
            value_text.replace("+", " "), f"value of {name!r}")
        allowed = ALLOWED.get(name)
        if allowed is None:
            raise invalid(f"unknown query parameter {name!r} (RFC 8040 §4.8)")
        if method not in allowed:
            raise invalid(f"query parameter {name!r} is not allowed with {method}")
        if name in seen:
            raise invalid(f"query parameter {name!r} given twice (RFC 8040 §4.8)")
        seen.add(name)
        if name == "with-origin":
            if has_value:
                raise invalid("with-origin takes no value (RFC 8527 §3.2.2)")
            query.with_origin = True
            continue
        _apply(query, name, value)
    if query.insert in ("before", "after") and query.point is None:
        raise invalid(f"insert={query.insert} needs a point parameter (RFC 8040 §4.8.6)")
    if query.point is not None and query.insert not in ("before", "after"):
        raise invalid("point is only allowed with insert=before or after (RFC 8040 §4.8.6)")
    return query


def _apply(query: Query, name: str, value: str) -> None:
    if name == "content":
        if value not in ("all", "config", "nonconfig"):
            raise invalid(f"content must be all, config or nonconfig, not {value!r}")
        query.content = value
    elif name == "depth":
        if value == "unbounded":
            query.depth = None
        elif value.isdigit() and 1 <= int(value) <= 65535:
            query.depth = int(value)
        else:
            raise invalid(f"depth must be 1..65535 or unbounded, not {value!r}")
    elif name == "fields":
        query.fields = parse_fields(value)
    elif name == "with-defaults":
        try:
            query.with_defaults = WithDefaults(value)
        except ValueError:
            raise invalid(f"invalid with-defaults {value!r}") from None
    elif name == "insert":
        if value not in ("first", "last", "before", "after"):
            raise invalid(f"insert must be first, last, before or after, not {value!r}")
        query.insert = value
    elif name == "point":
        query.point = value
    elif name == "filter":
        raise invalid("filter applies only to event stream resources (RFC 8040 §4.8.4)")
    else:  # start-time / stop-time (RFC 8040 §4.8.7-8)
        raise invalid(f"{name} applies only to event stream resources (RFC 8040 §4.8.7)")


# -- fields (RFC 8040 §4.8.3) ---------------------------------------------------------------


def parse_fields(text: str) -> list[list[str]]:
    """fields-expr = path "(" fields-expr ")" / path ";" fields-expr / path."""
    paths, pos = _expr(text, 0)
    if pos != len(text):
        raise invalid(f"unexpected {text[pos]!r} at {pos} in fields {text!r}")
    return paths


def _expr(text: str, pos: int) -> tuple[list[list[str]], int]:
    paths: list[list[str]] = []
    while True:
        path, pos = _path(text, pos)
        if pos < len(text) and text[pos] == "(":
            sub, pos = _expr(text, pos + 1)
            if pos >= len(text) or text[pos] != ")":
                raise invalid(f"unbalanced '(' in fields {text!r}")
            pos += 1
            paths.extend(path + s for s in sub)
        else:
            paths.append(path)
        if pos < len(text) and text[pos] == ";":
            pos += 1
            continue
        return paths, pos


def _path(text: str, pos: int) -> tuple[list[str], int]:
    idents: list[str] = []
    while True:
        end = pos
        while end < len(text) and text[end] not in "/();":
            end += 1
        if end == pos:
            raise invalid(f"empty node name at {pos} in fields {text!r}")
        idents.append(text[pos:end])
        pos = end
        if pos < len(text) and text[pos] == "/":
            pos += 1
            continue
        return idents, pos


def field_xpaths(index: SchemaIndex, target: Target, fields: list[list[str]]) -> list[str]:
    """Absolute XPaths of the selected descendants of `target` (schema-checked)."""
    base = "" if target.is_datastore else target.path
    out = []
    for path in fields:
        snode: libyang.SNode | None = None if target.is_datastore else target.last.snode
        module = None if target.is_datastore else target.last.module
        text = base
        for ident in path:
            if snode is not None and kind_of(snode) not in ("container", "list"):
                raise invalid(f"fields: {snode.name()!r} has no child {ident!r}")
            mod, name = _split(ident, module, "fields node name")
            snode = child_snode(index, snode, mod, name, f"{text}/{ident}")
            text += f"/{name}" if mod == module else f"/{mod}:{name}"
            module = mod
        out.append(text)
    return out
