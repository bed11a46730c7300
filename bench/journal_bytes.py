"""Bytes per journal frame, text (migration 0015_journal) against jsonb payloads (before it), for the
frames a database's journal holds (e.g. one left by ``bench/handle.py``).

    python bench/journal_bytes.py postgresql://postgres@127.0.0.1/csms_bench_handle_XXXXXX

Copies the journal twice into scratch tables with the two layouts (the same two indexes,
lz4 on the text where the server has it), prints total bytes (heap, TOAST, indexes) per row
of each, and drops them. See docs/performance.md, "Journal".
"""

from __future__ import annotations

import asyncio
import sys

import asyncpg

COLUMNS = "charge_point_id, at, direction, message_type, message_id, action"
# the payload each frame had before 0014 (as the migration's downgrade derives it)
PAYLOAD = """coalesce(CASE
    WHEN strpos(frame, '\\u0000') > 0 THEN NULL
    WHEN message_type = 2 THEN (frame::jsonb) -> 3
    WHEN message_type = 3 THEN (frame::jsonb) -> 2
    WHEN message_type = 4 THEN jsonb_build_object('errorCode', (frame::jsonb) -> 2,
        'errorDescription', (frame::jsonb) -> 3, 'errorDetails', (frame::jsonb) -> 4)
    END, jsonb_build_object('raw', frame))"""


async def measure(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        layouts = {
            "jsonb payload (before)": f"SELECT {COLUMNS}, {PAYLOAD} AS payload",
            "text frame (after)": f"SELECT {COLUMNS}, frame",
        }
        for n, (label, select) in enumerate(layouts.items()):
            table = f"journal_bytes_{n}"
            await connection.execute(f"DROP TABLE IF EXISTS {table}")
            await connection.execute(
                f"CREATE TABLE {table} AS {select} FROM charger_messages WHERE frame IS NOT NULL "
                "ORDER BY at, id"
            )
            await connection.execute(f"CREATE INDEX ON {table} (charge_point_id, at)")
            await connection.execute(f"CREATE INDEX ON {table} (at)")
            await connection.execute(f"VACUUM ANALYZE {table}")
            rows, heap, total, value = await connection.fetchrow(
                f"""SELECT count(*), pg_table_size('{table}'), pg_total_relation_size('{table}'),
                    avg(pg_column_size({table}.{"payload" if n == 0 else "frame"}))
                    FROM {table}"""
            )
            sys.stdout.write(
                f"{label:24} {rows} rows: {total / rows:6.0f} bytes/row in all "
                f"({heap / rows:.0f} table, {(total - heap) / rows:.0f} indexes), "
                f"{value:.0f} bytes/value\n"
            )
            await connection.execute(f"DROP TABLE {table}")
        mix = await connection.fetch(
            """SELECT coalesce(action, '(reply)') AS action, direction, count(*),
                      avg(octet_length(frame))::int AS length
               FROM charger_messages GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 8"""
        )
        for row in mix:
            sys.stdout.write(
                f"  {row['action']:24} {row['direction']:3} {row['count']:6} frames, "
                f"{row['length']} bytes of text on average\n"
            )
    finally:
        await connection.close()


if __name__ == "__main__":
    asyncio.run(measure(sys.argv[1]))
