"""A certificate authority made by ``csms ca``'s code in a temporary directory (its key
encrypted), a node of a cluster that signs with it, the backoffice of that cluster on a
real uvicorn server with users of every role, and simulated stations over real WebSockets.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography import x509

from csms.authority import create_authority
from csms.node.runtime import running_node
from csms.node.server import Node
from csms.settings import BackofficeSettings, NodeSettings
from csms.store import chargers, users
from simulators.station import Station, StationConfig
from tests.integration.backoffice.conftest import (
    JWT_SECRET,
    USER_PASSWORD,
    USER_PASSWORD_HASH,
    Account,
    Backoffice,
    login,
    serving,
)
from tests.integration.conftest import PASSWORD, PASSWORD_HASH
from tests.timeouts import TIMEOUT

ORGANIZATION = "ACME Charging"
PASSPHRASE = "ca-key-passphrase-" + "p" * 20  # must never show up anywhere


@dataclass(frozen=True)
class Authority:
    certificate_file: Path
    key_file: Path
    certificate: x509.Certificate

    def settings(self) -> dict[str, Any]:
        """The node settings that make it sign with this CA."""
        return {
            "ca_cert_file": self.certificate_file,
            "ca_key_file": self.key_file,
            "ca_key_passphrase": PASSPHRASE,
            "cert_organization": ORGANIZATION,
        }


@pytest.fixture(scope="package")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    directory = tmp_path_factory.mktemp("ca")
    created = create_authority(
        directory, common_name="csms test CA", organization=ORGANIZATION, passphrase=PASSPHRASE
    )
    certificate = x509.load_pem_x509_certificate(created.certificate_file.read_bytes())
    return Authority(created.certificate_file, created.key_file, certificate)


@pytest.fixture(scope="package")
def cluster_prefix(redis_prefix: str) -> str:
    return f"{redis_prefix}certs-{secrets.token_hex(3)}:"


def node_settings(prefix: str, **overrides: Any) -> NodeSettings:
    return NodeSettings(
        host="127.0.0.1",
        port=0,
        node_id=f"cert-{secrets.token_hex(3)}",
        redis_prefix=prefix,
        heartbeat_interval=60,
        presence_sweep_interval=86_400,
        tariff_push_timeout=TIMEOUT,
        **overrides,
    )


@pytest.fixture(scope="package")
async def ca_node(
    database_url: str, redis_url: str, cluster_prefix: str, authority: Authority
) -> AsyncIterator[Node]:
    """A node of the cluster that signs CSRs with ``authority``."""
    settings = node_settings(cluster_prefix, **authority.settings())
    started: asyncio.Future[Node] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()

    async def run() -> None:
        async with running_node(settings, database_url, redis_url) as node:
            started.set_result(node)
            await stop.wait()

    task = asyncio.create_task(run(), name="ca-node")
    async with asyncio.timeout(TIMEOUT):
        node = await asyncio.shield(started)
    yield node
    stop.set()
    done, _ = await asyncio.wait({task}, timeout=TIMEOUT)
    if not done:
        for pending in asyncio.all_tasks():
            pending.print_stack(file=sys.stderr)
        task.cancel()
        raise RuntimeError(f"the node did not stop within {TIMEOUT} s")
    task.result()


@pytest.fixture(scope="package")
async def backoffice(
    database_url: str, redis_url: str, cluster_prefix: str
) -> AsyncIterator[Backoffice]:
    settings = BackofficeSettings(
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=cluster_prefix,
        jwt_secret=JWT_SECRET,
        command_timeout=TIMEOUT,
        db_pool_min=1,
        db_pool_max=4,
    )
    async with serving(settings) as running:
        yield running


@pytest.fixture(scope="package")
async def client(backoffice: Backoffice) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=backoffice.url, timeout=TIMEOUT) as client:
        yield client


@pytest.fixture(scope="package")
async def accounts(client: httpx.AsyncClient, pool: asyncpg.Pool) -> dict[str, Account]:
    """An operator and a monitor, logged in (real JWTs)."""
    made = {}
    for role in ("operator", "monitor"):
        username = f"cert-{role}-{secrets.token_hex(4)}"
        user = await users.add_user(pool, username, password_hash=USER_PASSWORD_HASH, role=role)
        response = await login(client, username, USER_PASSWORD)
        assert response.status_code == 200, response.text
        body = response.json()
        made[role] = Account(user.id, username, role, body["access_token"], body["refresh_token"])
    return made


NewCharger = Callable[[], Awaitable[str]]


@pytest.fixture
def new_charger(pool: asyncpg.Pool) -> NewCharger:
    """A charger registered with ``PASSWORD`` (Basic auth); its id."""

    async def register() -> str:
        charge_point_id = f"CERT-{secrets.token_hex(4)}"
        await chargers.add_charger(pool, charge_point_id, password_hash=PASSWORD_HASH)
        return charge_point_id

    return register


def station(node: Node, charge_point_id: str, version: str, **config: Any) -> Station:
    options: dict[str, Any] = {"password": PASSWORD, "organization": ORGANIZATION, **config}
    return Station(
        StationConfig(
            url=f"ws://127.0.0.1:{node.port}/ocpp",
            charge_point_id=charge_point_id,
            version=version,
            call_timeout=TIMEOUT,
            open_timeout=TIMEOUT,
            **options,
        )
    )


async def online(node: Node, charge_point_id: str, version: str, **config: Any) -> Station:
    """A station connected to ``node`` and booted (Accepted)."""
    sim = station(node, charge_point_id, version, **config)
    await sim.connect()
    response = await sim.boot()
    assert response["status"] == "Accepted", response
    return sim
