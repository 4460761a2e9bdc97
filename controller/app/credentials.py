"""Northbound credentials at start-up: no usable default secret in production.

The shipped controller.json names no account. A daemon started without configured
accounts generates random passwords (admin, operator) and gRPC tokens, writes them to
`<data_dir>/credentials.json` (mode 0600) and shows them once on stderr; later starts
read that file. Any configured credential equal to a well-known one (admin/admin,
operator/operator, tokens "admin"/"operator") is reported with a start-up warning.
`sdqn demo` and the benchmarks use the well-known demo credentials on purpose
(`use_demo_credentials`), and say so.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from pathlib import Path

import structlog
import typer
from pydantic import BaseModel, ConfigDict, Field

from controller.app.files import write_private
from controller.netconf.credentials import GrpcToken, NetconfUser
from controller.netconf.ssh import hash_password, verify_password_hash
from controller.settings import ControllerSettings

log = structlog.get_logger(__name__)

#: the accounts of the NACM default rules (config/nacm.json)
ACCOUNTS = ("admin", "operator")
#: user -> the password/token everybody knows (old shipped config, demo)
KNOWN_DEFAULTS = {"admin": "admin", "operator": "operator"}
GENERATED_FILE = "credentials.json"


class GeneratedCredentials(BaseModel):
    """`<data_dir>/credentials.json`: what a first start generated (plain text, 0600)."""

    model_config = ConfigDict(extra="forbid")

    users: list[NetconfUser] = Field(default_factory=list)
    grpc_tokens: list[GrpcToken] = Field(default_factory=list)


def use_demo_credentials(settings: ControllerSettings) -> None:
    """admin/admin, operator/operator, tokens "admin"/"operator" and devices logged in
    to as admin/admin: for `sdqn demo`, benchmarks and tests on loopback only, never a
    management network."""
    settings.netconf.auth.users = [NetconfUser(name=n, password=p)
                                   for n, p in KNOWN_DEFAULTS.items()]
    settings.grpc.tokens = [GrpcToken(user=n, token=p) for n, p in KNOWN_DEFAULTS.items()]
    # the emulated devices' account (`sdqn sim run`), unless an inventory names another
    settings.service.device_username, settings.service.device_password = "admin", "admin"


def ensure_credentials(settings: ControllerSettings) -> Path | None:
    """Accounts and tokens when the configuration has none: read from, or on first start
    generated into, the data directory. The file's path when it was used."""
    if settings.netconf.auth.users:
        return None
    path = settings.datastore.data_dir / GENERATED_FILE
    if path.exists():
        generated = GeneratedCredentials.model_validate(json.loads(path.read_text()))
        if path.stat().st_mode & 0o077:
            log.warning("credentials file readable by others: chmod 600", path=str(path))
    else:
        generated = _generate()
        write_private(path, generated.model_dump_json(indent=2, exclude_defaults=True) + "\n")
        _show_once(generated, path)
    # Kept as hashes in memory: a plaintext account answers faster than the KDF run an
    # unknown user costs, which would tell which names exist.
    settings.netconf.auth.users = [
        NetconfUser(name=u.name, password_hash=hash_password(u.password))
        if u.password else u for u in generated.users]
    if not settings.grpc.tokens:
        settings.grpc.tokens = list(generated.grpc_tokens)
    log.info("northbound credentials from the data directory", path=str(path))
    return path


def _generate() -> GeneratedCredentials:
    return GeneratedCredentials(
        users=[NetconfUser(name=n, password=secrets.token_urlsafe(15)) for n in ACCOUNTS],
        grpc_tokens=[GrpcToken(user=n, token=secrets.token_urlsafe(24)) for n in ACCOUNTS])


def _show_once(generated: GeneratedCredentials, path: Path) -> None:
    """On the terminal (stderr), not in the log: logs are kept and shipped."""
    lines = [f"sdqn: first start, generated credentials (saved in {path}, mode 0600):"]
    lines += [f"  NETCONF/RESTCONF user {u.name!r} password {u.password}"
              for u in generated.users]
    lines += [f"  gRPC token for {t.user!r}: {t.token}" for t in generated.grpc_tokens]
    typer.echo("\n".join(lines), err=True)
    log.warning("generated northbound credentials on first start; shown once on stderr",
                path=str(path))


def warn_default_credentials(settings: ControllerSettings) -> list[str]:
    """One start-up warning per configured credential everybody knows; the findings."""
    found: list[str] = []
    for user in settings.netconf.auth.users:
        if any(_password_is(user, known) for known in {user.name, *KNOWN_DEFAULTS.values()}):
            found.append(f"user {user.name}")
    for token in settings.grpc.tokens:
        if any(_token_is(token, known) for known in KNOWN_DEFAULTS.values()):
            found.append(f"grpc token of {token.user}")
    svc = settings.service
    if svc.device_password is not None and svc.device_password in KNOWN_DEFAULTS.values():
        found.append("service.device_password")
    for what in found:
        log.warning("well-known default credential configured: change it before exposing "
                    "the controller", credential=what)
    return found


def _password_is(user: NetconfUser, candidate: str) -> bool:
    if user.password is not None:
        return hmac.compare_digest(user.password.encode(), candidate.encode())
    return bool(user.password_hash) and verify_password_hash(candidate, user.password_hash or "")


def _token_is(token: GrpcToken, candidate: str) -> bool:
    if token.token is not None:
        return hmac.compare_digest(token.token.encode(), candidate.encode())
    if token.token_sha256:
        return hmac.compare_digest(token.token_sha256.lower(),
                                   hashlib.sha256(candidate.encode()).hexdigest())
    return bool(token.token_hash) and verify_password_hash(candidate, token.token_hash or "")
