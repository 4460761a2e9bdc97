"""How expensive a client's XPath can be, decided before libyang evaluates it.

libyang evaluates an expression in one C call that cannot be interrupted, and XPath lets
a short expression cost a power of the datastore's size: every path that scans the
whole tree (an absolute path, a descendant or following/preceding axis) inside a
predicate of another such scan multiplies the work, so `//*[count(//*[count(//*)>0])>0]`
costs N³ node visits (seconds on a few hundred nodes, hours on a large network). The
scan below counts how deeply such whole-tree scans nest (1: linear, 2: quadratic, ...)
and a request beyond the configured depth is refused with resource-denied (RFC 6241
Appendix A: "request could not be completed because of insufficient resources"),
before any evaluation starts, so the decision is deterministic and costs nothing.
"""

from __future__ import annotations

import re

from controller.errors import ErrorTag, ErrorType, NetconfError

#: axes that walk the whole document or subtree rather than one level (XPath 1.0 §2.2)
_WIDE_AXES = re.compile(r"(descendant|descendant-or-self|following|preceding)\s*::")
_OPERATOR_WORDS = ("and", "or", "div", "mod")


def scan_depth(xpath: str) -> int:
    """How many whole-tree scans nest in `xpath` (0 for none, 1 for linear, ...)."""
    if "[" not in xpath:  # no predicate: paths follow one another, nothing nests
        return 1 if "/" in xpath or "::" in xpath else 0
    levels = [0]  # per open predicate: the deepest scan chain seen at its level
    brackets: list[str] = []
    depth = 0
    i, n = 0, len(xpath)
    while i < n:
        ch = xpath[i]
        if ch in "'\"":  # string literal: skip it whole
            end = xpath.find(ch, i + 1)
            i = n if end < 0 else end + 1
            continue
        wide = False
        axis = _WIDE_AXES.match(xpath, i) if ch in "dfp" else None
        if xpath.startswith("//", i):
            wide = True
            i += 2
        elif ch == "/" and _starts_expression(xpath, i):
            wide = True  # an absolute path: evaluated from the document root
            i += 1
        elif axis is not None and (i == 0 or not _name_char(xpath[i - 1])):
            wide = True
            i = axis.end()
        if wide:
            outer = max(levels[:-1], default=0)
            levels[-1] = max(levels[-1], outer + 1)
            depth = max(depth, levels[-1])
            continue
        if ch in "[(":
            brackets.append(ch)
            if ch == "[":
                levels.append(0)
        elif ch in "])" and brackets and brackets.pop() == "[" and len(levels) > 1:
            levels.pop()
        i += 1
    return depth


def _name_char(ch: str) -> bool:
    return ch.isalnum() or ch in "-_.:"


def _starts_expression(xpath: str, i: int) -> bool:
    """Whether the "/" at `i` begins a new (absolute) path rather than separating steps."""
    j = i - 1
    while j >= 0 and xpath[j].isspace():
        j -= 1
    if j < 0:
        return True
    prev = xpath[j]
    if prev in "[(,=<>!|+":
        return True
    if prev == "-" and (j == 0 or not _name_char(xpath[j - 1])):
        return True
    start = j
    while start > 0 and xpath[start - 1].isalpha():
        start -= 1
    word = xpath[start:j + 1]
    return word in _OPERATOR_WORDS and (start == 0 or xpath[start - 1].isspace())


def check_xpath_cost(xpath: str, max_depth: int) -> None:
    """Refuse `xpath` (resource-denied) when its whole-tree scans nest deeper than
    `max_depth` (2 allows quadratic expressions such as `//a[. = //b]`)."""
    depth = scan_depth(xpath)
    if depth > max_depth:
        raise NetconfError.of(
            ErrorTag.RESOURCE_DENIED,
            f"XPath too expensive: {depth} whole-tree scans nested in one another "
            f"(absolute paths or descendant axes inside predicates); at most {max_depth}",
            type=ErrorType.APPLICATION)
