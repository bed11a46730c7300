"""The store ports (``csms.services.ports``) on PostgreSQL.

Per-charger writes on the node's hot paths are gathered across chargers: ``BatchCall``
turns many callers' single-item requests into one statement per batch (handshake lookups,
boots, connector statuses, presence, sequenced transaction messages) and ``BatchWriter``
does the same for rows (meter samples, which callers await, and heartbeats, which they do
not). On this kind of machine each round trip to PostgreSQL costs a wake-up of a database
process; gathered, a storm costs one per batch (docs/performance.md).
"""

from __future__ import annotations

import asyncpg

from csms.store.certificates import PostgresCertificates, PostgresPasswordRotations
from csms.store.fleet_config_port import PostgresConfig, PostgresLogs
from csms.store.jobs import PgJobQueue
from csms.store.postgres_billing import PostgresBilling, PostgresPayments
from csms.store.postgres_chargers import PostgresChargers, PostgresTokens
from csms.store.postgres_firmware import PostgresFirmware
from csms.store.postgres_reports import PostgresReports
from csms.store.postgres_sessions import PostgresMeters, PostgresPricing, PostgresSessions
from csms.store.postgres_tariffs import PostgresTariffs
from csms.store.security_profiles import PostgresSecurityProfiles

__all__ = [
    "PostgresBilling",
    "PostgresChargers",
    "PostgresFirmware",
    "PostgresMeters",
    "PostgresPayments",
    "PostgresPricing",
    "PostgresReports",
    "PostgresSessions",
    "PostgresStores",
    "PostgresTariffs",
    "PostgresTokens",
]


class PostgresStores:
    """Every port (``csms.services.ports.Stores``) on one pool. ``flush()`` writes what the
    batch writers hold (call it before closing the pool)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        max_items: int = 500,
        write_batch_rows: int = 500,
        write_batch_delay: float = 0.005,
    ) -> None:
        self.pool = pool
        self.chargers = PostgresChargers(pool, max_items=max_items, heartbeat_rows=write_batch_rows)
        self.tokens = PostgresTokens(pool)
        self.sessions = PostgresSessions(pool, max_items=max_items)
        self.meters = PostgresMeters(pool, max_rows=write_batch_rows, max_delay=write_batch_delay)
        self.reports = PostgresReports(pool)
        self.pricing = PostgresPricing(pool)
        self.tariffs = PostgresTariffs(pool)
        self.jobs = PgJobQueue(pool)
        self.config = PostgresConfig(pool)
        self.logs = PostgresLogs(pool)
        self.security_profiles = PostgresSecurityProfiles(pool, max_items=max_items)
        self.certificates = PostgresCertificates(pool)
        self.passwords = PostgresPasswordRotations(pool)

    async def flush(self) -> None:
        """Wait for every batched call and write what is queued."""
        await self.sessions.drain()
        await self.meters.writer.flush()
        await self.chargers.drain()
        await self.security_profiles.drain()
