"""``csms charger certificates list|install|delete|issued`` and ``csms charger
rotate-password`` as an operator runs them (a process of its own), against simulated
stations of both versions connected to a node of the cluster; ``csms ca init`` writes a CA
that a node can load.

2.0.1 M03-M05 and A01; 1.6 security whitepaper, same use cases.
"""

from __future__ import annotations

import secrets
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from csms.authority import BuiltinAuthority
from csms.node.server import Node
from csms.store import chargers
from simulators.station import Station, StationConfig
from tests.integration.cli.conftest import Cli, Online, RegisterCharger
from tests.integration.conftest import PASSWORD, PASSWORD_HASH
from tests.integration.ocpp_client import eventually
from tests.timeouts import TIMEOUT

CSMS_ROOT = {"1.6": "CentralSystemRootCertificate", "2.0.1": "CSMSRootCertificate"}


def root_certificate(tmp_path: Path) -> tuple[x509.Certificate, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CLI Root")])
    now = datetime.now(UTC)
    made = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "root.pem"
    path.write_bytes(made.public_bytes(Encoding.PEM))
    return made, path


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_m03_m05_m04_certificates_from_the_cli(
    version: str,
    cli: Cli,
    online: Online,
    register_charger: RegisterCharger,
    tmp_path: Path,
) -> None:
    charge_point_id = await register_charger()
    root, pem_file = root_certificate(tmp_path)
    serial = format(root.serial_number, "x")
    async with online(charge_point_id, version):
        code, out, err = await cli(
            "charger", "certificates", "install", charge_point_id,
            "--type", CSMS_ROOT[version], "--file", str(pem_file),
        )  # fmt: skip
        assert (code, err) == (0, ""), err
        assert out.strip() == "InstallCertificate: Accepted"

        code, out, err = await cli("charger", "certificates", "list", charge_point_id)
        assert code == 0, err
        assert CSMS_ROOT[version] in out and serial in out

        code, out, err = await cli(
            "charger", "certificates", "delete", charge_point_id, "--file", str(pem_file)
        )
        assert code == 0, err
        assert f"serial number {serial}" in out and "DeleteCertificate: Accepted" in out

        code, out, err = await cli(
            "charger", "certificates", "delete", charge_point_id, "--serial", serial
        )
        assert code == 1 and "has no installed certificate" in err
        code, out, err = await cli("charger", "certificates", "list", charge_point_id)
        assert code == 0 and "no installed certificate" in out


async def test_cli_refusals_are_usage_errors(
    cli: Cli, online: Online, register_charger: RegisterCharger, tmp_path: Path
) -> None:
    charge_point_id = await register_charger()
    leaf = tmp_path / "garbage.pem"
    leaf.write_text("not a certificate")
    code, _, err = await cli("charger", "certificates", "list", charge_point_id)
    assert code == 1 and "not connected" in err
    async with online(charge_point_id, "1.6"):
        code, _, err = await cli(
            "charger", "certificates", "install", charge_point_id,
            "--type", "V2GRootCertificate", "--file", str(leaf),
        )  # fmt: skip
        assert code == 2 and "ocpp1.6" in err
        code, _, err = await cli(
            "charger", "certificates", "install", charge_point_id,
            "--type", "CSMSRootCertificate", "--file", str(leaf),
        )  # fmt: skip
        assert code == 2 and "PEM" in err
        code, _, err = await cli(
            "charger", "rotate-password", charge_point_id
        )  # registered without a password
        assert code == 2 and "no password" in err


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a01_rotate_password_from_the_cli(
    version: str, cli: Cli, node: Node, cli_pool: asyncpg.Pool
) -> None:
    charge_point_id = f"CLI-{secrets.token_hex(4)}"
    await chargers.add_charger(cli_pool, charge_point_id, password_hash=PASSWORD_HASH)
    sim = Station(
        StationConfig(
            url=f"ws://127.0.0.1:{node.port}/ocpp",
            charge_point_id=charge_point_id,
            version=version,
            password=PASSWORD,
            call_timeout=TIMEOUT,
        )
    )
    await sim.connect()
    try:
        assert (await sim.boot())["status"] == "Accepted"
        code, out, err = await cli("charger", "rotate-password", charge_point_id)
        assert code == 0, err
        assert out.startswith(f"{charge_point_id}: accepted:")

        async def reconnected() -> bool:
            return sim.config.password != PASSWORD and sim.connected

        await eventually(reconnected)
        assert sim.config.password is not None and sim.config.password not in out + err

        async def promoted() -> bool:
            rotations = await cli_pool.fetchval(
                "SELECT count(*) FROM charger_password_rotations WHERE charge_point_id = $1",
                charge_point_id,
            )
            return bool(rotations == 0)

        await eventually(promoted)
        code, out, _ = await cli(
            "charger", "events", charge_point_id, "--action", "PasswordRotation"
        )
        assert "accepted" in out and "confirmed" in out
    finally:
        await sim.disconnect()


async def test_ca_init_writes_a_ca_a_node_loads(cli: Cli, tmp_path: Path) -> None:
    code, out, err = await cli(
        "ca", "init", "--dir", str(tmp_path), "--organization", "ACME Charging"
    )
    assert code == 0, err
    key_file = tmp_path / "ca.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "PRIVATE KEY" not in out + err
    assert f"CSMS_CA_CERT_FILE={(tmp_path / 'ca.pem').resolve()}" in out
    authority = BuiltinAuthority.from_files(tmp_path / "ca.pem", key_file)
    assert authority.certificate.subject.rfc4514_string() == (
        "O=ACME Charging,CN=csms development CA"
    )
    code, _, err = await cli("ca", "init", "--dir", str(tmp_path))
    assert code == 2 and "exists already" in err  # never overwritten without --force
