"""SSH side of the server (RFC 6242 §3): host key, user authentication, the netconf
subsystem. paramiko provides the SSH transport; one paramiko thread runs per connection.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import paramiko
import structlog

import controller.netconf.ssh_mac  # noqa: F401  (paramiko's MAC check in C)
from controller.netconf.authguard import AuthGuard
from controller.netconf.credentials import AuthSettings, NetconfUser

log = structlog.get_logger(__name__)

_PBKDF2_ITERATIONS = 200_000
# paramiko is untyped: name its result codes once, typed.
AUTH_OK: int = paramiko.AUTH_SUCCESSFUL
AUTH_FAILED: int = paramiko.AUTH_FAILED
OPEN_OK: int = paramiko.OPEN_SUCCEEDED
OPEN_REFUSED: int = paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
OPEN_NO_RESOURCES: int = paramiko.OPEN_FAILED_RESOURCE_SHORTAGE
_key_lock = threading.Lock()
_ephemeral: paramiko.PKey | None = None


def hash_password(password: str, *, iterations: int = _PBKDF2_ITERATIONS) -> str:
    """A `password_hash` value for config/controller.json."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return (f"pbkdf2_sha256${iterations}${base64.b64encode(salt).decode()}"
            f"${base64.b64encode(digest).decode()}")


def verify_password_hash(password: str, encoded: str) -> bool:
    try:
        scheme, iterations, salt, digest = encoded.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        computed = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt),
                                       int(iterations))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(computed, base64.b64decode(digest))


def parse_public_key(line: str) -> paramiko.PKey:
    """A key from an OpenSSH authorized_keys line ("ssh-ed25519 AAAA... comment")."""
    parts = line.split()
    if len(parts) < 2:
        raise ValueError(f"not an OpenSSH public key line: {line[:40]!r}")
    return paramiko.PKey.from_type_string(parts[0], base64.b64decode(parts[1]))


@dataclass
class Account:
    name: str
    password: str | None = None
    password_hash: str | None = None
    keys: list[bytes] = field(default_factory=list)  # public key blobs


class Authenticator:
    """Checks SSH credentials against the configured accounts."""

    def __init__(self, users: Mapping[str, str] | AuthSettings, *,
                 guard: AuthGuard | None = None) -> None:
        self.accounts: dict[str, Account] = {}
        #: brute-force limits; None (emulated devices, unit tests) counts nothing
        self.guard = guard
        if isinstance(users, AuthSettings):
            for user in users.users:
                self.accounts[user.name] = _account(user)
            self.recovery_users = frozenset(users.recovery_users)
        else:
            for name, password in users.items():
                self.accounts[name] = Account(name=name, password=password)
            self.recovery_users = frozenset(AuthSettings().recovery_users)

    def check_password(self, username: str, password: str) -> bool:
        """Constant time in what matters: an unknown user costs the same KDF run as a
        known one, so response times do not reveal which accounts exist."""
        account = self.accounts.get(username)
        if account is None or not password:
            verify_password_hash(password or "-", _dummy_hash())
            return False
        if account.password_hash:
            return verify_password_hash(password, account.password_hash)
        if account.password is not None:
            return hmac.compare_digest(account.password.encode(), password.encode())
        return False

    def check_key(self, username: str, key: paramiko.PKey) -> bool:
        account = self.accounts.get(username)
        return account is not None and key.asbytes() in account.keys

    def guarded(self, username: str, peer: str, interface: str,
                check: Callable[[], bool]) -> bool:
        """`check()` under the brute-force guard: refused unchecked while (user, peer)
        is locked out, failures counted, a success resets the count."""
        guard = self.guard
        if guard is None:
            return check()
        if guard.locked(username, peer, interface):
            return False
        if check():
            guard.success(username, peer)
            return True
        guard.failure(username, peer, interface)
        return False


_dummy: list[str] = []


def _dummy_hash() -> str:
    """A hash of a random password, verified for unknown users (same cost, never true)."""
    if not _dummy:
        _dummy.append(hash_password(secrets.token_urlsafe(16)))
    return _dummy[0]


def _account(user: NetconfUser) -> Account:
    keys = []
    for line in user.authorized_keys:
        try:
            keys.append(parse_public_key(line).asbytes())
        except (ValueError, paramiko.SSHException) as exc:
            log.warning("ignoring unreadable public key", user=user.name, error=str(exc))
    return Account(name=user.name, password=user.password, password_hash=user.password_hash,
                   keys=keys)


class ServerInterface(paramiko.ServerInterface):  # type: ignore[misc]
    """paramiko callbacks for one connection: auth, one session channel, netconf only."""

    def __init__(self, auth: Authenticator, peer: str = "",
                 admit: Callable[[str], str | None] | None = None) -> None:
        """`peer` is the client's address (failures are counted per user and address);
        `admit(user)` decides whether an authenticated user may open its session
        channel: None, or the reason for refusing (session limits, admission.py)."""
        self.auth = auth
        self.peer = peer
        self._key_failure_counted = False
        self.username: str | None = None
        self.subsystem = threading.Event()
        self.admit = admit
        self.refusal: str | None = None

    def get_allowed_auths(self, username: str) -> str:
        return "publickey,password"

    def check_auth_password(self, username: str, password: str) -> int:
        if self.auth.guarded(username, self.peer, "ssh",
                             lambda: self.auth.check_password(username, password)):
            self.username = username
            return AUTH_OK
        log.info("ssh password rejected", user=username)
        return AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        guard = self.auth.guard
        if guard is not None and guard.locked(username, self.peer, "ssh"):
            return AUTH_FAILED
        if self.auth.check_key(username, key):
            if guard is not None:
                guard.success(username, self.peer)
            self.username = username
            return AUTH_OK
        # Clients offer every key they hold before trying a password (and paramiko asks
        # about each key before its signature), so a refused key counts once per
        # connection: a key-guessing attacker still pays a failure per connection.
        if guard is not None and not self._key_failure_counted:
            self._key_failure_counted = True
            guard.failure(username, self.peer, "ssh")
        return AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind != "session":
            return OPEN_REFUSED
        if self.admit is not None:
            # RFC 4254 §5.1: a session over the limits is refused as resource shortage
            if self.username is None:
                return OPEN_REFUSED
            self.refusal = self.admit(self.username)
            if self.refusal is not None:
                return OPEN_NO_RESOURCES
        return OPEN_OK

    def check_channel_subsystem_request(self, channel: paramiko.Channel, name: str) -> bool:
        if name != "netconf":  # RFC 6242 §3: the "netconf" subsystem only
            return False
        self.subsystem.set()
        return True


def load_host_key(path: Path | None) -> paramiko.PKey:
    """The server's host key: read from `path`, generated there on first start (ECDSA
    P-256, mode 0600). Without a path, one ephemeral key is shared by the process."""
    global _ephemeral
    with _key_lock:
        if path is None:
            if _ephemeral is None:
                _ephemeral = paramiko.ECDSAKey.generate()
            return _ephemeral
        if path.exists():
            return paramiko.PKey.from_path(path)
        key = paramiko.ECDSAKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            key.write_private_key(handle)
        os.replace(tmp, path)
        log.info("generated SSH host key", path=str(path), fingerprint=key.fingerprint)
        return key
