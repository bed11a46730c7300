"""Root certificates on a charger through REST with a real JWT: install, list (read live
from the charger), delete by serial number, by PEM (hash data computed) and by hash data,
on simulated stations of both versions over real WebSockets.

2.0.1 M05 (InstallCertificate), M04 (DeleteCertificate), M03 (GetInstalledCertificateIds);
1.6 security whitepaper use cases M03-M05 (InstallCertificate with
CentralSystemRootCertificate/ManufacturerRootCertificate, one type per
GetInstalledCertificateIds).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from csms.node.server import Node
from tests.integration.backoffice.conftest import Account
from tests.integration.certificates.conftest import PASSPHRASE, NewCharger, online
from tests.integration.ocpp_client import eventually

CSMS_ROOT = {"1.6": "CentralSystemRootCertificate", "2.0.1": "CSMSRootCertificate"}


def certificate(name: str, *, ca: bool = True) -> tuple[x509.Certificate, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    made = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return made, made.public_bytes(Encoding.PEM).decode()


def serial(made: x509.Certificate) -> str:
    return format(made.serial_number, "x")


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_m03_m05_m04_install_list_delete_over_rest(
    version: str,
    ca_node: Node,
    new_charger: NewCharger,
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
) -> None:
    charge_point_id = await new_charger()
    headers = accounts["operator"].headers
    base = f"/api/v1/chargers/{charge_point_id}/certificates"
    sim = await online(ca_node, charge_point_id, version)
    try:
        root, root_pem = certificate("Operator Root")
        maker, maker_pem = certificate("Manufacturer Root")
        for kind, pem in (
            (CSMS_ROOT[version], root_pem),
            ("ManufacturerRootCertificate", maker_pem),
        ):
            installed = await client.post(
                base, json={"certificate_type": kind, "certificate": pem}, headers=headers
            )
            assert installed.status_code == 200, installed.text
            assert installed.json()["status"] == "Accepted"
            assert installed.json()["hash_data"]["hash_algorithm"] == "SHA256"

        listed = await client.get(base, headers=headers)
        assert listed.status_code == 200, listed.text
        by_serial = {c["hash_data"]["serial_number"]: c for c in listed.json()["items"]}
        assert set(by_serial) == {serial(root), serial(maker)}
        assert by_serial[serial(maker)]["certificate_type"] == "ManufacturerRootCertificate"
        # either version's spelling of the CSMS root reads back as the charger names it
        assert by_serial[serial(root)]["certificate_type"] == CSMS_ROOT[version]
        only = await client.get(
            base, params={"certificate_type": "ManufacturerRootCertificate"}, headers=headers
        )
        assert [c["hash_data"]["serial_number"] for c in only.json()["items"]] == [serial(maker)]

        # delete by serial number (looked up on the charger), then by PEM (hash data computed)
        gone = await client.delete(f"{base}/{serial(maker).upper()}", headers=headers)
        assert gone.status_code == 200, gone.text
        assert gone.json()["status"] == "Accepted"
        by_pem = await client.post(
            f"{base}/delete", json={"certificate": root_pem}, headers=headers
        )
        assert by_pem.json()["status"] == "Accepted"
        assert by_pem.json()["hash_data"] == by_serial[serial(root)]["hash_data"]
        again = await client.post(
            f"{base}/delete",
            json={"certificate_hash_data": by_serial[serial(root)]["hash_data"]},
            headers=headers,
        )
        assert again.json()["status"] == "NotFound"
        assert (await client.get(base, headers=headers)).json()["items"] == []
        missing = await client.delete(f"{base}/{serial(root)}", headers=headers)
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
    finally:
        await sim.disconnect()


async def test_bad_requests_are_4xx_with_a_useful_body(
    ca_node: Node,
    new_charger: NewCharger,
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
) -> None:
    charge_point_id = await new_charger()
    headers = accounts["operator"].headers
    base = f"/api/v1/chargers/{charge_point_id}/certificates"
    _, root_pem = certificate("Root")
    _, leaf_pem = certificate("Not a CA", ca=False)

    offline = await client.get(base, headers=headers)
    assert offline.status_code == 409, offline.text  # not connected

    sim = await online(ca_node, charge_point_id, "1.6")
    try:
        cases = [
            ({"certificate_type": "CSMSRootCertificate", "certificate": leaf_pem}, "CA"),
            ({"certificate_type": "V2GRootCertificate", "certificate": root_pem}, "ocpp1.6"),
            ({"certificate_type": "CSMSRootCertificate", "certificate": "nope"}, "PEM"),
            ({"certificate_type": "Bogus", "certificate": root_pem}, "certificate_type"),
        ]
        for body, words in cases:
            response = await client.post(base, json=body, headers=headers)
            assert response.status_code == 422, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert words in response.text
        hash_data = {
            "hash_algorithm": "SHA256",
            "issuer_name_hash": "00",
            "issuer_key_hash": "00",
            "serial_number": "1",
        }
        both = await client.post(
            f"{base}/delete",
            json={"certificate": root_pem, "certificate_hash_data": hash_data},
            headers=headers,
        )
        assert both.status_code == 422 and "exactly one" in both.text
        neither = await client.post(f"{base}/delete", json={}, headers=headers)
        assert neither.status_code == 422 and "exactly one" in neither.text
        not_self_signed = await client.post(
            f"{base}/delete", json={"certificate": _issued_leaf()}, headers=headers
        )
        assert not_self_signed.status_code == 422 and "issuer" in not_self_signed.text
        bad_serial = await client.delete(f"{base}/not-hex", headers=headers)
        assert bad_serial.status_code == 422
    finally:
        await sim.disconnect()


def _issued_leaf() -> str:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leaf")]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "elsewhere")]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    return leaf.public_bytes(Encoding.PEM).decode()


async def test_roles_and_secrets(
    ca_node: Node,
    new_charger: NewCharger,
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
) -> None:
    """A monitor reads issued certificates but does not touch chargers; nothing any
    certificate route answers holds key material or the CA key's passphrase."""
    charge_point_id = await new_charger()
    monitor, operator = accounts["monitor"].headers, accounts["operator"].headers
    base = f"/api/v1/chargers/{charge_point_id}/certificates"
    sim = await online(ca_node, charge_point_id, "2.0.1")
    try:
        assert (await client.get(base, headers=monitor)).status_code == 403
        assert (await client.post(f"{base}/renew", headers=monitor)).status_code == 403
        rotate = f"/api/v1/chargers/{charge_point_id}/password/rotate"
        assert (await client.post(rotate, headers=monitor)).status_code == 403
        renewed = await client.post(f"{base}/renew", headers=operator)
        assert renewed.json()["ok"] is True
        await _until_issued(client, charge_point_id, monitor)
        bodies = [
            (await client.get(f"{base}/issued", headers=monitor)).text,
            (await client.get("/api/v1/certificates/issued", headers=monitor)).text,
            (await client.get(base, headers=operator)).text,
            (await client.get(f"/api/v1/chargers/{charge_point_id}/events", headers=monitor)).text,
            (await client.get("/openapi.json")).text,
        ]
        for body in bodies:
            assert "PRIVATE KEY" not in body and PASSPHRASE not in body
    finally:
        await sim.disconnect()


async def _until_issued(
    client: httpx.AsyncClient, charge_point_id: str, headers: dict[str, str]
) -> None:
    async def issued() -> bool:
        page = await client.get(
            f"/api/v1/chargers/{charge_point_id}/certificates/issued", headers=headers
        )
        return any(c["current"] for c in page.json()["items"])

    await eventually(issued)
