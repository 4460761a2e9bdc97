"""The RESTCONF application as an ASGI app: HTTP request in, `Restconf.handle` out.

The engine is synchronous and guarded by one lock, so every call into it (authentication,
`Restconf.handle`, each step of an event stream) runs in a bounded thread pool: the event
loop only moves bytes and never blocks, so a slow or hostile client costs a socket, not a
thread. Protocol decisions RFC 8040 asks of the transport stay here: the body size cap
before reading (413), no chunked uploads (411), a body-read timeout (408), the 401
challenge (RFC 7235), SSE streams that end with the connection (RFC 8040 §6.3).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ParamSpec, Protocol, TypeVar

import structlog

from controller.errors import ErrorTag, ErrorType, NetconfError, RpcError
from controller.restconf import media
from controller.restconf.access import DataAccess
from controller.restconf.authn import authenticate
from controller.restconf.connections import PEER_CERT
from controller.restconf.errors import HttpError, http_error, render_errors, status_of
from controller.restconf.resources import Request, Response, Restconf

log = structlog.get_logger(__name__)

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

HOST_META = (b"<?xml version='1.0' encoding='UTF-8'?>\n"
             b"<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>"
             b"<Link rel='restconf' href='/restconf'/></XRD>")
#: the web console's paths: served by `Owner.console` after authentication
CONSOLE = "/console"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_END = object()
P = ParamSpec("P")
T = TypeVar("T")


#: bodies up to this size are read before authentication (one worker hop per request);
#: larger ones only once the client is authenticated
SMALL_BODY = 64 * 1024


def _declared_length(request: Request) -> int:
    """The Content-Length if it is a plain number, else infinity (the checks in
    `_read_body` then answer 400/411 after authentication, as before)."""
    raw = request.headers.get("content-length", "")
    if request.headers.get("transfer-encoding") or not raw.strip().isdigit():
        return sys.maxsize
    return int(raw)


class Owner(Protocol):
    """What the app needs from the server that runs it."""

    access: DataAccess
    app: Restconf
    max_body: int
    body_timeout: float
    metrics: Callable[[], bytes] | None
    metrics_auth: bool
    console: Callable[[Request], Response] | None


@dataclass
class _Abort(Exception):
    """The client went away or stalled: no response can or need be sent."""

    reason: str


class RestconfAsgi:
    def __init__(self, owner: Owner, workers: ThreadPoolExecutor,
                 streams: ThreadPoolExecutor) -> None:
        self.owner = owner
        self.workers = workers     # bounded: one engine call each
        self.streams = streams     # one thread per open event stream, while it waits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":   # lifespan is off; websockets are not served
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope["headers"]}
        # raw_path: RFC 8040 §3.5.3 keys stay percent-encoded for the engine to decode
        request = Request(method=scope["method"], path=scope["raw_path"].decode("latin-1"),
                          query=scope["query_string"].decode("latin-1"), headers=headers)
        peer = scope["client"][0] if scope.get("client") else ""
        state = scope.get("state") or {}
        try:
            response = await self._respond(request, peer, state.get(PEER_CERT), receive)
        except _Abort as abort:
            log.info("restconf request abandoned", peer=peer, reason=abort.reason)
            return
        except NetconfError as err:
            response = self._error_response(request, err)
        except Exception as exc:  # a bug must cost one request, not the connection
            log.exception("restconf request failed", method=request.method, path=request.path)
            response = self._error_response(request, NetconfError(RpcError(
                tag=ErrorTag.OPERATION_FAILED, type=ErrorType.APPLICATION,
                message=f"internal error: {exc}")))
        await self._send(request, response, send, receive)

    # -- request ---------------------------------------------------------------------------

    async def _respond(self, request: Request, peer: str, peer_cert: Any,
                       receive: Receive) -> Response:
        owner = self.owner
        if request.method not in METHODS:
            raise http_error(501, ErrorTag.OPERATION_NOT_SUPPORTED,
                             f"method {request.method} is not supported",
                             headers={"Connection": "close"})
        if request.path == "/.well-known/host-meta":  # RFC 8040 §3.1: no credentials
            return Response(200, HOST_META, media.XRD_XML)
        if request.path == "/metrics" and owner.metrics is not None and not owner.metrics_auth:
            return await self._call(self._metrics, request)
        if "content-length" not in request.headers and \
                "transfer-encoding" not in request.headers:
            # No body: authentication and the engine in one thread hop.
            return await self._call(self._authenticated, request, peer, peer_cert)
        if _declared_length(request) <= SMALL_BODY:
            # A small body is read first, so authentication and the engine take one thread
            # hop: an unauthenticated client can make the server hold at most SMALL_BODY
            # per connection (and connections are limited per address).
            request.body = await self._read_body(request, receive)
            return await self._call(self._authenticated, request, peer, peer_cert)
        request.username = await self._call(self._authenticate, request, peer, peer_cert)
        if request.path == "/metrics" and owner.metrics is not None:
            return await self._call(self._metrics, request)
        request.body = await self._read_body(request, receive)   # only once authenticated
        return await self._call(self._handle, request, peer)

    def _authenticate(self, request: Request, peer: str, peer_cert: Any) -> str:
        return authenticate(self.owner.access, request.headers.get("authorization", ""),
                            peer, peer_cert=peer_cert)

    def _authenticated(self, request: Request, peer: str, peer_cert: Any) -> Response:
        request.username = self._authenticate(request, peer, peer_cert)
        if request.path == "/metrics" and self.owner.metrics is not None:
            return self._metrics(request)
        return self._handle(request, peer)

    def _handle(self, request: Request, peer: str) -> Response:
        console = self.owner.console
        if console is not None and (request.path == CONSOLE
                                    or request.path.startswith(CONSOLE + "/")):
            return console(request)
        with self.owner.access.from_host(peer):   # RFC 6470 source-host
            return self.owner.app.handle(request)

    async def _call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.workers, lambda: fn(*args, **kwargs))

    def _metrics(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            raise http_error(405, ErrorTag.OPERATION_NOT_SUPPORTED, "metrics are read-only",
                             headers={"Allow": "GET, HEAD"})
        assert self.owner.metrics is not None
        return Response(200, self.owner.metrics(), "text/plain; version=0.0.4; charset=utf-8")

    async def _read_body(self, request: Request, receive: Receive) -> bytes:
        """The size is checked from Content-Length before a byte of the body is read;
        the whole body must arrive within `body_timeout` seconds."""
        owner = self.owner
        close = {"Connection": "close"}   # the unread body makes the connection unusable
        if request.headers.get("transfer-encoding"):
            raise http_error(411, ErrorTag.MALFORMED_MESSAGE,
                             "send the body with a Content-Length (chunked uploads are "
                             "not accepted)", headers=close)
        raw = request.headers.get("content-length")
        if raw is None:
            return b""
        if not raw.strip().isdigit():
            raise http_error(400, ErrorTag.MALFORMED_MESSAGE, f"bad Content-Length {raw!r}",
                             headers=close)
        length = int(raw)
        if length > owner.max_body:
            raise http_error(413, ErrorTag.TOO_BIG,
                             f"message body of {length} bytes exceeds {owner.max_body}",
                             headers=close)
        body = bytearray()
        deadline = time.monotonic() + owner.body_timeout
        while True:
            try:
                message = await asyncio.wait_for(receive(), deadline - time.monotonic())
            except TimeoutError:
                # RFC 9110 §15.5.9: the server closes a connection it no longer waits on
                raise http_error(408, ErrorTag.MALFORMED_MESSAGE,
                                 f"request body not received within {owner.body_timeout} s",
                                 headers=close) from None
            if message["type"] == "http.disconnect":
                raise _Abort("client closed the connection during the body")
            body += message.get("body", b"")
            if not message.get("more_body", False):
                return bytes(body)

    def _error_response(self, request: Request, err: NetconfError) -> Response:
        try:
            xml = media.response_xml(request.headers.get("accept"),
                                     media.media_of(request.headers.get("content-type", "")))
        except NetconfError:
            xml = False
        headers = dict(err.headers) if isinstance(err, HttpError) else {}
        body = render_errors(err.errors, xml, self.owner.app.namespace_of)
        return Response(status_of(err), body, media.YANG_XML if xml else media.YANG_JSON,
                        headers=headers)

    # -- response --------------------------------------------------------------------------

    async def _send(self, request: Request, response: Response, send: Send,
                    receive: Receive) -> None:
        headers: list[tuple[bytes, bytes]] = [(b"server", b"sdqn-restconf")]
        if response.content_type:
            headers.append((b"content-type", response.content_type.encode("latin-1")))
        headers += [(k.lower().encode("latin-1"), v.encode("latin-1"))
                    for k, v in response.headers.items()]
        if response.stream is not None:
            headers.append((b"connection", b"close"))   # RFC 8040 §6.3 over HTTP/1.1
            await send({"type": "http.response.start", "status": response.status,
                        "headers": headers})
            await self._stream(response.stream, send, receive)
            return
        if not any(name == b"cache-control" for name, _ in headers):
            headers.append((b"cache-control", b"no-cache"))
        if response.status not in (204, 304):
            headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status,
                    "headers": headers})
        body = b"" if request.method == "HEAD" or response.status in (204, 304) \
            else response.body
        await send({"type": "http.response.body", "body": body})

    async def _stream(self, stream: Iterator[bytes], send: Send, receive: Receive) -> None:
        """Each step of the (blocking) event iterator runs on a stream thread; the
        iterator yields at least a heartbeat comment every few seconds, so a vanished
        client is noticed within that time."""
        loop = asyncio.get_running_loop()
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch())
        try:
            while not gone.is_set():
                chunk = await loop.run_in_executor(self.streams, next, stream, _END)
                if chunk is _END:
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if not gone.is_set():
                await send({"type": "http.response.body", "body": b""})
        finally:
            watcher.cancel()
            close = getattr(stream, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await loop.run_in_executor(self.streams, close)
