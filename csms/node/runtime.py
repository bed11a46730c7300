"""Assemble and run a node: pool, batch writers, WebSocket server, housekeeping."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import asyncpg

from csms.domain.clock import Clock, utc_now
from csms.node.context import NodeServices
from csms.node.server import Node
from csms.settings import NodeSettings
from csms.store import journal as journal_store
from csms.store import meter_values as meter_store
from csms.store.batching import BatchWriter, Row
from csms.store.pool import create_pool

log = logging.getLogger(__name__)

JOURNAL_PURGE_INTERVAL = 3600.0


@contextlib.asynccontextmanager
async def running_node(
    settings: NodeSettings, database_url: str, *, clock: Clock = utc_now
) -> AsyncIterator[Node]:
    """A started node; on exit it stops accepting, closes its sockets and flushes writes."""
    # Long-lived connection objects survive many collections: freeze what start-up made
    # and collect less often (a full pass over 10k connections took ~280 ms).
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    pool = await create_pool(
        database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
    )
    delay = settings.write_batch_delay_ms / 1000

    async def flush_meter_rows(rows: Sequence[Row]) -> None:
        await meter_store.insert_rows(pool, rows)

    async def flush_journal_rows(rows: Sequence[Row]) -> None:
        await journal_store.insert_rows(pool, rows)

    meter_writer = BatchWriter(
        flush_meter_rows, max_rows=settings.write_batch_rows, max_delay=delay
    )
    journal_writer = (
        BatchWriter(flush_journal_rows, max_rows=settings.write_batch_rows, max_delay=delay)
        if settings.journal_enabled
        else None
    )
    services = NodeServices(settings, pool, clock, meter_writer, journal_writer)
    node = Node(services)
    purge = asyncio.create_task(_purge_journal(pool, settings, clock))
    try:
        await node.start()
        yield node
    finally:
        purge.cancel()
        await node.stop()
        await meter_writer.close()
        if journal_writer is not None:
            await journal_writer.close()
        await pool.close()


async def _purge_journal(pool: asyncpg.Pool, settings: NodeSettings, clock: Clock) -> None:
    if not settings.journal_enabled:
        return
    retention = timedelta(days=settings.journal_retention_days)
    while True:
        try:
            removed = await journal_store.purge_older_than(pool, clock() - retention)
            if removed:
                log.info("journal: removed %d frames older than %s", removed, retention)
        except (OSError, asyncpg.PostgresError):
            log.exception("journal purge failed")
        await asyncio.sleep(JOURNAL_PURGE_INTERVAL)
