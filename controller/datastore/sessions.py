"""Who each session is, so that every change of a datastore can name who made it.

The store attributes a change to a session id (locks and confirmed commits need one),
but a notification, an event stream or a commit history must say who that is: RFC 6470
§2.1 `changed-by` carries the user's name, the session id and the host the session came
from, or the `server` case when the server changed the configuration itself. Each
northbound registers its sessions here (NETCONF one per SSH session; RESTCONF and gRPC one
pseudo session per account), so that a change listener, which only receives the session
id, can resolve it without knowing which northbound made the change.

A change by the server itself (session 0) may say why: the code that makes it runs in
`server_change(reason)`. A user's change may carry what its author said about it: the
northbound that makes it runs in `noted(ChangeNote(...))` (a commit's label and comment,
or that it is a rollback). Both are kept per thread, because change listeners and commit
participants run in the thread that made the change (controller/datastore/nmda.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from controller.datastore.locks import SYSTEM_SESSION
from controller.errors import ErrorTag, ErrorType, NetconfError, RpcError

SERVER = "server"   # how histories name the server as the author of a change


@dataclass(frozen=True)
class ChangedBy:
    """RFC 6470 §2.1 `changed-by` of one change: a user's session, or the server.

    `username` None means the server (the `server` case of the choice); `reason` then
    says what the server was doing (self-healing, a confirmed-commit revert, ...)."""

    session_id: int
    username: str | None = None
    source_host: str | None = None
    reason: str | None = None

    @property
    def by_server(self) -> bool:
        return self.username is None

    @property
    def user(self) -> str:
        """The author as a history names it: the user's name, or "server"."""
        return self.username if self.username is not None else SERVER


MAX_LABEL = 256       # sdqn-controller commit-label
MAX_COMMENT = 4096    # sdqn-controller commit-comment


@dataclass(frozen=True)
class ChangeNote:
    """What the author of a change said about it, beside who they are: how the change
    was made (`kind`: commit, rollback; a change without a note is an edit), a short
    label and a free-text comment. RFC 6241 gives a commit no such fields;
    sdqn-controller augments <commit> with them and the commit history keeps them."""

    kind: str
    label: str = ""
    comment: str = ""

    def __post_init__(self) -> None:
        for name, value, limit in (("label", self.label, MAX_LABEL),
                                   ("comment", self.comment, MAX_COMMENT)):
            if len(value) > limit:
                # RFC 6241 Appendix A: a parameter value the server does not accept.
                raise NetconfError(RpcError(
                    tag=ErrorTag.INVALID_VALUE, type=ErrorType.APPLICATION,
                    message=f"{name} longer than {limit} characters",
                    info=(("bad-element", name),)))


@dataclass(frozen=True)
class _Entry:
    username: str
    source_host: str | None


class SessionDirectory:
    """Session id → user and source host, for the sessions of every northbound."""

    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def register(self, session_id: int, username: str, source_host: str | None = None
                 ) -> None:
        """Name the session's user (again: a RESTCONF pseudo session's host changes with
        each request)."""
        if session_id == SYSTEM_SESSION:
            raise ValueError("session 0 is the server itself")
        with self._lock:
            self._entries[session_id] = _Entry(username, source_host or None)

    def unregister(self, session_id: int) -> None:
        with self._lock:
            self._entries.pop(session_id, None)

    def changed_by(self, session_id: int) -> ChangedBy:
        """Who made a change attributed to `session_id`. An id nobody registered (an
        internal caller inventing one) is reported as the server, as RFC 6470 §2.1 has
        no by-user case without a user name."""
        with self._lock:
            entry = self._entries.get(session_id)
        if entry is not None:
            return ChangedBy(session_id, entry.username, entry.source_host)
        if session_id != SYSTEM_SESSION:
            return ChangedBy(session_id)
        return ChangedBy(session_id, reason=getattr(self._local, "reason", None))

    def note(self) -> ChangeNote | None:
        """The note of the change being made in this thread, if its author gave one."""
        note: ChangeNote | None = getattr(self._local, "note", None)
        return note

    @contextmanager
    def noted(self, note: ChangeNote) -> Iterator[None]:
        """Changes made in this thread inside the block carry `note` (nested blocks: the
        innermost note)."""
        outer = getattr(self._local, "note", None)
        self._local.note = note
        try:
            yield
        finally:
            self._local.note = outer

    @contextmanager
    def server_change(self, reason: str) -> Iterator[None]:
        """Changes the server makes in this thread inside the block are made for
        `reason` (nested blocks: the innermost reason)."""
        outer = getattr(self._local, "reason", None)
        self._local.reason = reason
        try:
            yield
        finally:
            self._local.reason = outer
