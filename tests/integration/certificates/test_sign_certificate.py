"""SignCertificate end to end: a simulated station of each version sends a CSR over a real
WebSocket, the node checks it, answers, has the built-in authority sign it and sends
CertificateSigned; the station checks and keeps the certificate, PostgreSQL records it.

2.0.1 A02 (by request of the CSMS) and A03 (initiated by the station), A02.FR.11/12,
A02.FR.14; certificate properties A00.FR.501-511. 1.6 security whitepaper use cases A02/A03
(same requirement ids, edition 3).
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from csms.node.server import Node
from csms.store import journal
from simulators.station import Station
from tests.integration.backoffice.conftest import Account
from tests.integration.certificates.conftest import (
    ORGANIZATION,
    PASSPHRASE,
    Authority,
    NewCharger,
    online,
)
from tests.integration.ocpp_client import eventually

VERSIONS = ["1.6", "2.0.1"]


async def issued_rows(pool: asyncpg.Pool, charge_point_id: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT * FROM charger_certificates WHERE charge_point_id = $1 ORDER BY id",
        charge_point_id,
    )


async def events(pool: asyncpg.Pool, charge_point_id: str, action: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT kind, payload FROM charger_events WHERE charge_point_id = $1 AND action = $2 "
        "ORDER BY id",
        charge_point_id,
        action,
    )


async def stored_certificate(sim: Station) -> x509.Certificate:
    async def kept() -> x509.Certificate | None:
        return sim.state.security.certificate

    certificate: x509.Certificate = await eventually(kept)
    return certificate


def assert_issued_by_ca(
    certificate: x509.Certificate, authority: Authority, charge_point_id: str
) -> None:
    certificate.verify_directly_issued_by(authority.certificate)  # raises if not
    subject = certificate.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == charge_point_id
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == ORGANIZATION
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert not constraints.ca


@pytest.mark.parametrize("version", VERSIONS)
async def test_a03_station_initiated_round_trip(
    version: str,
    ca_node: Node,
    authority: Authority,
    new_charger: NewCharger,
    pool: asyncpg.Pool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    charge_point_id = await new_charger()
    sim = await online(ca_node, charge_point_id, version)
    try:
        with caplog.at_level(logging.DEBUG):
            answer = await sim.sign_certificate()  # A03.FR.02/03
            certificate = await stored_certificate(sim)

        assert answer["status"] == "Accepted"  # A03.FR.11
        assert_issued_by_ca(certificate, authority, charge_point_id)
        # the station's key, not another (A02.FR.05: the key never left the station)
        key = sim.state.security.certificate_key
        assert key is not None
        assert certificate.public_key() == key.public_key()

        async def delivered() -> list[asyncpg.Record]:
            rows = await issued_rows(pool, charge_point_id)
            return rows if rows and rows[0]["delivery_status"] == "Accepted" else []

        [row] = await eventually(delivered)
        assert row["serial_number"] == format(certificate.serial_number, "x")
        assert row["common_name"] == charge_point_id
        assert row["not_after"] == certificate.not_valid_after_utc
        assert row["fingerprint_sha256"] == certificate.fingerprint(hashes.SHA256()).hex()
        assert row["certificate_type"] == "ChargingStationCertificate"
        assert [e["kind"] for e in await events(pool, charge_point_id, "SignCertificate")] == [
            "Accepted"
        ]
        # the CA key and its passphrase were never logged
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert "PRIVATE KEY" not in logged and PASSPHRASE not in logged
        assert "signed" in logged or "issued" in logged  # the signing was logged (public)
    finally:
        await sim.disconnect()


@pytest.mark.parametrize("version", VERSIONS)
async def test_a02_requested_by_the_csms_over_rest(
    version: str,
    ca_node: Node,
    authority: Authority,
    new_charger: NewCharger,
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
) -> None:
    """POST .../certificates/renew sends 2.0.1 TriggerMessage SignChargingStationCertificate
    or 1.6 ExtendedTriggerMessage SignChargePointCertificate; the station answers with a
    CSR (A02.FR.02/03), the certificate follows (A02.FR.11, A02.FR.14)."""
    charge_point_id = await new_charger()
    sim = await online(ca_node, charge_point_id, version)
    try:
        response = await client.post(
            f"/api/v1/chargers/{charge_point_id}/certificates/renew",
            headers=accounts["operator"].headers,
        )
        assert response.status_code == 200, response.text
        assert response.json()["ok"] is True
        certificate = await stored_certificate(sim)
        assert_issued_by_ca(certificate, authority, charge_point_id)

        async def listed() -> list[dict[str, Any]]:
            page = await client.get(
                f"/api/v1/chargers/{charge_point_id}/certificates/issued",
                headers=accounts["monitor"].headers,
            )
            assert page.status_code == 200, page.text
            return [c for c in page.json()["items"] if c["current"]]

        [issued] = await eventually(listed)
        assert issued["serial_number"] == format(certificate.serial_number, "x")
        assert issued["pem"] == certificate.public_bytes(Encoding.PEM).decode()
    finally:
        await sim.disconnect()


def _csr(
    key: Any, common_name: str, organization: str | None = ORGANIZATION, algorithm: Any = None
) -> str:
    names = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        names.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name(names))
        .sign(key, algorithm or hashes.SHA256())
    )
    return csr.public_bytes(Encoding.PEM).decode()


def _bad_signature(charge_point_id: str) -> str:
    """A CSR for the right CN whose signature does not verify (its last byte changed)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = bytearray(
        x509.load_pem_x509_csr(_csr(key, charge_point_id).encode()).public_bytes(Encoding.DER)
    )
    der[-1] ^= 0xFF  # the last byte of the RSA signature
    return x509.load_der_x509_csr(bytes(der)).public_bytes(Encoding.PEM).decode()


