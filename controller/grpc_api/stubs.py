"""The sdqn.v1 protobuf messages and gRPC stubs (generated code, committed; see codegen.py).

Callers import them through `load()` when they first need them, so that merely importing
the server or the client module does not pay for protobuf's start-up.
"""

from __future__ import annotations

from types import ModuleType

SERVICE = "sdqn.v1.ControllerService"
SERVICE_NAME = SERVICE.rpartition(".")[2]


def load() -> tuple[ModuleType, ModuleType]:
    """(sdqn_pb2, sdqn_pb2_grpc); importing sdqn_pb2 registers sdqn/v1/sdqn.proto in the
    default descriptor pool, where server reflection finds it."""
    from controller.grpc_api import sdqn_pb2, sdqn_pb2_grpc

    return sdqn_pb2, sdqn_pb2_grpc
