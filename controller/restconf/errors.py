"""RESTCONF error responses (RFC 8040 §7): ietf-restconf:errors with an HTTP status.

The status of a datastore error comes from its error-tag (controller.errors.HTTP_STATUS);
the protocol layer adds the statuses HTTP itself defines (404 no such resource, 405
method not allowed, 406/415 media types, 412 failed precondition, 401 no credentials).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from lxml import etree

from controller.errors import HTTP_STATUS, ErrorTag, ErrorType, NetconfError, RpcError
from controller.netconf.paths import to_xml_path

RESTCONF_NS = "urn:ietf:params:xml:ns:yang:ietf-restconf"


class HttpError(NetconfError):
    """An rpc-error whose HTTP status is not the one its error-tag implies."""

    def __init__(self, status: int, errors: RpcError | Iterable[RpcError],
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(errors)
        self.status = status
        self.headers = headers or {}


def http_error(status: int, tag: ErrorTag, message: str, *, path: str | None = None,
               type: ErrorType = ErrorType.PROTOCOL,
               headers: dict[str, str] | None = None) -> HttpError:
    return HttpError(status, RpcError(tag=tag, type=type, message=message, path=path),
                     headers)


def status_of(err: NetconfError) -> int:
    if isinstance(err, HttpError):
        return err.status
    return HTTP_STATUS.get(err.first.tag, 500)


def errors_json(errors: Iterable[RpcError]) -> dict[str, object]:
    return {"ietf-restconf:errors": {"error": [e.to_restconf() for e in errors]}}


def render_errors(errors: Iterable[RpcError], xml: bool,
                  namespace_of: Callable[[str], str | None]) -> bytes:
    if not xml:
        return json.dumps(errors_json(errors)).encode()
    root = etree.Element(f"{{{RESTCONF_NS}}}errors", nsmap={None: RESTCONF_NS})
    for err in errors:
        entry = etree.SubElement(root, f"{{{RESTCONF_NS}}}error")
        for name, value in (("error-type", err.type.value), ("error-tag", err.tag.value),
                            ("error-app-tag", err.app_tag)):
            if value:
                etree.SubElement(entry, f"{{{RESTCONF_NS}}}{name}").text = value
        if err.path:
            # RFC 8040 §7.1: an instance-identifier, whose XML form needs declared prefixes.
            text, nsmap = to_xml_path(err.path, namespace_of)
            path_el = etree.Element(f"{{{RESTCONF_NS}}}error-path", nsmap=nsmap or None)
            path_el.text = text
            entry.append(path_el)
        etree.SubElement(entry, f"{{{RESTCONF_NS}}}error-message").text = err.message
        if err.info:
            info = etree.SubElement(entry, f"{{{RESTCONF_NS}}}error-info")
            for name, value in err.info:
                etree.SubElement(info, f"{{{RESTCONF_NS}}}{name}").text = value
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
