"""Helpers every ``csms`` subcommand module shares: output, errors, a small pool, Redis.

Imports stay light here (no asyncpg, redis or pydantic at import time): ``csms`` imports every
subcommand module to build its parser, and an operator scripting a fleet pays for each
import on every run. A command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    import asyncpg

    from csms.cluster.connect import RedisClient
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
    async with services_and_pool(settings) as (services, _):
        yield services


@contextlib.asynccontextmanager
async def services_and_pool(
    settings: CommonSettings,
) -> AsyncIterator[tuple[Services, asyncpg.Pool]]:
    """The services and their pool, for a command that also reads the store directly."""
    from csms.domain.clock import utc_now
    from csms.services import Services
    from csms.store.postgres import PostgresStores

    pool = await open_pool(settings)
    stores = PostgresStores(pool)
    try:
        yield Services(stores, clock=utc_now), pool
    finally:
        await stores.flush()
        await pool.close()


def refused_is_usage(command: Command) -> Command:
    """``command``, with input the services refuse (:class:`~csms.errors.InvalidInput`: a bad
    field, file or state, the message names it) a line on stderr and exit status 2, as for
    a usage error; anything else as :func:`csms.cli.main` handles it (not found: 1)."""

    @functools.wraps(command)
    async def run(args: argparse.Namespace) -> int:
        from csms.errors import InvalidInput

        try:
            return await command(args)
        except InvalidInput as exc:
            err(str(exc))
            return 2

    return run


def operator_name() -> str:
    """Who did it, for ``created_by`` / ``published_by``: ``cli:<OS user>``."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name (a container without a passwd entry)
        return "cli"


@contextlib.asynccontextmanager
async def redis_session(
    settings: CommonSettings, *, max_connections: int = 4
) -> AsyncIterator[tuple[RedisClient, Keys]]:
    """A small Redis client and the cluster's keys, closed on the way out."""
    from csms import bootstrap
    from csms.cluster.connect import redis_client
    from csms.cluster.keys import Keys

    redis = redis_client(await bootstrap.redis_url(settings), max_connections=max_connections)
    try:
        yield redis, Keys(settings.redis_prefix)
    finally:
        await redis.aclose()


def print_json(value: Any) -> None:
    """``value`` as indented JSON (dataclasses, enums and datetimes as orjson writes them;
    ``Decimal`` and anything else as its text)."""
    import orjson

    out(orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode())


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
