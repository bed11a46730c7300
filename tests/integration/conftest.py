"""A node on port 0 against the run's database, and helpers to register chargers/tokens."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import pytest

from csms.cluster.connect import RedisClient, redis_client
from csms.node.runtime import running_node
from csms.node.server import Node
from csms.passwords import hash_password
from csms.settings import NodeSettings
from csms.store import chargers, id_tokens
from tests.redis_servers import LocalCluster

PASSWORD = "integration-test-password-0001"
# One Argon2 hash for every test charger: hashing is deliberately slow.
PASSWORD_HASH = hash_password(PASSWORD)


@dataclass(frozen=True)
class Registered:
    charge_point_id: str
    password: str | None


@pytest.fixture
async def node(database_url: str) -> AsyncIterator[Node]:
    settings = NodeSettings(
        host="127.0.0.1", port=0, node_id=f"test-{secrets.token_hex(3)}", heartbeat_interval=60
    )
    async with running_node(settings, database_url) as node:
        yield node


@pytest.fixture
def url(node: Node) -> str:
    return f"ws://127.0.0.1:{node.port}/ocpp"


RegisterCharger = Callable[..., Awaitable[Registered]]


@pytest.fixture
def register_charger(pool: asyncpg.Pool) -> RegisterCharger:
    async def register(
        *, auth: bool = True, boot_policy: str = "accept", ocpp_version: str | None = None
    ) -> Registered:
        charge_point_id = f"CP-{secrets.token_hex(4)}"
        await chargers.add_charger(
            pool,
            charge_point_id,
            password_hash=PASSWORD_HASH if auth else None,
            boot_policy=boot_policy,
            ocpp_version=ocpp_version,
        )
        return Registered(charge_point_id, PASSWORD if auth else None)

    return register


RegisterToken = Callable[..., Awaitable[str]]


@pytest.fixture
def register_token(pool: asyncpg.Pool) -> RegisterToken:
    async def register(**kwargs: object) -> str:
        id_token = f"TAG-{secrets.token_hex(4)}"
        await id_tokens.add_id_token(pool, id_token, **kwargs)  # type: ignore[arg-type]
        return id_token

    return register


@pytest.fixture(scope="session")
async def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalCluster]:
    """A Redis Cluster of three primaries of this run's own (``redis+cluster://`` URL)."""
    async with LocalCluster(tmp_path_factory.mktemp("redis-cluster")) as cluster:
        yield cluster


@pytest.fixture(params=["server", "cluster"])
async def any_redis(
    request: pytest.FixtureRequest, redis_url: str, redis_cluster: LocalCluster
) -> AsyncIterator[RedisClient]:
    """A client of the run's Redis server, then of the run's Redis Cluster (the same test
    twice), as csms builds its clients from CSMS_REDIS_URL."""
    client = redis_client(redis_url if request.param == "server" else redis_cluster.url)
    yield client
    await client.aclose()
