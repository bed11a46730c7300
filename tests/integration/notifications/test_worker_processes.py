"""Two ``csms worker`` processes, configured from CSMS_* variables as in production, share
the deliveries: each event reaches a healthy receiver exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from tests.fakes.webhook_receiver import Receiver
from tests.integration.notifications.conftest import Notify, Subscribe, deliveries_of
from tests.timeouts import TIMEOUT

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]  # this checkout's csms, not an installed one
EVENTS = 30


@pytest.fixture
async def workers() -> AsyncIterator[list[asyncio.subprocess.Process]]:
    started: list[asyncio.subprocess.Process] = []
    yield started
    for process in started:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(TIMEOUT):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()


async def start_worker(database_url: str, redis_url: str) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSMS_")}
    env.update(
        CSMS_DATABASE_URL=database_url,
        CSMS_REDIS_URL=redis_url,
        CSMS_ENV="dev",
        CSMS_JOB_POLL_INTERVAL="0.2",
        CSMS_JOB_HEARTBEAT_TIMEOUT="2",
        CSMS_JOB_CONCURRENCY="8",
        CSMS_JOB_BATCH_SIZE="4",
        CSMS_DB_POOL_MAX="4",
        CSMS_LOG_LEVEL="WARNING",
        CSMS_WEBHOOK_ALLOW_PRIVATE="true",
        CSMS_NOTIFY_RETRY_DELAY="0.2",
        CSMS_NOTIFY_RETRY_MAX_DELAY="1",
    )
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; from csms.cli import main; sys.exit(main())",
        "worker",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def test_two_worker_processes_deliver_each_event_once(
    database_url: str,
    redis_url: str,
    pool: asyncpg.Pool,
    receiver: Receiver,
    subscribe_webhook: Subscribe,
    notify: Notify,
    workers: list[asyncio.subprocess.Process],
) -> None:
    subscription = await subscribe_webhook()
    receiver.delay = 0.05  # slow enough that both workers are busy at once
    workers.append(await start_worker(database_url, redis_url))
    workers.append(await start_worker(database_url, redis_url))
    for _ in range(EVENTS):
        await notify()
    async with asyncio.timeout(4 * TIMEOUT):  # two processes start (imports, pools)
        await receiver.wait_for(EVENTS, 4 * TIMEOUT)
        while any(d.state != "delivered" for d in await deliveries_of(pool, subscription.id)):
            await asyncio.sleep(0.05)
    assert all(w.returncode is None for w in workers), "a worker exited"
    found = await deliveries_of(pool, subscription.id)
    assert len(found) == EVENTS
    assert sorted(receiver.event_ids) == sorted(str(d.event_id) for d in found)
    assert len(set(receiver.event_ids)) == EVENTS  # none twice
    assert all(r.signed for r in receiver.received)
    # one try per delivery, and both processes took part
    assert all(len(d.log) == 1 for d in found)
    assert len({d.log[0].worker for d in found}) == 2
