"""``GET /api/v1/status`` during an outage answers at once, the dependency that is down
marked ``up: false``: a private ``redis-server`` is killed under a running backoffice, then
a private PostgreSQL server is stopped under another. The other routes answer 503 while
Redis is down (a token's logout cannot be checked); the status takes the token on what can
still be checked (docs/topics/monitoring.md)."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from backoffice.services.status import PROBE_TIMEOUT
from csms import embedded
from csms.bootstrap import ensure_database
from csms.settings import BackofficeSettings
from csms.store import users
from csms.store.pool import migrate
from tests.e2e.cluster import RedisServer
from tests.integration.backoffice.conftest import (
    JWT_SECRET,
    USER_PASSWORD,
    USER_PASSWORD_HASH,
    login,
    serving,
)
from tests.postgres_server import LocalPostgres
from tests.timeouts import TIMEOUT

# the status answers within the probe timeout (both dependencies are probed at once) plus
# the degraded token check's own bound; the margin is for a loaded test machine
FAST = 2 * PROBE_TIMEOUT + 2.0


def settings_for(database_url: str, redis_url: str, prefix: str) -> BackofficeSettings:
    return BackofficeSettings(
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=prefix,
        jwt_secret=JWT_SECRET,
        db_pool_min=1,
        db_pool_max=2,
        db_retry_seconds=TIMEOUT,  # the pool waits for PostgreSQL: the status must not
    )


@contextlib.asynccontextmanager
async def monitor_client(
    url: str, pool_or_dsn: asyncpg.Pool | str
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """A client of the backoffice at ``url`` and the headers of a new monitor's token."""
    name = f"monitor-{secrets.token_hex(4)}"
    if isinstance(pool_or_dsn, str):
        conn = await asyncpg.connect(pool_or_dsn)
        try:
            await users.add_user(conn, name, password_hash=USER_PASSWORD_HASH, role="monitor")
        finally:
            await conn.close()
    else:
        await users.add_user(pool_or_dsn, name, password_hash=USER_PASSWORD_HASH, role="monitor")
    async with httpx.AsyncClient(base_url=url, timeout=3 * TIMEOUT) as client:
        response = await login(client, name, USER_PASSWORD)
        assert response.status_code == 200, response.text
        yield client, {"Authorization": f"Bearer {response.json()['access_token']}"}


async def timed_status(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    response = await client.get("/api/v1/status", headers=headers)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return elapsed, body


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    async with RedisServer(tmp_path) as server:
        yield server


async def test_status_answers_fast_with_redis_down(
    private_redis: RedisServer, database_url: str, redis_prefix: str, pool: asyncpg.Pool
) -> None:
    settings = settings_for(database_url, private_redis.url, redis_prefix)
    async with serving(settings) as backoffice:
        async with monitor_client(backoffice.url, pool) as (client, headers):
            _, body = await timed_status(client, headers)
            assert body["dependencies"]["redis"]["up"] is True

            driver = f"driver-{secrets.token_hex(4)}"
            await users.add_user(pool, driver, password_hash=USER_PASSWORD_HASH, role="driver")
            driver_token = (await login(client, driver, USER_PASSWORD)).json()["access_token"]

            await private_redis.kill()
            elapsed, body = await timed_status(client, headers)
            assert elapsed < FAST
            redis = body["dependencies"]["redis"]
            assert redis["up"] is False and redis["latency_seconds"] is None
            assert redis["error"]
            assert body["dependencies"]["postgres"]["up"] is True
            assert body["nodes"] is None and "nodes" in body["unavailable"]
            assert body["queues"] is not None  # PostgreSQL's part still answers
            assert body["status"] == "degraded"
            # the other routes cannot check a token's logout: 503, not a guess
            assert (await client.get("/api/v1/nodes", headers=headers)).status_code == 503
            # what can be checked still is: a driver's role, a forged token
            as_driver = {"Authorization": f"Bearer {driver_token}"}
            assert (await client.get("/api/v1/status", headers=as_driver)).status_code == 403
            forged = {"Authorization": "Bearer " + driver_token[:-4] + "AAAA"}
            assert (await client.get("/api/v1/status", headers=forged)).status_code == 401

            started = time.monotonic()
            page = (await client.get("/metrics")).text
            assert time.monotonic() - started < FAST
            assert 'csms_dependency_up{dependency="redis"} 0.0' in page
            assert 'csms_dependency_up{dependency="postgres"} 1.0' in page
            assert 'csms_dependency_latency_seconds{dependency="redis"}' not in page

            await private_redis.start()  # same port, empty: the backoffice reconnects
            _, body = await timed_status(client, headers)
            assert body["dependencies"]["redis"]["up"] is True
            assert body["nodes"] is not None


async def test_status_answers_fast_with_postgres_down(redis_url: str, redis_prefix: str) -> None:
    async with LocalPostgres() as server:
        await ensure_database(server.dsn, "csms")
        dsn = embedded.with_database(server.dsn, "csms")
        await migrate(dsn)
        async with serving(settings_for(dsn, redis_url, redis_prefix)) as backoffice:
            async with monitor_client(backoffice.url, dsn) as (client, headers):
                _, body = await timed_status(client, headers)
                assert body["dependencies"]["postgres"]["up"] is True

                await server.stop("immediate")
                elapsed, body = await timed_status(client, headers)
                assert elapsed < FAST
                postgres = body["dependencies"]["postgres"]
                assert postgres["up"] is False and postgres["latency_seconds"] is None
                assert body["dependencies"]["redis"]["up"] is True
                assert body["queues"] is None and "queues" in body["unavailable"]
                assert body["nodes"] is not None  # Redis's part still answers
                assert body["status"] == "degraded"

                started = time.monotonic()
                page = (await client.get("/metrics")).text
                assert time.monotonic() - started < FAST
                assert 'csms_dependency_up{dependency="postgres"} 0.0' in page

                await server.start()
                _, body = await timed_status(client, headers)
                assert body["dependencies"]["postgres"]["up"] is True
