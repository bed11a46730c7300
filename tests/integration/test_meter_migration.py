"""Migration 0013_meters on a database that has data (issue 16): a million per-value meter
rows (generated with generate_series) move to sampled sets in batches while new samples are
written and read, and every value comes through; the old journal becomes the journal's
first partition.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from csms import embedded
from csms.domain.meter_values import MeterSample
from csms.store import journal, meter_migration, partitions
from csms.store.pool import create_pool, migrate
from csms.store.postgres import PostgresMeters

pytestmark = pytest.mark.integration

# 40 chargers x 3,125 sets of 8 values = 1,000,000 rows (CSMS_TEST_MIGRATION_SCALE=4: four
# million; that run passed too, the move in 114 s on the quiet 2-core machine)
SCALE = int(os.environ.get("CSMS_TEST_MIGRATION_SCALE", "1"))
CHARGERS = 40
TIMES = 3_125 * SCALE
ROWS = CHARGERS * TIMES * 8
SEED = f"""
SET session_replication_role = replica;
DROP INDEX meter_values_sample;
DROP INDEX meter_values_transaction;
INSERT INTO chargers (charge_point_id, auth_mode)
SELECT 'MIG-' || c, 'none' FROM generate_series(1, {CHARGERS}) c;
INSERT INTO transactions (charge_point_id, transaction_id, protocol, evse_id, connector_id,
    started_at)
SELECT 'MIG-' || c, 'T-' || c, 'ocpp1.6', 0, 1, '2025-01-01'
FROM generate_series(1, {CHARGERS}) c;
INSERT INTO meter_values (charge_point_id, evse_id, connector_id, transaction_pk, sampled_at,
    measurand, phase, location, context, unit, value, raw_value, signed)
SELECT 'MIG-' || c, 0, 1,
       CASE WHEN t % 2 = 0 THEN tx.id END,
       timestamptz '2025-01-01' + t * interval '10 minutes',
       m.measurand, m.phase, 'Outlet',
       CASE WHEN t % 97 = 0 THEN 'Sample.Clock' ELSE 'Sample.Periodic' END,
       m.unit,
       CASE WHEN t % 1000 = 7 AND m.n = 8 THEN NULL
            ELSE (c * 1000000 + t * 10 + m.n)::numeric / 100 END,
       CASE WHEN t % 1000 = 7 AND m.n = 8 THEN 'n/a' END,
       CASE WHEN t % 5000 = 11 AND m.n = 1 THEN jsonb_build_object('signedMeterData', 'x' || t)
       END
FROM generate_series(1, {CHARGERS}) c
JOIN transactions tx ON tx.charge_point_id = 'MIG-' || c
CROSS JOIN generate_series(1, {TIMES}) t
CROSS JOIN (VALUES (1, 'Energy.Active.Import.Register', '', 'Wh'),
                   (2, 'Power.Active.Import', '', 'W'),
                   (3, 'Current.Import', 'L1', 'A'), (4, 'Current.Import', 'L2', 'A'),
                   (5, 'Current.Import', 'L3', 'A'), (6, 'Voltage', 'L1-N', 'V'),
                   (7, 'SoC', '', 'Percent'), (8, 'Temperature', '', 'Celsius'))
    AS m(n, measurand, phase, unit);
INSERT INTO charger_messages (charge_point_id, at, direction, message_type, message_id,
    action, payload)
SELECT 'MIG-1', timestamptz '2025-01-01' + n * interval '1 hour', 'in', 2, 'j-' || n,
       'Heartbeat', '{{}}'
FROM generate_series(1, 100) n;
CREATE TABLE expected AS SELECT charge_point_id, evse_id, connector_id, transaction_pk,
    sampled_at, measurand, phase, location, context, unit, value, raw_value, signed,
    received_at FROM meter_values;
SET session_replication_role = DEFAULT;
CREATE UNIQUE INDEX meter_values_sample ON meter_values
    (charge_point_id, evse_id, connector_id, sampled_at, measurand, phase, location, context);
