"""Connection-level defences of the RESTCONF server: slow-header clients cannot starve
others, per-address limits, the header-read timeout, and the TLS client certificate
handed to authentication. Attackers connect from 127.0.0.2 (Linux routes 127/8 to lo),
the operator from 127.0.0.1, so per-address limits can tell them apart."""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from controller.app.restconf import tls_context
from controller.netconf.certname import CertNameMapper, CertToName, MapType, fingerprint
from controller.restconf import asgi
from controller.restconf.access import DataAccess
from controller.restconf.authn import authenticate
from controller.restconf.server import RestconfServer
from controller.settings import TlsSettings
from tests.controller.grpc_api.test_tls import Issue, pki  # noqa: F401 (fixture)

ATTACKER = "127.0.0.2"
TARGET = "/restconf/data/sdqn-services:entanglement-services/request=qkd-alice-bob/min-fidelity"


@contextlib.contextmanager
def serving(access: DataAccess, **limits: Any) -> Iterator[RestconfServer]:
    server = RestconfServer(access, **limits)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def attacker_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.bind((ATTACKER, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def operator_get(server: RestconfServer) -> httpx.Response:
    with httpx.Client(base_url=server.url, auth=("admin", "admin"), timeout=10) as client:
        return client.get(TARGET)


def test_slow_header_clients_do_not_starve_a_normal_get(access: DataAccess) -> None:
    with serving(access, max_connections=200, max_connections_per_address=150,
                 header_timeout=30) as server, contextlib.ExitStack() as stack:
        slow = [stack.enter_context(attacker_socket(server.port)) for _ in range(140)]
        for sock in slow:
            sock.sendall(b"GET /restconf HTTP/1.1\r\nX-a: ")   # headers never finish
        for _ in range(3):
            r = operator_get(server)
            assert r.status_code == 200
            assert r.json() == {"sdqn-services:min-fidelity": "0.9"}
        assert server.limits.open >= 140


def test_per_address_limit_refuses_the_next_from_that_address_only(
        access: DataAccess) -> None:
    with serving(access, max_connections_per_address=3) as server, \
            contextlib.ExitStack() as stack:
        held = [stack.enter_context(attacker_socket(server.port)) for _ in range(3)]
        assert len(held) == 3
        with attacker_socket(server.port) as refused:
            reply = refused.recv(4096)
            assert reply.startswith(b"HTTP/1.1 503 ")
            assert b"per-address connection limit" in reply
        assert operator_get(server).status_code == 200   # 127.0.0.1 is still served


def test_header_timeout_closes_a_silent_connection(access: DataAccess) -> None:
    with serving(access, header_timeout=0.5) as server, \
            attacker_socket(server.port) as silent:
        silent.settimeout(10)
        reply = b""
        while chunk := silent.recv(4096):    # the server answers 408, then closes
            reply += chunk
        assert reply.startswith(b"HTTP/1.1 408 ")
        with attacker_socket(server.port) as trickle:   # bytes do not reset the clock
            trickle.settimeout(10)
            trickle.sendall(b"GET / HTTP/1.1\r\n")
            reply = b""
            while chunk := trickle.recv(4096):
                reply += chunk
            assert reply.startswith(b"HTTP/1.1 408 ")
        assert operator_get(server).status_code == 200


def test_tls_client_certificate_reaches_authentication(
        access: DataAccess, pki: tuple[Path, Issue],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The leaf certificate's bytes reach cert-to-name over real TLS: a certificate the
    list maps is the user, one it does not map is refused even with a valid password,
    and a client without a certificate still uses basic authentication."""
    ca, issue = pki
    cert, key = issue("localhost", True)
    seen: list[Any] = []

    def recording(*args: Any, **kwargs: Any) -> str:
        seen.append(kwargs.get("peer_cert"))
        return authenticate(*args, **kwargs)

    monkeypatch.setattr(asgi, "authenticate", recording)
    ca_cert = x509.load_pem_x509_certificate(ca.read_bytes())
    access.cert_names = CertNameMapper([CertToName(
        id=1, fingerprint=fingerprint(ca_cert), map_type=MapType.COMMON_NAME)], [ca_cert])
    tls = tls_context(TlsSettings(cert_file=cert, key_file=key, client_ca_file=ca))
    with serving(access, host="localhost", tls=tls) as server:
        client_cert, client_key = issue("operator", False)
        trust = ssl.create_default_context(cafile=str(ca))
        trust.load_cert_chain(client_cert, client_key)
        with httpx.Client(base_url=server.url, verify=trust, timeout=10) as client:
            assert client.get(TARGET).status_code == 200      # no password: the certificate
        access.cert_names = CertNameMapper([], [ca_cert])    # now mapped by no entry
        with httpx.Client(base_url=server.url, verify=trust, auth=("admin", "admin"),
                          timeout=10) as client:
            assert client.get(TARGET).status_code == 401
        anonymous = ssl.create_default_context(cafile=str(ca))   # certificate optional
        with httpx.Client(base_url=server.url, verify=anonymous, auth=("admin", "admin"),
                          timeout=10) as client:
            assert client.get(TARGET).status_code == 200
    assert len(seen) == 3 and seen[2] is None
    leaf = x509.load_der_x509_certificate(seen[0])
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "operator"
