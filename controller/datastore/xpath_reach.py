"""What the text of a YANG XPath expression says about how far it reaches.

libyang tells which schema nodes an expression touches (`lys_find_expr_atoms`); the
targeted constraint evaluation (controller/datastore/constraints.py) also needs what
those atoms do not say: whether the expression can jump out of its atoms' subtree, and
which container or list it takes the string value of (XPath 1.0 §5.2: the value of an
inner node is made of all the leaves below it). Each answer errs on the safe side: an
unclear expression jumps, and takes values everywhere.
"""

from __future__ import annotations

import re

# An expression reaches beyond its atoms' common ancestor only through an absolute path,
# deref() (its target may lie anywhere), an explicit axis, or a function not known to
# stay on its arguments. Literals are dropped first; anything unclear counts as a jump.
_TOKENS = re.compile(r"""
    \s+
  | (?P<literal>'[^']*'|"[^"]*")
  | (?P<number>\d+(?:\.\d*)?|\.\d+)
  | (?P<op>//|/|::|\.\.|\.|\[|\]|\(|\)|@|,|\||\+|-|!=|<=|>=|=|<|>|\*|\$)
  | (?P<name>[A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?)
  | (?P<other>.)
""", re.VERBOSE)
_STEP_ENDS = {"]", ")", ".", ".."}
_OPERATOR_NAMES = {"and", "or", "div", "mod"}
_LOCAL_FUNCTIONS = {
    "current", "count", "sum", "not", "true", "false", "boolean", "number", "string",
    "concat", "contains", "starts-with", "substring", "substring-before", "substring-after",
    "string-length", "normalize-space", "translate", "floor", "ceiling", "round", "last",
    "position", "local-name", "name", "namespace-uri", "re-match", "derived-from",
    "derived-from-or-self", "enum-value", "bit-is-set", "node", "text",
}


def _tokens(expr: str) -> list[tuple[str, str]] | None:
    """(kind, text) of each XPath token; None if the expression has a stray character."""
    tokens: list[tuple[str, str]] = []
    for match in _TOKENS.finditer(expr):
        kind = match.lastgroup
        if kind is None:
            continue
        if kind == "other":
            return None
        tokens.append((kind, match.group()))
    return tokens


_IMPLICIT_CONTEXT = {"string", "string-length", "normalize-space", "number"}
_EXISTENCE_FUNCTIONS = {"not", "boolean", "count"}  # read which nodes exist, no value


def value_steps(expr: str) -> set[str]:
    """Local names of the nodes where a location path of the expression ends ("." for the
    context node, ".." for a parent) and whose value it may take: not where a step only
    leads on (`/` follows), nor where the path is only tested for existence (an operand
    of and / or, the whole expression, the argument of not(), boolean() or count()). An
    argument-less string() and the like read the context node. An unreadable expression
    yields ".." (then every container or list atom counts)."""
    tokens = _tokens(expr)
    if tokens is None:
        return {".."}
    names: set[str] = set()
    size = len(tokens)
    for i, (kind, text) in enumerate(tokens):
        following = tokens[i + 1][1] if i + 1 < size else ""
        if text in ("*", "@") or (text in ("node", "text") and following == "("):
            names.add("..")  # a wildcard (or a multiplication): any node may be read
            continue
        if kind == "name" and following == "(":
            if text in _IMPLICIT_CONTEXT and i + 2 < size and tokens[i + 2][1] == ")":
                names.add(".")
            if text != "current":
                continue
            step, end = ".", i + 3
        elif kind == "name":
            previous = tokens[i - 1] if i else ("", "")
            if text in _OPERATOR_NAMES and (previous[1] in _STEP_ENDS
                                            or previous[0] in ("name", "literal", "number")):
                continue  # and / or / div / mod between operands
            step, end = text.rsplit(":", 1)[-1], i + 1
        elif text in (".", ".."):
            step, end = text, i + 1
        else:
            continue
        depth = 0
        while end < size and (tokens[end][1] == "[" or depth):
            depth += {"[": 1, "]": -1}.get(tokens[end][1], 0)
            end += 1
        if end < size and tokens[end][1] in ("/", "//"):
            continue
        if not _existence_only(tokens, _path_start(tokens, i), end):
            names.add(step)
    return names


def _path_start(tokens: list[tuple[str, str]], last: int) -> int:
    """Index of the first token of the location path whose last step starts at `last`."""
    start = last
    while start >= 1 and tokens[start - 1][1] in ("/", "//"):
        before = start - 2
        if before < 0:
            return start - 1
        closing = tokens[before][1]
        if closing in ("]", ")"):
            opening = "[" if closing == "]" else "("
            depth = 0
            while before >= 0:
                depth += {closing: 1, opening: -1}.get(tokens[before][1], 0)
                if depth == 0:
                    break
                before -= 1
            before -= 1  # the step or function name before the bracket
        if before < 0 or not (tokens[before][1] in (".", "..")
                              or (tokens[before][0] == "name"
                                  and tokens[before][1] not in _OPERATOR_NAMES)):
            return start - 1  # an absolute path after an operator
        start = before
    return start


def _existence_only(tokens: list[tuple[str, str]], start: int, end: int) -> bool:
    """Whether the path between `start` and `end` is only converted to a boolean: an
    operand of and / or (they bind loosest), a whole expression or predicate, or the
    argument of not(), boolean() or count()."""
    before = tokens[start - 1][1] if start >= 1 else ""
    after = tokens[end][1] if end < len(tokens) else ""
    left_operator, right_operator = before in ("and", "or"), after in ("and", "or")
    if (left_operator or before in ("", "(", ",", "[")) \
            and (right_operator or after in ("", ")", ",", "]")) \
            and (left_operator or right_operator or (before, after) in (("", ""), ("[", "]"))):
        return True
    function = tokens[start - 2][1] if start >= 2 else ""
    return before == "(" and after == ")" and function in _EXISTENCE_FUNCTIONS


def climbs(expr: str) -> bool:
    """Whether the expression has a parent step (the root, above a top-level node, is
    no schema node: libyang lists no atom for it)."""
    return any(match.group() == ".." for match in _TOKENS.finditer(expr)
               if match.lastgroup == "op")


def reaches_anywhere(expr: str) -> bool:
    """True when the XPath expression can leave the subtree of its atoms' common
    ancestor (see the comment above)."""
    tokens = _tokens(expr)
    if tokens is None:
        return True
    for i, (kind, text) in enumerate(tokens):
        following = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        if kind == "name" and following == "(" and text not in _LOCAL_FUNCTIONS:
            return True
        if text in ("::", "$"):
            return True
        if text in ("/", "//"):
            if i == 0:
                return True
            prev_kind, prev = tokens[i - 1]
            relative = prev in _STEP_ENDS or (prev_kind == "name"
                                              and prev not in _OPERATOR_NAMES)
            if not relative:
                return True
    return False
