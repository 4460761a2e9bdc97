"""Per-datastore locks owned by sessions (RFC 6241 §7.5, §7.6; RFC 8526 §2 for NMDA)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from controller.errors import ErrorTag, ErrorType, NetconfError, RpcError

SYSTEM_SESSION = 0  # internal writers (the controller itself); never holds a lock


@dataclass(frozen=True)
class LockHolder:
    session_id: int
    datastore: str


class LockTable:
    def __init__(self) -> None:
        self._held: dict[str, int] = {}
        self._mutex = threading.Lock()

    def holder(self, datastore: str) -> int | None:
        return self._held.get(datastore)

    def lock(self, datastore: str, session_id: int) -> None:
        with self._mutex:
            owner = self._held.get(datastore)
            if owner is not None:
                # RFC 6241 §7.5: lock-denied, error-info carries the holder's session-id
                # (0 when a non-NETCONF entity holds it).
                raise NetconfError(RpcError(
                    tag=ErrorTag.LOCK_DENIED, type=ErrorType.PROTOCOL,
                    message=f"{datastore} is already locked by session {owner}",
                    info=(("session-id", str(owner)),)))
            self._held[datastore] = session_id

    def unlock(self, datastore: str, session_id: int) -> None:
        with self._mutex:
            owner = self._held.get(datastore)
            if owner != session_id:
                # RFC 6241 §7.6: unlocking a lock not held by this session fails.
                raise NetconfError(RpcError(
                    tag=ErrorTag.OPERATION_FAILED, type=ErrorType.PROTOCOL,
                    message=(f"{datastore} is not locked" if owner is None
                             else f"{datastore} is locked by session {owner}, not by this one"),
                    info=(("session-id", str(owner if owner is not None else 0)),)))
            del self._held[datastore]

    def check_write(self, datastore: str, session_id: int) -> None:
        """A lock held by another session blocks every write to the datastore."""
        owner = self._held.get(datastore)
        if owner is not None and owner != session_id:
            raise NetconfError(RpcError(
                tag=ErrorTag.IN_USE, type=ErrorType.PROTOCOL,
                message=f"{datastore} is locked by session {owner}",
                info=(("session-id", str(owner)),)))

    def release_session(self, session_id: int) -> list[str]:
        """RFC 6241 §7.5: locks are released when their session ends (incl. kill-session)."""
        with self._mutex:
            released = [ds for ds, owner in self._held.items() if owner == session_id]
            for ds in released:
                del self._held[ds]
        return released
