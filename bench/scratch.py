"""What the in-process bench scripts share: the servers to measure against, a scratch
database per run, and running the measurement on uvloop.

PostgreSQL: CSMS_BENCH_DATABASE_URL, else CSMS_TEST_DATABASE_URL, else an embedded server
under .data/bench; Redis the same with CSMS_BENCH_REDIS_URL / CSMS_TEST_REDIS_URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import asyncpg

from csms import embedded
from csms.bootstrap import ensure_database

DATA = Path(__file__).resolve().parents[1] / ".data" / "bench"


async def database_server() -> str:
    server = os.environ.get("CSMS_BENCH_DATABASE_URL") or os.environ.get("CSMS_TEST_DATABASE_URL")
    return server or await asyncio.to_thread(embedded.postgres_url, DATA)


async def redis_server() -> str:
    url = os.environ.get("CSMS_BENCH_REDIS_URL") or os.environ.get("CSMS_TEST_REDIS_URL")
    return url or await asyncio.to_thread(embedded.redis_url, DATA)


@contextlib.asynccontextmanager
async def scratch_database(server: str, prefix: str, *, keep: bool = False) -> AsyncIterator[str]:
    """A new database on ``server`` (its URL), dropped afterwards unless ``keep``."""
    name = f"{prefix}_{secrets.token_hex(3)}"
    await ensure_database(server, name)
    try:
        yield embedded.with_database(server, name)
    finally:
        if not keep:
            connection = await asyncpg.connect(server)
            try:
                await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await connection.close()


def notes(tag: str) -> Callable[[str], None]:
    """A progress line writer for stderr, each line stamped ``[tag HH:MM:SS]``."""

    def note(text: str) -> None:
        sys.stderr.write(f"[{tag} {time.strftime('%H:%M:%S')}] {text}\n")
        sys.stderr.flush()

    return note


def run_main(measurement: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop as the node does (plain asyncio without it)."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(measurement)
        return
    uvloop.run(measurement)
