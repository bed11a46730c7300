"""Test servers: real PostgreSQL and Redis.

``CSMS_TEST_DATABASE_URL`` (a DSN to any database of the server, e.g.
``postgresql://postgres@127.0.0.1:5432/postgres``) and ``CSMS_TEST_REDIS_URL`` select running
servers; unset, embedded ones under ``.data/test`` are used. Each run creates its own
database and Redis key prefix, so runs never collide.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from redis.asyncio import Redis

from csms import embedded
from csms.bootstrap import ensure_database
from csms.cluster.keys import Keys
from csms.store.pool import create_pool, migrate

RUN_ID = secrets.token_hex(4)
DATA_DIR = Path(__file__).resolve().parents[1] / ".data" / "test"


def _server_dsn() -> str:
    dsn = os.environ.get("CSMS_TEST_DATABASE_URL")
    return dsn if dsn else embedded.postgres_url(DATA_DIR)


def _redis_url() -> str:
    url = os.environ.get("CSMS_TEST_REDIS_URL")
    return url if url else embedded.redis_url(DATA_DIR)


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    """A fresh, migrated database for this test run; dropped at the end."""
    server_dsn = await asyncio.to_thread(_server_dsn)
    name = f"csms_test_{RUN_ID}"
    await ensure_database(server_dsn, name)
    dsn = embedded.with_database(server_dsn, name)
    await migrate(dsn)
    yield dsn
    connection = await asyncpg.connect(server_dsn)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
def redis_url() -> str:
    return _redis_url()


@pytest.fixture(scope="session")
def redis_prefix() -> str:
    return f"csms-test-{RUN_ID}:"


@pytest.fixture
async def prefix(
    redis_prefix: str, redis_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    """This test's Redis key prefix (no glob characters: SCAN MATCH patterns use it); its
    keys are deleted afterwards (epoch counters never expire on their own)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)
    test_prefix = f"{redis_prefix}{name}:"
    yield test_prefix
    client = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{test_prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
def keys(prefix: str) -> Keys:
    return Keys(prefix)
