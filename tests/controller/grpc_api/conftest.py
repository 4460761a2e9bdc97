"""Fixtures: the RESTCONF test setup (store, NETCONF server, shared DataAccess, event
hub) plus a gRPC server on a free port and a stub whose calls carry a user's token.
Skipped where grpcio-reflection is not installed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("grpc_reflection")

import grpc

from controller.datastore.history import CommitLog, RunningHistory
from controller.datastore.schema import Schema
from controller.grpc_api.auth import TokenAuth
from controller.grpc_api.server import GrpcServer
from controller.grpc_api.service import ControllerService
from controller.grpc_api.stubs import load
from controller.paths import yang_search_dirs
from controller.restconf import RESTCONF_MODULES
from controller.restconf.access import DataAccess
from controller.restconf.events import EventHub
from controller.service.expansion import QnumExpander
from controller.settings import PRODUCT_MODULES, GrpcToken
from tests.controller.restconf.conftest import (  # noqa: F401 (fixtures)
    access,
    admin,
    client,
    hub,
    netconf,
    restconf,
    store,
)

USERS = ("admin", "operator", "nobody")
TEST_YANG = Path(__file__).parent / "yang"


@pytest.fixture(scope="session")
def schema() -> Schema:
    """The RESTCONF tests' schema plus an alarm type, so alarms can exist."""
    return Schema([*PRODUCT_MODULES, *RESTCONF_MODULES, "sdqn-test-alarms"],
                  search_dirs=[TEST_YANG, *yang_search_dirs()])


@pytest.fixture(scope="session")
def pb() -> Any:
    return load()[0]


@contextmanager
def serving(access: DataAccess, hub: EventHub,  # noqa: F811
            expander: QnumExpander | None = None
            ) -> Iterator[GrpcServer]:
    """A gRPC server on a free port over the test store, a token "<user>-token" per user
    (with `expander`: what-if, dry-run and optimise against that Q-NUM expansion)."""
    hub.start()
    service = ControllerService(access, hub=hub,
                                auth=TokenAuth([GrpcToken(user=u, token=f"{u}-token")
                                                for u in USERS]),
                                history=RunningHistory(access.store, CommitLog(None)),
                                expander=expander, solve_time_limit_s=2.0)
    server = GrpcServer(service, max_message_size=64 * 1024, max_workers=8)
    server.start()
    try:
        yield server
    finally:
        server.stop(grace=0.1)
        service.history.close()


@pytest.fixture
def grpc_server(access: DataAccess, hub: EventHub) -> Iterator[GrpcServer]:  # noqa: F811
    with serving(access, hub) as server:
        yield server


@pytest.fixture
def channel(grpc_server: GrpcServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(grpc_server.target) as ch:
        yield ch


class Stub:
    """The generated stub with one user's bearer token on every call."""

    def __init__(self, channel: grpc.Channel, user: str | None) -> None:
        self._stub = load()[1].ControllerServiceStub(channel)
        self._metadata = (("authorization", f"Bearer {user}-token"),) if user else ()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._stub, name)

        def call(request: Any, **kwargs: Any) -> Any:
            return method(request, metadata=self._metadata, timeout=10, **kwargs)

        return call


@pytest.fixture
def stub(channel: grpc.Channel) -> Callable[[str | None], Stub]:
    return lambda user="admin": Stub(channel, user)
