"""Meter ingestion variants on one connection (ADR 0005): sampled values per second stored
and node CPU per value, for the old per-value insert, the set insert (JSON batch), COPY into
a staging table + INSERT ... ON CONFLICT, plain COPY (no idempotency), and the set insert
without foreign keys.

    python bench/meter_ingest.py --sets 20000 --batch 250

Uses CSMS_BENCH_DATABASE_URL / CSMS_TEST_DATABASE_URL; makes and drops its own database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from csms import embedded  # noqa: E402
from csms.bootstrap import ensure_database  # noqa: E402
from csms.domain.meter_values import MeterSample  # noqa: E402
from csms.store import meter_values, partitions  # noqa: E402
from csms.store.pool import create_pool, migrate  # noqa: E402

MEASURANDS = [
    ("Energy.Active.Import.Register", "", "Wh"),
    ("Power.Active.Import", "", "W"),
    ("Current.Import", "L1", "A"),
    ("Current.Import", "L2", "A"),
    ("Current.Import", "L3", "A"),
    ("Voltage", "L1-N", "V"),
    ("SoC", "", "Percent"),
    ("Temperature", "", "Celsius"),
]
CHARGERS = 500
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)

OLD_TABLE = """
CREATE TABLE old_meter_values (
    id bigserial PRIMARY KEY,
    charge_point_id text NOT NULL REFERENCES chargers ON DELETE CASCADE,
    evse_id integer NOT NULL, connector_id integer NOT NULL,
    transaction_pk bigint REFERENCES transactions ON DELETE CASCADE,
    sampled_at timestamptz NOT NULL, measurand text NOT NULL, phase text NOT NULL DEFAULT '',
    location text NOT NULL DEFAULT '', context text NOT NULL DEFAULT '',
    unit text NOT NULL DEFAULT '', value numeric, raw_value text, signed jsonb,
    received_at timestamptz NOT NULL DEFAULT now());
CREATE UNIQUE INDEX ON old_meter_values
    (charge_point_id, evse_id, connector_id, sampled_at, measurand, phase, location, context);
CREATE INDEX ON old_meter_values (transaction_pk, sampled_at)"""

OLD_INSERT = """
INSERT INTO old_meter_values (charge_point_id, evse_id, connector_id, transaction_pk,
    sampled_at, measurand, phase, location, context, unit, value, raw_value, signed)
SELECT r->>0, (r->>1)::int, (r->>2)::int, (r->>3)::bigint, (r->>4)::timestamptz, r->>5, r->>6,
    r->>7, r->>8, r->>9, (r->>10)::numeric, r->>11, (r->12)::jsonb
