"""Who may connect to a northbound server, and with what credentials.

Server-core layer: the NETCONF server, RESTCONF and gRPC take these models as arguments;
the daemon's settings (controller/settings.py) embed them in controller.json.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from controller.netconf.authguard import LockoutSettings
from controller.netconf.certname import CertToName


class NetconfUser(BaseModel):
    """One SSH account of the NETCONF server (its NACM groups live in /nacm)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    password: str | None = Field(default=None, description="plaintext (tests, development)")
    password_hash: str | None = Field(
        default=None, description="pbkdf2_sha256$<iterations>$<salt b64>$<hash b64>")
    authorized_keys: list[str] = Field(default_factory=list,
                                       description="OpenSSH public key lines")


class AuthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    users: list[NetconfUser] = Field(default_factory=list)
    recovery_users: list[str] = Field(
        default_factory=lambda: ["admin"],
        description="RFC 8341 §3.4 recovery sessions: never subject to NACM")
    lockout: LockoutSettings = Field(default_factory=LockoutSettings,
                                     description="brute-force limits of every northbound")
    cert_to_name: list[CertToName] = Field(
        default_factory=list,
        description="client certificate -> user (RFC 7407 cert-to-name) for RESTCONF and "
                    "gRPC mutual TLS; a certificate no entry maps is refused")


class TlsSettings(BaseModel):
    """Server certificate for a northbound; relative paths resolve against the directory
    of the config file that names them."""

    model_config = ConfigDict(extra="forbid")

    cert_file: Path = Field(description="PEM certificate chain")
    key_file: Path = Field(description="PEM private key")
    client_ca_file: Path | None = Field(default=None,
                                        description="PEM CAs of accepted client certificates")
    require_client_cert: bool = Field(default=False,
                                      description="mTLS: netconf.auth.cert_to_name maps the "
                                                  "certificate to a user")


class GrpcToken(BaseModel):
    """A bearer token of the gRPC API, mapped to a NETCONF/NACM user name."""

    model_config = ConfigDict(extra="forbid")

    user: str = Field(min_length=1)
    token: str | None = Field(default=None, description="plaintext (tests, development)")
    token_hash: str | None = Field(
        default=None, description="pbkdf2_sha256$<iterations>$<salt b64>$<hash b64> "
                                  "(controller.netconf.ssh.hash_password)")
    token_sha256: str | None = Field(default=None,
                                     description="deprecated: unsalted hex SHA-256 of the "
                                                 "token (weak; use token_hash)")
