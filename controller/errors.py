"""NETCONF rpc-error model shared by every northbound interface.

RFC 6241 §4.3 defines the <rpc-error> content and Appendix A the error-tags with their
allowed error-types; RESTCONF (RFC 8040 §7) reuses the same tags. Every layer of the
controller raises `NetconfError` so each interface can render the same facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from lxml import etree

NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"


class ErrorType(StrEnum):
    TRANSPORT = "transport"
    RPC = "rpc"
    PROTOCOL = "protocol"
    APPLICATION = "application"


class ErrorTag(StrEnum):
    """RFC 6241 Appendix A error-tags (the HTTP status is RFC 8040 §7)."""

    IN_USE = "in-use"
    INVALID_VALUE = "invalid-value"
    TOO_BIG = "too-big"
    MISSING_ATTRIBUTE = "missing-attribute"
    BAD_ATTRIBUTE = "bad-attribute"
    UNKNOWN_ATTRIBUTE = "unknown-attribute"
    MISSING_ELEMENT = "missing-element"
    BAD_ELEMENT = "bad-element"
    UNKNOWN_ELEMENT = "unknown-element"
    UNKNOWN_NAMESPACE = "unknown-namespace"
    ACCESS_DENIED = "access-denied"
    LOCK_DENIED = "lock-denied"
    RESOURCE_DENIED = "resource-denied"
    ROLLBACK_FAILED = "rollback-failed"
    DATA_EXISTS = "data-exists"
    DATA_MISSING = "data-missing"
    OPERATION_NOT_SUPPORTED = "operation-not-supported"
    OPERATION_FAILED = "operation-failed"
    PARTIAL_OPERATION = "partial-operation"
    MALFORMED_MESSAGE = "malformed-message"


HTTP_STATUS: dict[ErrorTag, int] = {
    ErrorTag.IN_USE: 409,
    ErrorTag.INVALID_VALUE: 400,
    ErrorTag.TOO_BIG: 413,
    ErrorTag.MISSING_ATTRIBUTE: 400,
    ErrorTag.BAD_ATTRIBUTE: 400,
    ErrorTag.UNKNOWN_ATTRIBUTE: 400,
    ErrorTag.MISSING_ELEMENT: 400,
    ErrorTag.BAD_ELEMENT: 400,
    ErrorTag.UNKNOWN_ELEMENT: 400,
    ErrorTag.UNKNOWN_NAMESPACE: 400,
    ErrorTag.ACCESS_DENIED: 403,
    ErrorTag.LOCK_DENIED: 409,
    ErrorTag.RESOURCE_DENIED: 409,
    ErrorTag.ROLLBACK_FAILED: 500,
    ErrorTag.DATA_EXISTS: 409,
    ErrorTag.DATA_MISSING: 409,
    ErrorTag.OPERATION_NOT_SUPPORTED: 501,
    ErrorTag.OPERATION_FAILED: 500,
    ErrorTag.PARTIAL_OPERATION: 500,
    ErrorTag.MALFORMED_MESSAGE: 400,
}


@dataclass(frozen=True)
class RpcError:
    """One <rpc-error> (RFC 6241 §4.3)."""

    tag: ErrorTag
    message: str
    type: ErrorType = ErrorType.APPLICATION
    path: str | None = None
    app_tag: str | None = None
    severity: str = "error"
    info: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    #: more error-info content in a module's own namespace, as serialised XML elements
    #: (an error-info structure a YANG module defines, e.g. RFC 8639 §2.4.6)
    info_xml: bytes | None = None

    def to_xml(self) -> etree._Element:
        """Render as <rpc-error>, children in the order RFC 6241 §4.3 lists them."""
        err = etree.Element(f"{{{NC_NS}}}rpc-error", nsmap={None: NC_NS})
        etree.SubElement(err, f"{{{NC_NS}}}error-type").text = self.type.value
        etree.SubElement(err, f"{{{NC_NS}}}error-tag").text = self.tag.value
        etree.SubElement(err, f"{{{NC_NS}}}error-severity").text = self.severity
        if self.app_tag:
            etree.SubElement(err, f"{{{NC_NS}}}error-app-tag").text = self.app_tag
        if self.path:
            etree.SubElement(err, f"{{{NC_NS}}}error-path").text = self.path
        msg = etree.SubElement(err, f"{{{NC_NS}}}error-message")
        msg.text = self.message
        msg.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        if self.info or self.info_xml:
            info = etree.SubElement(err, f"{{{NC_NS}}}error-info")
            for name, value in self.info:
                etree.SubElement(info, f"{{{NC_NS}}}{name}").text = value
            if self.info_xml:
                info.extend(etree.fromstring(b"<x>" + self.info_xml + b"</x>"))
        return err

    def to_restconf(self) -> dict[str, object]:
        """RFC 8040 §7.1 error entry (the caller wraps it in ietf-restconf:errors)."""
        entry: dict[str, object] = {"error-type": self.type.value, "error-tag": self.tag.value,
                                    "error-message": self.message}
        if self.app_tag:
            entry["error-app-tag"] = self.app_tag
        if self.path:
            entry["error-path"] = self.path
        if self.info:
            entry["error-info"] = dict(self.info)
        return entry


class NetconfError(Exception):
    """One or more rpc-errors; raising it means nothing was changed."""

    def __init__(self, errors: RpcError | Iterable[RpcError]) -> None:
        self.errors: tuple[RpcError, ...] = (
            (errors,) if isinstance(errors, RpcError) else tuple(errors)
        )
        if not self.errors:
            raise ValueError("NetconfError needs at least one RpcError")
        super().__init__("; ".join(e.message for e in self.errors))

    @property
    def first(self) -> RpcError:
        return self.errors[0]

    @classmethod
    def of(cls, tag: ErrorTag, message: str, *, path: str | None = None,
           type: ErrorType = ErrorType.APPLICATION, app_tag: str | None = None,
           info: Sequence[tuple[str, str]] = ()) -> NetconfError:
        return cls(RpcError(tag=tag, message=message, type=type, path=path, app_tag=app_tag,
                            info=tuple(info)))
