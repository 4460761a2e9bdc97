"""Where and who: the controller's gRPC address and the caller's credentials.

--target (SDQN_GRPC, default 127.0.0.1:50051), --token (SDQN_TOKEN), and for TLS
--tls-ca (SDQN_TLS_CA) plus, for mTLS, --tls-cert/--tls-key. This module imports no gRPC,
so `--help` and argument errors of the client commands answer without loading it;
`controller/clients/grpc_client.py` turns an `Endpoint` into a connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_TARGET = "127.0.0.1:50051"

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
    """A failed call: the gRPC status name and its message, for the command to print."""

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
