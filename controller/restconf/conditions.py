"""HTTP conditional requests (RFC 7232) for RESTCONF resources (RFC 8040 §3.4.1, §3.5).

Pure evaluation: the resource layer says whether the target exists, whether a client's
entity-tag is the resource's current one, and when the resource last changed; this
module applies the preconditions in the order of RFC 7232 §6 and answers "go on",
304 (a GET whose cached copy is current) or 412 (nothing may change).
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from controller.errors import ErrorTag, NetconfError
from controller.restconf.errors import http_error

SAFE_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class Validators:
    """The entity-tag and last-modified time of one resource (None: it does not exist)."""

    etag: str | None
    modified: float | None

    def headers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.etag is not None:
            out["ETag"] = self.etag
        if self.modified is not None:
            out["Last-Modified"] = http_date(self.modified)
        return out


def http_date(epoch: float) -> str:
    return email.utils.formatdate(epoch, usegmt=True)


def parse_date(value: str | None) -> int | None:
    """An HTTP-date (RFC 7231 §7.1.1.1); an invalid one is ignored (RFC 7232 §3.3-3.4)."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return int(parsed.timestamp())


def etag_list(header: str) -> list[str]:
    """The entity-tags of an If-Match / If-None-Match list, W/ prefixes dropped (the
    weak comparison of RFC 7232 §2.3.2, which If-None-Match uses; RESTCONF tags are
    strong anyway)."""
    return [tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()]


def evaluate(method: str, headers: Mapping[str, str], *, exists: bool,
             current: Callable[[str], bool], modified: float | None,
             may_not_modify: bool = True) -> int | None:
    """RFC 7232 §6: None to perform the request, else the status to answer with.

    `current(tag)` tells whether a client's tag is the resource's current tag;
    `may_not_modify` is False when the representation is not covered by the tag (a 304
    would then hand out stale content), so a GET is answered in full.
    """
    if_match = headers.get("if-match")
    if if_match is not None:
        # §3.1: "*" needs a current representation; a list needs one of its tags current
        ok = exists if if_match.strip() == "*" else (
            exists and any(current(t) for t in etag_list(if_match)))
        if not ok:
            return 412
    else:
        since = parse_date(headers.get("if-unmodified-since"))
        if since is not None and modified is not None and int(modified) > since:
            return 412                                                  # §3.4
    if_none = headers.get("if-none-match")
    if if_none is not None:
        matched = exists if if_none.strip() == "*" else (
            exists and any(current(t) for t in etag_list(if_none)))
        if matched:                                                     # §3.2
            if method in SAFE_METHODS:
                return 304 if may_not_modify else None
            return 412
    elif method in SAFE_METHODS and may_not_modify and modified is not None:
        since = parse_date(headers.get("if-modified-since"))
        if since is not None and int(modified) <= since:                # §3.3
            return 304
    return None


def precondition_failed(method: str, path: str) -> NetconfError:
    """RFC 8040 §7 error body of a 412 (error-tag operation-failed, as §3.4.1.1 says)."""
    return http_error(412, ErrorTag.OPERATION_FAILED,
                      f"{method} refused: a precondition (If-Match, If-None-Match or "
                      "If-Unmodified-Since) failed for the resource; it changed or is "
                      "not in the state the request expects (RFC 7232 §4.2)",
                      path=None if path == "/" else path)