CREATE INDEX meter_values_transaction ON meter_values (transaction_pk, sampled_at)
"""

COLUMNS = """charge_point_id, evse_id, connector_id, transaction_pk, sampled_at, measurand,
    phase, location, context, unit, value, raw_value, signed, received_at"""


@pytest.fixture
async def old_database(database_url: str) -> AsyncIterator[str]:
    """A database at revision 0012 with ROWS meter rows; dropped at the end."""
    server = database_url
    name = f"csms_test_migration_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = embedded.with_database(server, name)
    try:
        await migrate(dsn, "0012")
        connection = await asyncpg.connect(dsn)
        try:
            for statement in SEED.split(";\n"):
                await connection.execute(statement)
        finally:
            await connection.close()
        yield dsn
    finally:
        admin = await asyncpg.connect(server)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def test_old_rows_move_online_and_every_value_is_kept(old_database: str) -> None:
    await migrate(old_database)
    pool = await create_pool(old_database, min_size=1, max_size=4)
    try:
        # readers see every old value through the view before anything moved
        assert await pool.fetchval("SELECT count(*) FROM meter_values") == ROWS
        frames = await journal.list_messages(pool, "MIG-1", limit=1000)
        assert len(frames) == 100  # the old journal is the first partition
        assert ("charger_messages_legacy", None) not in await partitions.bounds(
            pool, "charger_messages"
        )

        meters = PostgresMeters(pool, max_rows=500, max_delay=0.001)
        new_at = datetime(2026, 1, 1, tzinfo=UTC)
        stop = asyncio.Event()
        counts: list[int] = []

        async def write_and_read() -> int:
            """New samples while the move runs; MIG-2's old values, read all the while,
            are there exactly once each time."""
            written = 0
            while not stop.is_set():
                at = new_at + timedelta(seconds=written)
                sample = MeterSample(
                    at, "Energy.Active.Import.Register", "", "Outlet", "Sample.Periodic",
                    "Wh", Decimal(written), None,
                )  # fmt: skip
                await meters.add_samples("MIG-1", 0, 1, None, [sample])
                written += 1
                counts.append(
                    await pool.fetchval(
                        "SELECT count(*) FROM meter_values WHERE charge_point_id = 'MIG-2'"
                    )
                )
            return written

        writer = asyncio.create_task(write_and_read())
        moved = await meter_migration.move_all(pool, batch_size=100_000)
        stop.set()
        written = await writer
        assert moved == ROWS and written > 0
        assert set(counts) == {TIMES * 8}, "a reader saw a value twice or missed one"
        assert not await meter_migration.remaining(pool)

        # every old value, exactly once, with all it had
        for query in (
            f"SELECT {COLUMNS} FROM expected EXCEPT ALL SELECT {COLUMNS} FROM meter_values",
            f"SELECT {COLUMNS} FROM meter_values WHERE charge_point_id LIKE 'MIG-%' "
            f"AND sampled_at < '2026-01-01' EXCEPT ALL SELECT {COLUMNS} FROM expected",
        ):
            assert await pool.fetchval(f"SELECT count(*) FROM ({query}) d") == 0
        # one set per (charger, time, context): 8 values each
        assert (
            await pool.fetchval(
                "SELECT count(*) FROM meter_samples WHERE sampled_at < '2026-01-01'"
            )
            == CHARGERS * TIMES
        )
        assert (
            await pool.fetchval(
                "SELECT count(*) FROM meter_values WHERE sampled_at >= '2026-01-01'"
            )
            == written
        )
        # the moved hours are rolled up (charger MIG-3's first hour: six readings)
        first_hour = await pool.fetchrow(
            """SELECT last_wh - first_wh AS energy, max_power_w FROM meter_rollups
               WHERE charge_point_id = 'MIG-3' AND hour = '2025-01-01 00:00+00'"""
        )
        assert first_hour is not None
        assert first_hour["energy"] == Decimal("0.40")  # (t=5 - t=1) x 10 / 100
        assert first_hour["max_power_w"] == Decimal("30000.52")
    finally:
        await pool.close()


def _downgrade(dsn: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from csms.store.pool import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", dsn.replace("%", "%%"))
    command.downgrade(config, revision)


async def test_down_and_up_again_keeps_every_value(database_url: str) -> None:
    name = f"csms_test_downgrade_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = embedded.with_database(database_url, name)
    query = "SELECT measurand, value, raw_value FROM meter_values ORDER BY measurand"
    try:
        await migrate(dsn)
        pool = await create_pool(dsn, min_size=1, max_size=2)
        try:
            await pool.execute(
                "INSERT INTO chargers (charge_point_id, auth_mode) VALUES ('D', 'none')"
            )
            at = datetime(2025, 1, 1, tzinfo=UTC)
            given = [
                MeterSample(at, "Energy.Active.Import.Register", "", "Outlet", "Sample.Periodic",
                            "Wh", Decimal(5), None),
                MeterSample(at, "Voltage", "", "Outlet", "Sample.Periodic", "V", None, "n/a"),
            ]  # fmt: skip
            await PostgresMeters(pool, max_rows=10, max_delay=0.001).add_samples(
                "D", 0, 1, None, given
            )
            frame = '[2,"m-1","Heartbeat",{}]'
            await journal.insert_rows(pool, [("D", at, "in", 2, "m-1", "Heartbeat", frame)])
            before = [tuple(r) for r in await pool.fetch(query)]
        finally:
            await pool.close()
        await asyncio.to_thread(_downgrade, dsn, "0012")
        connection = await asyncpg.connect(dsn)
        try:
            assert [tuple(r) for r in await connection.fetch(query)] == before
            assert await connection.fetchval("SELECT count(*) FROM charger_messages") == 1
        finally:
            await connection.close()
        await migrate(dsn)
        pool = await create_pool(dsn, min_size=1, max_size=2)
        try:
            assert [tuple(r) for r in await pool.fetch(query)] == before  # through the view
            assert await meter_migration.move_all(pool) == 2
            assert not await meter_migration.remaining(pool)
            assert [tuple(r) for r in await pool.fetch(query)] == before
            assert len(await journal.list_messages(pool, "D")) == 1
        finally:
            await pool.close()
    finally:
        admin = await asyncpg.connect(database_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
