"""A gRPC connection to a running controller, as the `sdqn` client commands use it.

Where and who: --target (SDQN_GRPC, default 127.0.0.1:50051), --token (SDQN_TOKEN),
and for TLS --tls-ca (SDQN_TLS_CA) plus, for mTLS, --tls-cert/--tls-key. Errors come
back as `ClientError` with the gRPC status name, for the command to print.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import grpc
import typer

from controller.grpc_api.stubs import load

DEFAULT_TARGET = "127.0.0.1:50051"
TIMEOUT_S = 60.0

TargetOpt = Annotated[str, typer.Option("--target", envvar="SDQN_GRPC",
                                        help="controller gRPC address (host:port)")]
TokenOpt = Annotated[str | None, typer.Option("--token", envvar="SDQN_TOKEN",
                                              help="bearer token (grpc.tokens in the config)")]
CaOpt = Annotated[Path | None, typer.Option("--tls-ca", envvar="SDQN_TLS_CA",
                                            help="PEM CA of the server: use TLS")]
CertOpt = Annotated[Path | None, typer.Option("--tls-cert", help="client certificate (mTLS)")]
KeyOpt = Annotated[Path | None, typer.Option("--tls-key", help="client key (mTLS)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON for scripts instead of tables")]


class ClientError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class Endpoint:
    target: str = DEFAULT_TARGET
    token: str | None = None
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None

    def channel(self) -> grpc.Channel:
        if self.tls_ca is None:
            return grpc.insecure_channel(self.target)
        chain = self.tls_cert.read_bytes() if self.tls_cert else None
        key = self.tls_key.read_bytes() if self.tls_key else None
        credentials = grpc.ssl_channel_credentials(self.tls_ca.read_bytes(), key, chain)
        return grpc.secure_channel(self.target, credentials)


class Client:
    """The Controller stub with the caller's credentials on every call."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.pb, grpc_module = load()
        self._channel = endpoint.channel()
        self._stub = grpc_module.ControllerStub(self._channel)
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
