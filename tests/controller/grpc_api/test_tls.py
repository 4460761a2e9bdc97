"""TLS on both northbounds: gRPC with mutual TLS (the client certificate's CN is the
NACM user, no token needed), RESTCONF over HTTPS. Certificates are made here."""

from __future__ import annotations

import datetime
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from controller.app.grpc import credentials
from controller.app.restconf import tls_context
from controller.datastore.history import CommitLog, RunningHistory
from controller.grpc_api.auth import TokenAuth
from controller.grpc_api.server import GrpcServer
from controller.grpc_api.service import ControllerService
from controller.grpc_api.stubs import load
from controller.netconf.certname import CertNameMapper, CertToName, MapType, fingerprint
from controller.restconf.access import DataAccess
from controller.restconf.server import RestconfServer
from controller.settings import TlsSettings

Issue = Callable[[str, bool], tuple[Path, Path]]


@pytest.fixture
def pki(tmp_path: Path) -> tuple[Path, Issue]:
    """A CA and a function issuing (cert, key) files signed by it."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sdqn test CA")])
    now = datetime.datetime.now(datetime.UTC)
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now - datetime.timedelta(minutes=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))

    def issue(common_name: str, server: bool) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                               common_name)]))
                   .issuer_name(ca_name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=1))
                   .not_valid_after(now + datetime.timedelta(days=1)))
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost")]), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        cert_file, key_file = tmp_path / f"{common_name}.pem", tmp_path / f"{common_name}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return cert_file, key_file

    return ca_file, issue


def test_grpc_mutual_tls_maps_the_certificate_to_a_user(
        access: DataAccess, pki: tuple[Path, Issue], pb: Any) -> None:
    ca, issue = pki
    server_cert, server_key = issue("localhost", True)
    tls = TlsSettings(cert_file=server_cert, key_file=server_key, client_ca_file=ca,
                      require_client_cert=True)
    # cert-to-name (RFC 7407): certificates this CA signed map to their common name
    ca_cert = x509.load_pem_x509_certificate(ca.read_bytes())
    names = CertNameMapper([CertToName(id=1, fingerprint=fingerprint(ca_cert),
                                       map_type=MapType.COMMON_NAME)], [ca_cert])
    service = ControllerService(access, hub=None,
                                auth=TokenAuth([], client_certs=True, cert_names=names),
                                history=RunningHistory(access.store, CommitLog(None)))
    server = GrpcServer(service, host="localhost", credentials=credentials(tls))
    server.start()
    try:
        cert, key = issue("operator", False)
        creds = grpc.ssl_channel_credentials(ca.read_bytes(), key.read_bytes(),
                                             cert.read_bytes())
        with grpc.secure_channel(f"localhost:{server.port}", creds) as channel:
            stub = load()[1].ControllerServiceStub(channel)
            assert stub.ListRequests(pb.ListRequestsRequest(), timeout=10).requests
            with pytest.raises(grpc.RpcError) as denied:   # NACM: operator is read-only
                stub.WithdrawRequest(pb.WithdrawRequestRequest(
                    name="qkd-alice-bob", target=pb.TARGET_RUNNING), timeout=10)
            assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        anonymous = grpc.ssl_channel_credentials(ca.read_bytes())
        with grpc.secure_channel(f"localhost:{server.port}", anonymous) as channel:
            with pytest.raises(grpc.RpcError) as refused:     # no client certificate
                load()[1].ControllerServiceStub(channel).ListRequests(pb.ListRequestsRequest(),
                                                               timeout=10)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop(grace=0.1)
        service.history.close()


def test_restconf_over_https(access: DataAccess, pki: tuple[Path, Issue]) -> None:
    ca, issue = pki
    cert, key = issue("localhost", True)
    server = RestconfServer(access, host="localhost", tls=tls_context(
        TlsSettings(cert_file=cert, key_file=key)))
    server.start()
    try:
        assert server.url.startswith("https://")
        trust = ssl.create_default_context(cafile=str(ca))
        with httpx.Client(base_url=server.url, verify=trust, auth=("admin", "admin"),
                          timeout=10) as client:
            r = client.get("/restconf/data/sdqn-services:entanglement-services/"
                           "request=qkd-alice-bob/min-fidelity")
            assert r.json() == {"sdqn-services:min-fidelity": "0.9"}
        plain_url = server.url.replace("https", "http")
        with httpx.Client(base_url=plain_url, timeout=10) as plain, \
                pytest.raises(httpx.HTTPError):   # plaintext against TLS: no answer
            plain.get("/restconf")
        with httpx.Client(base_url=server.url, verify=trust, auth=("admin", "admin"),
                          timeout=10) as client:   # the server survived the bad client
            assert client.get("/restconf").status_code == 200
    finally:
        server.stop()
