"""Who is calling: a bearer token ("authorization: Bearer <t>" metadata) or, on an mTLS
channel, the user the client certificate maps to (cert-to-name, RFC 7407). The name is a
NETCONF user: NACM rules decide what it may do, exactly as over NETCONF and RESTCONF.

Tokens are stored as salted pbkdf2 hashes (like passwords), which cost ~0.1 s to check;
verified tokens are remembered under an HMAC with a per-process key, so a busy client
pays once and memory never holds a token. Wrong tokens count against the caller's
address in the shared brute-force guard.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Iterable
from typing import Any

import structlog

from controller.netconf.authguard import AuthGuard
from controller.netconf.certname import CertNameMapper
from controller.netconf.credentials import GrpcToken
from controller.netconf.ssh import verify_password_hash

log = structlog.get_logger(__name__)
#: the guard's user for bearer tokens: a wrong token names no account
TOKEN_USER = "<bearer-token>"
_CACHE_MAX = 4096


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def peer_address(context: Any) -> str:
    """The client's IP address from grpc's peer string ("ipv4:127.0.0.1:5000",
    "ipv6:[::1]:5000")."""
    peer = str(context.peer() or "")
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]")
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    return peer


class TokenAuth:
    def __init__(self, tokens: Iterable[GrpcToken], *, client_certs: bool = False,
                 cert_names: CertNameMapper | None = None,
                 guard: AuthGuard | None = None) -> None:
        """`client_certs`: an mTLS channel; its certificate is mapped by `cert_names`
        (none: every certificate is refused, and the caller needs a token)."""
        self._hashed: list[tuple[str, str]] = []      # (pbkdf2 hash, user)
        self._by_digest: dict[str, str] = {}          # legacy unsalted sha256
        for entry in tokens:
            if entry.token_hash:
                self._hashed.append((entry.token_hash, entry.user))
            elif entry.token_sha256:
                log.warning("grpc token stored as unsalted SHA-256 (weak): store "
                            "token_hash instead", user=entry.user)
                self._by_digest[entry.token_sha256.lower()] = entry.user
            elif entry.token:
                self._by_digest[token_sha256(entry.token)] = entry.user
        self.client_certs = client_certs
        self.cert_names = cert_names
        self.guard = guard
        self._key = secrets.token_bytes(32)
        self._verified: dict[bytes, str] = {}
        self._lock = threading.Lock()

    def user(self, context: Any) -> str | None:
        peer = peer_address(context)
        if self.client_certs:
            certs = context.auth_context().get("x509_pem_cert") or []
            if certs:
                if self.cert_names is None:
                    log.warning("client certificate refused", peer=peer, interface="grpc",
                                reason="no cert-to-name entries configured")
                    return None
                return self.cert_names.user(bytes(certs[0]), peer, "grpc")
        for key, value in context.invocation_metadata():
            if key == "authorization":
                scheme, _, token = str(value).partition(" ")
                if scheme.lower() == "bearer" and token:
                    return self._guarded(token.strip(), peer)
        return None

    def _guarded(self, token: str, peer: str) -> str | None:
        guard = self.guard
        if guard is not None and guard.locked(TOKEN_USER, peer, "grpc"):
            return None
        user = self._lookup(token)
        if guard is not None:
            if user is None:
                guard.failure(TOKEN_USER, peer, "grpc")
            else:
                guard.success(TOKEN_USER, peer)
        return user

    def _lookup(self, token: str) -> str | None:
        mac = hmac.new(self._key, token.encode(), hashlib.sha256).digest()
        with self._lock:
            cached = self._verified.get(mac)
        if cached is not None:
            return cached
        found: str | None = None
        digest = token_sha256(token)
        for known, user in self._by_digest.items():
            if hmac.compare_digest(known, digest):
                found = user
        for encoded, user in self._hashed:
            # every entry is checked: the time does not tell which one matched
            if verify_password_hash(token, encoded) and found is None:
                found = user
        if found is not None:
            with self._lock:
                if len(self._verified) >= _CACHE_MAX:
                    self._verified.clear()
                self._verified[mac] = found
        return found
