"""`RestconfServer`: RESTCONF over HTTP/1.1 (optionally TLS) in front of the store.

Served by uvicorn (HTTP/1.1 on h11, asyncio): an idle or slow connection costs a socket on
the event loop rather than a thread, so many slow clients cannot starve the others.
`controller.restconf.connections` adds what uvicorn lacks (header-read timeout, global and
per-address connection limits, the TLS peer certificate); `controller.restconf.asgi` maps
HTTP to the synchronous engine through a bounded thread pool. The server runs its own
event loop on a background thread, so the synchronous daemon starts and stops it.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any

import structlog
import uvicorn

from controller.restconf.access import DataAccess
from controller.restconf.asgi import RestconfAsgi
from controller.restconf.connections import ConnectionLimits, protocol_for
from controller.restconf.events import EventHub
from controller.restconf.operations import RpcHandler
from controller.restconf.resources import Request, Response, Restconf

log = structlog.get_logger(__name__)

MetricsHook = Callable[[], bytes]
#: answers an authenticated request under /console (the web console)
ConsoleHook = Callable[[Request], Response]
MONITORING_MODULE = "ietf-restconf-monitoring"
MONITORING_XPATH = f"/{MONITORING_MODULE}:restconf-state"
_CAP = "urn:ietf:params:restconf:capability:"
CAPABILITIES = [f"{_CAP}defaults:1.0?basic-mode=explicit", f"{_CAP}depth:1.0",
                f"{_CAP}fields:1.0", f"{_CAP}with-defaults:1.0", f"{_CAP}yang-patch:1.0",
                f"{_CAP}with-origin:1.0"]


class RestconfServer:
    def __init__(self, access: DataAccess, *, host: str = "127.0.0.1", port: int = 0,
                 hub: EventHub | None = None, tls: ssl.SSLContext | None = None,
                 max_body: int = 16 * 1024 * 1024, max_connections: int = 128,
                 max_connections_per_address: int = 32, idle_timeout: float = 30.0,
                 header_timeout: float = 10.0, body_timeout: float = 30.0,
                 max_header_bytes: int = 64 * 1024, worker_threads: int = 8,
                 extra_rpcs: Mapping[str, RpcHandler] | None = None,
                 metrics: MetricsHook | None = None, metrics_auth: bool = False,
                 sse_heartbeat_s: float = 15.0, console: ConsoleHook | None = None) -> None:
        """`access` carries the store, accounts and NACM shared with NETCONF; `hub`
        feeds the SSE stream; `metrics` renders the Prometheus page at /metrics;
        `console` serves /console (after authentication, like every RESTCONF request).
        Limits: `max_connections` in all and `max_connections_per_address` from one
        source address (refused with 503); `header_timeout` seconds for a request's
        headers, `body_timeout` for its body (408 and closed); `idle_timeout` for an idle
        keep-alive connection; `max_header_bytes` for the request line plus headers (431);
        `worker_threads` engine calls at once."""
        self.access = access
        self.host = host
        self.port = port
        self.hub = hub
        self.tls = tls
        self.max_body = max_body
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.body_timeout = body_timeout
        self.max_header_bytes = max_header_bytes
        self.metrics = metrics
        self.metrics_auth = metrics_auth
        self.console = console
        self.app = Restconf(access, hub=hub, extra_rpcs=extra_rpcs,
                            sse_heartbeat_s=sse_heartbeat_s)
        self.limits = ConnectionLimits(max_connections=max_connections,
                                       max_per_address=max_connections_per_address,
                                       header_timeout=header_timeout)
        self.worker_threads = worker_threads
        self._uvicorn: uvicorn.Server | None = None
        self._executors: list[ThreadPoolExecutor] = []
        self._state_published = False
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    def start(self) -> None:
        """Bind here (so a busy port raises OSError to the caller and port 0 yields the
        bound port), then serve on an event loop in a background thread."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        workers = ThreadPoolExecutor(self.worker_threads, thread_name_prefix="restconf-worker")
        streams = ThreadPoolExecutor(self.limits.max_connections,
                                     thread_name_prefix="restconf-stream")
        self._executors = [workers, streams]
        config = uvicorn.Config(
            RestconfAsgi(self, workers, streams), http=protocol_for(self.limits),
            lifespan="off", interface="asgi3", log_config=None, access_log=False,
            server_header=False, date_header=True, ws="none",
            timeout_keep_alive=max(1, round(self.idle_timeout)),
            timeout_graceful_shutdown=2, h11_max_incomplete_event_size=self.max_header_bytes,
            backlog=128)
        config.load()
        config.ssl = self.tls   # our context: client-certificate policy stays the caller's
        server = uvicorn.Server(config)
        self._uvicorn = server
        if self.hub is not None:
            self.hub.start()
        self._publish_state()
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                                        daemon=True, name="restconf-loop")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        log.info("restconf server listening", url=self.url)

    def stop(self) -> None:
        server = self._uvicorn
        if server is None:
            return
        self._uvicorn = None
        self.app.stopping.set()     # event streams end within a heartbeat step
        server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        for executor in self._executors:
            executor.shutdown(wait=False, cancel_futures=True)
        self._executors = []
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
