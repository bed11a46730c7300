"""The certificate authority that signs chargers' certificates.

Built in (:class:`BuiltinAuthority`): a CA certificate and key read from files
(``CSMS_CA_CERT_FILE``, ``CSMS_CA_KEY_FILE``, the key optionally encrypted with
``CSMS_CA_KEY_PASSPHRASE``); ``csms ca init`` makes a pair for development and tests.
External: ``CSMS_CA_FACTORY=package.module:function``, a function that takes the node's
settings and returns any object with ``async def sign(csr_pem, charge_point_id) -> str``
(:class:`csms.services.ports.CertificateAuthority`), e.g. a client of a hosted PKI
(docs/topics/certificates.md shows one).

The CA key lives in this process's memory only: it is never logged, stored elsewhere or
returned by anything (``repr`` shows the CA's subject).
"""

from __future__ import annotations

import importlib
import logging
import os
import stat
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from csms.domain import certificates as certs
from csms.domain.clock import Clock, utc_now
from csms.errors import ConfigurationError, InvalidInput
from csms.services.ports import CertificateAuthority
from csms.settings import NodeSettings

log = logging.getLogger(__name__)

CA_CERT_NAME = "ca.pem"
CA_KEY_NAME = "ca.key"
BACKDATE = timedelta(minutes=5)  # tolerate chargers whose clock is a little behind
SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class BuiltinAuthority:
    """Signs CSRs with a CA key held in memory (see the module docstring)."""

    def __init__(
        self,
        certificate: x509.Certificate,
        key: SigningKey,
        *,
        issuers: tuple[x509.Certificate, ...] = (),
        validity_days: int = 365,
        organization: str | None = None,
        clock: Clock = utc_now,
    ) -> None:
        if certificate.public_key() != key.public_key():
            raise ConfigurationError("the CA key does not belong to the CA certificate")
        self.certificate = certificate
        self._key = key
        # what CertificateSigned carries after the charger's certificate: the CA and its
        # issuers up to (not including) a self-signed root, which chargers hold already
        self._chain_tail = tuple(c for c in (certificate, *issuers) if not certs.issued_by(c, c))
        self.validity = timedelta(days=validity_days)
        self.organization = organization
        self._clock = clock

    def __repr__(self) -> str:
        return f"BuiltinAuthority({self.certificate.subject.rfc4514_string()})"

    @classmethod
    def from_files(
        cls,
        certificate_file: Path,
        key_file: Path,
        *,
        passphrase: str | None = None,
        validity_days: int = 365,
        organization: str | None = None,
        clock: Clock = utc_now,
    ) -> BuiltinAuthority:
        """The CA of a PEM certificate file (the CA first, then its issuers if it is an
        intermediate) and a PEM key file. ConfigurationError naming the file otherwise
        (never quoting it)."""
        try:
            chain = certs.load_chain(certificate_file.read_text(), what=str(certificate_file))
        except (OSError, InvalidInput) as exc:
            raise ConfigurationError(f"CSMS_CA_CERT_FILE: {exc}") from None
        try:
            data = key_file.read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"CSMS_CA_KEY_FILE: {exc}") from None
        if os.name == "posix" and key_file.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("CSMS_CA_KEY_FILE %s is readable by others than its owner", key_file)
        try:
            key = serialization.load_pem_private_key(
                data, passphrase.encode() if passphrase else None
            )
        except (ValueError, TypeError):
            raise ConfigurationError(
                f"CSMS_CA_KEY_FILE {key_file}: not a PEM private key, or a wrong or missing "
                "CSMS_CA_KEY_PASSPHRASE"
            ) from None
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ConfigurationError(f"CSMS_CA_KEY_FILE {key_file}: an RSA or EC key is required")
        return cls(
            chain[0],
            key,
            issuers=tuple(chain[1:]),
            validity_days=validity_days,
            organization=organization,
            clock=clock,
        )

    async def sign(self, csr_pem: str, charge_point_id: str) -> str:
        """A charging-station certificate for the CSR (checked by the caller): CN the
        charge point id, O the configured organization (else the CSR's), a client
        certificate of ``validity_days`` (A00.FR.508-512), then the chain tail."""
        csr = x509.load_pem_x509_csr(csr_pem.encode())
        leaf = self._certificate(csr, charge_point_id)
        return "".join(certs.pem_of(c) for c in (leaf, *self._chain_tail))

    def _certificate(
        self, csr: x509.CertificateSigningRequest, charge_point_id: str
    ) -> x509.Certificate:
        names = [x509.NameAttribute(NameOID.COMMON_NAME, charge_point_id)]
        organization = self.organization or _organization(csr)
        if organization:
            names.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
        now = self._clock()
        public_key = csr.public_key()
        if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            raise InvalidInput("csr: an RSA or EC key is required")
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(names))
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + self.validity)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(public_key), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        )
        return _sign(builder, self._key)


