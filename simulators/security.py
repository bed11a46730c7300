"""The station's security store: its key pairs, CSRs and charging-station certificate, and
the root certificates the CSMS installed (the Basic-auth password is in its config).

What a real station does (2.0.1 A01-A03 and M03-M05; the 1.6 security whitepaper's use
cases of the same names): on a trigger it generates a key pair and sends a CSR with
SignCertificate (the private key never leaves the station, A02.FR.05); it checks what
CertificateSigned brings before storing it (A02.FR.06: its key, CN, validity, and the chain
to an installed CSMS root when it has one) and answers Rejected otherwise (A02.FR.07).
Installed roots are listed and deleted by their hash data (the OCSP CertID).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.ocsp import OCSPRequestBuilder
from cryptography.x509.oid import NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

#: the root type names of both versions, by what they are
CSMS_ROOT = "CSMSRootCertificate"
ROOT_SPELLINGS = {"CentralSystemRootCertificate": CSMS_ROOT}
HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}
_PEM = re.compile(r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----")


def load_certificates(pem: str) -> list[x509.Certificate]:
    """Every certificate in a PEM text (ValueError if there is none or one is invalid)."""
    blocks = _PEM.findall(pem)
    if not blocks:
        raise ValueError("no PEM certificate")
    return [x509.load_pem_x509_certificate(b.encode()) for b in blocks]


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def hash_data(certificate: x509.Certificate, issuer: x509.Certificate) -> dict[str, str]:
    """CertificateHashDataType (SHA-256) of ``certificate`` issued by ``issuer``."""
    request = OCSPRequestBuilder().add_certificate(certificate, issuer, hashes.SHA256()).build()
    return {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": request.issuer_name_hash.hex(),
        "issuerKeyHash": request.issuer_key_hash.hex(),
        "serialNumber": format(certificate.serial_number, "x"),
    }


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def key(d: dict[str, Any]) -> tuple[str, ...]:
        serial = str(d.get("serialNumber", "")).lower().lstrip("0") or "0"
        return (
            str(d.get("hashAlgorithm")),
            str(d.get("issuerNameHash", "")).lower(),
            str(d.get("issuerKeyHash", "")).lower(),
            serial,
        )

    return key(a) == key(b)


def root_type(name: str) -> str:
    """One spelling per root type (1.6's CentralSystemRootCertificate is the CSMS root)."""
    return ROOT_SPELLINGS.get(name, name)


@dataclass
class SecurityStore:
    """Keys and certificates of one station (see the module docstring)."""

    #: the key of the CSR sent last, until a certificate for it arrives
    pending_key: PrivateKey | None = field(default=None, repr=False)
    #: the charging-station certificate chain in use (leaf first) and its key
    certificate_chain: list[x509.Certificate] = field(default_factory=list)
    certificate_key: PrivateKey | None = field(default=None, repr=False)
    #: installed root certificates by type (2.0.1 names)
    roots: dict[str, list[x509.Certificate]] = field(default_factory=dict)
    #: certificates stored, oldest first (the station keeps old ones as fallback, A02.FR.10)
    history: list[x509.Certificate] = field(default_factory=list)

    @property
    def certificate(self) -> x509.Certificate | None:
        return self.certificate_chain[0] if self.certificate_chain else None

    def new_csr(self, common_name: str, organization: str | None, key_type: str = "ec") -> str:
        """A new key pair and a PEM CSR for it (A02.FR.02/03)."""
        key: PrivateKey = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if key_type == "rsa"
            else ec.generate_private_key(ec.SECP256R1())
        )
        names = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        if organization:
            names.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name(names))
            .sign(key, hashes.SHA256())
        )
        self.pending_key = key
        return csr.public_bytes(Encoding.PEM).decode()

    def accept_signed(self, chain_pem: str, common_name: str, now: datetime | None = None) -> str:
        """Check and store a CertificateSigned chain: Accepted or Rejected (A02.FR.06/07)."""
        now = now or datetime.now(UTC)
        try:
            chain = load_certificates(chain_pem)
        except ValueError:
            return "Rejected"
        leaf, key = chain[0], self.pending_key
        if key is None or _spki(leaf.public_key()) != _spki(key.public_key()):
            return "Rejected"
        names = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if [n.value for n in names] != [common_name]:
            return "Rejected"
        if not leaf.not_valid_before_utc <= now < leaf.not_valid_after_utc:
            return "Rejected"
        if any(not _issued_by(c, p) for c, p in zip(chain, chain[1:], strict=False)):
            return "Rejected"
        trusted = self.roots.get(CSMS_ROOT, [])
        if trusted and not any(_issued_by(chain[-1], root) for root in trusted):
            return "Rejected"
        self.certificate_chain, self.certificate_key, self.pending_key = chain, key, None
        self.history.append(leaf)
        return "Accepted"

    # -- root certificates --------------------------------------------------------------

    def install(self, certificate_type: str, pem: str) -> str:
        try:
            (certificate,) = load_certificates(pem)
        except ValueError:
            return "Rejected"
        installed = self.roots.setdefault(root_type(certificate_type), [])
        if certificate not in installed:
            installed.append(certificate)
        return "Accepted"

    def _entries(self) -> list[tuple[str, x509.Certificate, dict[str, str]]]:
        entries = []
        for kind, certificates in sorted(self.roots.items()):
            for certificate in certificates:
                issuer = next(
                    (c for cs in self.roots.values() for c in cs if _issued_by(certificate, c)),
                    certificate,
                )
                entries.append((kind, certificate, hash_data(certificate, issuer)))
        return entries

    def installed(self, certificate_types: list[str]) -> list[tuple[str, dict[str, str]]]:
        """(type, hash data) of the installed roots of these types (all when empty)."""
        wanted = {root_type(t) for t in certificate_types}
        return [(k, data) for k, _, data in self._entries() if not wanted or k in wanted]

    def delete(self, certificate_hash_data: dict[str, Any]) -> str:
        for kind, certificate, data in self._entries():
            if _same(data, certificate_hash_data):
                self.roots[kind].remove(certificate)
                return "Accepted"
        return "NotFound"


def _spki(key: Any) -> bytes:
    data: bytes = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return data
