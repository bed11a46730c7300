"""A node and a worker (PgQueuer) over the run's PostgreSQL, in this process."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest

from csms.node.runtime import running_node
from csms.node.server import Node
from csms.settings import NodeSettings, WorkerSettings
from csms.worker.runtime import Worker, running_worker


@pytest.fixture
async def node(database_url: str) -> AsyncIterator[Node]:
    settings = NodeSettings(host="127.0.0.1", port=0, node_id=f"bill-{secrets.token_hex(3)}")
    async with running_node(settings, database_url) as running:
        yield running


@pytest.fixture
async def worker(database_url: str) -> AsyncIterator[Worker]:
    settings = WorkerSettings(job_poll_interval=0.2, job_retry_delay=0.1)
    async with running_worker(settings, database_url) as running:
        task = asyncio.create_task(running.run())
        yield running
        running.stop()
        await task
