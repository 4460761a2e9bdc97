"""`GrpcServer`: the sdqn.v1.ControllerService service on a grpcio server, reflection on.

Handlers receive the raw request bytes and parse them here, so that a body that is not
a valid protobuf message is INVALID_ARGUMENT (grpcio's own deserialisation failure would
be INTERNAL), and every NetconfError raised by the store becomes the gRPC status of its
error-tag. Watch streams hold a worker thread each: `max_workers` bounds them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import structlog
from google.protobuf.message import DecodeError

from controller.errors import NetconfError
from controller.grpc_api.service import ControllerService, describe, status_of
from controller.grpc_api.stubs import LEGACY_SERVICE, SERVICE, SERVICE_NAME, load
from controller.restconf.access import DataAccess

log = structlog.get_logger(__name__)


class GrpcServer:
    def __init__(self, service: ControllerService, *, host: str = "127.0.0.1", port: int = 0,
                 credentials: grpc.ServerCredentials | None = None, reflection: bool = True,
                 max_workers: int = 16, max_message_size: int = 4 * 1024 * 1024,
                 reflection_auth: bool = False) -> None:
        """`reflection_auth`: reflection calls need the same credentials as the API
        (off by default, so tools discover the API before they hold a token)."""
        self.service = service
        self.reflection_auth = reflection_auth
        self.host = host
        self.port = port
        self.credentials = credentials
        self.reflection = reflection
        self.max_workers = max_workers
        self.max_message_size = max_message_size
        self._server: grpc.Server | None = None

    @property
    def target(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def start(self) -> None:
        interceptors = ([_ReflectionAuth(self.service)]
                        if self.reflection and self.reflection_auth else [])
        server = grpc.server(ThreadPoolExecutor(max_workers=self.max_workers,
                                                thread_name_prefix="grpc"),
                             interceptors=interceptors,
                             options=[("grpc.so_reuseport", 0),
                                      ("grpc.max_receive_message_length", self.max_message_size),
                                      ("grpc.max_send_message_length", self.max_message_size)])
        server.add_generic_rpc_handlers(self._handlers())
        if self.reflection:
            from grpc_reflection.v1alpha import reflection

            reflection.enable_server_reflection((SERVICE, reflection.SERVICE_NAME), server)
        address = f"{self.target}"
        port = (server.add_secure_port(address, self.credentials) if self.credentials
                else server.add_insecure_port(address))
        if port == 0:
            raise OSError(f"cannot listen on {address}")
        self.port = port
        server.start()
        self._server = server
        log.info("grpc server listening", target=self.target, tls=self.credentials is not None)

    def stop(self, grace: float = 1.0) -> None:
        if self._server is not None:
            self._server.stop(grace).wait(grace + 5)
            self._server = None
            log.info("grpc server stopped")

    def _handlers(self) -> tuple[grpc.GenericRpcHandler, ...]:
        """The service's methods, under its name and its deprecated former name."""
        pb = load()[0]
        methods = pb.DESCRIPTOR.services_by_name[SERVICE_NAME].methods
        handlers: dict[str, grpc.RpcMethodHandler] = {}
        for method in methods:
            request_class = getattr(pb, method.input_type.name)
            behaviour = getattr(self.service, method.name)
            access = self.service.access
            if method.server_streaming:
                handlers[method.name] = grpc.unary_stream_rpc_method_handler(
                    _streaming(behaviour, request_class),
                    response_serializer=_serialize)
            else:
                handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                    _unary(behaviour, request_class, access), response_serializer=_serialize)
        return (grpc.method_handlers_generic_handler(SERVICE, handlers),
                grpc.method_handlers_generic_handler(LEGACY_SERVICE, handlers))


def _serialize(message: Any) -> bytes:
    return bytes(message.SerializeToString())


def _parse(request_class: Any, raw: bytes, context: grpc.ServicerContext) -> Any:
    message = request_class()
    try:
        message.ParseFromString(raw)
    except DecodeError as exc:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"not a valid "
                      f"{request_class.DESCRIPTOR.full_name} message: {exc}")
    return message


def _fail(context: grpc.ServicerContext, err: NetconfError) -> None:
    context.abort(status_of(err), describe(err))


def peer_host(peer: str) -> str | None:
    """The IP address in a gRPC peer string ("ipv4:127.0.0.1:50000", "ipv6:[::1]:50000");
    None for other transports (a unix socket has no host)."""
    transport, _, address = peer.partition(":")
    if transport not in ("ipv4", "ipv6"):
        return None
    host = address.rsplit(":", 1)[0]
    return host[1:-1] if host.startswith("[") else host


def _unary(behaviour: Callable[[Any, Any], Any], request_class: Any, access: DataAccess
           ) -> Callable[[bytes, grpc.ServicerContext], Any]:
    def handle(raw: bytes, context: grpc.ServicerContext) -> Any:
        request = _parse(request_class, raw, context)
        try:
            with access.from_host(peer_host(context.peer())):   # RFC 6470 source-host
                return behaviour(request, context)
        except NetconfError as err:
            _fail(context, err)
    return handle


def _streaming(behaviour: Callable[[Any, Any], Iterator[Any]], request_class: Any
               ) -> Callable[[bytes, grpc.ServicerContext], Iterator[Any]]:
    """Streams only read (Watch), so they need no client host."""
    def handle(raw: bytes, context: grpc.ServicerContext) -> Iterator[Any]:
        request = _parse(request_class, raw, context)
        try:
            yield from behaviour(request, context)
        except NetconfError as err:
            _fail(context, err)
    return handle


class _ReflectionAuth(grpc.ServerInterceptor):  # type: ignore[misc]
    """Server reflection behind the service's authentication (UNAUTHENTICATED without a
    valid token or a mapped client certificate)."""

    def __init__(self, service: ControllerService) -> None:
        self.service = service

    def intercept_service(self, continuation: Any, details: Any) -> Any:
        handler = continuation(details)
        if handler is None or not str(details.method).startswith("/grpc.reflection."):
            return handler
        inner = handler.stream_stream

        def guarded(requests: Iterator[Any], context: Any) -> Iterator[Any]:
            self.service.user(context)  # aborts the call when nobody is authenticated
            yield from inner(requests, context)

        return grpc.stream_stream_rpc_method_handler(
            guarded, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)
