"""Which user a client certificate is: cert-to-name (RFC 7407 §4.1 ietf-x509-cert-to-name,
used as in RFC 7589 §7 NETCONF over TLS).

TLS proves the client holds a key certified by a trusted CA; that alone names nobody. An
ordered list of entries maps a certificate to a user: an entry applies when its SHA-256
fingerprint is the client certificate's or that of the CA that issued it; its map-type
says where the name comes from. The first applicable entry that yields a name wins
(entries sorted by `id`, RFC 7407 §4.1 "cert-to-name" list ordering); a certificate no
entry maps is refused, so a CA also used for other purposes cannot mint users.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence
from enum import StrEnum
from pathlib import Path

import structlog
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from pydantic import BaseModel, ConfigDict, Field, field_validator

log = structlog.get_logger(__name__)


class MapType(StrEnum):
    """RFC 7407 §4.1 cert-to-name map-type identities (the ones without a SNMP use)."""

    SPECIFIED = "specified"
    SAN_RFC822_NAME = "san-rfc822-name"
    SAN_DNS_NAME = "san-dns-name"
    COMMON_NAME = "common-name"


class CertToName(BaseModel):
    """One cert-to-name entry (config: netconf.auth.cert_to_name)."""

    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=0, le=4294967295, description="entries apply in ascending id order")
    fingerprint: str = Field(description="SHA-256 of the client or CA certificate (DER), "
                                         "hex, colons optional; RFC 7407 tls-fingerprint "
                                         "'04:'(sha256) prefix accepted")
    map_type: MapType
    name: str | None = Field(default=None, description="the user, for map_type specified")

    @field_validator("fingerprint")
    @classmethod
    def _normalise(cls, value: str) -> str:
        hexed = value.replace(":", "").lower()
        if len(hexed) == 66 and hexed.startswith("04"):  # RFC 7407 hash-algorithm octet
            hexed = hexed[2:]
        if len(hexed) != 64 or any(c not in "0123456789abcdef" for c in hexed):
            raise ValueError("not a SHA-256 fingerprint (64 hex digits)")
        return hexed

    def model_post_init(self, _context: object) -> None:
        if self.map_type is MapType.SPECIFIED and not self.name:
            raise ValueError("map_type 'specified' needs a name")


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def load_certificate(data: bytes) -> x509.Certificate:
    """A PEM or DER certificate."""
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


class CertNameMapper:
    """Applies the cert-to-name list; `ca_certs` are the trusted client CAs (to find the
    issuer whose fingerprint an entry may name)."""

    def __init__(self, entries: Iterable[CertToName],
                 ca_certs: Sequence[x509.Certificate] = ()) -> None:
        self.entries = sorted(entries, key=lambda e: e.id)
        self.ca_certs = list(ca_certs)

    @classmethod
    def from_files(cls, entries: Iterable[CertToName],
                   ca_files: Iterable[Path | None]) -> CertNameMapper:
        cas: list[x509.Certificate] = []
        for path in ca_files:
            if path is not None and path.exists():
                cas.extend(x509.load_pem_x509_certificates(path.read_bytes()))
        return cls(entries, cas)

    def user(self, cert_data: bytes, peer: str = "", interface: str = "") -> str | None:
        """The user the certificate maps to, or None (logged) when none does."""
        try:
            cert = load_certificate(cert_data)
        except ValueError as exc:
            log.warning("client certificate refused", peer=peer, interface=interface,
                        reason=f"unreadable: {exc}")
            return None
        prints = [fingerprint(cert)] + [fingerprint(ca) for ca in self._issuers(cert)]
        for entry in self.entries:
            if not any(hmac.compare_digest(entry.fingerprint, p) for p in prints):
                continue
            name = _name(cert, entry)
            if name:
                return name
        log.warning("client certificate refused", peer=peer, interface=interface,
                    subject=cert.subject.rfc4514_string(), fingerprint=prints[0],
                    reason="no cert-to-name entry maps it")
        return None

    def _issuers(self, cert: x509.Certificate) -> list[x509.Certificate]:
        found = []
        for ca in self.ca_certs:
            if ca.subject != cert.issuer:
                continue
            try:
                cert.verify_directly_issued_by(ca)
            except (ValueError, TypeError, InvalidSignature):
                continue
            found.append(ca)
        return found


def _name(cert: x509.Certificate, entry: CertToName) -> str | None:
    """RFC 7407 §4.1: the name the entry's map-type takes from the certificate."""
    if entry.map_type is MapType.SPECIFIED:
        return entry.name
    if entry.map_type is MapType.COMMON_NAME:
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        value = names[0].value if names else None
        return value if isinstance(value, str) and value else None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    values: list[str] = (san.get_values_for_type(x509.RFC822Name)
                         if entry.map_type is MapType.SAN_RFC822_NAME
                         else san.get_values_for_type(x509.DNSName))
    if not values:
        return None
    value = str(values[0])
    if entry.map_type is MapType.SAN_DNS_NAME:
        return value.lower()  # RFC 7407 §4.1: dNSName converted to lowercase
    local, at, host = value.rpartition("@")  # rfc822Name: the host part lowercase
    return f"{local}{at}{host.lower()}" if at else value
