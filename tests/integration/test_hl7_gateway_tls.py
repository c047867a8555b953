"""The MLLP listener over TLS with client certificates, and an allow-list by certificate CN.
Certificates are made on the fly (a throw-away CA); loopback only."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapter.hl7v2 import MllpServer, frame
from adapter.hl7v2.access import AllowList, tls_context
from adapter.hl7v2.bindings import default_bindings
from adapter.hl7v2.gateway import Gateway
from adapter.hl7v2.senders import SenderTable
from adapter.security.audit import Auditor
from adapter.storage import MemoryStorage
from tests.unit.hl7v2.samples import adt, msa

FS, CR = b"\x1c", b"\r"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _issue(
    directory: Path,
    stem: str,
    cn: str,
    issuer: tuple[ec.EllipticCurvePrivateKey, x509.Name] | None,
    *,
    ca: bool,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Name]:
    key = ec.generate_private_key(ec.SECP256R1())
    signer, issuer_name = issuer or (key, _name(cn))
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
    cert = builder.sign(signer, hashes.SHA256())
    (directory / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / f"{stem}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return key, _name(cn)


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    ca = _issue(tmp_path, "ca", "test-ca", None, ca=True)
    _issue(tmp_path, "server", "127.0.0.1", ca, ca=False)
    _issue(tmp_path, "his", "his.h001", ca, ca=False)
    _issue(tmp_path, "other", "someone.else", ca, ca=False)
    return tmp_path


@pytest.fixture
async def tls_port(pki: Path) -> AsyncIterator[int]:
    context = tls_context(pki / "server.pem", pki / "server.key", pki / "ca.pem")
    gateway = Gateway(MemoryStorage(), default_bindings(), senders=SenderTable(), auditor=Auditor())
    server = MllpServer(
        host="127.0.0.1",
        port=0,
        handler=gateway,
        ssl_context=context,
        allowed=AllowList.parse(["cn:his.h001"]),
    )
    _, port = await server.start()
    try:
        yield port
    finally:
        await server.stop()


def tls_client(pki: Path, port: int, who: str, payload: bytes) -> bytes:
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    context.load_cert_chain(pki / f"{who}.pem", pki / f"{who}.key")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            sock.sendall(payload)
            data = b""
            while not data.endswith(FS + CR):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    return data


async def test_tls_with_an_allowed_client_certificate(pki: Path, tls_port: int) -> None:
    reply = await asyncio.to_thread(tls_client, pki, tls_port, "his", frame(adt("T1").encode()))
    assert msa(reply[1:-2]) == ("AA", "T1")


async def test_another_certificate_cn_is_refused_with_ar(pki: Path, tls_port: int) -> None:
    reply = await asyncio.to_thread(tls_client, pki, tls_port, "other", frame(adt("T2").encode()))
    assert msa(reply[1:-2]) == ("AR", "T2")


def test_tls_settings_must_come_in_pairs(pki: Path) -> None:
    assert tls_context(None, None, None) is None
    with pytest.raises(ValueError, match="both"):
        tls_context(pki / "server.pem", None, None)
    with pytest.raises(ValueError, match="needs"):
        tls_context(None, None, pki / "ca.pem")
