"""X.509 for chargers: what a CSR must be to be signed, what a certificate is, and the
OCPP certificate types and hash data of both versions.

Pure (no I/O): PEM text in, facts or :class:`~csms.errors.InvalidInput` out. The rules come
from the 2.0.1 part 2 section A "Certificate Properties" (A00.FR.501-511) and the 1.6
security whitepaper section 4 (the same properties): a charging-station certificate names
the station in its CN and its operator in its O, and its key is RSA of at least 2048 bits
or EC (we take the NIST curves P-256 and P-384, what ISO 15118 and the TLS suites of
A00.FR.318 use).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.ocsp import OCSPRequestBuilder
from cryptography.x509.oid import NameOID

from csms.errors import InvalidInput

# -- certificate types ------------------------------------------------------------------------

CHARGING_STATION_CERTIFICATE = "ChargingStationCertificate"  # 2.0.1 name; 1.6 has only this
V2G_CERTIFICATE = "V2GCertificate"
SIGNED_TYPES = (CHARGING_STATION_CERTIFICATE, V2G_CERTIFICATE)  # what SignCertificate asks for

# The root certificates each version installs (InstallCertificate), in its own spelling.
# Operators may write either version's name for the CSMS root: the command adapters map it.
ROOT_TYPES: dict[str, tuple[str, ...]] = {
    "ocpp1.6": ("CentralSystemRootCertificate", "ManufacturerRootCertificate"),
    "ocpp2.0.1": (
        "CSMSRootCertificate",
        "ManufacturerRootCertificate",
        "V2GRootCertificate",
        "MORootCertificate",
    ),
}
# What GetInstalledCertificateIds may ask for. 1.6 takes exactly one type per call; 2.0.1
# any number, none meaning all (V2G chains included).
LISTED_TYPES: dict[str, tuple[str, ...]] = {
    "ocpp1.6": ROOT_TYPES["ocpp1.6"],
    "ocpp2.0.1": (*ROOT_TYPES["ocpp2.0.1"], "V2GCertificateChain"),
}
ONE_TYPE_PER_LIST: dict[str, bool] = {"ocpp1.6": True, "ocpp2.0.1": False}
# How the CSMS asks a charger for a new CSR (A02): the neutral command and the message name.
RENEWAL_TRIGGERS: dict[str, tuple[str, str]] = {
    "ocpp1.6": ("extended_trigger_message", "SignChargePointCertificate"),
    "ocpp2.0.1": ("trigger_message", "SignChargingStationCertificate"),
}
TYPE_SPELLINGS = {"CentralSystemRootCertificate": "CSMSRootCertificate"}  # 1.6 -> 2.0.1 name

HASH_ALGORITHMS: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}
# the curves we sign keys of (A00.FR.503 asks for >= 224 bits; these are the ones in use)
EC_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384"}
MIN_RSA_BITS = 2048  # A00.FR.502
STRONG_SIGNATURE_HASHES = ("sha256", "sha384", "sha512")  # A00.FR.504/506: no SHA-1, no MD5
MAX_SERIAL_HEX = 40  # CertificateHashDataType.serialNumber: identifierString[0..40]


def list_calls(protocol: str, certificate_types: Sequence[str]) -> list[tuple[str, ...]]:
    """The GetInstalledCertificateIds calls that list ``certificate_types`` (none: all)."""
    if not ONE_TYPE_PER_LIST[protocol]:
        return [tuple(certificate_types)]
    return [(t,) for t in certificate_types or ROOT_TYPES[protocol]]


def canonical_type(certificate_type: str) -> str:
    """One spelling per type (the 2.0.1 one), to compare what the versions answer."""
    return TYPE_SPELLINGS.get(certificate_type, certificate_type)


# -- CSRs -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CsrFacts:
    """A CSR that may be signed for a charger."""

    common_name: str
    organization: str | None
    key: str  # "RSA 2048", "EC P-256", ...
    public_key_der: bytes  # SubjectPublicKeyInfo: what the signed certificate must carry


def check_csr(pem: str, charge_point_id: str, organization: str | None) -> CsrFacts:
    """The CSR's facts, or InvalidInput naming what is wrong (the reason a SignCertificate
    is Rejected): not PEM, a signature that does not verify (the requester does not hold
    the key), a weak key or signature hash, a CN that is not ``charge_point_id``
    (A00.FR.511), an O that is not ``organization`` when one is configured (A00.FR.509)."""
    try:
        csr = x509.load_pem_x509_csr(pem.encode())
    except (ValueError, UnicodeEncodeError):
        raise InvalidInput("csr: not a PEM-encoded PKCS#10 certificate signing request") from None
    if not csr.is_signature_valid:
        raise InvalidInput("csr: its signature does not verify with its own public key")
    key = public_key_description(csr.public_key())
    hash_name = _signature_hash_name(csr)
    if hash_name not in STRONG_SIGNATURE_HASHES:
        raise InvalidInput(f"csr: signed with {hash_name}; SHA-256 or stronger is required")
    names = _names(csr.subject, NameOID.COMMON_NAME)
    if len(names) != 1:
        raise InvalidInput(f"csr: the subject must have exactly one CN, it has {len(names)}")
    if names[0] != charge_point_id:
        raise InvalidInput(f"csr: CN is {names[0]!r}, not the charge point id {charge_point_id!r}")
    organizations = _names(csr.subject, NameOID.ORGANIZATION_NAME)
    if organization is not None and organizations != [organization]:
        found = ", ".join(repr(o) for o in organizations) or "missing"
        raise InvalidInput(f"csr: O is {found}, not the operator {organization!r}")
    return CsrFacts(
        names[0],
        organizations[0] if organizations else None,
        key,
        csr.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo),
    )


def public_key_description(key: Any) -> str:
    """``RSA 2048`` / ``EC P-256``; InvalidInput for a key we never sign."""
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise InvalidInput(
                f"csr: RSA key of {key.key_size} bits; at least {MIN_RSA_BITS} are required"
            )
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        curve = EC_CURVES.get(key.curve.name)
        if curve is None:
            raise InvalidInput(f"csr: EC curve {key.curve.name}; P-256 or P-384 is required")
        return f"EC {curve}"
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        raise InvalidInput("csr: EdDSA keys are not used by OCPP; RSA or EC P-256/P-384")
    raise InvalidInput("csr: unsupported key type; RSA (2048+) or EC P-256/P-384 is required")


def _signature_hash_name(signed: x509.CertificateSigningRequest | x509.Certificate) -> str:
    try:
        algorithm = signed.signature_hash_algorithm
    except Exception:  # an algorithm cryptography does not know
        return "an unknown algorithm"
    return "none" if algorithm is None else algorithm.name


def _names(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [
        a.value if isinstance(a.value, str) else a.value.decode(errors="replace")
        for a in name.get_attributes_for_oid(oid)
    ]


# -- certificates -----------------------------------------------------------------------------

_PEM_BLOCK = re.compile(
    r"-----BEGIN CERTIFICATE-----\s+[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----"
)


@dataclass(frozen=True, slots=True)
class CertificateFacts:
    """What the CSMS records about a certificate (never a key: only public parts)."""

    serial_number: str  # hex, lower case, no leading zeros (CertificateHashDataType)
    common_name: str | None
    organization: str | None
    issuer: str  # RFC 4514
    not_before: datetime
    not_after: datetime
    fingerprint_sha256: str  # hex, lower case
    pem: str


def load_chain(pem: str, *, what: str = "certificate") -> list[x509.Certificate]:
    """Every certificate of a PEM text, in order (leaf first); InvalidInput if none."""
    blocks = _PEM_BLOCK.findall(pem)
    if not blocks:
        raise InvalidInput(f"{what}: no PEM certificate (-----BEGIN CERTIFICATE-----) found")
    try:
        return [x509.load_pem_x509_certificate(block.encode()) for block in blocks]
    except ValueError as exc:
        raise InvalidInput(f"{what}: not a valid X.509 certificate ({exc})") from None


def facts(certificate: x509.Certificate) -> CertificateFacts:
    names = _names(certificate.subject, NameOID.COMMON_NAME)
    organizations = _names(certificate.subject, NameOID.ORGANIZATION_NAME)
    return CertificateFacts(
        serial_number=serial_hex(certificate.serial_number),
        common_name=names[0] if names else None,
        organization=organizations[0] if organizations else None,
        issuer=certificate.issuer.rfc4514_string(),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        fingerprint_sha256=certificate.fingerprint(hashes.SHA256()).hex(),
        pem=pem_of(certificate),
    )


def pem_of(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(Encoding.PEM).decode()


def serial_hex(serial: int) -> str:
    return format(serial, "x")


def public_key_der(certificate: x509.Certificate) -> bytes:
    return certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` signed ``certificate`` (names match and the signature verifies)."""
    try:
        certificate.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def check_issued(
    chain_pem: str, csr: CsrFacts, charge_point_id: str, now: datetime
) -> CertificateFacts:
    """What a certificate authority returned, checked before it reaches the charger: the
    leaf carries the CSR's key and the charger's CN, is valid now, and each certificate of
    the chain is signed by the next. InvalidInput otherwise."""
    chain = load_chain(chain_pem, what="signed chain")
    leaf = chain[0]
    if public_key_der(leaf) != csr.public_key_der:
        raise InvalidInput("signed chain: the certificate does not carry the CSR's public key")
    leaf_facts = facts(leaf)
    if leaf_facts.common_name != charge_point_id:
        raise InvalidInput(f"signed chain: CN is {leaf_facts.common_name!r}, not the charger's")
    if not leaf_facts.not_before <= now < leaf_facts.not_after:
        raise InvalidInput("signed chain: the certificate is not valid now")
    for child, parent in zip(chain, chain[1:], strict=False):
        if not issued_by(child, parent):
            raise InvalidInput("signed chain: a certificate is not signed by the next one")
    return leaf_facts