def _organization(csr: x509.CertificateSigningRequest) -> str | None:
    values = csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(values[0].value) if values else None


def _key_usage(public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> x509.KeyUsage:
    rsa_key = isinstance(public_key, rsa.RSAPublicKey)
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=rsa_key,  # RSA key exchange; EC keys agree keys instead
        data_encipherment=False,
        key_agreement=not rsa_key,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _sign(builder: x509.CertificateBuilder, key: SigningKey) -> x509.Certificate:
    # A00.FR.505: RSA-PSS or ECDSA; A00.FR.506: SHA-256
    if isinstance(key, rsa.RSAPrivateKey):
        return builder.sign(
            key,
            hashes.SHA256(),
            rsa_padding=padding.PSS(
                mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH
            ),
        )
    return builder.sign(key, hashes.SHA256())


# -- csms ca init -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreatedAuthority:
    certificate_file: Path
    key_file: Path
    facts: certs.CertificateFacts


def create_authority(
    directory: Path,
    *,
    common_name: str,
    organization: str | None = None,
    days: int = 3650,
    key_type: str = "ec",
    passphrase: str | None = None,
    force: bool = False,
    clock: Clock = utc_now,
) -> CreatedAuthority:
    """A self-signed CA (``ca.pem``, ``ca.key`` mode 0600) in ``directory`` for development
    and tests; InvalidInput if the files exist (unless ``force``)."""
    certificate_file, key_file = directory / CA_CERT_NAME, directory / CA_KEY_NAME
    if not force and (certificate_file.exists() or key_file.exists()):
        raise InvalidInput(f"{certificate_file} or {key_file} exists already (--force replaces)")
    if key_type == "ec":
        key: SigningKey = ec.generate_private_key(ec.SECP256R1())
    elif key_type == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    else:
        raise InvalidInput("key type must be ec or rsa")
    names = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        names.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    subject = x509.Name(names)
    now = clock()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    certificate = _sign(builder, key)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    directory.mkdir(parents=True, exist_ok=True)
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key_bytes)
    os.chmod(key_file, 0o600)  # an existing file (--force) keeps its mode otherwise
    certificate_file.write_text(certs.pem_of(certificate))
    return CreatedAuthority(certificate_file, key_file, certs.facts(certificate))


# -- from settings ----------------------------------------------------------------------------


def load_authority(
    settings: NodeSettings, *, clock: Clock = utc_now
) -> CertificateAuthority | None:
    """The authority the settings name: an external one (``CSMS_CA_FACTORY``), the built-in
    one (``CSMS_CA_CERT_FILE`` and ``CSMS_CA_KEY_FILE``), or None (SignCertificate is then
    answered Rejected). ConfigurationError for incomplete or unusable settings."""
    if settings.ca_factory:
        return _external(settings)
    if settings.ca_cert_file is None and settings.ca_key_file is None:
        return None
    if settings.ca_cert_file is None or settings.ca_key_file is None:
        raise ConfigurationError("CSMS_CA_CERT_FILE and CSMS_CA_KEY_FILE go together")
    passphrase = settings.ca_key_passphrase
    authority = BuiltinAuthority.from_files(
        settings.ca_cert_file,
        settings.ca_key_file,
        passphrase=None if passphrase is None else passphrase.get_secret_value(),
        validity_days=settings.charger_cert_days,
        organization=settings.cert_organization,
        clock=clock,
    )
    log.info("certificate authority: %s", authority.certificate.subject.rfc4514_string())
    return authority


def _external(settings: NodeSettings) -> CertificateAuthority:
    module_name, _, attribute = (settings.ca_factory or "").partition(":")
    try:
        factory: Any = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigurationError(
            f"CSMS_CA_FACTORY {settings.ca_factory!r}: expected package.module:function ({exc})"
        ) from None
    authority = factory(settings)
    if not callable(getattr(authority, "sign", None)):
        raise ConfigurationError(
            f"CSMS_CA_FACTORY {settings.ca_factory!r} returned no object with a sign method"
        )
    log.info("certificate authority: %r (CSMS_CA_FACTORY)", authority)
    result: CertificateAuthority = authority
    return result
