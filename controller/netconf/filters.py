"""Subtree filtering (RFC 6241 §6) for data and for notifications.

For datastore reads a subtree filter is compiled into a union of JSON-style XPath
expressions that the engine evaluates on its libyang trees, so a filtered read only
copies what it selects. Each filter element is resolved against the schema:

* containment node (has element children) → a path step, its children processed;
* content match node (leaf with text) → a predicate on its parent step; the sibling set
  is selected only when every content match holds (§6.2.5), and the matched leaves are
  part of the output;
* selection node (empty) → the whole subtree below that step.

A sibling set with only content match nodes selects the whole parent subtree (§6.4.6).
An element unknown to the schema can match nothing, so its branch selects nothing; if it
is a content match node the whole sibling set selects nothing.

Notification filters work on the notification's XML directly (`match_notification`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import libyang
from lxml import etree

from controller.datastore.editparse import SchemaIndex
from controller.netconf.paths import quote_literal
from controller.netconf.xml import children, qname


class SubtreeCompiler:
    """Compiles subtree filters; a filter seen before (same serialised XML, namespace
    declarations included) is not compiled again: clients repeat their filters, and
    compiling costs more than selecting a small subtree."""

    CACHE_SIZE = 512

    def __init__(self, index: SchemaIndex) -> None:
        self.index = index
        self._compiled: OrderedDict[bytes, tuple[str, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def compile(self, filter_el: etree._Element) -> list[str]:
        """XPath expressions selecting what the filter's children select (may be empty)."""
        key = etree.tostring(filter_el)
        with self._lock:
            found = self._compiled.get(key)
            if found is not None:
                self._compiled.move_to_end(key)
                return list(found)
        paths: list[str] = []
        for top in children(filter_el):
            for module, snode in self._top_candidates(top):
                paths.extend(self._walk(top, snode, module, "", None))
        with self._lock:
            self._compiled[key] = tuple(paths)
            if len(self._compiled) > self.CACHE_SIZE:
                self._compiled.popitem(last=False)
        return paths

    def _top_candidates(self, el: etree._Element) -> list[tuple[str, libyang.SNode]]:
        ns, name = qname(el)
        if ns is None:
            # §6.2.1: no namespace means "any namespace".
            found = []
            for module in set(self.index.module_names()):
                snode = self.index.top(module, name)
                if snode is not None:
                    found.append((module, snode))
            return found
        owner = self.index.by_namespace.get(ns)
        top = self.index.top(owner, name) if owner else None
        return [(owner, top)] if owner and top is not None else []

    def _child(self, parent: libyang.SNode, parent_module: str, el: etree._Element
               ) -> tuple[str, libyang.SNode] | None:
        ns, name = qname(el)
        module = self.index.by_namespace.get(ns) if ns else parent_module
        if module is None:
            return None
        snode = self.index.child(parent, module, name)
        return (module, snode) if snode is not None else None

    def _walk(self, el: etree._Element, snode: libyang.SNode, module: str, base: str,
              parent_module: str | None) -> list[str]:
        step = f"{base}/{_step(module, snode.name(), parent_module)}"
        if not isinstance(snode, libyang.SContainer | libyang.SList):
            # a leaf or leaf-list named at the top of a branch: a selection/content node
            value = _content(el)
            if value is None:
                return [step]
            return [f"{step}[.={quote_literal(_value(el, value, self.index))}]"]
        predicates = ""
        content: list[str] = []
        selected: list[str] = []
        nested: list[tuple[etree._Element, libyang.SNode, str]] = []
        structural = False  # the filter names selection or containment nodes here
        for child in children(el):
            resolved = self._child(snode, module, child)
            value = _content(child)
            structural |= value is None
            if resolved is None:
                if value is not None:
                    return []  # a content match that can never hold
                continue
            cmod, csnode = resolved
            cstep = _step(cmod, csnode.name(), module)
            if value is not None and isinstance(csnode, libyang.SLeaf | libyang.SLeafList):
                literal = quote_literal(_value(child, value, self.index))
                predicates += f"[{cstep}={literal}]"
                content.append(cstep if isinstance(csnode, libyang.SLeaf)
                               else f"{cstep}[.={literal}]")
            elif value is None and any(True for _ in children(child)):
                nested.append((child, csnode, cmod))
            else:
                selected.append(cstep)
        here = step + predicates
        if not structural:
            return [here]
        paths = [f"{here}/{s}" for s in content + selected]
        for child, csnode, cmod in nested:
            paths.extend(self._walk(child, csnode, cmod, here, module))
        return paths


def _step(module: str, name: str, parent_module: str | None) -> str:
    return name if module == parent_module else f"{module}:{name}"


def _content(el: etree._Element) -> str | None:
    """Text of a content match node, or None for selection/containment nodes."""
    if any(True for _ in children(el)):
        return None
    text = (el.text or "").strip()
    return text or None


def _value(el: etree._Element, text: str, index: SchemaIndex) -> str:
    """Identity values are written with XML prefixes; the engine compares module names."""
    prefix, sep, local = text.partition(":")
    if sep and prefix in (el.nsmap or {}):
        module = index.by_namespace.get(el.nsmap[prefix])
        if module:
            return f"{module}:{local}"
    return text


# ----------------------------------------------------------------------------------------
# notifications (RFC 5277 §3.6: a subtree filter applied to the notification content)


def match_notification(filter_el: etree._Element, content: etree._Element) -> bool:
    """True when any top-level filter element selects something in `content`."""
    return any(_matches(f, content) for f in children(filter_el))


def _matches(flt: etree._Element, node: etree._Element) -> bool:
    fns, fname = qname(flt)
    nns, nname = qname(node)
    if fname != nname or (fns is not None and fns != nns):
        return False
    value = _content(flt)
    if value is not None:
        return (node.text or "").strip() == value
    subs = list(children(flt))
    if not subs:
        return True
    # every content match among the filter's children must hold; the other filter
    # children must each select something (a notification is kept or dropped whole)
    return all(any(_matches(sub, n) for n in children(node)) for sub in subs)
