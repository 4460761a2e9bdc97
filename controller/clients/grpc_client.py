"""A gRPC connection to a running controller, as the `sdqn` client commands use it.

An `Endpoint` (controller/clients/endpoint.py) says where and who; errors come back as
`ClientError` with the gRPC status name, for the command to print.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc

from controller.clients.endpoint import ClientError, Endpoint
from controller.grpc_api.stubs import load

TIMEOUT_S = 60.0


def open_channel(endpoint: Endpoint) -> grpc.Channel:
    """Plain, TLS (`tls_ca`) or mTLS (`tls_ca` plus `tls_cert`/`tls_key`)."""
    if endpoint.tls_ca is None:
        return grpc.insecure_channel(endpoint.target)
    chain = endpoint.tls_cert.read_bytes() if endpoint.tls_cert else None
    key = endpoint.tls_key.read_bytes() if endpoint.tls_key else None
    credentials = grpc.ssl_channel_credentials(endpoint.tls_ca.read_bytes(), key, chain)
    return grpc.secure_channel(endpoint.target, credentials)


class Client:
    """The ControllerService stub with the caller's credentials on every call."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.pb, grpc_module = load()
        self._channel = open_channel(endpoint)
        self._stub = grpc_module.ControllerServiceStub(self._channel)
        self._metadata = ((("authorization", f"Bearer {endpoint.token}"),)
                          if endpoint.token else ())

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def call(self, method: str, request: Any, timeout: float = TIMEOUT_S) -> Any:
        rpc: Callable[..., Any] = getattr(self._stub, method)
        try:
            return rpc(request, metadata=self._metadata, timeout=timeout)
        except grpc.RpcError as exc:
            raise _error(exc) from None

    def stream(self, method: str, request: Any, timeout: float | None) -> Iterator[Any]:
        rpc: Callable[..., Any] = getattr(self._stub, method)
        responses = rpc(request, metadata=self._metadata, timeout=timeout)
        try:
            yield from responses
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.DEADLINE_EXCEEDED:  # --timeout reached
                raise _error(exc) from None
        finally:
            responses.cancel()


def _error(exc: grpc.RpcError) -> ClientError:
    code = exc.code() if hasattr(exc, "code") else None
    details = exc.details() if hasattr(exc, "details") else str(exc)
    return ClientError(code.name if code is not None else "UNKNOWN", str(details))
