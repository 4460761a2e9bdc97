"""Who is asking: RESTCONF client authentication, apart from the HTTP transport.

RFC 8040 §2.5 requires every RESTCONF request to be authenticated; the transport (one
HTTP server or another) hands over what it learned from the connection (the client
address and, over TLS, the client certificate) and the request headers, and gets back
the user name or an HTTP 401 with a challenge (RFC 7235 §3.1).

A client certificate identifies its user through the cert-to-name list (RFC 8040 §2.5
and RFC 7589 §7): a certificate that no entry maps is refused with 401, not passed on to
basic auth, so a presented-but-unknown identity is never silently swapped for another.
Basic auth failures count in the shared brute-force guard per user and address.
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
    """The user, from the client certificate (DER or PEM bytes of the leaf, e.g.
    `ssl_object.getpeercert(binary_form=True)`) when one was presented, else HTTP basic
    (RFC 7617) against the NETCONF accounts; 401 with a challenge."""
    if peer_cert:
        user = _certificate_user(access, peer_cert, peer)
        if user is None:
            raise http_error(401, ErrorTag.ACCESS_DENIED,
                             "client certificate not mapped to a user")
        return user
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() == "basic":
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True) \
                .decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user, sep, password = "", "", ""
        if sep and access.authenticate_password(user, password, peer):
            return user
        log.info("restconf authentication failed", user=user or None, peer=peer)
    raise http_error(401, ErrorTag.ACCESS_DENIED, "authentication required", headers=CHALLENGE)


def _certificate_user(access: DataAccess, peer_cert: dict[str, Any] | bytes,
                      peer: str) -> str | None:
    """The dict form (`getpeercert()`) carries no DER, so no fingerprint can be taken:
    only a transport passing the certificate bytes (or a dict holding them under "der"
    or "pem") can map certificates."""
    if isinstance(peer_cert, dict):
        raw = peer_cert.get("der") or peer_cert.get("pem")
        data = raw.encode() if isinstance(raw, str) else raw
    else:
        data = peer_cert
    if not isinstance(data, bytes) or access.cert_names is None:
        log.warning("client certificate refused", peer=peer, interface="restconf",
                    reason="no cert-to-name entries" if access.cert_names is None
                    else "certificate bytes not available")
        return None
    return access.cert_names.user(data, peer, "restconf")
