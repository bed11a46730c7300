"""Resolve where PostgreSQL and Redis are: configured servers, or embedded ones in dev.

asyncpg and the embedded servers are imported only when used: ``csms command`` needs Redis
alone, and every ``csms`` run pays for what this module imports.
"""

from __future__ import annotations

import asyncio

from csms.errors import ConfigurationError
from csms.settings import CommonSettings


async def database_url(settings: CommonSettings) -> str:
    """The configured DSN, or an embedded PostgreSQL with a ``csms`` database (dev only)."""
    if settings.database_url:
        return settings.database_url
    if not settings.is_dev:
        raise ConfigurationError("CSMS_DATABASE_URL must be set when CSMS_ENV=production")
    from csms import embedded

    server_dsn = await asyncio.to_thread(embedded.postgres_url, settings.data_dir)
    await ensure_database(server_dsn, embedded.DATABASE_NAME)
    return embedded.with_database(server_dsn, embedded.DATABASE_NAME)


async def redis_url(settings: CommonSettings) -> str:
    """The configured Redis URL, or an embedded Redis (dev only)."""
    if settings.redis_url:
        return settings.redis_url
    if not settings.is_dev:
        raise ConfigurationError("CSMS_REDIS_URL must be set when CSMS_ENV=production")
    from csms import embedded

    return await asyncio.to_thread(embedded.redis_url, settings.data_dir)


async def ensure_database(server_dsn: str, name: str) -> None:
    """Create database ``name`` on the server of ``server_dsn`` unless it exists."""
    import asyncpg

    connection = await asyncpg.connect(server_dsn)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{name}"')
    except asyncpg.DuplicateDatabaseError:
        pass  # created concurrently by another process
    finally:
        await connection.close()
