"""`csms charger security-profile` run as an operator runs it: read the record, upgrade a
1.6 charger to profile 2 and wait for it (security whitepaper A05), lower the record only
with --downgrade (A00.FR.005). docs/reference/cli.md, "Chargers"."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from csms.node.runtime import running_node
from csms.node.server import Node
from csms.settings import NodeSettings
from csms.store import chargers
from simulators.station import Station, StationConfig
from tests.integration.cli.conftest import Cli
from tests.integration.conftest import PASSWORD, PASSWORD_HASH
from tests.pki import Pki
from tests.timeouts import TIMEOUT

pytestmark = pytest.mark.integration


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path / "pki")


@pytest.fixture
async def tls_node(
    cli_database_url: str, redis_url: str, prefix: str, pki: Pki
) -> AsyncIterator[Node]:
    server = pki.issue("127.0.0.1", server=True, name="server")
    settings = NodeSettings(
        host="127.0.0.1",
        port=0,
        tls_port=0,
        tls_cert_file=server.cert_file,
        tls_key_file=server.key_file,
        node_id=f"cli-tls-{secrets.token_hex(3)}",
        redis_prefix=prefix,
        heartbeat_interval=60,
    )
    async with running_node(settings, cli_database_url, redis_url) as node:
        yield node


async def test_show_upgrade_and_downgrade(
    cli: Cli, cli_pool: asyncpg.Pool, tls_node: Node, pki: Pki
) -> None:
    cp = f"CLI-{secrets.token_hex(4)}"
    await chargers.add_charger(cli_pool, cp, password_hash=PASSWORD_HASH)
    station = Station(
        StationConfig(
            url=f"ws://127.0.0.1:{tls_node.port}/ocpp",
            charge_point_id=cp,
            password=PASSWORD,
            secure_url=f"wss://127.0.0.1:{tls_node.tls_port}/ocpp",
            ca_file=str(pki.ca_file),
            call_timeout=TIMEOUT,
        )
    )
    await station.connect()
    await station.boot()
    status, out, _ = await cli("charger", "security-profile", cp)
    assert status == 0
    assert "minimum profile  1 (HTTP Basic without TLS)" in out
    assert "upgrade          none" in out

    status, out, err = await cli("charger", "security-profile", cp, "--set", "2", "--wait")
    assert status == 0, err
    assert f"{cp}: upgrading" in out
    assert "upgrade          to 2: completed" in out
    assert "minimum profile  2 (TLS with HTTP Basic)" in out

    status, _, err = await cli("charger", "security-profile", cp, "--set", "1")
    assert status == 2 and "A00.FR.005" in err
    status, out, _ = await cli("charger", "security-profile", cp, "--set", "1", "--downgrade")
    assert status == 0 and f"{cp}: lowered" in out
    assert "minimum profile  1" in out
    status, _, err = await cli("charger", "security-profile", "CLI-NOPE")
    assert status == 1 and "not found" in err
    await station.disconnect()
