"""CSR checks, certificate facts, hash data and the masking of passwords (no I/O)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID

from csms.domain import certificates as certs
from csms.domain import credentials
from csms.errors import InvalidInput

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def csr(key: Any, *names: tuple[x509.ObjectIdentifier, str], algorithm: Any = None) -> str:
    built = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(oid, value) for oid, value in names])
    )
    signed = built.sign(key, algorithm if algorithm is not None else hashes.SHA256())
    return signed.public_bytes(Encoding.PEM).decode()


CN, O = NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME  # noqa: E741


def ca(key: Any | None = None, name: str = "Root") -> tuple[x509.Certificate, Any]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(CN, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(0x00ABCDEF)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=10))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def leaf(issuer: tuple[x509.Certificate, Any], public_key: Any, cn: str) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(CN, cn)]))
        .issuer_name(issuer[0].subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=5))
        .sign(issuer[1], hashes.SHA256())
    )


def pem(*chain: x509.Certificate) -> str:
    return "".join(c.public_bytes(Encoding.PEM).decode() for c in chain)


# -- CSRs (A00.FR.501-511) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "described"),
    [
        (ec.generate_private_key(ec.SECP256R1()), "EC P-256"),
        (ec.generate_private_key(ec.SECP384R1()), "EC P-384"),
        (rsa.generate_private_key(public_exponent=65537, key_size=2048), "RSA 2048"),
    ],
)
def test_a_good_csr(key: Any, described: str) -> None:
    checked = certs.check_csr(csr(key, (CN, "CP-1"), (O, "ACME")), "CP-1", "ACME")
    assert (checked.common_name, checked.organization, checked.key) == ("CP-1", "ACME", described)
    assert checked.public_key_der == key.public_key().public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo
    )


def test_without_a_configured_organization_any_or_no_o_passes() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    assert certs.check_csr(csr(key, (CN, "CP-1")), "CP-1", None).organization is None


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda k: csr(k, (CN, "CP-2"), (O, "ACME")), "CN is 'CP-2'"),  # A00.FR.511
        (lambda k: csr(k, (O, "ACME")), "exactly one CN"),
        (lambda k: csr(k, (CN, "CP-1"), (CN, "CP-1"), (O, "ACME")), "exactly one CN"),
        (lambda k: csr(k, (CN, "CP-1")), "O is missing"),  # A00.FR.404/509
        (lambda k: csr(k, (CN, "CP-1"), (O, "Other")), "O is 'Other'"),
        (lambda k: csr(k, (CN, "CP-1"), (O, "ACME"), algorithm=hashes.SHA224()), "sha224"),
        (lambda k: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n", "not a PEM"),
        (lambda k: "", "not a PEM"),
    ],
)
def test_bad_csrs(make: Any, words: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(InvalidInput, match=words):
        certs.check_csr(make(key), "CP-1", "ACME")


@pytest.mark.parametrize(
    ("key", "words"),
    [
        (rsa.generate_private_key(public_exponent=65537, key_size=1024), "1024 bits"),
        (ec.generate_private_key(ec.SECP521R1()), "secp521r1"),
        (ec.generate_private_key(ec.SECP256K1()), "secp256k1"),
        (ed25519.Ed25519PrivateKey.generate(), "EdDSA"),
    ],
)
def test_weak_or_foreign_keys(key: Any, words: str) -> None:
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    built = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(CN, "CP-1")])
    )
    text = built.sign(key, algorithm).public_bytes(Encoding.PEM).decode()
    with pytest.raises(InvalidInput, match=words):
        certs.check_csr(text, "CP-1", None)


def test_a_csr_whose_signature_does_not_verify() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = bytearray(
        x509.load_pem_x509_csr(csr(key, (CN, "CP-1")).encode()).public_bytes(Encoding.DER)
    )
    der[-1] ^= 0x01
    tampered = x509.load_der_x509_csr(bytes(der)).public_bytes(Encoding.PEM).decode()
    with pytest.raises(InvalidInput, match="signature does not verify"):
        certs.check_csr(tampered, "CP-1", None)


# -- what an authority returns ----------------------------------------------------------------


def test_check_issued_accepts_the_csr_key_and_a_linked_chain() -> None:
    root = ca()
    key = ec.generate_private_key(ec.SECP256R1())
    facts = certs.check_csr(csr(key, (CN, "CP-1")), "CP-1", None)
    certificate = leaf(root, key.public_key(), "CP-1")
    checked = certs.check_issued(pem(certificate, root[0]), facts, "CP-1", NOW)
    assert checked.serial_number == format(certificate.serial_number, "x")
    assert (
        checked.fingerprint_sha256
        == hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()
    )
    assert checked.issuer == "CN=Root" and checked.common_name == "CP-1"


@pytest.mark.parametrize("case", ["other key", "other CN", "not valid now", "broken chain"])
def test_check_issued_refuses(case: str) -> None:
    root, stranger = ca(), ca(name="Stranger")
    key = ec.generate_private_key(ec.SECP256R1())
    facts = certs.check_csr(csr(key, (CN, "CP-1")), "CP-1", None)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    chains = {
        "other key": (pem(leaf(root, other, "CP-1")), NOW),
        "other CN": (pem(leaf(root, key.public_key(), "CP-2")), NOW),
        "not valid now": (pem(leaf(root, key.public_key(), "CP-1")), NOW + timedelta(days=30)),
        "broken chain": (pem(leaf(root, key.public_key(), "CP-1"), stranger[0]), NOW),
    }
    chain, now = chains[case]
    with pytest.raises(InvalidInput):
        certs.check_issued(chain, facts, "CP-1", now)


# -- hash data (RFC 6960 CertID; 2.0.1 CertificateHashDataType) -------------------------------


def test_hash_data_of_a_root_is_its_own_name_and_key() -> None:
    root, key = ca()
    data = certs.hash_data(pem(root))
    point = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    assert data == certs.HashData(
        "SHA256",
        hashlib.sha256(root.subject.public_bytes()).hexdigest(),
        hashlib.sha256(point).hexdigest(),
        "abcdef",  # hex, lower case, no leading zeros
    )
    assert (
        certs.hash_data(pem(root), algorithm="SHA384").issuer_name_hash
        == hashlib.sha384(root.subject.public_bytes()).hexdigest()
    )


def test_hash_data_of_an_issued_certificate_needs_its_issuer() -> None:
    root = ca(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    certificate = leaf(root, ec.generate_private_key(ec.SECP256R1()).public_key(), "CP-1")
    with pytest.raises(InvalidInput, match="not self-signed"):
        certs.hash_data(pem(certificate))
    data = certs.hash_data(pem(certificate, root[0]))
    rsa_key = root[1].public_key().public_bytes(Encoding.DER, PublicFormat.PKCS1)
    assert data.issuer_key_hash == hashlib.sha256(rsa_key).hexdigest()
    assert data.issuer_name_hash == hashlib.sha256(root[0].subject.public_bytes()).hexdigest()
    with pytest.raises(InvalidInput, match="did not issue"):
        certs.hash_data(pem(certificate, ca(name="Stranger")[0]))
    with pytest.raises(InvalidInput, match="hash algorithm"):
        certs.hash_data(pem(root[0]), algorithm="MD5")


def test_hash_data_match_ignores_case_and_leading_zeros() -> None:
    a = certs.HashData("SHA256", "AB", "CD", "00ff")
    assert a.matches(certs.HashData("SHA256", "ab", "cd", "FF"))
    assert not a.matches(certs.HashData("SHA384", "ab", "cd", "ff"))


def test_installed_certificates_of_both_versions() -> None:
    data = {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": "a",
        "issuerKeyHash": "b",
        "serialNumber": "1",
    }
    v16 = certs.installed_certificates(
        {"status": "Accepted", "certificateHashData": [data]}, ["CentralSystemRootCertificate"]
    )
    v201 = certs.installed_certificates(
        {
            "status": "Accepted",
            "certificateHashDataChain": [
                {
                    "certificateType": "V2GCertificateChain",
                    "certificateHashData": data,
                    "childCertificateHashData": [{**data, "serialNumber": "2"}],
                }
            ],
        },
        [],
    )
    assert [(c.certificate_type, c.hash_data.serial_number) for c in v16] == [
        ("CentralSystemRootCertificate", "1")
    ]
    assert v201[0].certificate_type == "V2GCertificateChain"
    assert [c.serial_number for c in v201[0].children] == ["2"]
    assert certs.installed_certificates({"status": "NotFound"}, ["X"]) == []
    with pytest.raises(InvalidInput, match="serialNumber"):
        certs.hash_data_of({**data, "serialNumber": ""})


def test_list_calls_per_version() -> None:
    assert certs.list_calls("ocpp1.6", []) == [
        ("CentralSystemRootCertificate",),
        ("ManufacturerRootCertificate",),
    ]
    assert certs.list_calls("ocpp2.0.1", []) == [()]
    assert certs.list_calls("ocpp2.0.1", ["A", "B"]) == [("A", "B")]
    assert certs.list_calls("ocpp1.6", ["A", "B"]) == [("A",), ("B",)]


# -- passwords (A01.FR.09) --------------------------------------------------------------------


def test_generated_password_is_40_hex_digits() -> None:
    password = credentials.generate_authorization_key()
    assert len(password) == 40 and int(password, 16) >= 0
    assert password != credentials.generate_authorization_key()


def test_redact_masks_only_a_password_being_set() -> None:
    change = {"key": "AuthorizationKey", "value": "secret-secret-secret"}
    assert credentials.redact("ChangeConfiguration", change) == {
        "key": "AuthorizationKey",
        "value": "***",
    }
    assert change["value"] == "secret-secret-secret"  # the request itself is untouched
    other = {"key": "HeartbeatInterval", "value": "60"}
    assert credentials.redact("ChangeConfiguration", other) is other
    password = {
        "component": {"name": "SecurityCtrlr"},
        "variable": {"name": "BasicAuthPassword"},
        "attributeValue": "secret-secret-secret",
    }
    interval = {
        "component": {"name": "OCPPCommCtrlr"},
        "variable": {"name": "HeartbeatInterval"},
        "attributeValue": "60",
    }
    masked = credentials.redact("SetVariables", {"setVariableData": [interval, password]})
    assert masked["setVariableData"] == [interval, {**password, "attributeValue": "***"}]
    assert credentials.redact("Heartbeat", {}) == {}
    assert credentials.redact("SetVariables", "not a payload") == "not a payload"


@pytest.mark.parametrize(
    ("response", "verdict"),
    [
        ({"status": "Accepted"}, "Accepted"),
        ({"status": "NotSupported"}, "NotSupported"),
        ({"setVariableResult": [{"attributeStatus": "RebootRequired"}]}, "RebootRequired"),
        ({"setVariableResult": []}, "Rejected"),
    ],
)
def test_setting_accepted_reads_both_versions(response: dict[str, Any], verdict: str) -> None:
    assert credentials.setting_accepted(response) == verdict
