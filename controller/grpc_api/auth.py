"""Who is calling: a bearer token ("authorization: Bearer <t>" metadata) or, on an mTLS
channel, the client certificate's common name. The name is a NETCONF user: NACM rules
decide what it may do, exactly as over NETCONF and RESTCONF."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

from controller.netconf.credentials import GrpcToken


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenAuth:
    def __init__(self, tokens: Iterable[GrpcToken], *, client_certs: bool = False) -> None:
        self._by_digest: dict[str, str] = {}
        for entry in tokens:
            digest = entry.token_sha256 or (token_sha256(entry.token) if entry.token else None)
            if digest:
                self._by_digest[digest.lower()] = entry.user
        self.client_certs = client_certs

    def user(self, context: Any) -> str | None:
        if self.client_certs:
            names = context.auth_context().get("x509_common_name") or []
            if names:
                return bytes(names[0]).decode()
        for key, value in context.invocation_metadata():
            if key == "authorization":
                scheme, _, token = str(value).partition(" ")
                if scheme.lower() == "bearer" and token:
                    return self._lookup(token.strip())
        return None

    def _lookup(self, token: str) -> str | None:
        digest = token_sha256(token)
        for known, user in self._by_digest.items():
            if hmac.compare_digest(known, digest):
                return user
        return None
