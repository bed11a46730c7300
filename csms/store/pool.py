"""Connection pool set-up and schema migrations."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import orjson

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


# Binary format, so COPY (copy_records_to_table) can write jsonb too. A binary jsonb value
# is a version byte (1) followed by the JSON text.
_JSONB_VERSION = b"\x01"


def _jsonb_encode(value: Any) -> bytes:
    return _JSONB_VERSION + orjson.dumps(value)


def _jsonb_decode(data: bytes) -> Any:
    return orjson.loads(data[1:])


async def _init_connection(connection: asyncpg.Connection) -> None:
    await connection.set_type_codec(
        "jsonb",
        encoder=_jsonb_encode,
        decoder=_jsonb_decode,
        schema="pg_catalog",
        format="binary",
    )
    await connection.set_type_codec(
        "json", encoder=orjson.dumps, decoder=orjson.loads, schema="pg_catalog", format="binary"
    )


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Connections are returned to the pool as they are.

    asyncpg's default reset (RESET ALL, UNLISTEN, ...) costs a round trip on every release,
    ~9 % of a node's CPU under load (docs/performance.md). Store code never changes session
    state (no SET, LISTEN or advisory locks) and transactions are always closed by their
    context manager, so there is nothing to reset.
    """


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    """An asyncpg pool whose json/jsonb columns take and give Python objects."""
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, reset=_keep_session
    )
    assert pool is not None
    return pool


def _alembic_upgrade(dsn: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", dsn.replace("%", "%%"))
    command.upgrade(config, revision)


async def migrate(dsn: str, revision: str = "head") -> None:
    """Apply alembic migrations up to ``revision`` (runs in a thread: alembic is blocking)."""
    await asyncio.to_thread(_alembic_upgrade, dsn, revision)
