"""Connection pool set-up and schema migrations.

The pool rides out a PostgreSQL restart or failover (docs/topics/deployment.md,
"PostgreSQL"): a connection that broke is replaced on the next acquire, and a statement
waits up to ``retry_seconds`` for the server to come back, then fails with the connection
error (what callers turn into a clear answer: InternalError to a charger, 503 from the
API). A statement is sent again only when that cannot change what was written: when it never
reached the server (no connection could be made, or the connection was already closed), or
when it is a ``SELECT``. Whatever else was in flight when the connection broke may or may not
have been committed: it fails, and nothing was acknowledged for it (a charger is answered
only after its rows are committed, and sends again; what it sends again is idempotent).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
DEFAULT_RETRY_SECONDS = 10.0
CONNECT_TIMEOUT = 5.0
_FIRST_DELAY = 0.05
_MAX_DELAY = 1.0
_WARN_EVERY = 5.0  # seconds between two warnings of one pool while PostgreSQL is away

T = TypeVar("T")

# The server cannot be reached, refuses connections for now (starting up, shutting down,
# in recovery; too many clients) or the connection is gone: PostgreSQL is unavailable, not
# the statement wrong.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,  # admin/crash shutdown, cannot connect now
    asyncpg.TooManyConnectionsError,
)


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says PostgreSQL is unreachable (or restarting), not that a statement
    was wrong."""
    if isinstance(exc, asyncpg.InterfaceError):
        return _closed(exc)
    return isinstance(exc, UNAVAILABLE)


def _closed(exc: BaseException) -> bool:
    """asyncpg checks that a connection is open before it sends anything."""
    return isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc)


def _not_sent(exc: BaseException) -> bool:
    """The failed statement cannot have reached the server: no connection could be made
    (refused, timed out, the server starting or shutting down, too many clients), or the
    connection was found closed before anything was sent."""
    if isinstance(exc, asyncpg.PostgresError):
        return isinstance(exc, asyncpg.CannotConnectNowError | asyncpg.TooManyConnectionsError)
    return isinstance(exc, OSError | TimeoutError) or _closed(exc)


def _reads_only(query: str) -> bool:
    return query.lstrip()[:6].upper() == "SELECT"


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


class ResilientPool(asyncpg.Pool):
    """An asyncpg pool that waits for PostgreSQL to come back (see the module docstring).

    Every use of a pool goes through ``_acquire`` (``pool.fetch*`` and ``pool.acquire()``
    alike), so that is where a failed connect is tried again; ``fetch``, ``fetchrow`` and
    ``fetchval`` also send a ``SELECT`` again when its connection broke under it.
    """

    retry_seconds = DEFAULT_RETRY_SECONDS
    _warned_at = 0.0

    async def _acquire(self, timeout: float | None) -> PoolConnectionProxy[Any]:
        acquire = super()._acquire  # type: ignore[misc]
        proxy: PoolConnectionProxy[Any] = await self._retrying(
            lambda: acquire(timeout), _not_sent, "connect"
        )
        return proxy

    async def fetch(self, query: str, *args: Any, **kwargs: Any) -> list[Any]:
        fetch = super().fetch
        return await self._retrying(lambda: fetch(query, *args, **kwargs), *self._when(query))

    async def fetchrow(self, query: str, *args: Any, **kwargs: Any) -> Any:
        fetchrow = super().fetchrow
        return await self._retrying(lambda: fetchrow(query, *args, **kwargs), *self._when(query))

    async def fetchval(self, query: str, *args: Any, **kwargs: Any) -> Any:
        fetchval = super().fetchval
        return await self._retrying(lambda: fetchval(query, *args, **kwargs), *self._when(query))

    @staticmethod
    def _when(query: str) -> tuple[Callable[[BaseException], bool], str]:
        return (unavailable, "read") if _reads_only(query) else (_not_sent, "statement")

    async def _retrying(
        self,
        attempt: Callable[[], Awaitable[T]],
        again: Callable[[BaseException], bool],
        what: str,
    ) -> T:
        deadline = time.monotonic() + self.retry_seconds
        delay = _FIRST_DELAY
        while True:
            try:
                return await attempt()
            except Exception as exc:
                now = time.monotonic()
                if not again(exc) or now + delay > deadline:
                    raise
                if now - self._warned_at >= _WARN_EVERY:
                    self._warned_at = now
                    log.warning(
                        "PostgreSQL unavailable (%s: %s): statements wait up to %g s for it",
                        type(exc).__name__,
                        exc,
                        self.retry_seconds,
                    )
                log.debug("%s again in %.2f s", what, delay)
            await asyncio.sleep(delay)
            delay = min(2 * delay, _MAX_DELAY)


async def create_pool(
    dsn: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    retry_seconds: float = DEFAULT_RETRY_SECONDS,
) -> asyncpg.Pool:
    """An asyncpg pool whose json/jsonb columns take and give Python objects, and that waits
    up to ``retry_seconds`` for PostgreSQL to come back (0: not at all)."""
    pool = ResilientPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        init=_init_connection,
        reset=_keep_session,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        timeout=CONNECT_TIMEOUT,
    )
    pool.retry_seconds = retry_seconds
    await pool
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
