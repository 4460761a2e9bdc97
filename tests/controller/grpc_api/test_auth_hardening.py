"""gRPC authentication hardening: tokens stored as salted pbkdf2 hashes (a cache keeps
the per-call cost low), wrong tokens locked out per client address, client certificates
mapped by cert-to-name (RFC 7407) with unmapped ones refused, and reflection optionally
behind authentication."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from structlog.testing import capture_logs

from controller.app.grpc import credentials
from controller.app.tls import issue, make_ca, write_pair
from controller.datastore.history import CommitLog, RunningHistory
from controller.grpc_api.auth import TOKEN_USER, TokenAuth
from controller.grpc_api.server import GrpcServer
from controller.grpc_api.service import ControllerService
from controller.grpc_api.stubs import load
from controller.netconf import ssh
from controller.netconf.authguard import AuthGuard, LockoutSettings
from controller.netconf.certname import CertNameMapper, CertToName, MapType, fingerprint
from controller.restconf.access import DataAccess
from controller.settings import GrpcToken, TlsSettings

_FAST = 1000  # pbkdf2 iterations in tests


class FakeContext:
    """What TokenAuth reads from a grpc ServicerContext."""

    def __init__(self, token: str, peer: str = "ipv4:127.0.0.1:40000") -> None:
        self._token, self._peer = token, peer

    def peer(self) -> str:
        return self._peer

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {self._token}")]

    def auth_context(self) -> dict[str, list[bytes]]:
        return {}


def test_hashed_tokens_are_checked_once_then_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = ssh.verify_password_hash

    def spy(password: str, encoded: str) -> bool:
        calls.append(password)
        return real(password, encoded)

    monkeypatch.setattr("controller.grpc_api.auth.verify_password_hash", spy)
    auth = TokenAuth([GrpcToken(user="admin",
                                token_hash=ssh.hash_password("t0k", iterations=_FAST)),
                      GrpcToken(user="operator",
                                token_hash=ssh.hash_password("op", iterations=_FAST))])
    assert auth.user(FakeContext("t0k")) == "admin"
    assert len(calls) == 2                        # every entry checked (no timing oracle)
    assert auth.user(FakeContext("t0k")) == "admin"
    assert len(calls) == 2                        # cached: no KDF on later calls
    assert auth.user(FakeContext("wrong")) is None
    assert "t0k" not in repr(auth.__dict__)       # the cache holds HMACs, not tokens


def test_unsalted_sha256_tokens_still_work_but_warn() -> None:
    import hashlib

    with capture_logs() as logs:
        auth = TokenAuth([GrpcToken(user="admin",
                                    token_sha256=hashlib.sha256(b"s3cret").hexdigest())])
    assert auth.user(FakeContext("s3cret")) == "admin"
    assert any("unsalted" in e["event"] for e in logs)


@contextmanager
def _server(access: DataAccess, auth: TokenAuth, *, tls: TlsSettings | None = None,
            reflection_auth: bool = False) -> Iterator[GrpcServer]:
    service = ControllerService(access, hub=None, auth=auth,
                                history=RunningHistory(access.store, CommitLog(None)))
    server = GrpcServer(service, host="localhost" if tls else "127.0.0.1",
                        credentials=credentials(tls), reflection_auth=reflection_auth)
    server.start()
    try:
        yield server
    finally:
        server.stop(grace=0.1)
        service.history.close()


def _list(channel: grpc.Channel, pb: Any, token: str | None) -> grpc.StatusCode:
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    try:
        load()[1].ControllerServiceStub(channel).ListRequests(
            pb.ListRequestsRequest(), metadata=metadata, timeout=10)
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def test_wrong_tokens_lock_out_the_address(access: DataAccess, pb: Any) -> None:
    guard = AuthGuard(LockoutSettings(max_failures=3, backoff_s=60))
    auth = TokenAuth([GrpcToken(user="admin",
                                token_hash=ssh.hash_password("right", iterations=_FAST))],
                     guard=guard)
    try:
        with _server(access, auth) as server, \
                grpc.insecure_channel(server.target) as channel, capture_logs() as logs:
            assert _list(channel, pb, "right") == grpc.StatusCode.OK
            for _ in range(3):
                assert _list(channel, pb, "wrong") == grpc.StatusCode.UNAUTHENTICATED
            assert _list(channel, pb, "right") == grpc.StatusCode.UNAUTHENTICATED  # locked
        lockouts = [e for e in logs if e["event"] == "authentication locked out"]
        assert [(e["user"], e["peer"], e["interface"]) for e in lockouts] == [
            (TOKEN_USER, "127.0.0.1", "grpc")]
        # grpc cannot bind a client source address: the other address through the same
        # TokenAuth, as the server would call it
        assert auth.user(FakeContext("right", "ipv4:127.0.0.2:5555")) == "admin"
        assert auth.user(FakeContext("right", "ipv4:127.0.0.1:5555")) is None
    finally:
        guard.close()


def test_client_certificates_need_a_cert_to_name_entry(access: DataAccess, pb: Any,
                                                        tmp_path: Path) -> None:
    ca = make_ca()
    write_pair(ca, tmp_path / "ca.pem", tmp_path / "ca.key")
    write_pair(issue(ca, "localhost", server=True, hosts=("localhost",)),
               tmp_path / "server.pem", tmp_path / "server.key")
    tls = TlsSettings(cert_file=tmp_path / "server.pem", key_file=tmp_path / "server.key",
                      client_ca_file=tmp_path / "ca.pem", require_client_cert=True)
    operator = issue(ca, "operator", server=False)
    names = CertNameMapper.from_files(
        [CertToName(id=1, fingerprint=fingerprint(operator.cert),
                    map_type=MapType.COMMON_NAME)], [tls.client_ca_file])
    auth = TokenAuth([], client_certs=True, cert_names=names)

    def channel_as(common_name: str) -> grpc.Channel:
        pair = issue(ca, common_name, server=False) if common_name != "operator" else operator
        write_pair(pair, tmp_path / "c.pem", tmp_path / "c.key")
        return grpc.secure_channel(f"localhost:{server.port}", grpc.ssl_channel_credentials(
            (tmp_path / "ca.pem").read_bytes(), (tmp_path / "c.key").read_bytes(),
            (tmp_path / "c.pem").read_bytes()))

    with _server(access, auth, tls=tls) as server:
        with channel_as("operator") as channel:
            assert _list(channel, pb, None) == grpc.StatusCode.OK
        with channel_as("mallory") as channel, capture_logs() as logs:
            # signed by the trusted CA, but no entry maps it: refused, and logged
            assert _list(channel, pb, None) == grpc.StatusCode.UNAUTHENTICATED
        refused = [e for e in logs if e["event"] == "client certificate refused"]
        assert refused and refused[0]["subject"] == "CN=mallory"


def test_reflection_can_require_authentication(access: DataAccess, pb: Any) -> None:
    auth = TokenAuth([GrpcToken(user="admin", token="t")])
    with _server(access, auth, reflection_auth=True) as server, \
            grpc.insecure_channel(server.target) as channel:
        with pytest.raises(grpc.RpcError) as refused:
            ProtoReflectionDescriptorDatabase(channel).get_services()
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert _list(channel, pb, "t") == grpc.StatusCode.OK
        intercepted = grpc.intercept_channel(channel, _Bearer("t"))
        assert "sdqn.v1.ControllerService" in ProtoReflectionDescriptorDatabase(
            intercepted).get_services()


class _Bearer(grpc.StreamStreamClientInterceptor):  # type: ignore[misc]
    def __init__(self, token: str) -> None:
        self.token = token

    def intercept_stream_stream(self, continuation: Callable[..., Any], details: Any,
                                requests: Any) -> Any:
        metadata = [*(details.metadata or ()), ("authorization", f"Bearer {self.token}")]
        return continuation(_Details(details, metadata), requests)


class _Details(grpc.ClientCallDetails):  # type: ignore[misc]
    def __init__(self, base: Any, metadata: list[tuple[str, str]]) -> None:
        self.method, self.timeout, self.metadata = base.method, base.timeout, metadata
        self.credentials, self.wait_for_ready = base.credentials, base.wait_for_ready
        self.compression = base.compression
