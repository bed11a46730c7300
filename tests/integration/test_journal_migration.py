"""Migration 0015_journal on a database that has a journal: the rows written as jsonb
payloads stay and read as before (with their frames derived), new rows are text in the same
partitions, the frame column is lz4-compressed in every partition (existing and new), and a
downgrade gives every frame written since its jsonb payload back."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import orjson
import pytest

from csms import embedded
from csms.store import journal, partitions
from csms.store.pool import create_pool, migrate
from tests.integration.test_meter_migration import _downgrade

pytestmark = pytest.mark.integration

DAY = datetime(2025, 1, 1, 8, tzinfo=UTC)
OLD = [  # message type, id, action, payload, the frame a reader gets
    (2, "b-1", "BootNotification", {"chargePointVendor": "Acmé", "chargePointModel": "W"}),
    (3, "b-1", None, {"status": "Accepted", "interval": 60, "currentTime": "2025-01-01T08:00Z"}),
    (4, "x-1", None, {"errorCode": "NotSupported", "errorDescription": "no", "errorDetails": {}}),
    (0, "-1", None, {"raw": '[2, "g", {'}),
]


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[str]:
    name = f"csms_test_journal_migration_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield embedded.with_database(database_url, name)
    finally:
        admin = await asyncpg.connect(database_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def compressions(connection: asyncpg.Connection) -> dict[str, str]:
    rows = await connection.fetch(
        """SELECT c.relname, a.attcompression::text AS attcompression
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE a.attname = 'frame'
           AND (c.relname = 'charger_messages' OR c.oid IN (SELECT inhrelid FROM pg_inherits
                WHERE inhparent = 'charger_messages'::regclass))"""
    )
    return {r["relname"]: r["attcompression"] for r in rows}


async def supports_lz4(connection: asyncpg.Connection) -> bool:
    try:
        await connection.execute("CREATE TEMP TABLE lz4_probe (t text COMPRESSION lz4)")
    except asyncpg.FeatureNotSupportedError:
        return False
    await connection.execute("DROP TABLE lz4_probe")
    return True


async def test_old_rows_read_as_before_and_new_ones_are_text(database: str) -> None:
    await migrate(database, "0014")
    connection = await asyncpg.connect(database)
    try:
        await connection.execute("SELECT csms_ensure_partition('charger_messages', 'day', $1)", DAY)
        for n, (message_type, message_id, action, payload) in enumerate(OLD):
            await connection.execute(
                """INSERT INTO charger_messages (charge_point_id, at, direction, message_type,
                   message_id, action, payload) VALUES ('OLD', $1, 'in', $2, $3, $4, $5::jsonb)""",
                DAY.replace(minute=n),
                message_type,
                message_id,
                action,
                orjson.dumps(payload).decode(),
            )
        lz4 = await supports_lz4(connection)
    finally:
        await connection.close()

    await migrate(database)
    pool = await create_pool(database, min_size=1, max_size=2)
    try:
        rows = await journal.list_messages(pool, "OLD")
        assert [
            (r["message_type"], r["message_id"], r["action"], r["payload"]) for r in rows
        ] == OLD
        assert [orjson.loads(r["frame"]) for r in rows[:3]] == [
            [2, "b-1", "BootNotification", OLD[0][3]],
            [3, "b-1", OLD[1][3]],
            [4, "x-1", "NotSupported", "no", {}],
        ]
        assert rows[3]["frame"] == '[2, "g", {'
        # the CLI's and API's searches reach old rows through their jsonb text
        found = await journal.list_messages(pool, "OLD", containing="acmé")
        assert [r["message_id"] for r in found] == ["b-1"]

        # a new frame lands in the same (old) day's partition, as text
        frame = '[2, "h-1", "Heartbeat", {}]'
        at = DAY.replace(minute=30)
        await journal.insert_rows(pool, [("OLD", at, "in", 2, "h-1", "Heartbeat", frame)])
        assert (await journal.list_messages(pool, "OLD"))[-1]["frame"] == frame
        await partitions.ensure(pool, "charger_messages", [datetime(2031, 1, 1).date()])
        async with pool.acquire() as connection:
            compressed = await compressions(connection)
        if lz4:  # this server was built with lz4 (PostgreSQL's Debian builds are)
            assert set(compressed.values()) == {"l"}, compressed
            assert {"charger_messages_p20250101", "charger_messages_p20310101"} <= set(compressed)
    finally:
        await pool.close()

    await asyncio.to_thread(_downgrade, database, "0014")
    connection = await asyncpg.connect(database)
    try:
        payloads = await connection.fetch(
            "SELECT message_id, payload FROM charger_messages ORDER BY at, id"
        )
        assert [(r["message_id"], orjson.loads(r["payload"])) for r in payloads] == [
            *((message_id, payload) for _, message_id, _, payload in OLD),
            ("h-1", {}),
        ]
    finally:
        await connection.close()