# -- hash data (DeleteCertificate, GetInstalledCertificateIds) --------------------------------


@dataclass(frozen=True, slots=True)
class HashData:
    """CertificateHashDataType of both versions: how OCPP names an installed certificate
    (the OCSP CertID of RFC 6960)."""

    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str

    def ocpp(self) -> dict[str, str]:
        return {
            "hashAlgorithm": self.hash_algorithm,
            "issuerNameHash": self.issuer_name_hash,
            "issuerKeyHash": self.issuer_key_hash,
            "serialNumber": self.serial_number,
        }

    def matches(self, other: HashData) -> bool:
        """The same certificate (hex compared case-insensitively, serials without leading
        zeros: chargers write them either way)."""
        return (
            self.hash_algorithm == other.hash_algorithm
            and self.issuer_name_hash.lower() == other.issuer_name_hash.lower()
            and self.issuer_key_hash.lower() == other.issuer_key_hash.lower()
            and _serial_key(self.serial_number) == _serial_key(other.serial_number)
        )


def _serial_key(serial: str) -> str:
    return serial.lower().lstrip("0") or "0"


def hash_data_of(value: Any) -> HashData:
    """A CertificateHashDataType object (as a charger sends it, or an operator writes it);
    InvalidInput naming the missing field."""
    if not isinstance(value, dict):
        raise InvalidInput("certificate_hash_data must be an object")
    fields = ("hashAlgorithm", "issuerNameHash", "issuerKeyHash", "serialNumber")
    missing = [f for f in fields if not isinstance(value.get(f), str) or not value.get(f)]
    if missing:
        raise InvalidInput(f"certificate_hash_data: {', '.join(missing)} required (text)")
    if value["hashAlgorithm"] not in HASH_ALGORITHMS:
        raise InvalidInput(
            f"certificate_hash_data: hashAlgorithm must be one of {', '.join(HASH_ALGORITHMS)}"
        )
    return HashData(
        value["hashAlgorithm"],
        value["issuerNameHash"],
        value["issuerKeyHash"],
        value["serialNumber"],
    )


