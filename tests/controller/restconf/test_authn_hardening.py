"""RESTCONF authentication hardening: basic-auth lockout per user and client address
(httpx bound to 127.0.0.2 plays the attacker), and client certificates mapped to users
by cert-to-name (RFC 7407) through `authn.authenticate`; an unmapped certificate is a
401 (RFC 8040 §2.5)."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from structlog.testing import capture_logs

from controller.app.tls import issue, make_ca
from controller.datastore.nmda import NmdaStore
from controller.netconf.authguard import LockoutSettings
from controller.netconf.certname import CertNameMapper, CertToName, MapType, fingerprint
from controller.netconf.server import NetconfServer
from controller.restconf.access import DataAccess
from controller.restconf.authn import authenticate
from controller.restconf.errors import HttpError
from controller.restconf.server import RestconfServer
from controller.settings import AuthSettings, NetconfUser

MIN_FIDELITY = "/restconf/data/sdqn-services:entanglement-services/request=qkd-alice-bob/" \
               "min-fidelity"


@pytest.fixture
def guarded(store: NmdaStore, netconf: NetconfServer) -> Iterator[RestconfServer]:
    auth = AuthSettings(users=[NetconfUser(name="admin", password="s3cret")],
                        lockout=LockoutSettings(max_failures=3, backoff_s=60))
    access = DataAccess(store, users=auth, core=netconf.core)
    server = RestconfServer(access)
    server.start()
    yield server
    server.stop()
    access.close()


def _client(server: RestconfServer, password: str, source: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, auth=("admin", password), timeout=10,
                        transport=httpx.HTTPTransport(local_address=source))


def test_basic_auth_lockout_per_address(guarded: RestconfServer) -> None:
    with capture_logs() as logs:
        with _client(guarded, "guess", "127.0.0.2") as attacker:
            for _ in range(3):
                assert attacker.get(MIN_FIDELITY).status_code == 401
        with _client(guarded, "s3cret", "127.0.0.2") as right:
            locked = right.get(MIN_FIDELITY)
            assert locked.status_code == 401                    # the right password, refused
            assert "WWW-Authenticate" in locked.headers
    with _client(guarded, "s3cret", "127.0.0.1") as admin:
        assert admin.get(MIN_FIDELITY).status_code == 200    # another address: unaffected
    lockouts = [e for e in logs if e["event"] == "authentication locked out"]
    assert [(e["user"], e["peer"], e["interface"]) for e in lockouts] == [
        ("admin", "127.0.0.2", "restconf")]
    failed = [e for e in logs if e["event"] == "authentication failed"]
    assert len(failed) == 4 and failed[-1]["reason"] == "locked out"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_client_certificates_map_through_cert_to_name(access: DataAccess) -> None:
    ca, stranger_ca = make_ca(), make_ca("another CA")
    operator = issue(ca, "operator", server=False)
    by_email = issue(ca, "ignored", server=False, emails=("writer@example.net",))
    mallory = issue(ca, "mallory", server=False)     # signed by the CA, mapped by no entry
    pinned = issue(stranger_ca, "whoever", server=False)
    access.cert_names = CertNameMapper([
        CertToName(id=10, fingerprint=fingerprint(ca.cert), map_type=MapType.COMMON_NAME),
        CertToName(id=5, fingerprint=fingerprint(by_email.cert),
                   map_type=MapType.SAN_RFC822_NAME),
        CertToName(id=20, fingerprint=fingerprint(pinned.cert), map_type=MapType.SPECIFIED,
                   name="operator"),
    ], [ca.cert])
    der = serialization.Encoding.DER
    assert authenticate(access, "", "127.0.0.1",
                        peer_cert=operator.cert.public_bytes(der)) == "operator"
    assert authenticate(access, "", "127.0.0.1",
                        peer_cert=by_email.cert.public_bytes(der)) == "writer@example.net"
    assert authenticate(access, "", "127.0.0.1", peer_cert=pinned.cert.public_bytes(
        serialization.Encoding.PEM)) == "operator"
    # only common-name entries for this CA's fingerprint: mallory maps to "mallory"...
    assert authenticate(access, "", "127.0.0.1",
                        peer_cert=mallory.cert.public_bytes(der)) == "mallory"
    # ...so a CA-wide common-name entry trusts every name the CA signs; without it the
    # CA-signed certificate is refused even with a valid password
    access.cert_names = CertNameMapper(
        [e for e in access.cert_names.entries if e.map_type is not MapType.COMMON_NAME],
        [ca.cert])
    with capture_logs() as logs, pytest.raises(HttpError) as refused:
        authenticate(access, _basic("admin", "admin"), "127.0.0.1",
                     peer_cert=mallory.cert.public_bytes(der))
    assert refused.value.status == 401
    assert [e["reason"] for e in logs if e["event"] == "client certificate refused"] == [
        "no cert-to-name entry maps it"]
    stranger = issue(stranger_ca, "admin", server=False)   # CA not trusted: no issuer match
    with pytest.raises(HttpError):
        authenticate(access, "", "127.0.0.1", peer_cert=stranger.cert.public_bytes(der))
    access.cert_names = None                               # no list at all: refused too
    with pytest.raises(HttpError):
        authenticate(access, "", "127.0.0.1", peer_cert=operator.cert.public_bytes(der))
