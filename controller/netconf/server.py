"""`NetconfServer`: NETCONF over SSH (RFC 6241, RFC 6242) in front of one `NmdaStore`.

Why paramiko directly rather than the `netconf` package's server: that server reads each
message whole into memory (a 100 MB message is 100 MB of buffer), closes base:1.0
sessions on any malformed rpc, tracks locks itself (ours live in the store, shared with
RESTCONF), and starts more threads per session than needed. Its useful parts are thin
(an SSH ServerInterface, RFC 6242 framing), so this package has its own: `framing.py`
caps every message at `max_message_size` without buffering past it, `session.py` runs
one thread per session, and the operations map straight onto the store.

Threads: one accept thread per server, per connection one paramiko transport thread and
one session thread, and one notification dispatcher per server once someone subscribes.
Nothing is process-global except the session-id counter and the ephemeral host key, so
hundreds of servers (one per emulated device) coexist in one process.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

import paramiko
import structlog
from lxml import etree

from controller.datastore.apply import JournalOp
from controller.datastore.nmda import Datastore, NmdaStore
from controller.netconf.admission import Admission, Connection
from controller.netconf.authguard import AuthGuard
from controller.netconf.core import Limits, RpcHandler, ServerCore
from controller.netconf.credentials import AuthSettings
from controller.netconf.nacm import Nacm
from controller.netconf.notifications import NETCONF_STREAM, Notifier
from controller.netconf.operations import Operations
from controller.netconf.session import Session
from controller.netconf.ssh import Authenticator, ServerInterface, load_host_key
from controller.netconf.xml import NOTIF_NS
from controller.netconf.yangpush import PushLimits, PushSubscriptions

log = structlog.get_logger(__name__)
_STEP_S = 0.1  # polling step while a connection authenticates and opens its channel


class NetconfServer:
    def __init__(self, store: NmdaStore, *, host: str = "127.0.0.1", port: int = 0,
                 users: Mapping[str, str] | AuthSettings, host_key: Path | None = None,
                 nacm: bool = True, extra_rpcs: Mapping[str, RpcHandler] | None = None,
                 capabilities: Iterable[str] = (), name: str = "sdqn",
                 limits: Limits | None = None, streams: Sequence[str] = (NETCONF_STREAM,),
                 recovery_users: Iterable[str] | None = None,
                 push_limits: PushLimits | None = None,
                 guard: AuthGuard | None = None) -> None:
        """`extra_rpcs` maps "{namespace}name" to handler(session, operation element);
        `nacm=True` needs ietf-netconf-acm in the store's schema (rules read from
        running); recovery users (default: AuthSettings.recovery_users) bypass NACM."""
        self.store = store
        self.host = host
        self.port = port
        self.name = name
        # One brute-force guard for the process (the daemon shares it with RESTCONF and
        # gRPC); by default one of our own when the accounts come from settings.
        self._auth = Authenticator(users, guard=guard if guard is not None else (
            AuthGuard(users.lockout) if isinstance(users, AuthSettings) else None))
        self.guard = self._auth.guard
        recovery = self._auth.recovery_users if recovery_users is None else recovery_users
        self.core = ServerCore(store, name=name,
                               nacm=Nacm(store, recovery_users=recovery) if nacm else None,
                               extra_rpcs=extra_rpcs or {}, capabilities=capabilities,
                               limits=limits or Limits())
        self.core.streams = frozenset({NETCONF_STREAM, *streams})
        self.core.notifier = Notifier(self.core)
        # From construction, not start: a confirmed commit reverted at start-up (RFC 6241
        # §8.4.1), before the server listens, is then in the replay log.
        store.confirm_listeners.append(self.core.notifier.confirmed_commit)
        self._operations = Operations(self.core)
        self.admission = Admission(self.core.limits.sessions, self.core.limits.max_sessions,
                                   recovery)
        # RFC 8639/8641 dynamic subscriptions, when the schema has their modules
        self.push: PushSubscriptions | None = None
        if PushSubscriptions.available(self.core):
            self.push = PushSubscriptions(self.core, self.core.notifier, push_limits)
            table = self._operations.table
            table.update(self.push.handlers())
            create = (NOTIF_NS, "create-subscription")
            table[create] = self.push.guard_create(table[create])
        self._host_key = load_host_key(host_key)
        self._sock: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._transports: set[paramiko.Transport] = set()
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._log = log.bind(server=name)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET,
                             socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(128)
        self._sock = sock
        self.port = sock.getsockname()[1]
        self.store.listeners.append(self._on_change)
        self._accept_thread = threading.Thread(target=self._accept_loop, daemon=True,
                                               name=f"netconf-accept-{self.name}")
        self._accept_thread.start()
        self._log.info("netconf server listening", host=self.host, port=self.port,
                       nacm=self.core.nacm is not None)

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
            self._sock.close()
        if self._accept_thread is not None:
            self._accept_thread.join(timeout=5)
        for session in self.core.all_sessions():
            session.terminate("other")
        with self._lock:
            transports, threads = list(self._transports), list(self._threads)
        for transport in transports:
            transport.close()
        for thread in threads:
            thread.join(timeout=5)
        if self._on_change in self.store.listeners:
            self.store.listeners.remove(self._on_change)
        if self.push is not None:
            self.push.stop()
        if self.core.notifier is not None:
            with contextlib.suppress(ValueError):
                self.store.confirm_listeners.remove(self.core.notifier.confirmed_commit)
            self.core.notifier.stop()
        self.core.close()
        self._log.info("netconf server stopped")

    def __enter__(self) -> NetconfServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- public API ----------------------------------------------------------------------

    def publish(self, content: etree._Element, stream: str = NETCONF_STREAM) -> None:
        """Send an event (e.g. an alarm notification element) to every subscriber of
        `stream`; <eventTime> is added (RFC 5277 §4)."""
        if self.core.notifier is not None:
            self.core.notifier.publish(content, stream)

    @property
    def connections(self) -> int:
        """Open SSH connections (sessions plus those still authenticating)."""
        with self._lock:
            return len(self._threads)

    @property
    def session_thread_deaths(self) -> int:
        """Session or connection threads that ended on an unexpected exception."""
        return self.core.thread_deaths

    def session_ids(self) -> list[int]:
        return sorted(s.session_id for s in self.core.all_sessions())

    @property
    def capabilities(self) -> list[str]:
        return list(self.core.capabilities)

    # -- internals -----------------------------------------------------------------------

    def _on_change(self, ds: Datastore, ops: Sequence[JournalOp], session_id: int) -> None:
        nacm = self.core.nacm
        if nacm is not None and nacm.affected_by(ds, ops):
            nacm.invalidate()
        if self.core.notifier is not None:
            self.core.notifier.config_change(ds, ops, session_id)

    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                conn, addr = self._sock.accept()
            except OSError:
                break
            if self._stopping.is_set():
                conn.close()
                break
            try:
                transport = paramiko.Transport(conn)
            except (paramiko.SSHException, OSError) as exc:
                self._log.info("ssh connection failed", peer=addr[0], error=str(exc))
                conn.close()
                continue
            connection = Connection(peer=addr[0], close=transport.close)
            for old in self.admission.arrive(connection):
                # sshd MaxStartups: the oldest login in a full pool gives way.
                self._log.warning("dropping unauthenticated connection: pre-auth pool full",
                                  peer=old.peer)
                old.close()
            thread = threading.Thread(target=self._serve, args=(conn, transport, connection),
                                      daemon=True, name=f"netconf-session-{self.name}")
            with self._lock:
                self._threads.add(thread)
                self._transports.add(transport)
            thread.start()

    def _serve(self, conn: socket.socket, transport: paramiko.Transport,
               connection: Connection) -> None:
        peer = connection.peer
        try:
            # An rpc-reply often leaves as several SSH packets; with Nagle the last one
            # waits for the peer's delayed ACK (~40 ms on Linux), which would cap a session
            # at ~25 replies/s.
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            transport.add_server_key(self._host_key)
            iface = ServerInterface(self._auth, peer,
                                    lambda user: self._admit(connection, user))
            # With an event, start_server returns at once instead of blocking through key
            # exchange (up to paramiko's 15 s banner timeout): the wait below then bounds
            # the whole login by auth_timeout.
            transport.start_server(event=threading.Event(), server=iface)
            channel = self._wait_channel(transport, iface, connection)
            if channel is None or iface.username is None:
                return
            Session(self.core, self._operations, channel, transport, iface.username,
                    peer).run()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            self._log.info("ssh connection failed", peer=peer, error=str(exc))
        except Exception:
            self.core.count_thread_death()
            self._log.exception("ssh connection thread failed", peer=peer)
        finally:
            transport.close()
            self.admission.leave(connection)
            with self._lock:
                self._transports.discard(transport)
                self._threads.discard(threading.current_thread())

    def _admit(self, connection: Connection, user: str) -> str | None:
        if connection.user is not None:
            return None  # already a session (another channel on the same connection)
        reason = self.admission.authenticated(connection, user)
        if reason is not None:
            self._log.warning("refusing session", peer=connection.peer, user=user,
                              reason=reason)
        return reason

    def _wait_channel(self, transport: paramiko.Transport, iface: ServerInterface,
                      connection: Connection) -> paramiko.Channel | None:
        """The authenticated, admitted netconf channel, or None (peer gone, timeout,
        refused by the session limits, server stop); every refusal is logged.

        paramiko's accept() is not woken by a closing transport, so wait in short steps.
        """
        start = time.monotonic()
        auth_deadline = start + self.core.limits.sessions.auth_timeout
        deadline = start + self.core.limits.hello_timeout
        channel = None
        while transport.is_active() and not self._stopping.is_set():
            now = time.monotonic()
            if iface.refusal is not None:
                time.sleep(_STEP_S)  # lets the channel-open failure reach the peer
                return None
            if iface.username is None and now >= auth_deadline:
                self._log.warning("refusing connection: not authenticated in time",
                                  peer=connection.peer)
                return None
            if now >= deadline:
                self._log.info("ssh connection without a netconf channel",
                               peer=connection.peer)
                return None
            if channel is None:
                channel = transport.accept(timeout=_STEP_S)
            elif iface.subsystem.wait(_STEP_S):
                return channel if connection.user is not None else None
        return None
