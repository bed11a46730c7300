"""PgJobQueue (csms.store.jobs) against PostgreSQL: jobs enqueued by many callers at once
go in one statement per batch, and a dedupe key still admits one queued job, also when the
same key comes twice in one batch."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg
import orjson
import pytest

from csms.store.jobs import PgJobQueue

pytestmark = pytest.mark.integration


async def test_concurrent_enqueues_keep_one_job_per_dedupe_key(pool: asyncpg.Pool) -> None:
    queue = PgJobQueue(pool)
    entrypoint = f"test.batch-{secrets.token_hex(4)}"
    keys = [f"{entrypoint}:{i}" for i in range(5)]
    results = await asyncio.gather(
        *(
            queue.enqueue(entrypoint, {"n": n, "key": key}, dedupe_key=key)
            for n in range(3)
            for key in keys
        ),
        queue.enqueue(entrypoint, {"n": 99}, delay=60),  # no key: always queued, later
    )
    assert sum(results) == len(keys) + 1
    rows = await pool.fetch(
        "SELECT payload, dedupe_key, execute_after > now() + interval '30 s' AS later"
        " FROM pgqueuer WHERE entrypoint = $1",
        entrypoint,
    )
    assert sorted(r["dedupe_key"] for r in rows if r["dedupe_key"]) == keys
    # the first caller of each key won; the undeduplicated job kept its delay
    assert {orjson.loads(r["payload"])["n"] for r in rows if r["dedupe_key"]} == {0}
    assert [r["later"] for r in rows if not r["dedupe_key"]] == [True]
    await pool.execute("DELETE FROM pgqueuer WHERE entrypoint = $1", entrypoint)
