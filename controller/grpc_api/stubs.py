"""The sdqn.v1 protobuf messages and gRPC stubs (generated code, committed; see codegen.py).

Callers import them through `load()` when they first need them, so that merely importing
the server or the client module does not pay for protobuf's start-up.
"""

from __future__ import annotations

from types import ModuleType

SERVICE = "sdqn.v1.ControllerService"
#: The service's name before buf's STANDARD lint (SERVICE_SUFFIX) renamed it: still served,
#: with the same methods and messages (only message names changed, which the wire does not
#: carry), so scripts and stubs generated from the old proto keep working; deprecated.
LEGACY_SERVICE = "sdqn.v1.Controller"
SERVICE_NAME = SERVICE.rpartition(".")[2]


def load() -> tuple[ModuleType, ModuleType]:
    """(sdqn_pb2, sdqn_pb2_grpc); importing sdqn_pb2 registers sdqn/v1/sdqn.proto in the
    default descriptor pool, where server reflection finds it."""
    from controller.grpc_api import sdqn_pb2, sdqn_pb2_grpc

    return sdqn_pb2, sdqn_pb2_grpc