def hash_data(pem: str, *, algorithm: str = "SHA256") -> HashData:
    """The hash data of the first certificate in ``pem``. Its issuer is the next certificate
    in ``pem`` or, for a self-signed (root) certificate, itself; InvalidInput otherwise."""
    if algorithm not in HASH_ALGORITHMS:
        raise InvalidInput(f"hash algorithm must be one of {', '.join(HASH_ALGORITHMS)}")
    chain = load_chain(pem)
    certificate = chain[0]
    if len(chain) > 1:
        issuer = chain[1]
        if not issued_by(certificate, issuer):
            raise InvalidInput("certificate: the second certificate did not issue the first")
    elif issued_by(certificate, certificate):
        issuer = certificate
    else:
        raise InvalidInput(
            "certificate: not self-signed; append its issuer's certificate to the PEM so its "
            "issuer key hash can be computed"
        )
    request = (
        OCSPRequestBuilder()
        .add_certificate(certificate, issuer, HASH_ALGORITHMS[algorithm]())
        .build()
    )
    serial = serial_hex(certificate.serial_number)
    if len(serial) > MAX_SERIAL_HEX:
        raise InvalidInput(f"certificate: serial number longer than {MAX_SERIAL_HEX} hex digits")
    return HashData(
        algorithm, request.issuer_name_hash.hex(), request.issuer_key_hash.hex(), serial
    )


@dataclass(frozen=True, slots=True)
class InstalledCertificate:
    """One entry of a GetInstalledCertificateIds answer, whichever version sent it."""

    certificate_type: str
    hash_data: HashData
    children: tuple[HashData, ...] = ()


def installed_certificates(
    response: dict[str, Any], asked_types: Sequence[str]
) -> list[InstalledCertificate]:
    """The entries of a GetInstalledCertificateIds response: 2.0.1 names each entry's type
    (``certificateHashDataChain``), 1.6 answers for the one type asked
    (``certificateHashData``)."""
    found: list[InstalledCertificate] = []
    for chain in response.get("certificateHashDataChain") or ():
        children = tuple(hash_data_of(c) for c in chain.get("childCertificateHashData") or ())
        found.append(
            InstalledCertificate(
                chain["certificateType"], hash_data_of(chain["certificateHashData"]), children
            )
        )
    one_type = asked_types[0] if len(asked_types) == 1 else "unknown"
    for data in response.get("certificateHashData") or ():
        found.append(InstalledCertificate(one_type, hash_data_of(data)))
    return found


# -- what the CSMS issued ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    """A certificate the CSMS's authority signed for a charger (``charger_certificates``).

    ``delivery_status`` is the charger's answer to CertificateSigned (None: not answered);
    ``superseded_at`` is set once a newer certificate of the same charger and type was
    accepted by it. The current certificate of a charger is the accepted one not
    superseded: it is the one renewed ahead of its expiry."""

    id: int
    charge_point_id: str
    certificate_type: str
    serial_number: str
    common_name: str | None
    organization: str | None
    issuer: str
    not_before: datetime
    not_after: datetime
    fingerprint_sha256: str
    pem: str
    issued_at: datetime
    delivery_status: str | None
    delivered_at: datetime | None
    superseded_at: datetime | None
    renewal_requested_at: datetime | None
    renewal_attempts: int
    renewal_error: str | None
