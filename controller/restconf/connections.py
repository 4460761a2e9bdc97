"""Connection-level defences of the RESTCONF HTTP server, before any request exists.

uvicorn (on h11) parses HTTP/1.1 but, like most servers, starts its timers only once a
request is complete and limits concurrency only when a request arrives: a client that
opens many connections and trickles header bytes (slowloris) is never counted. These
checks run where the connection is accepted, on the event loop, so they cost no thread:

* a global connection limit and a per-source-address limit (one address cannot take the
  whole pool from an operator on another address);
* a header-read timeout: a request whose headers are not complete within N seconds of its
  first byte (or of the connection opening) is answered 408 and closed (RFC 9110 §15.5.9);
* the TLS peer certificate kept on the connection so the application can authenticate
  it (RFC 8040 §2.5 allows client certificates);
* HTTP parse errors answered as RESTCONF errors (RFC 8040 §7) with the status h11 hints.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import h11
import structlog
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from controller.errors import ErrorTag, ErrorType, RpcError
from controller.restconf import media
from controller.restconf.errors import render_errors

log = structlog.get_logger(__name__)

PEER_CERT = "sdqn.peer_cert"   # key in the ASGI scope's per-connection state
_TAGS = {400: ErrorTag.MALFORMED_MESSAGE, 413: ErrorTag.TOO_BIG, 414: ErrorTag.TOO_BIG,
         431: ErrorTag.TOO_BIG, 501: ErrorTag.OPERATION_NOT_SUPPORTED,
         505: ErrorTag.OPERATION_NOT_SUPPORTED}
_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 413: b"Content Too Large",
            414: b"URI Too Long", 431: b"Request Header Fields Too Large",
            501: b"Not Implemented", 503: b"Service Unavailable",
            505: b"HTTP Version Not Supported"}


def error_reply(status: int, message: str) -> bytes:
    """A complete HTTP/1.1 reply carrying one RESTCONF error, then the connection closes."""
    body = render_errors([RpcError(tag=_TAGS.get(status, ErrorTag.OPERATION_FAILED),
                                   type=ErrorType.TRANSPORT, message=message)],
                         False, lambda _m: None)
    reason = _REASONS.get(status, b"Error")
    return (b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n" % (status, reason, media.YANG_JSON.encode(),
                                            len(body))) + body


@dataclass
class ConnectionLimits:
    """Counters shared by all connections of one server (event loop thread only, but
    read by tests and metrics from others: hence the lock)."""

    max_connections: int
    max_per_address: int
    header_timeout: float
    open_by_address: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, address: str) -> str | None:
        """None when the connection may proceed, else why it is refused."""
        with self.lock:
            if sum(self.open_by_address.values()) >= self.max_connections:
                return "connection limit reached"
            if self.open_by_address[address] >= self.max_per_address:
                return "per-address connection limit reached"
            self.open_by_address[address] += 1
            return None

    def release(self, address: str) -> None:
        with self.lock:
            self.open_by_address[address] -= 1
            if self.open_by_address[address] <= 0:
                del self.open_by_address[address]

    @property
    def open(self) -> int:
        with self.lock:
            return sum(self.open_by_address.values())


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the checks above. `limits` is bound per server by
    `protocol_for` (uvicorn builds protocols from a class)."""

    limits: ConnectionLimits

    def __init__(self, config: Config, server_state: ServerState,
                 app_state: dict[str, Any], _loop: asyncio.AbstractEventLoop | None = None
                 ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._address: str | None = None   # set once admitted: released on close
        self._header_timer: asyncio.TimerHandle | None = None
        self._protocol_error: h11.RemoteProtocolError | None = None
        parse = self.conn.next_event

        def next_event() -> Any:
            try:
                return parse()
            except h11.RemoteProtocolError as exc:   # remembered for its status hint
                self._protocol_error = exc
                raise
        self.conn.next_event = next_event  # type: ignore[method-assign]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # Replies go out as several writes (head, body, end); without TCP_NODELAY the
        # body waits for the client's delayed ACK (~40 ms on Linux). asyncio sets it only
        # on sockets it created itself.
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        address = self.client[0] if self.client else ""
        refused = self.limits.admit(address)
        if refused is not None:
            log.warning("refusing connection", peer=address, reason=refused)
            transport.write(error_reply(503, refused))
            transport.close()
            return
        self._address = address
        ssl_object = transport.get_extra_info("ssl_object")
        # The leaf certificate's DER: cert-to-name fingerprints it (RFC 7407 §2); the
        # parsed dict form carries no bytes to fingerprint.
        cert = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if cert:
            # uvicorn copies app_state into every request's scope["state"]
            self.app_state = {**self.app_state, PEER_CERT: cert}
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        if self._address is not None:
            self.limits.release(self._address)
            self._address = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._address is None:   # refused: ignore whatever it still sends
            return
        super().data_received(data)
        if self.transport.is_closing():
            self._cancel_header_timer()
        elif self.conn.their_state is h11.IDLE:
            self._arm_header_timer()     # headers still incomplete: the clock runs
        else:
            self._cancel_header_timer()

    def send_400_response(self, msg: str) -> None:
        """h11 refused the request (bad request line, version, oversized headers)."""
        err = self._protocol_error
        status = err.error_status_hint if err is not None else 400
        if status not in _TAGS:
            status = 400
        text = str(err) if err is not None and str(err) else msg
        self._cancel_header_timer()
        self.transport.write(error_reply(status, text))
        self.transport.close()

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.limits.header_timeout,
                                                      self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        log.info("closing connection: request headers too slow",
                 peer=self._address, timeout_s=self.limits.header_timeout)
        if self.conn.our_state is h11.IDLE:
            self.transport.write(error_reply(408, "request headers not received in time"))
        self.transport.close()


def protocol_for(limits: ConnectionLimits) -> type[GuardedH11Protocol]:
    return type("BoundGuardedH11Protocol", (GuardedH11Protocol,), {"limits": limits})
