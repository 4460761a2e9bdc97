"""Event stream query parameters (RFC 8040 §4.8.4 filter, §4.8.7-8 start-time/stop-time).

`filter` is an XPath 1.0 expression over one notification (RFC 5277 §3.6 semantics: the
event is sent when the expression's value is true, a non-empty node-set included);
prefixes are module names, as RFC 7951 names nodes. The notification's RFC 7951 JSON is
turned into the XML element it stands for, so lxml evaluates the expression as a
NETCONF server would on the XML notification.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from lxml import etree

from controller.restconf.paths import invalid

_ALLOWED = frozenset({"filter", "start-time", "stop-time"})


@dataclass
class StreamQuery:
    filter: str | None = None
    start: datetime.datetime | None = None
    stop: datetime.datetime | None = None


def parse_stream_query(raw: str) -> StreamQuery:
    query = StreamQuery()
    seen: set[str] = set()
    for name, value in parse_qsl(raw, keep_blank_values=True, strict_parsing=False):
        if name not in _ALLOWED:
            raise invalid(f"{name!r} is not a query parameter of an event stream "
                          "(RFC 8040 §4.8: filter, start-time, stop-time)")
        if name in seen:
            raise invalid(f"{name} given twice (RFC 8040 §4.8)")
        seen.add(name)
        if name == "filter":
            query.filter = value
        elif name == "start-time":
            query.start = _date_and_time(name, value)
        else:
            query.stop = _date_and_time(name, value)
    if query.stop is not None and query.start is None:
        raise invalid("stop-time needs start-time (RFC 8040 §4.8.8)")
    if query.start is not None and query.stop is not None and query.stop < query.start:
        raise invalid("stop-time is earlier than start-time")
    return query


def _date_and_time(name: str, value: str) -> datetime.datetime:
    """yang:date-and-time (RFC 6991) with its time zone."""
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(f"{name} {value!r} is not a yang:date-and-time") from None
    if parsed.tzinfo is None:
        raise invalid(f"{name} {value!r} needs a time zone (RFC 6991 date-and-time)")
    return parsed


def event_time(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


class EventFilter:
    """One compiled filter: `matches(notification members)`."""

    def __init__(self, expression: str, namespaces: Mapping[str, str]) -> None:
        self.namespaces = dict(namespaces)
        try:
            self.xpath = etree.XPath(expression, namespaces=self.namespaces)
            # an unknown prefix or function shows only when evaluated
            self.xpath(etree.Element("probe"))
        except (etree.XPathSyntaxError, etree.XPathEvalError) as exc:
            raise invalid(f"invalid filter {expression!r}: {exc} (RFC 8040 §4.8.4: an "
                          "XPath expression, module names as prefixes)") from None

    def matches(self, members: Mapping[str, Any]) -> bool:
        """`members`: the notification as {"module:name": content}."""
        (name, content), = members.items()
        root = _element(name, None, content, self.namespaces.get)
        if root is None:
            return False
        result = self.xpath(etree.ElementTree(root))
        return bool(result) if not isinstance(result, float) else result != 0.0


def _element(name: str, module: str | None, value: Any,
             namespace_of: Callable[[str], str | None]) -> etree._Element | None:
    """RFC 7951 member → XML element (RFC 7950 §7 encodings); None if its module is
    unknown."""
    mod, sep, local = name.partition(":")
    if sep:
        module = mod
    else:
        local = name
    namespace = namespace_of(module or "")
    if namespace is None:
        return None
    el = etree.Element(f"{{{namespace}}}{local}")
    _fill(el, module or "", value, namespace_of)
    return el


def _fill(el: etree._Element, module: str, value: Any,
          namespace_of: Callable[[str], str | None]) -> None:
    if isinstance(value, dict):
        for name, item in value.items():
            if name.startswith("@"):
                continue
            for entry in item if isinstance(item, list) and item != [None] else [item]:
                child = _element(name, module, entry, namespace_of)
                if child is not None:
                    el.append(child)
    elif value is None or value == [None]:
        return
    elif isinstance(value, bool):
        el.text = "true" if value else "false"
    else:
        el.text = str(value)
