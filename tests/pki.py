"""Certificates made by the tests with the ``cryptography`` package: a CA of the charging
station operator, server certificates for a node, charging station certificates."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

ORGANIZATION = "Test CSO"
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class Issued:
    cert_file: Path
    key_file: Path
    serial: int

    @property
    def files(self) -> tuple[str, str]:
        return str(self.cert_file), str(self.key_file)

    def combined(self, path: Path) -> Path:
        """Certificate and key in one PEM file (HAProxy's ``crt``)."""
        path.write_bytes(self.cert_file.read_bytes() + self.key_file.read_bytes())
        return path


def _name(common_name: str, organization: str | None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _key(kind: str) -> PrivateKey:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


class Pki:
    """A CA that writes what it issues under ``directory``."""

    def __init__(self, directory: Path, name: str = "Test CSO Root CA") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._key = _key("ec")
        now = datetime.now(UTC)
        subject = _name(name, ORGANIZATION)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),  # fmt: skip
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )
        self.ca_file = directory / f"{name.replace(' ', '-')}.pem"
        self.ca_file.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))

    def issue(
        self,
        common_name: str,
        *,
        organization: str | None = ORGANIZATION,
        server: bool = False,
        key: str = "ec",
        valid_from: timedelta = timedelta(days=-1),
        valid_for: timedelta = timedelta(days=30),
        name: str | None = None,
    ) -> Issued:
        """A certificate for ``common_name`` (a server one carries 127.0.0.1/localhost as
        subjectAltName), written to ``name``.pem / ``name``.key."""
        private = _key(key)
        now = datetime.now(UTC)
        serial = x509.random_serial_number()
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name, organization))
            .issuer_name(self.certificate.subject)
            .public_key(private.public_key())
            .serial_number(serial)
            .not_valid_before(now + valid_from)
            .not_valid_after(now + valid_from + valid_for)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        if server:
            alt_names: list[x509.GeneralName] = [
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            ]
            builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        certificate = builder.sign(self._key, hashes.SHA256())
        stem = name or common_name
        cert_file, key_file = self.directory / f"{stem}.pem", self.directory / f"{stem}.key"
        cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return Issued(cert_file, key_file, serial)


def serial_of(der: bytes) -> int:
    """The serial number of a DER certificate (``getpeercert(binary_form=True)``)."""
    return x509.load_der_x509_certificate(der).serial_number
