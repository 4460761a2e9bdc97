"""`sdqn controller run` serves gRPC (token auth from the config) beside NETCONF."""

from __future__ import annotations

import hashlib
from pathlib import Path

import grpc
import pytest

from controller.grpc_api.stubs import load
from tests.controller.restconf.conftest import Daemon


def test_daemon_serves_grpc(tmp_path: Path) -> None:
    token = {"user": "admin", "token_sha256": hashlib.sha256(b"s3cret").hexdigest()}
    daemon = Daemon(tmp_path, {"restconf": {"enabled": False},
                               "grpc": {"port": 0, "tokens": [token]}}, 2)
    try:
        pb, grpc_mod = load()
        with grpc.insecure_channel(daemon.address("grpc")) as channel:
            stub = grpc_mod.ControllerServiceStub(channel)
            listed = stub.ListRequests(pb.ListRequestsRequest(), timeout=10,
                                       metadata=(("authorization", "Bearer s3cret"),))
            assert list(listed.requests) == []
            with pytest.raises(grpc.RpcError) as exc:
                stub.ListRequests(pb.ListRequestsRequest(), timeout=10)
            assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert daemon.stop() == 0
    finally:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
