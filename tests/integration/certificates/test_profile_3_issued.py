"""A certificate from the built-in authority authenticates its charger over TLS: a station
gets its charging-station certificate with SignCertificate (A03) over ws://, then connects
to the node's wss:// listener with it (security profile 3, A00.FR.401-405). The node has no
CSMS_TLS_CLIENT_CA_FILE: its client CA is CSMS_CA_CERT_FILE (docs/topics/certificates.md).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import Certificate

from csms.node.runtime import running_node
from simulators.station import Station, StationConfig
from tests.integration.certificates.conftest import (
    Authority,
    NewCharger,
    node_settings,
    online,
)
from tests.integration.ocpp_client import eventually
from tests.pki import Pki
from tests.timeouts import TIMEOUT

pytestmark = pytest.mark.integration


def write_credentials(sim: Station, directory: Path) -> tuple[Path, Path]:
    """The station's stored certificate chain and key as PEM files (what a station's TLS
    stack reads)."""
    store = sim.state.security
    assert store.certificate_key is not None
    cert_file, key_file = directory / "station.pem", directory / "station.key"
    cert_file.write_bytes(
        b"".join(c.public_bytes(serialization.Encoding.PEM) for c in store.certificate_chain)
    )
    key_file.write_bytes(
        store.certificate_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def certificate_of(sim: Station) -> Callable[[], Awaitable[Certificate | None]]:
    async def kept() -> Certificate | None:
        return sim.state.security.certificate

    return kept


async def test_profile_3_with_a_certificate_the_built_in_authority_signed(
    database_url: str,
    redis_url: str,
    redis_prefix: str,
    authority: Authority,
    new_charger: NewCharger,
    tmp_path: Path,
) -> None:
    server_pki = Pki(tmp_path / "server-ca", "Server CA")
    server = server_pki.issue("127.0.0.1", server=True, name="server")
    settings = node_settings(
        f"{redis_prefix}p3-{secrets.token_hex(3)}:",
        tls_port=0,
        tls_cert_file=server.cert_file,
        tls_key_file=server.key_file,
        tls_reload_interval=0,
        **authority.settings(),
    )
    assert settings.tls_client_ca_file is None
    async with running_node(settings, database_url, redis_url) as node:
        for version in ("1.6", "2.0.1"):
            charge_point_id = await new_charger()
            sim = await online(node, charge_point_id, version)  # ws://, profile 1
            try:
                assert (await sim.sign_certificate())["status"] == "Accepted"
                await eventually(certificate_of(sim))
            finally:
                await sim.disconnect()
            directory = tmp_path / charge_point_id
            directory.mkdir()
            cert_file, key_file = write_credentials(sim, directory)

            secure = Station(
                StationConfig(
                    url=f"wss://127.0.0.1:{node.tls_port}/ocpp",
                    charge_point_id=charge_point_id,
                    version=version,
                    call_timeout=TIMEOUT,
                    open_timeout=TIMEOUT,
                    ca_file=str(server_pki.ca_file),
                    client_cert_file=str(cert_file),
                    client_key_file=str(key_file),
                )
            )
            assert secure.security.endpoint.security_profile == 3  # no password is sent
            await secure.connect()
            try:
                assert (await secure.boot())["status"] == "Accepted"
                state = await node.services.security_profiles.state(charge_point_id)
                assert (state.minimum, state.last_profile) == (3, 3)
            finally:
                await secure.disconnect()
