"""Data paths in the two spellings NETCONF meets: libyang/RFC 7951 JSON and XML XPath.

The engine reports paths JSON-style ("/sdqn-services:entanglement-services/request
[name='x']": module names as prefixes, inherited by unprefixed steps). A NETCONF client
evaluates error-path and RFC 6470 instance-identifiers as XPath over XML, where a prefix
must be declared in scope and an unprefixed name has no namespace (RFC 6241 §4.3, RFC
7950 §9.13.2). `to_xml_path` rewrites the first into the second, prefixing every step
and key with its module name and returning the namespace declarations to put on the
element. `xpath_to_json` does the opposite for <filter type="xpath">/<xpath-filter>,
whose prefixes are the XML ones in scope on the filter element (RFC 6241 §8.9.1).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

NamespaceOf = Callable[[str], str | None]


@dataclass(frozen=True)
class Step:
    """One path step; `module` is explicit or inherited from the previous step."""

    module: str | None
    name: str
    predicates: tuple[tuple[str, str], ...] = ()  # (key, value); "." for leaf-list, "#" pos


class PathSyntaxError(ValueError):
    pass


_NAME = re.compile(r"[A-Za-z_][\w.\-]*(?::[A-Za-z_*][\w.\-]*|:\*)?|\*")


def parse_path(path: str) -> list[Step]:
    """Steps of an absolute JSON-style data path ("/" alone is the whole datastore)."""
    if not path.startswith("/"):
        raise PathSyntaxError(f"not an absolute path: {path!r}")
    steps: list[Step] = []
    pos, module = 1, None
    if path == "/":
        return steps
    while pos < len(path):
        match = _NAME.match(path, pos)
        if not match:
            raise PathSyntaxError(f"bad step at {pos} in {path!r}")
        prefix, _, name = match.group(0).rpartition(":")
        module = prefix or module
        pos = match.end()
        predicates: list[tuple[str, str]] = []
        while pos < len(path) and path[pos] == "[":
            key, value, pos = _predicate(path, pos + 1)
            predicates.append((key, value))
        steps.append(Step(module, name, tuple(predicates)))
        if pos < len(path):
            if path[pos] != "/":
                raise PathSyntaxError(f"unexpected {path[pos]!r} at {pos} in {path!r}")
            pos += 1
    return steps


def _predicate(path: str, pos: int) -> tuple[str, str, int]:
    """Parse "key='v']", ".='v']" or "3]" starting after "["; returns key, value, next pos."""
    end_digits = pos
    while end_digits < len(path) and path[end_digits].isdigit():
        end_digits += 1
    if end_digits > pos and path[end_digits:end_digits + 1] == "]":
        return "#", path[pos:end_digits], end_digits + 1
    eq = path.find("=", pos)
    if eq < 0:
        raise PathSyntaxError(f"predicate without '=' in {path!r}")
    key = path[pos:eq].strip().rpartition(":")[2]
    pos = eq + 1
    while pos < len(path) and path[pos] == " ":
        pos += 1
    quote = path[pos:pos + 1]
    if quote not in ("'", '"'):
        raise PathSyntaxError(f"unquoted predicate value in {path!r}")
    close = path.find(quote, pos + 1)
    if close < 0:
        raise PathSyntaxError(f"unterminated predicate value in {path!r}")
    value = path[pos + 1:close]
    pos = close + 1
    while pos < len(path) and path[pos] == " ":
        pos += 1
    if path[pos:pos + 1] != "]":
        raise PathSyntaxError(f"predicate not closed in {path!r}")
    return key, value, pos + 1


def quote_literal(value: str) -> str:
    """An XPath 1.0 string literal (no escapes: choose the quote the value lacks)."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    parts = value.split("'")
    return "concat(" + ", \"'\", ".join(f"'{p}'" for p in parts) + ")"


def to_xml_path(path: str, namespace_of: NamespaceOf) -> tuple[str, dict[str, str]]:
    """(XPath with every step and key prefixed, {prefix: namespace}) for an XML element.

    Module names are used as prefixes: they are unique per schema and valid NCNames.
    A path that does not parse is returned unchanged with no declarations.
    """
    try:
        steps = parse_path(path)
    except PathSyntaxError:
        return path, {}
    nsmap: dict[str, str] = {}
    out: list[str] = []
    for step in steps:
        ns = namespace_of(step.module) if step.module else None
        prefix = f"{step.module}:" if ns else ""
        if ns and step.module:
            nsmap[step.module] = ns
        text = prefix + step.name
        for key, value in step.predicates:
            if key == "#":
                text += f"[{value}]"
            elif key == ".":
                text += f"[.={quote_literal(value)}]"
            else:
                text += f"[{prefix}{key}={quote_literal(value)}]"
        out.append(text)
    return "/" + "/".join(out), nsmap


_XPATH_TOKEN = re.compile(
    r"""(?P<lit>'[^']*'|"[^"]*")"""
    r"""|(?<![\w.\-:$@])(?P<prefix>[A-Za-z_][\w.\-]*):(?P<local>[A-Za-z_][\w.\-]*|\*)"""
)


def xpath_to_json(expr: str, nsmap: Mapping[str | None, str],
                  module_of_ns: Mapping[str, str]) -> str:
    """Replace XML namespace prefixes in an XPath by module names (string literals kept).

    Raises KeyError naming the prefix when one is not declared or not a known module.
    """
    def replace(match: re.Match[str]) -> str:
        if match.group("lit") is not None:
            return match.group(0)
        prefix, local = match.group("prefix"), match.group("local")
        ns = nsmap.get(prefix)
        module = module_of_ns.get(ns) if ns else None
        if module is None:
            raise KeyError(prefix)
        return f"{module}:{local}"

    return _XPATH_TOKEN.sub(replace, expr)
