"""Helpers every ``csms`` subcommand module shares: output, errors, a small pool, Redis.

Imports stay light here (no asyncpg, redis or pydantic at import time): ``csms`` imports every
subcommand module to build its parser, and an operator scripting a fleet pays for each
import on every run. A command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    import asyncpg
    from redis.asyncio import Redis

    from csms.cluster.keys import Keys
    from csms.services import Services
    from csms.settings import CommonSettings

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]
# what a noun module's ``add_parsers(sub)`` receives: ``parser.add_subparsers()``
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def err(text: str) -> None:
    sys.stderr.write(f"csms: {text}\n")


def common_settings() -> CommonSettings:
    from csms.settings import CommonSettings

    return CommonSettings()


async def open_pool(settings: CommonSettings) -> asyncpg.Pool:
    from csms import bootstrap
    from csms.store.pool import create_pool

    return await create_pool(await bootstrap.database_url(settings), min_size=1, max_size=2)


@contextlib.asynccontextmanager
async def services_session(settings: CommonSettings) -> AsyncIterator[Services]:
    """The services over a small pool (what the backoffice and the node call too)."""
    from csms.domain.clock import utc_now
    from csms.services import Services
    from csms.store.postgres import PostgresStores

    pool = await open_pool(settings)
    stores = PostgresStores(pool)
    try:
        yield Services(stores, clock=utc_now)
    finally:
        await stores.flush()
        await pool.close()


@contextlib.asynccontextmanager
async def redis_session(
    settings: CommonSettings, *, max_connections: int = 4
) -> AsyncIterator[tuple[Redis, Keys]]:
    """A small Redis client and the cluster's keys, closed on the way out."""
    from csms import bootstrap
    from csms.cluster.connect import redis_client
    from csms.cluster.keys import Keys

    redis = redis_client(await bootstrap.redis_url(settings), max_connections=max_connections)
    try:
        yield redis, Keys(settings.redis_prefix)
    finally:
        await redis.aclose()


def fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[fmt(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    out("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        out("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