FROM jsonb_array_elements($1::jsonb) AS r
ON CONFLICT (charge_point_id, evse_id, connector_id, sampled_at, measurand, phase, location,
    context) DO NOTHING"""

STAGING = """CREATE TEMP TABLE IF NOT EXISTS meter_staging (
    charge_point_id text, evse_id integer, connector_id integer, transaction_pk bigint,
    sampled_at timestamptz, context text, measurands text[], phases text[], locations text[],
    units text[], "values" numeric[], raw_values text[], signed jsonb) ON COMMIT DELETE ROWS"""
COLUMNS = [
    "charge_point_id", "evse_id", "connector_id", "transaction_pk", "sampled_at", "context",
    "measurands", "phases", "locations", "units", "values", "raw_values", "signed",
]  # fmt: skip


def samples_of(n: int) -> list[MeterSample]:
    at = T0 + timedelta(seconds=n)
    return [
        MeterSample(at, m, p, "Outlet", "Sample.Periodic", u, Decimal(n % 10_000) / 10, None)
        for m, p, u in MEASURANDS
    ]


def typed(charger: str, tx: int, samples: list[MeterSample]) -> tuple[Any, ...]:
    return (
        charger, 0, 1, tx, samples[0].sampled_at, "Sample.Periodic",
        [s.measurand for s in samples], [s.phase for s in samples],
        [s.location for s in samples], [s.unit for s in samples],
        [s.value for s in samples], None, None,
    )  # fmt: skip


async def run(args: argparse.Namespace) -> None:
    server = os.environ.get("CSMS_BENCH_DATABASE_URL") or os.environ.get("CSMS_TEST_DATABASE_URL")
    server = server or embedded.postgres_url(ROOT / ".data" / "bench")
    name = f"csms_ingest_{secrets.token_hex(3)}"
    await ensure_database(server, name)
    dsn = embedded.with_database(server, name)
    try:
        await migrate(dsn)
        pool = await create_pool(dsn, min_size=1, max_size=2)
        await pool.execute(
            f"""INSERT INTO chargers (charge_point_id, auth_mode)
                SELECT 'IN-' || c, 'none' FROM generate_series(1, {CHARGERS}) c;
                INSERT INTO transactions (charge_point_id, transaction_id, protocol, started_at)
                SELECT 'IN-' || c, c::text, 'ocpp1.6', now() FROM generate_series(1, {CHARGERS}) c;
                {OLD_TABLE}"""
        )
        txs = {
            r["charge_point_id"]: r["id"]
            for r in await pool.fetch("SELECT id, charge_point_id FROM transactions")
        }
        await partitions.ensure(pool, "meter_samples", {T0.date(), (T0 + timedelta(1)).date()})
        sets = [(f"IN-{n % CHARGERS + 1}", samples_of(n // CHARGERS)) for n in range(args.sets)]

        def batches() -> list[list[tuple[str, list[MeterSample]]]]:
            return [sets[i : i + args.batch] for i in range(0, len(sets), args.batch)]

        async def timed(label: str, write: Any) -> None:
            await pool.execute("TRUNCATE meter_samples, old_meter_values")
            cpu, wall = time.process_time(), time.perf_counter()
            for batch in batches():
                await write(batch)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            values = len(sets) * len(MEASURANDS)
            sys.stdout.write(
                f"{label:44} {values / wall:>9,.0f} values/s  "
                f"{cpu / values * 1e6:5.2f} us node CPU/value\n"
            )

        async def old(batch: list[tuple[str, list[MeterSample]]]) -> None:
            rows = []
            for charger, samples in batch:
                for s in samples:
                    rows.append(
                        (charger, 0, 1, txs[charger], s.sampled_at, s.measurand, s.phase,
                         s.location, s.context, s.unit, str(s.value), None, None)
                    )  # fmt: skip
            await pool.execute(OLD_INSERT, rows)

        async def sets_json(batch: list[tuple[str, list[MeterSample]]]) -> None:
            rows = []
            for charger, samples in batch:
                rows += meter_values.rows_for(charger, 0, 1, txs[charger], samples)
            await meter_values.insert_rows(pool, rows)

        async def staging(batch: list[tuple[str, list[MeterSample]]]) -> None:
            records = [typed(c, txs[c], s) for c, s in batch]
            async with pool.acquire() as connection, connection.transaction():
                await connection.execute(STAGING)
                await connection.copy_records_to_table(
                    "meter_staging", records=records, columns=COLUMNS
                )
                await connection.execute(
                    f"""INSERT INTO meter_samples ({", ".join(f'"{c}"' for c in COLUMNS)})
                        SELECT * FROM meter_staging ON CONFLICT DO NOTHING"""
                )

        async def copy_direct(batch: list[tuple[str, list[MeterSample]]]) -> None:
            records = [typed(c, txs[c], s) for c, s in batch]
            await pool.copy_records_to_table("meter_samples", records=records, columns=COLUMNS)

        for _ in range(args.rounds):
            await timed("old: one row per value (JSON batch)", old)
            await timed("sets: one row per set (JSON batch)", sets_json)
            await timed("sets: COPY to staging + INSERT ON CONFLICT", staging)
            await timed("sets: COPY into the table (no idempotency)", copy_direct)
            await pool.execute(
                """ALTER TABLE meter_samples DROP CONSTRAINT meter_samples_charge_point_id_fkey,
                       DROP CONSTRAINT meter_samples_transaction_pk_fkey;
                   ALTER TABLE old_meter_values
                       DROP CONSTRAINT old_meter_values_charge_point_id_fkey,
                       DROP CONSTRAINT old_meter_values_transaction_pk_fkey"""
            )
            await timed("old, without foreign keys", old)
            await timed("sets (JSON batch), without foreign keys", sets_json)
            await pool.execute(
                """ALTER TABLE meter_samples ADD FOREIGN KEY (charge_point_id)
                       REFERENCES chargers ON DELETE CASCADE,
                       ADD FOREIGN KEY (transaction_pk) REFERENCES transactions ON DELETE CASCADE;
                   ALTER TABLE old_meter_values ADD FOREIGN KEY (charge_point_id)
                       REFERENCES chargers ON DELETE CASCADE,
                       ADD FOREIGN KEY (transaction_pk) REFERENCES transactions ON DELETE CASCADE
                """
            )
        await pool.close()
    finally:
        connection = await asyncpg.connect(server)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sets", type=int, default=20_000, help="sampled sets of 8 values")
    parser.add_argument("--batch", type=int, default=250, help="sets per statement")
    parser.add_argument("--rounds", type=int, default=2)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
