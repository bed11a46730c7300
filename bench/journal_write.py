"""What writing the journal costs, per row: the node's CPU (building and sending a batch)
and the wall time of the statement (mostly PostgreSQL's work), for batches (500 rows, or as given) of a
1.6 MeterValues frame (~1 kB), three ways: the jsonb payload array of before migration 0015_journal,
the same array carrying text frames, and binary COPY of text frames (what the node does).

    python bench/journal_write.py      # CSMS_BENCH_DATABASE_URL / CSMS_TEST_DATABASE_URL
    python bench/journal_write.py 20   # batches of 20 rows (a lightly loaded node)

Makes a scratch database and drops it. See docs/performance.md, "Journal".
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from csms import embedded  # noqa: E402
from csms.bootstrap import ensure_database  # noqa: E402
from csms.store import journal  # noqa: E402
from csms.store.pool import create_pool, migrate  # noqa: E402

MEASURANDS = (
    "Energy.Active.Import.Register",
    "Power.Active.Import",
    "Current.Import",
    "Voltage",
    "SoC",
    "Temperature",
    "Current.Offered",
    "Frequency",
)
PAYLOAD = {
    "connectorId": 1,
    "transactionId": 123456,
    "meterValue": [
        {
            "timestamp": "2026-12-05T03:00:00.000Z",
            "sampledValue": [
                {"value": "1234.5", "measurand": m, "unit": "Wh", "context": "Sample.Periodic"}
                for m in MEASURANDS
            ],
        }
    ],
}
FRAME = orjson.dumps([2, "5f1c8e0a-1234", "MeterValues", PAYLOAD]).decode()
ARRAY = """INSERT INTO charger_messages (charge_point_id, at, direction, message_type,
        message_id, action, {column})
    SELECT r->>0, (r->>1)::timestamptz, r->>2, (r->>3)::int, r->>4, r->>5, {value}
    FROM jsonb_array_elements($1::jsonb) AS r"""
ROWS, REPEATS = 10_000, 5


async def run(batch: int) -> None:
    server = os.environ.get("CSMS_BENCH_DATABASE_URL") or os.environ.get("CSMS_TEST_DATABASE_URL")
    if not server:
        server = await asyncio.to_thread(embedded.postgres_url, ROOT / ".data" / "bench")
    name = f"csms_bench_journal_{secrets.token_hex(3)}"
    await ensure_database(server, name)
    dsn = embedded.with_database(server, name)
    try:
        await migrate(dsn)
        pool = await create_pool(dsn, min_size=1, max_size=1)
        now = datetime.now(UTC)
        texts = [("CP", now, "in", 2, f"m{i}", "MeterValues", FRAME) for i in range(batch)]
        payloads = [(*row[:6], PAYLOAD) for row in texts]
        ways = {
            "jsonb array, payload (before)": lambda: pool.execute(
                ARRAY.format(column="payload", value="r->6"), payloads
            ),
            "jsonb array, text frame": lambda: pool.execute(
                ARRAY.format(column="frame", value="r->>6"), texts
            ),
            "COPY, text frame (now)": lambda: journal.insert_rows(pool, texts),
        }
        try:
            for label, write in ways.items():
                cpu = wall = float("inf")
                for _ in range(REPEATS):
                    await pool.execute("TRUNCATE charger_messages")
                    cpu0, wall0 = time.process_time(), time.perf_counter()
                    for _ in range(ROWS // batch):
                        await write()
                    rows = ROWS // batch * batch
                    cpu = min(cpu, (time.process_time() - cpu0) / rows * 1e6)
                    wall = min(wall, (time.perf_counter() - wall0) / rows * 1e6)
                sys.stdout.write(
                    f"{label:30} {cpu:5.2f} us node CPU/row, {wall:5.1f} us wall/row\n"
                )
        finally:
            await pool.close()
    finally:
        admin = await asyncpg.connect(server)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


if __name__ == "__main__":
    asyncio.run(run(int(sys.argv[1]) if len(sys.argv) > 1 else 500))
