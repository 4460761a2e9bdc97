"""`RestconfServer`: RESTCONF over HTTP/1.1 (optionally TLS) in front of the store.

Why the standard library's http.server rather than an ASGI/WSGI framework: the engine
is synchronous and guards everything with one RLock, so an event loop would only hand
each request to a thread pool anyway; a threaded server with keep-alive connections
already meets the latency target (see `sdqn bench restconf`), needs no dependency, and
leaves every protocol decision (body size caps before reading, 411 for chunked uploads,
SSE streaming, 401 challenges) visible in this file. One thread serves one connection;
`max_connections` bounds them.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import structlog

from controller.errors import ErrorTag, ErrorType, NetconfError, RpcError
from controller.restconf import media
from controller.restconf.access import DataAccess
from controller.restconf.authn import authenticate
from controller.restconf.errors import HttpError, http_error, render_errors, status_of
from controller.restconf.events import EventHub
from controller.restconf.operations import RpcHandler
from controller.restconf.resources import Request, Response, Restconf

log = structlog.get_logger(__name__)

HOST_META = (b"<?xml version='1.0' encoding='UTF-8'?>\n"
             b"<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>"
             b"<Link rel='restconf' href='/restconf'/></XRD>")
MetricsHook = Callable[[], bytes]
MONITORING_MODULE = "ietf-restconf-monitoring"
MONITORING_XPATH = f"/{MONITORING_MODULE}:restconf-state"
_CAP = "urn:ietf:params:restconf:capability:"
CAPABILITIES = [f"{_CAP}defaults:1.0?basic-mode=explicit", f"{_CAP}depth:1.0",
                f"{_CAP}fields:1.0", f"{_CAP}with-defaults:1.0", f"{_CAP}yang-patch:1.0",
                f"{_CAP}with-origin:1.0"]


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], owner: RestconfServer) -> None:
        self.owner = owner
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        owner = self.owner
        with owner.conn_lock:
            busy = len(owner.connections) >= owner.max_connections
            if not busy:
                owner.connections.add(request)
        if busy:
            log.warning("refusing connection: limit reached", peer=client_address[0])
            with contextlib.suppress(OSError):
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                                b"Connection: close\r\n\r\n")
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that failed before HTTP (TLS handshake, reset) is logged, not
        printed as a traceback."""
        log.info("connection failed", peer=client_address[0], error=str(sys.exc_info()[1]))

    def shutdown_request(self, request: Any) -> None:
        with self.owner.conn_lock:
            self.owner.connections.discard(request)
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # A request line too broken to name a version still gets a status line back.
    default_request_version = "HTTP/1.1"
    server_version = "sdqn-restconf"
    server: _HTTPServer

    def setup(self) -> None:
        # socketserver reads `timeout` in setup(): the idle limit of a keep-alive connection
        self.timeout = self.server.owner.idle_timeout  # type: ignore[misc]
        super().setup()
        # Replies are written as headers then body; without TCP_NODELAY the body waits
        # for the client's delayed ACK (~40 ms on Linux).
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self.connection, ssl.SSLSocket):
            try:
                self.connection.do_handshake()
            except (ssl.SSLError, OSError) as exc:
                log.info("TLS handshake failed", peer=self.client_address[0], error=str(exc))
                self.close_connection = True
                raise ConnectionAbortedError from exc

    def handle(self) -> None:
        with contextlib.suppress(ConnectionError, TimeoutError, ssl.SSLError):
            super().handle()

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """HTTP-level failures found by the stdlib parser (bad request line, 414, 431,
        unknown method) answered as RESTCONF errors, and the connection closed."""
        tag = {400: ErrorTag.MALFORMED_MESSAGE, 413: ErrorTag.TOO_BIG, 414: ErrorTag.TOO_BIG,
               431: ErrorTag.TOO_BIG, 501: ErrorTag.OPERATION_NOT_SUPPORTED,
               505: ErrorTag.OPERATION_NOT_SUPPORTED}.get(code, ErrorTag.OPERATION_FAILED)
        text = message or self.responses.get(code, ("error",))[0]
        body = render_errors([RpcError(tag=tag, type=ErrorType.TRANSPORT, message=text)],
                             False, lambda _m: None)
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.send_response(code, message)
            self.send_header("Content-Type", media.YANG_JSON)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http", peer=self.client_address[0], message=format % args)

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    # -- request ---------------------------------------------------------------------------

    def _dispatch(self) -> None:
        owner = self.server.owner
        headers = {k.lower(): v for k, v in self.headers.items()}
        split = urlsplit(self.path)
        request = Request(method=self.command, path=split.path, query=split.query,
                          headers=headers)
        try:
            response = self._respond(owner, request)
        except NetconfError as err:
            response = self._error_response(owner, request, err)
        except Exception as exc:  # a bug must cost one request, not the connection
            log.exception("restconf request failed", method=self.command, path=split.path)
            response = self._error_response(owner, request, NetconfError(RpcError(
                tag=ErrorTag.OPERATION_FAILED, type=ErrorType.APPLICATION,
                message=f"internal error: {exc}")))
        self._send(response)

    def _respond(self, owner: RestconfServer, request: Request) -> Response:
        if request.path == "/.well-known/host-meta":  # RFC 8040 §3.1: no credentials
            return Response(200, HOST_META, media.XRD_XML)
        if request.path == "/metrics" and owner.metrics is not None and not owner.metrics_auth:
            return self._metrics(owner, request)
        request.username = authenticate(owner.access, self.headers.get("Authorization", ""),
                                        self.client_address[0])
        if request.path == "/metrics" and owner.metrics is not None:
            return self._metrics(owner, request)
        request.body = self._read_body(owner)
        with owner.access.from_host(self.client_address[0]):   # RFC 6470 source-host
            return owner.app.handle(request)

    @staticmethod
    def _metrics(owner: RestconfServer, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            raise http_error(405, ErrorTag.OPERATION_NOT_SUPPORTED, "metrics are read-only",
                             headers={"Allow": "GET, HEAD"})
        assert owner.metrics is not None
        body = owner.metrics()
        return Response(200, b"" if request.method == "HEAD" else body,
                        "text/plain; version=0.0.4; charset=utf-8")

    def _read_body(self, owner: RestconfServer) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise http_error(411, ErrorTag.MALFORMED_MESSAGE,
                             "send the body with a Content-Length (chunked uploads are "
                             "not accepted)")
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        if not raw.strip().isdigit():
            self.close_connection = True
            raise http_error(400, ErrorTag.MALFORMED_MESSAGE, f"bad Content-Length {raw!r}")
        length = int(raw)
        if length > owner.max_body:
            # The body is never read: the connection cannot be reused after this reply.
            self.close_connection = True
            raise http_error(413, ErrorTag.TOO_BIG,
                             f"message body of {length} bytes exceeds {owner.max_body}")
        return self.rfile.read(length) if length else b""

    def _error_response(self, owner: RestconfServer, request: Request, err: NetconfError
                        ) -> Response:
        try:
            xml = media.response_xml(request.headers.get("accept"),
                                     media.media_of(request.headers.get("content-type", "")))
        except NetconfError:
            xml = False
        headers = dict(err.headers) if isinstance(err, HttpError) else {}
        body = render_errors(err.errors, xml, owner.app.namespace_of)
        return Response(status_of(err), body, media.YANG_XML if xml else media.YANG_JSON,
                        headers=headers)

    # -- response --------------------------------------------------------------------------

    def _send(self, response: Response) -> None:
        try:
            self.send_response(response.status)
            if response.content_type:
                self.send_header("Content-Type", response.content_type)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if response.stream is not None:
                self._send_stream(response)
                return
            self.send_header("Cache-Control", "no-cache")
            if response.status not in (204, 304):
                self.send_header("Content-Length", str(len(response.body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if response.body and self.command != "HEAD":
                self.wfile.write(response.body)
        except (ConnectionError, TimeoutError, ssl.SSLError):
            self.close_connection = True

    def _send_stream(self, response: Response) -> None:
        """Event streams end with the connection (RFC 8040 §6.3 over HTTP/1.1)."""
        assert response.stream is not None
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        self.wfile.flush()
        try:
            for chunk in response.stream:
                self.wfile.write(chunk)
                self.wfile.flush()
        finally:
            close = getattr(response.stream, "close", None)
            if close is not None:
                close()


class RestconfServer:
    def __init__(self, access: DataAccess, *, host: str = "127.0.0.1", port: int = 0,
                 hub: EventHub | None = None, tls: ssl.SSLContext | None = None,
                 max_body: int = 16 * 1024 * 1024, max_connections: int = 128,
                 idle_timeout: float = 30.0,
                 extra_rpcs: Mapping[str, RpcHandler] | None = None,
                 metrics: MetricsHook | None = None, metrics_auth: bool = False,
                 sse_heartbeat_s: float = 15.0) -> None:
        """`access` carries the store, accounts and NACM shared with NETCONF; `hub`
        feeds the SSE stream; `metrics` renders the Prometheus page at /metrics."""
        self.access = access
        self.host = host
        self.port = port
        self.hub = hub
        self.tls = tls
        self.max_body = max_body
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.metrics = metrics
        self.metrics_auth = metrics_auth
        self.app = Restconf(access, hub=hub, extra_rpcs=extra_rpcs,
                            sse_heartbeat_s=sse_heartbeat_s)
        self.connections: set[Any] = set()
        self.conn_lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._state_published = False
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    def start(self) -> None:
        httpd = _HTTPServer((self.host, self.port), self)
        if self.tls is not None:
            httpd.socket = self.tls.wrap_socket(httpd.socket, server_side=True,
                                                do_handshake_on_connect=False)
        self._httpd = httpd
        self.port = httpd.server_address[1]
        if self.hub is not None:
            self.hub.start()
        self._publish_state()
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name="restconf-accept")
        self._thread.start()
        log.info("restconf server listening", url=self.url)

    def stop(self) -> None:
        httpd = self._httpd
        if httpd is None:
            return
        self._httpd = None
        self.app.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        with self.conn_lock:
            open_connections = list(self.connections)
        for conn in open_connections:  # idle keep-alive connections and event streams
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.app.close()
        if self._state_published:
            self.access.store.delete_state(MONITORING_XPATH)
        log.info("restconf server stopped")

    def _publish_state(self) -> None:
        """RFC 8040 §9.1: capabilities and stream locations in <operational>."""
        module = self.access.store.schema.ctx.get_module(MONITORING_MODULE)
        if module is None or not module.implemented():
            return
        state: dict[str, Any] = {"capabilities": {"capability": CAPABILITIES}}
        if self.hub is not None:
            # RFC 8040 §9.3: replay-support true because start-time/stop-time are served
            # for this stream, from the hub's retained events since it started.
            state["streams"] = {"stream": [{
                "name": "NETCONF", "replay-support": True,
                "replay-log-creation-time": self.hub.created,
                "description": "controller events: configuration changes, service state, "
                               "alarms",
                "access": [{"encoding": "json",
                            "location": f"{self.url}/restconf/streams/NETCONF/json"}]}]}
        self.access.store.merge_state(json.dumps({f"{MONITORING_MODULE}:restconf-state": state}))
        self._state_published = True

    def __enter__(self) -> RestconfServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
