"""Safe XML parsing for everything that arrives from outside.

No entity expansion, no network, no DTD loading, bounded depth: a hostile document is a
`malformed-message` rpc-error (RFC 6241 Appendix A), never a crash or a memory blow-up.
"""

from __future__ import annotations

from lxml import etree

from controller.errors import ErrorTag, ErrorType, NetconfError, RpcError

MAX_DEPTH = 128

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          dtd_validation=False, huge_tree=False, remove_comments=True,
                          remove_pis=True)


def parse_xml(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> etree._Element:
    data = text.encode() if isinstance(text, str) else text
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise NetconfError(RpcError(tag=ErrorTag.MALFORMED_MESSAGE, type=ErrorType.RPC,
                                    message=f"malformed XML: {exc}")) from None
    if root is None:
        raise NetconfError(RpcError(tag=ErrorTag.MALFORMED_MESSAGE, type=ErrorType.RPC,
                                    message="empty XML document"))
    depth = 0
    for event, element in etree.iterwalk(root, events=("start", "end")):
        if event == "end":
            depth -= 1
            continue
        depth += 1
        if depth > max_depth:
            raise NetconfError(RpcError(tag=ErrorTag.MALFORMED_MESSAGE, type=ErrorType.RPC,
                                        message=f"XML nested deeper than {max_depth} levels"))
        if isinstance(element, etree._Entity):
            raise NetconfError(RpcError(tag=ErrorTag.MALFORMED_MESSAGE, type=ErrorType.RPC,
                                        message="XML entities are not accepted"))
    return root
