"""Who is asking: RESTCONF client authentication, apart from the HTTP transport.

RFC 8040 §2.5 requires every RESTCONF request to be authenticated; the transport (one
HTTP server or another) hands over what it learned from the connection and the request
headers, and gets back the user name or an HTTP 401 with a challenge (RFC 7235 §3.1).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import structlog

from controller.errors import ErrorTag
from controller.restconf.access import DataAccess
from controller.restconf.errors import http_error

log = structlog.get_logger(__name__)

CHALLENGE = {"WWW-Authenticate": 'Basic realm="restconf", charset="UTF-8"'}


def authenticate(access: DataAccess, authorization: str, peer: str, *,
                 peer_cert: dict[str, Any] | bytes | None = None) -> str:
    """HTTP basic (RFC 7617) against the NETCONF accounts; 401 with a challenge.

    `peer_cert` is the TLS client certificate (ssl getpeercert() dict or DER), when the
    client presented one: the basis for certificate-to-name mapping."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() == "basic":
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True) \
                .decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user, sep, password = "", "", ""
        if sep and access.check_password(user, password):
            return user
        log.info("restconf authentication failed", user=user or None, peer=peer)
    raise http_error(401, ErrorTag.ACCESS_DENIED, "authentication required", headers=CHALLENGE)
