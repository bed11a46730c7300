"""Firmware signatures: the signing certificate (PEM X.509) and the signature (Base64) an
artifact carries for secure updates (2.0.1 L01, 1.6 security whitepaper L01, FirmwareType).

L01.FR.04 signs the whole file with RSA-PSS (or ECSchnorr) over its SHA-256: the CSMS checks
the signature over the digest it computed while storing the file, so a signature that does
not belong to the certificate and file is refused at upload instead of failing on every
charger. RSA-PSS and ECDSA keys are verified; ECSchnorr has no standard encoding and is
refused. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from csms.errors import InvalidInput

MAX_SIGNATURE = 800  # FirmwareType.signature string[0..800]
MAX_CERTIFICATE = 5500  # FirmwareType.signingCertificate string[0..5500]


def check_signature_text(text: str) -> str:
    """The Base64 signature, stripped; InvalidInput if it is not Base64 or too long."""
    value = "".join(text.split())
    if not value or len(value) > MAX_SIGNATURE:
        raise InvalidInput(f"signature: 1-{MAX_SIGNATURE} Base64 characters (OCPP FirmwareType)")
    try:
        base64.b64decode(value, validate=True)
    except binascii.Error:
        raise InvalidInput("signature: not Base64") from None
    return value


def signature_text(data: bytes) -> str:
    """A signature file as OCPP sends it: Base64 as is, a binary signature encoded."""
    try:
        return check_signature_text(data.decode("ascii"))
    except (UnicodeDecodeError, InvalidInput):
        return check_signature_text(base64.b64encode(data).decode())


def check_certificate(pem: str) -> x509.Certificate:
    if not pem.strip() or len(pem) > MAX_CERTIFICATE:
        raise InvalidInput(f"signing certificate: 1-{MAX_CERTIFICATE} characters of PEM")
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        raise InvalidInput("signing certificate: not a PEM X.509 certificate") from None


def signature_verifies(certificate_pem: str, signature: str, sha256_digest: bytes) -> bool:
    """Whether ``signature`` is the certificate key's signature of a file with this SHA-256
    (RSA-PSS, or ECDSA)."""
    key = check_certificate(certificate_pem).public_key()
    raw = base64.b64decode(signature)
    prehashed = utils.Prehashed(hashes.SHA256())
    try:
        if isinstance(key, rsa.RSAPublicKey):
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
            key.verify(raw, sha256_digest, pss, prehashed)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(raw, sha256_digest, ec.ECDSA(prehashed))
        else:
            raise InvalidInput("signing certificate: only RSA (PSS) and EC (ECDSA) keys")
    except InvalidSignature:
        return False
    return True
