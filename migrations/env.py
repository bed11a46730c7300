"""Alembic environment: the DSN comes from csms settings (``-x dsn=...`` or CSMS_DATABASE_URL).

Migrations are hand-written SQL (``op.execute``); there are no SQLAlchemy models.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


def _dsn() -> str:
    dsn = context.get_x_argument(as_dictionary=True).get("dsn") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if not dsn:
        raise RuntimeError("no DSN: run migrations through `csms migrate`")
    for prefix in ("postgresql://", "postgres://"):
        if dsn.startswith(prefix):
            return "postgresql+asyncpg://" + dsn[len(prefix) :]
    return dsn


def _run(connection: Connection) -> None:
    context.configure(connection=connection, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_async_engine(_dsn())
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_dsn(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
