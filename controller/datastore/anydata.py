"""Instance data of other YANG modules carried in anydata nodes, printed as XML that a
client can parse with those modules.

A controller's datastores carry each managed device's configuration in an anydata node
(for example /sdqn-controller:controller/devices/device/configuration) as instance data
of the device's own module. libyang keeps such content as opaque nodes: its RFC 7951 JSON
print keeps the module names, but its XML print leaves every element in the enclosing
module's namespace and prints identity values with JSON module-name prefixes that are
never declared, so no client can read it as device data.

The device modules live in a second libyang context (`Schema.mounted`) that holds only
them, so their top-level nodes never become part of the controller's own datastores. For
XML output each anydata value is parsed with that context and printed by libyang as the
modules' own XML: elements in the module's namespace (RFC 7950 §7.1.3) and every
identityref or instance-identifier value's prefix declared on the element that uses it
(RFC 7950 §9.10.3, §9.13.2). Content no loaded module describes is printed as before.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import libyang
import structlog

from controller.datastore.ly import NodePtr, any_copy_value, ffi, lib
from controller.datastore.schema import Schema
from controller.datastore.tree import Forest

log = structlog.get_logger(__name__)


def _anydata_nodes(forest: Forest) -> Iterator[NodePtr]:
    for path in forest.schema.anydata_paths:
        yield from forest.find_xpath(path)


def _content_json(node: NodePtr) -> dict[str, Any] | None:
    """The anydata's content as an RFC 7951 object (libyang's JSON print keeps the
    module-name qualified member names)."""
    buf = ffi.new("char **")
    if lib.lyd_print_mem(buf, node, lib.LYD_JSON, lib.LYD_PRINT_SHRINK) != 0 \
            or buf[0] == ffi.NULL:
        return None
    try:
        printed = json.loads(ffi.string(buf[0]).decode())
    finally:
        lib.free(buf[0])
    content = next(iter(printed.values()), None) if isinstance(printed, dict) else None
    return content if isinstance(content, dict) and content else None


def device_xml(mounted: Schema, content: dict[str, Any]) -> str | None:
    """`content` (RFC 7951) as XML of the mounted modules, None when they do not describe
    it exactly (then it is left as the controller holds it)."""
    modules = {member.partition(":")[0] for member in content}
    if not modules <= set(mounted.module_names):
        return None
    try:
        tree = mounted.ctx.parse_data_mem(json.dumps(content), "json", parse_only=True,
                                          strict=True)
    except libyang.LibyangError as exc:
        log.debug("anydata content not described by the mounted modules", error=str(exc))
        return None
    if tree is None:
        return None
    try:
        return str(tree.print_mem("xml", with_siblings=True, pretty=False))
    finally:
        tree.free()


def _opaque_xml_tree(schema: Schema, xml: str) -> NodePtr:
    """`xml` parsed in the controller's context, where the device modules are unknown:
    libyang keeps it as opaque nodes that remember each element's namespace and the
    prefixes in scope of each value, and prints them back with those declarations."""
    out = ffi.new("struct lyd_node **")
    if lib.lyd_parse_data_mem(schema.ctx.cdata, xml.encode(), lib.LYD_XML,
                              lib.LYD_PARSE_ONLY | lib.LYD_PARSE_OPAQ, 0, out) != 0:
        lib.ly_err_clean(schema.ctx.cdata, ffi.NULL)
        return ffi.NULL
    return out[0]


def encode_for_xml(forest: Forest) -> None:
    """Replace, in place, every anydata value the mounted modules describe by their XML
    encoding (call once, on a private copy about to be printed as XML).

    libyang prints anydata in XML only from a data tree, so the device modules' XML is
    held as opaque nodes of the controller's context (`_opaque_xml_tree`)."""
    mounted = forest.schema.mounted
    if mounted is None:
        return
    for node in list(_anydata_nodes(forest)):
        content = _content_json(node)
        xml = device_xml(mounted, content) if content is not None else None
        tree = _opaque_xml_tree(forest.schema, xml) if xml is not None else ffi.NULL
        if tree == ffi.NULL:
            continue
        value = ffi.new("union lyd_any_value *")
        value.tree = tree
        try:
            if any_copy_value(node, value, lib.LYD_ANYDATA_DATATREE) != 0:
                lib.ly_err_clean(forest.schema.ctx.cdata, ffi.NULL)
        finally:
            lib.lyd_free_siblings(tree)
