"""XML plumbing for NETCONF messages: namespaces, a hardened parser, reply envelopes.

Replies are assembled as bytes around libyang's own XML output instead of re-parsing it
into lxml: a get-data reply is then one print plus a few concatenations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lxml import etree

from controller.errors import ErrorTag, ErrorType, NetconfError, RpcError
from controller.netconf.paths import to_xml_path

NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
NOTIF_NS = "urn:ietf:params:xml:ns:netconf:notification:1.0"     # RFC 5277 §4
NMDA_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"        # RFC 8526
DS_NS = "urn:ietf:params:xml:ns:yang:ietf-datastores"            # RFC 8342
MONITORING_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"  # RFC 6022
NCN_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"      # RFC 6470
WD_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"       # RFC 6243
ORIGIN_NS = "urn:ietf:params:xml:ns:yang:ietf-origin"                  # RFC 8342

OK = b"<ok/>"
_XML_DECL = b'<?xml version="1.0" encoding="UTF-8"?>'


def make_parser() -> etree.XMLParser:
    """A parser for untrusted input: no DTD, no entities, no network, libxml2 depth limits.

    lxml parsers are not thread-safe, so each session owns one. huge_tree stays off, which
    keeps libxml2's nesting limit (256 levels) and text-node size limits in force.
    """
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False, remove_comments=True, remove_pis=True)


def parse_message(data: bytes, parser: etree.XMLParser) -> etree._Element:
    """One NETCONF message as an element; any defect raises malformed-message.

    RFC 6241 §3: a NETCONF message must not contain a document type declaration.
    """
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise malformed("document type declarations are not allowed")
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise malformed(f"not well-formed XML: {exc}") from None
    if root is None:
        raise malformed("empty message")
    return root


def malformed(message: str) -> NetconfError:
    return NetconfError.of(ErrorTag.MALFORMED_MESSAGE, message, type=ErrorType.RPC)


def qname(el: etree._Element) -> tuple[str | None, str]:
    q = etree.QName(el)
    return q.namespace, q.localname


def children(el: etree._Element) -> Iterable[etree._Element]:
    return (c for c in el if isinstance(c.tag, str))


def text_of(el: etree._Element) -> str:
    return (el.text or "").strip()


def reply_envelope(rpc: etree._Element | None, message_id: str | None = None
                   ) -> tuple[bytes, bytes]:
    """Start and end tags of an <rpc-reply> echoing every attribute of <rpc> (§4.2)."""
    reply = etree.Element(f"{{{NC_NS}}}rpc-reply", nsmap={None: NC_NS})
    if rpc is not None:
        for name, value in rpc.attrib.items():
            reply.set(name, value)
    elif message_id is not None:
        reply.set("message-id", message_id)
    # UTF-8, not lxml's default ASCII: ASCII output writes a non-ASCII character of an
    # attribute *name* as a character reference, which is not well-formed XML.
    start = etree.tostring(reply, encoding="UTF-8")
    assert start.endswith(b"/>")
    return start[:-2] + b">", b"</rpc-reply>"


def build_reply(rpc: etree._Element | None, body: bytes, message_id: str | None = None
                ) -> bytes:
    start, end = reply_envelope(rpc, message_id)
    return b"".join((_XML_DECL, start, body, end))


def render_error(error: RpcError, namespace_of: Callable[[str], str | None]) -> bytes:
    """<rpc-error> with error-path turned into a namespace-qualified XPath."""
    element = error.to_xml()
    if error.path:
        path_el = element.find(f"{{{NC_NS}}}error-path")
        assert path_el is not None
        text, nsmap = to_xml_path(error.path, namespace_of)
        fixed = etree.Element(f"{{{NC_NS}}}error-path", nsmap=nsmap or None)
        fixed.text = text
        path_el.addprevious(fixed)
        element.remove(path_el)
    return bytes(etree.tostring(element))


def render_errors(errors: Iterable[RpcError], namespace_of: Callable[[str], str | None]
                  ) -> bytes:
    return b"".join(render_error(e, namespace_of) for e in errors)


def missing_element(name: str, parent: str) -> NetconfError:
    return NetconfError(RpcError(tag=ErrorTag.MISSING_ELEMENT, type=ErrorType.PROTOCOL,
                                 message=f"<{parent}> needs <{name}>",
                                 info=(("bad-element", name),)))


def bad_element(name: str, message: str, tag: ErrorTag = ErrorTag.BAD_ELEMENT,
                type: ErrorType = ErrorType.PROTOCOL) -> NetconfError:
    return NetconfError(RpcError(tag=tag, type=type, message=message,
                                 info=(("bad-element", name),)))


def unknown_element(name: str, parent: str) -> NetconfError:
    return bad_element(name, f"unexpected element <{name}> in <{parent}>",
                       ErrorTag.UNKNOWN_ELEMENT)


def json_elements(members: Mapping[str, Any], namespace: str) -> list[etree._Element]:
    """RFC 7951 members of one module (an rpc's output) as their RFC 7950 XML encoding:
    a container is an element, a list one element per entry, a leaf its text (booleans
    lower case, RFC 7950 §9.5.2; an empty leaf [null] an empty element, RFC 7951 §6.9)."""
    out: list[etree._Element] = []
    for name, value in members.items():
        for item in value if isinstance(value, list) and value != [None] else [value]:
            el = etree.Element(f"{{{namespace}}}{name}", nsmap={None: namespace})
            if isinstance(item, Mapping):
                el.extend(json_elements(item, namespace))
            elif isinstance(item, bool):
                el.text = "true" if item else "false"
            elif item is not None and item != [None]:
                el.text = str(item)
            out.append(el)
    return out
