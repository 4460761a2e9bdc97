"""One NETCONF session over an SSH channel: hello exchange, the rpc loop, termination.

Exactly one thread reads the channel and answers rpcs in order (RFC 6241 §4.1 keeps
replies in request order); notifications are written by the server's dispatcher thread,
so every write holds the session's write lock and sends one whole framed message.

Bad input never reaches the datastore: a message that is too big, badly framed or not
XML is answered (when the framing still allows it) and, when the message boundary or the
protocol version makes recovery impossible, the session is closed. Nothing here can
stop another session or the server.
"""

from __future__ import annotations

import contextlib
import threading
import time

import paramiko
import structlog
from lxml import etree

from controller.errors import ErrorTag, ErrorType, NetconfError, RpcError
from controller.netconf.contracts import RpcDispatcher, SessionClosing, Subscription
from controller.netconf.core import ServerCore, next_session_id, now_iso
from controller.netconf.framing import (
    FrameReader,
    FramingError,
    MessageTooBig,
    PeerClosed,
    frame,
    message_id_of,
)
from controller.netconf.xml import (
    NC_NS,
    build_reply,
    children,
    make_parser,
    parse_message,
    qname,
    render_errors,
)

log = structlog.get_logger(__name__)

BASE_10 = "urn:ietf:params:netconf:base:1.0"
BASE_11 = "urn:ietf:params:netconf:base:1.1"
HELLO_MAX = 1024 * 1024
POLL_S = 5.0          # channel timeout: how often an idle reader wakes up



