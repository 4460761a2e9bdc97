"""`sdqn tls self-signed`: a CA, a server and a client certificate for a lab.

Production runs RESTCONF and gRPC over TLS with certificates from the site's PKI; this
helper makes a working set in one command so a lab never falls back to plaintext. Keys
are ECDSA P-256, written mode 0600; the printed cert-to-name entry maps the client
certificate (by the CA's fingerprint and its common name, RFC 7407) to a user.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from controller.app.files import write_private
from controller.netconf.certname import fingerprint


@dataclass(frozen=True)
class Issuer:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(common_name: str = "sdqn lab CA", days: int = 825) -> Issuer:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(common_name))
            .issuer_name(_name(common_name)).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return Issuer(cert, key)


def issue(ca: Issuer, common_name: str, *, server: bool, hosts: tuple[str, ...] = (),
          emails: tuple[str, ...] = (), days: int = 825) -> Issuer:
    """A leaf certificate: a server one (SANs `hosts`) or a client one."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(common_name))
               .issuer_name(ca.cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage(
                   [ExtendedKeyUsageOID.SERVER_AUTH if server
                    else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
    names: list[x509.GeneralName] = [x509.RFC822Name(e) for e in emails]
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return Issuer(builder.sign(ca.key, hashes.SHA256()), key)


def write_pair(pair: Issuer, cert_path: Path, key_path: Path) -> None:
    write_private(cert_path, pair.cert.public_bytes(serialization.Encoding.PEM).decode())
    write_private(key_path, pair.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode())


def self_signed(out: Annotated[Path, typer.Option(help="directory for the PEM files")],
                client: Annotated[str, typer.Option(help="client certificate's CN "
                                                         "(a NETCONF user)")] = "admin",
                host: Annotated[list[str] | None, typer.Option(
                    help="server name or address (repeatable)")] = None) -> None:
    """Create a lab CA, a server and a client certificate (PEM, keys 0600) in OUT."""
    hosts = tuple(host or ["localhost", "127.0.0.1"])
    ca = make_ca()
    write_pair(ca, out / "ca.pem", out / "ca.key")
    write_pair(issue(ca, hosts[0], server=True, hosts=hosts), out / "server.pem",
               out / "server.key")
    write_pair(issue(ca, client, server=False), out / "client.pem", out / "client.key")
    entry = {"id": 1, "fingerprint": fingerprint(ca.cert), "map_type": "common-name"}
    typer.echo(f"wrote ca.pem, server.pem/.key, client.pem/.key ({client!r}) to {out}\n"
               "controller.json: restconf.tls / grpc.tls = {\"cert_file\": \"server.pem\", "
               "\"key_file\": \"server.key\", \"client_ca_file\": \"ca.pem\"}\n"
               f"netconf.auth.cert_to_name: [{json.dumps(entry)}]")
