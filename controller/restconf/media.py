"""Media types of RESTCONF (RFC 8040 §5.2, RFC 8072 §2.3) and content negotiation."""

from __future__ import annotations

from controller.errors import ErrorTag
from controller.restconf.errors import http_error

YANG_JSON = "application/yang-data+json"
YANG_XML = "application/yang-data+xml"
PATCH_JSON = "application/yang-patch+json"
PATCH_XML = "application/yang-patch+xml"
EVENT_STREAM = "text/event-stream"
XRD_XML = "application/xrd+xml"
_ANY = ("*/*", "application/*")


def media_of(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def request_type(content_type: str | None, allowed: tuple[str, ...]) -> str:
    """The body's media type; anything else is 415 Unsupported Media Type."""
    if not content_type:
        raise http_error(415, ErrorTag.INVALID_VALUE,
                         f"a message body needs a Content-Type ({', '.join(allowed)})")
    media = media_of(content_type)
    if media not in allowed:
        raise http_error(415, ErrorTag.INVALID_VALUE,
                         f"unsupported Content-Type {media!r}; use {', '.join(allowed)} "
                         "(RFC 8040 §5.2)")
    return media


def response_xml(accept: str | None, request_media: str | None = None) -> bool:
    """True for XML, False for JSON; 406 when the client accepts neither."""
    if not accept:
        return request_media in (YANG_XML, PATCH_XML)
    ranges = []
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append((-quality, position, media.lower()))
    for quality, _, media in sorted(ranges):
        if quality >= 0:
            continue
        if media in (YANG_XML, "application/xml"):
            return True
        if media in (YANG_JSON, "application/json", *_ANY):
            return request_media in (YANG_XML, PATCH_XML) if media in _ANY else False
    raise http_error(406, ErrorTag.INVALID_VALUE,
                     f"none of {accept!r} can be produced; use {YANG_JSON} or {YANG_XML}")