class Session:
    def __init__(self, core: ServerCore, operations: RpcDispatcher, channel: paramiko.Channel,
                 transport: paramiko.Transport, username: str, source_host: str) -> None:
        self.core = core
        self.operations = operations
        self.session_id = next_session_id()
        self.username = username
        self.source_host = source_host
        self.login_time = now_iso()
        self.subscription: Subscription | None = None
        self.in_rpcs = self.in_bad_rpcs = self.out_rpc_errors = self.out_notifications = 0
        self._chan = channel
        self._transport = transport
        self._reader = FrameReader(self._chan.recv, min(core.limits.max_message_size,
                                                        HELLO_MAX))
        self._parser = make_parser()
        self._write_lock = threading.Lock()
        self._closed = threading.Event()
        self.termination_reason = "dropped"
        self.killed_by: int | None = None
        self._log = log.bind(server=core.name, session=self.session_id, user=username)

    @property
    def chunked(self) -> bool:
        return self._reader.chunked

    # -- lifecycle -----------------------------------------------------------------------

    def run(self) -> None:
        registered = False
        try:
            self._chan.settimeout(POLL_S)
            self._send_hello()
            if not self._receive_hello():
                self.core.stats.in_bad_hellos += 1
                self.termination_reason = "bad-hello"
                return
            self._reader.max_size = self.core.limits.max_message_size
            with self.core.sessions_lock:
                self.core.sessions[self.session_id] = self
                self.core.stats.in_sessions += 1
            # RFC 6470 §2.1: changes this session makes name its user and host.
            self.core.store.sessions.register(self.session_id, self.username, self.source_host)
            registered = True
            self._log.info("netconf session started", host=self.source_host,
                           framing="1.1" if self.chunked else "1.0")
            if self.core.notifier is not None:
                self.core.notifier.session_start(self)
            self._loop()
        except (PeerClosed, EOFError, OSError, paramiko.SSHException) as exc:
            if not self._closed.is_set():
                self._log.info("netconf session dropped", reason=str(exc) or type(exc).__name__)
        except Exception:
            # Never a silent death: logged and counted (ServerCore.thread_deaths), the
            # session's locks and pending confirmed commit released as on any close.
            self.core.count_thread_death()
            self._log.exception("netconf session thread failed")
            self.termination_reason = "other"
        finally:
            self._finish(registered)

    def _finish(self, registered: bool) -> None:
        self._closed.set()
        try:
            # RFC 6241 §7.5/§8.4.1: locks are released, an unconfirmed commit reverted
            # (while the session is still listed: the RFC 6470 cancel event names it).
            self.core.store.session_closed(self.session_id)
        except Exception:
            self._log.exception("releasing session resources failed")
        if registered:
            self.core.store.sessions.unregister(self.session_id)
            with self.core.sessions_lock:
                self.core.sessions.pop(self.session_id, None)
                if self.termination_reason == "dropped":
                    self.core.stats.dropped_sessions += 1
        if registered:
            self._log.info("netconf session ended", reason=self.termination_reason)
            if self.core.notifier is not None:
                self.core.notifier.session_end(self, self.termination_reason, self.killed_by)
        self._close_transport()

    def terminate(self, reason: str, killed_by: int | None = None) -> None:
        """End the session from any thread (kill-session, server stop)."""
        if self._closed.is_set():
            return
        self.termination_reason = reason
        self.killed_by = killed_by
        self._closed.set()
        self._close_transport()

    def _close_transport(self) -> None:
        try:
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                self._chan.close()  # fails when the peer is already gone
        finally:
            self._transport.close()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    # -- hello (RFC 6241 §8.1) -----------------------------------------------------------

    def _send_hello(self) -> None:
        hello = etree.Element(f"{{{NC_NS}}}hello", nsmap={None: NC_NS})
        caps = etree.SubElement(hello, f"{{{NC_NS}}}capabilities")
        for uri in self.core.capabilities:
            etree.SubElement(caps, f"{{{NC_NS}}}capability").text = uri
        etree.SubElement(hello, f"{{{NC_NS}}}session-id").text = str(self.session_id)
        self._write(b'<?xml version="1.0" encoding="UTF-8"?>' + etree.tostring(hello))

    def _receive_hello(self) -> bool:
        deadline = time.monotonic() + self.core.limits.hello_timeout
        while True:
            self._chan.settimeout(max(0.05, min(POLL_S, deadline - time.monotonic())))
            try:
                data = self._reader.read()
                break
            except TimeoutError:
                if time.monotonic() >= deadline:
                    self._log.info("no hello before timeout")
                    return False
            except (FramingError, MessageTooBig) as exc:
                self._log.info("bad hello", error=str(exc))
                return False
        self._chan.settimeout(POLL_S)
        try:
            root = parse_message(data, self._parser)
        except NetconfError:
            self._log.info("hello is not well-formed XML")
            return False
        if qname(root) != (NC_NS, "hello"):
            self._log.info("first message is not a hello", element=root.tag)
            return False
        if root.find(f"{{{NC_NS}}}session-id") is not None:
            return False  # §8.1: a client must not send a session-id
        caps = {(c.text or "").strip()
                for c in root.iterfind(f"{{{NC_NS}}}capabilities/{{{NC_NS}}}capability")}
        if BASE_11 in caps:
            self._reader.chunked = True  # RFC 6242 §4.1
        elif BASE_10 not in caps:
            self._log.info("no common base capability")
            return False
        return True

    # -- rpc loop --------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._closed.is_set():
            try:
                data = self._reader.read()
            except TimeoutError:
                continue
            except MessageTooBig as exc:
                self._too_big(exc)
                return
            except FramingError as exc:
                # RFC 6242 §4.2: the message boundary is lost, nothing can be answered.
                self._log.warning("framing error, closing session", error=str(exc))
                self.termination_reason = "other"
                return
            try:
                self._handle(data)
            except SessionClosing:
                return
            except (OSError, EOFError, paramiko.SSHException):
                raise  # the channel is gone: run() ends the session
            except Exception as exc:
                # Outside an operation (parsing, the reply envelope): the rpc still gets
                # an answer (RFC 6241 App. A operation-failed) and the session lives on.
                self._log.exception("rpc failed outside its handler")
                self.core.stats.in_bad_rpcs += 1
                self._send_errors(None, [RpcError(tag=ErrorTag.OPERATION_FAILED,
                                                  type=ErrorType.RPC,
                                                  message=f"internal error: {exc}")],
                                  message_id_of(data[:4096]))

    def _too_big(self, exc: MessageTooBig) -> None:
        self.in_bad_rpcs += 1
        self.core.stats.in_bad_rpcs += 1
        error = RpcError(tag=ErrorTag.TOO_BIG, type=ErrorType.RPC,
                         message=f"message larger than {exc.limit} bytes; session closed")
        self._log.warning("message too big, closing session", limit=exc.limit)
        self._send_errors(None, [error], message_id_of(exc.head))
        self.termination_reason = "other"

    def _handle(self, data: bytes) -> None:
        try:
            rpc = parse_message(data, self._parser)
            if qname(rpc) != (NC_NS, "rpc"):
                raise NetconfError.of(ErrorTag.MALFORMED_MESSAGE,
                                      f"expected <rpc>, got <{etree.QName(rpc).localname}>",
                                      type=ErrorType.RPC)
        except NetconfError as err:
            self.in_bad_rpcs += 1
            self.core.stats.in_bad_rpcs += 1
            if not self.chunked:
                # malformed-message must not be sent to base:1.0 peers (RFC 6241 App. A)
                self._log.info("malformed message on a base:1.0 session, closing")
                self.termination_reason = "other"
                raise SessionClosing from None
            self._send_errors(None, err.errors, message_id_of(data[:4096]))
            return
        if rpc.get("message-id") is None:
            # RFC 6241 §4.1: message-id is mandatory.
            self.in_bad_rpcs += 1
            self.core.stats.in_bad_rpcs += 1
            self._send_errors(rpc, [RpcError(
                tag=ErrorTag.MISSING_ATTRIBUTE, type=ErrorType.RPC,
                message="<rpc> has no message-id attribute",
                info=(("bad-attribute", "message-id"), ("bad-element", "rpc")))])
            return
        self.in_rpcs += 1
        self.core.stats.in_rpcs += 1
        ops = list(children(rpc))
        try:
            if len(ops) != 1:
                raise NetconfError.of(ErrorTag.MALFORMED_MESSAGE if not ops
                                      else ErrorTag.UNKNOWN_ELEMENT,
                                      "<rpc> must contain exactly one operation",
                                      type=ErrorType.RPC)
            body = self.operations.dispatch(self, ops[0])
        except NetconfError as err:
            self._send_errors(rpc, err.errors)
            return
        except SessionClosing:
            self._write(build_reply(rpc, b"<ok/>"))
            raise
        except Exception as exc:  # a bug must cost one rpc, not the session
            self._log.exception("rpc handler failed")
            self._send_errors(rpc, [RpcError(tag=ErrorTag.OPERATION_FAILED,
                                             message=f"internal error: {exc}")])
            return
        self._write(build_reply(rpc, body))

    def _send_errors(self, rpc: etree._Element | None, errors: tuple[RpcError, ...]
                     | list[RpcError], message_id: str | None = None) -> None:
        self.out_rpc_errors += 1
        self.core.stats.out_rpc_errors += 1
        body = render_errors(errors, self.core.namespace_of)
        self._write(build_reply(rpc, body, message_id))

    # -- output --------------------------------------------------------------------------

    def send_notification(self, message: bytes) -> None:
        if self._closed.is_set():
            return
        try:
            self._write(message)
        except (OSError, EOFError, paramiko.SSHException):
            self.terminate("dropped")
            return
        self.out_notifications += 1
        self.core.stats.out_notifications += 1

    def _write(self, message: bytes) -> None:
        data = memoryview(frame(message, self.chunked))
        deadline = time.monotonic() + self.core.limits.send_timeout
        with self._write_lock:
            while data:
                try:
                    sent = self._chan.send(bytes(data[:262144]))
                except TimeoutError:
                    if time.monotonic() > deadline:
                        self.terminate("dropped")
                        raise OSError("peer does not read; send timed out") from None
                    continue
                if sent <= 0:
                    raise OSError("channel closed")
                data = data[sent:]