BAD_CSRS = {
    "wrong CN": (lambda cp: _csr(ec.generate_private_key(ec.SECP256R1()), cp + "-other"), "CN"),
    "weak RSA key": (
        lambda cp: _csr(rsa.generate_private_key(public_exponent=65537, key_size=1024), cp),
        "1024 bits",
    ),
    "unsupported curve": (lambda cp: _csr(ec.generate_private_key(ec.SECP521R1()), cp), "curve"),
    "wrong organization": (
        lambda cp: _csr(ec.generate_private_key(ec.SECP256R1()), cp, "Somebody Else"),
        "O is",
    ),
    "bad signature": (_bad_signature, "signature"),
    "not a CSR": (lambda cp: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n", "PEM"),
}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", sorted(BAD_CSRS))
async def test_a02_fr_12_bad_csr_rejected(
    case: str,
    version: str,
    ca_node: Node,
    new_charger: NewCharger,
    pool: asyncpg.Pool,
) -> None:
    """A CSR the node cannot sign is Rejected (A02.FR.12/A03.FR.12, with the reason in
    2.0.1's statusInfo); no certificate is issued nor sent."""
    charge_point_id = await new_charger()
    make, reason = BAD_CSRS[case]
    sim = await online(ca_node, charge_point_id, version)
    try:
        payload: dict[str, Any] = {"csr": make(charge_point_id)}
        if version == "2.0.1":
            payload["certificateType"] = "ChargingStationCertificate"
        answer = await sim.call("SignCertificate", payload)
        assert answer["status"] == "Rejected"
        if version == "2.0.1":
            assert reason in answer["statusInfo"]["additionalInfo"]
            assert answer["statusInfo"]["reasonCode"] == "InvalidCSR"
        [event] = await events(pool, charge_point_id, "SignCertificate")
        assert event["kind"] == "Rejected" and reason in event["payload"]["reason"]
        assert await issued_rows(pool, charge_point_id) == []
        # nothing followed: a heartbeat round trip proves the node sent no CertificateSigned
        await sim.heartbeat()
        assert sim.state.security.certificate is None
    finally:
        await sim.disconnect()


async def test_v2g_certificate_is_not_signed_by_this_authority(
    ca_node: Node, new_charger: NewCharger
) -> None:
    charge_point_id = await new_charger()
    sim = await online(ca_node, charge_point_id, "2.0.1")
    try:
        answer = await sim.sign_certificate("V2GCertificate")
        assert answer["status"] == "Rejected"
        assert answer["statusInfo"]["reasonCode"] == "UnsupportedCertType"
    finally:
        await sim.disconnect()


@pytest.mark.parametrize("version", VERSIONS)
async def test_a02_fr_12_rejected_without_an_authority(
    version: str, node: Node, register_charger: Any
) -> None:
    """A node without CSMS_CA_CERT_FILE (the integration package's default node) cannot
    process a CSR: Rejected."""
    registered = await register_charger()
    sim = await online(node, registered.charge_point_id, version)
    try:
        answer = await sim.sign_certificate()
        assert answer["status"] == "Rejected"
    finally:
        await sim.disconnect()


async def test_certificate_type_is_echoed_in_2_0_1(
    ca_node: Node, new_charger: NewCharger, pool: asyncpg.Pool
) -> None:
    """A02.FR.14: CertificateSigned names the type the station asked for."""
    charge_point_id = await new_charger()
    sim = await online(ca_node, charge_point_id, "2.0.1")
    try:
        await sim.sign_certificate("ChargingStationCertificate")
        await stored_certificate(sim)

        async def sent() -> list[dict[str, Any]]:
            rows = await journal.list_messages(pool, charge_point_id, action="CertificateSigned")
            return [r for r in rows if r["direction"] == "out"]

        [frame] = await eventually(sent)
        assert frame["payload"]["certificateType"] == "ChargingStationCertificate"
    finally:
        await sim.disconnect()
