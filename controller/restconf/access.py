"""The store as every non-NETCONF northbound sees it: authenticated users, NACM applied.

RESTCONF and gRPC reach the same `NmdaStore`, the same accounts (config netconf.auth) and
the same NACM rules as NETCONF. Rule evaluation stays in `controller.netconf.nacm`; reads
go through the NETCONF server's `ServerCore.read` (so <operational> carries the same
yang-library, monitoring and NACM state, pruned the same way). When the daemon runs a
NETCONF server, its core (with its `Nacm` cache and RFC 8341 counters) is shared; without
one, a private core is built over the same store.

Why a session id per user: RESTCONF has no sessions, but the store attributes locks and
confirmed commits to one (RFC 6241 §8.4). One stable id per account lets a RESTCONF
client confirm its own confirmed commit and makes NETCONF locks apply to RESTCONF edits.
The id is registered in the store's session directory with the account's name and the
address of the client whose request is being served (`from_host`), so a change names
its author (RFC 6470 §2.1 changed-by) whichever northbound made it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from controller.datastore.apply import JournalOp
from controller.datastore.editnode import EditNode, Operation
from controller.datastore.nmda import Datastore, EditResult, NmdaStore
from controller.datastore.sessions import ChangeNote
from controller.datastore.tree import Forest
from controller.errors import ErrorTag, ErrorType, NetconfError
from controller.netconf.authguard import AuthGuard
from controller.netconf.certname import CertNameMapper
from controller.netconf.core import Limits, ServerCore, next_session_id
from controller.netconf.credentials import AuthSettings
from controller.netconf.nacm import Nacm, UserAccess, access_denied
from controller.netconf.ssh import Authenticator

_CACHE_TTL_S = 300.0
#: the client address of the request this thread serves (RESTCONF, gRPC)
_client_host: ContextVar[str | None] = ContextVar("client_host", default=None)


class CredentialCache:
    """Remembers verified passwords for a while: a pbkdf2 hash costs ~0.1 s per check,
    which an HTTP client paying it on every request could never afford. Entries are
    HMACs under a per-process key, so the cache never holds a password."""

    def __init__(self, auth: Authenticator, ttl_s: float = _CACHE_TTL_S) -> None:
        self.auth = auth
        self.ttl_s = ttl_s
        self._key = secrets.token_bytes(32)
        self._ok: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def check(self, username: str, password: str) -> bool:
        digest = hmac.new(self._key, f"{username}\0{password}".encode(),
                          hashlib.sha256).digest()
        now = time.monotonic()
        with self._lock:
            expiry = self._ok.get(digest)
            if expiry is not None and expiry > now:
                return True
        if not self.auth.check_password(username, password):
            return False
        with self._lock:
            if len(self._ok) > 4096:
                self._ok = {k: v for k, v in self._ok.items() if v > now}
            self._ok[digest] = now + self.ttl_s
        return True


class DataAccess:
    """NACM-checked reads, edits, datastore replacement and candidate operations."""

    def __init__(self, store: NmdaStore, *, users: Mapping[str, str] | AuthSettings,
                 core: ServerCore | None = None, nacm: bool = True,
                 recovery_users: Sequence[str] | None = None,
                 guard: AuthGuard | None = None,
                 cert_names: CertNameMapper | None = None) -> None:
        """`guard`: the brute-force guard to share (the NETCONF server's); by default one
        of our own when `users` are settings. `cert_names`: client certificate -> user
        for HTTPS with client certificates (none: certificates identify nobody)."""
        self.store = store
        self.authenticator = Authenticator(users, guard=guard if guard is not None else (
            AuthGuard(users.lockout) if isinstance(users, AuthSettings) else None))
        self.cert_names = cert_names
        self.credentials = CredentialCache(self.authenticator)
        self._own_core = core is None
        if core is None:
            recovery = (self.authenticator.recovery_users if recovery_users is None
                        else recovery_users)
            core = ServerCore(store, name="northbound",
                              nacm=Nacm(store, recovery_users=recovery) if nacm else None,
                              extra_rpcs={}, capabilities=(), limits=Limits())
            store.listeners.append(self._on_change)
        self.core = core
        self._sessions: dict[str, int] = {}
        self._lock = threading.Lock()
        self.commit_observers: list[Callable[[float], None]] = []  # seconds per commit

    def close(self) -> None:
        """Release what the per-user sessions hold (locks, unconfirmed commits)."""
        with self._lock:
            ids, self._sessions = list(self._sessions.values()), {}
        for session_id in ids:
            self.store.sessions.unregister(session_id)
            self.store.session_closed(session_id)
        if self._own_core:
            if self._on_change in self.store.listeners:
                self.store.listeners.remove(self._on_change)
            self.core.close()

    def _on_change(self, ds: Datastore, ops: Sequence[JournalOp], _session: int) -> None:
        nacm = self.core.nacm
        if nacm is not None and nacm.affected_by(ds, ops):
            nacm.invalidate()

    # -- identity ------------------------------------------------------------------------

    def check_password(self, username: str, password: str) -> bool:
        return self.credentials.check(username, password)

    def authenticate_password(self, username: str, password: str, peer: str,
                              interface: str = "restconf") -> bool:
        """`check_password` under the brute-force guard (per user and client address)."""
        return self.authenticator.guarded(
            username, peer, interface, lambda: self.credentials.check(username, password))

    @staticmethod
    @contextmanager
    def from_host(host: str | None) -> Iterator[None]:
        """Changes made in this block come from a client at `host` (its IP address)."""
        token = _client_host.set(host)
        try:
            yield
        finally:
            _client_host.reset(token)

    def session_id(self, username: str) -> int:
        """The account's pseudo session, (re)registered with the current client's host.
        Callers about to change a datastore hold the store lock, so the change's
        listeners see this host and no other request's."""
        with self._lock:
            found = self._sessions.get(username)
            if found is None:
                found = self._sessions[username] = next_session_id()
        self.store.sessions.register(found, username, _client_host.get())
        return found

    def access(self, username: str) -> UserAccess | None:
        return self.core.access(username)

    # -- reads ---------------------------------------------------------------------------

    def read(self, ds: Datastore, xpaths: list[str] | None, username: str, *,
             with_origin: bool = False) -> Forest:
        """A private forest (caller frees it) with what the user may read."""
        return self.core.read(ds, xpaths, username=username, with_origin=with_origin)

    # -- operations ------------------------------------------------------------------------

    def require_rpc(self, username: str, module: str, name: str) -> None:
        """RFC 8341 §3.4.4 for an operation invoked over this northbound."""
        access = self.access(username)
        if access is not None and not access.rpc_allowed(module, name):
            if self.core.nacm is not None:
                self.core.nacm.denied_operations += 1
            raise access_denied(f"access to operation {module}:{name} denied",
                                type=ErrorType.PROTOCOL)

    def _guard(self, check: Callable[[UserAccess], None], username: str) -> None:
        access = self.access(username)
        if access is None:
            return
        try:
            check(access)
        except NetconfError as err:
            if err.first.tag is ErrorTag.ACCESS_DENIED and self.core.nacm is not None:
                self.core.nacm.denied_data_writes += 1
            raise

    # -- writes --------------------------------------------------------------------------

    def edit(self, ds: Datastore, nodes: Sequence[EditNode], username: str, *,
             default_operation: Operation = Operation.NONE) -> EditResult:
        """Apply parsed edit trees atomically after the NACM write check (RFC 8341 §3.4.5)."""
        with self.store.atomic():
            self._guard(lambda a: a.check_edit(self.store.forest(ds), nodes, default_operation),
                        username)
            return self.store.edit(ds, nodes, default_operation=default_operation,
                                   session_id=self.session_id(username))

    def replace(self, ds: Datastore, content: str, fmt: str, username: str) -> None:
        """Replace a whole datastore (RESTCONF PUT on the datastore resource)."""
        with self.store.atomic():
            self._check_replace(ds, lambda: Forest.parse(self.store.schema, content, fmt),
                                username)
            self.store.copy(ds, content=content, fmt=fmt, session_id=self.session_id(username))

    def _check_replace(self, target: Datastore, new: Callable[[], Forest],
                       username: str) -> None:
        access = self.access(username)
        if access is None or access.writes_unrestricted:
            return
        old, fresh = self.store.view(target), new()
        try:
            self._guard(lambda a: a.check_replace(old, fresh), username)
        finally:
            old.free()
            fresh.free()

    def commit(self, username: str, *, confirmed: bool = False, confirm_timeout: int = 600,
               persist: str | None = None, persist_id: str | None = None,
               note: ChangeNote | None = None) -> list[JournalOp]:
        """candidate → running (RFC 6241 §8.3.4.1), the diff checked against NACM; the
        change of running carries `note` (default: a commit without label)."""
        start = time.perf_counter()
        with self.store.atomic(), self.store.sessions.noted(note or ChangeNote("commit")):
            if self.store.candidate_dirty:
                self._check_replace(Datastore.RUNNING,
                                    lambda: self.store.view(Datastore.CANDIDATE), username)
            ops = self.store.commit(session_id=self.session_id(username), confirmed=confirmed,
                                    confirm_timeout=confirm_timeout, persist=persist,
                                    persist_id=persist_id)
        for observe in self.commit_observers:
            observe(time.perf_counter() - start)
        return ops

    def discard(self, username: str) -> None:
        access = self.access(username)
        with self.store.atomic():
            if access is not None and access.scope is not None:
                # a tenant may drop its own edits of the shared candidate only
                self._check_replace(Datastore.CANDIDATE,
                                    lambda: self.store.view(Datastore.RUNNING), username)
            self.store.discard_changes(session_id=self.session_id(username))

    def cancel_commit(self, username: str, persist_id: str | None = None) -> None:
        with self.store.atomic():
            self.store.cancel_commit(session_id=self.session_id(username),
                                     persist_id=persist_id)
