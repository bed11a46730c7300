"""``GET /api/v1/status`` and the status gauges of ``/metrics`` over a real backoffice,
PostgreSQL, Redis and a node of the same cluster: nodes with the chargers they hold and
their message rate, every replica's breakers (reported to Redis with a TTL), the worker
queue by entrypoint, dependencies with their latency, the injected alarm and webhook counts,
and who may read it."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from redis.asyncio import Redis

from backoffice.services.status import StatusProviders
from csms.cluster.breaker_reports import REPORT_TTL
from csms.cluster.keys import Keys
from csms.node.server import Node
from csms.store.jobs import PgJobQueue
from tests.integration.backoffice.conftest import (
    Account,
    Backoffice,
    NewAccount,
    register_charger,
    station,
)
from tests.timeouts import TIMEOUT

STATUS = "/api/v1/status"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def read_status(client: httpx.AsyncClient, account: Account) -> dict[str, Any]:
    response = await client.get(STATUS, headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def node_of(body: dict[str, Any], node_id: str) -> dict[str, Any]:
    found = [n for n in body["nodes"] if n["node_id"] == node_id]
    assert len(found) == 1, body["nodes"]
    return found[0]


async def test_who_may_read_the_status(
    client: httpx.AsyncClient, accounts: dict[str, Account]
) -> None:
    assert (await client.get(STATUS)).status_code == 401
    bad = await client.get(STATUS, headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401
    driver = await client.get(STATUS, headers=accounts["driver"].headers)
    assert driver.status_code == 403
    for role in ("monitor", "operator", "admin"):
        await read_status(client, accounts[role])


async def test_a_logged_out_token_is_refused_while_redis_answers(
    client: httpx.AsyncClient, new_account: NewAccount
) -> None:
    monitor = await new_account("monitor")
    await read_status(client, monitor)
    out = await client.post(
        "/api/v1/auth/logout",
        json={"refresh_token": monitor.refresh_token},
        headers=monitor.headers,
    )
    assert out.status_code in (200, 204), out.text
    assert (await client.get(STATUS, headers=monitor.headers)).status_code == 401


async def test_status_shows_the_node_its_chargers_and_message_rate(
    client: httpx.AsyncClient, accounts: dict[str, Account], cluster_node: Node
) -> None:
    node_id = cluster_node.settings.node_id
    charge_point_id, password = await register_charger(client, accounts["operator"])
    sim = station(cluster_node, charge_point_id, password)
    await sim.connect()
    try:
        await sim.boot()
        body: dict[str, Any] = {}
        async with asyncio.timeout(3 * TIMEOUT):
            while True:  # the node reports its rate with its next registry heartbeat
                await sim.heartbeat()
                body = await read_status(client, accounts["monitor"])
                node = node_of(body, node_id)
                if node["chargers"] >= 1 and node["messages_per_second"] > 0:
                    break
                await asyncio.sleep(0.2)
    finally:
        await sim.disconnect()
    assert node["alive"] is True
    assert node["address"].startswith("ws://127.0.0.1:")
    assert node["chargers_recorded"] >= 1  # PostgreSQL's record of the same
    assert 0 <= node["heartbeat_age_seconds"] < TIMEOUT
    assert node["heartbeat_at"] and node["started_at"]
    for name in ("postgres", "redis"):
        dependency = body["dependencies"][name]
        assert dependency["up"] is True and dependency["error"] is None
        assert 0 < dependency["latency_seconds"] < 2.0
    assert body["replica_id"].startswith("backoffice-")
    # wired by the app: the notification deliveries by state (every state named)
    assert set(body["webhook_deliveries"]) == {"pending", "sending", "failed", "delivered", "dead"}
    assert body["unavailable"] == []


async def test_queue_depths_by_entrypoint_in_status_and_metrics(
    client: httpx.AsyncClient, accounts: dict[str, Account], pool: asyncpg.Pool
) -> None:
    entrypoint = f"status-test-{secrets.token_hex(3)}"
    queue = PgJobQueue(pool)
    try:
        for n in range(3):
            assert await queue.enqueue(entrypoint, {"n": n})
        assert await queue.enqueue(entrypoint, {"later": True}, delay=3600)
        body = await read_status(client, accounts["monitor"])
        mine = [q for q in body["queues"] if q["entrypoint"] == entrypoint]
        assert len(mine) == 1, mine
        assert mine[0]["status"] == "queued" and mine[0]["jobs"] == 4
        assert 0 <= mine[0]["oldest_due_seconds"] < TIMEOUT
        page = (await client.get("/metrics")).text
        assert f'csms_worker_queue_depth{{entrypoint="{entrypoint}",status="queued"}} 4.0' in page
        assert f'csms_worker_queue_oldest_due_seconds{{entrypoint="{entrypoint}"}}' in page
        assert 'csms_dependency_up{dependency="postgres"} 1.0' in page
        assert 'csms_dependency_up{dependency="redis"} 1.0' in page
        assert 'csms_dependency_latency_seconds{dependency="postgres"}' in page
    finally:
        await pool.execute("DELETE FROM pgqueuer WHERE entrypoint = $1", entrypoint)
    body = await read_status(client, accounts["monitor"])
    assert not [q for q in body["queues"] if q["entrypoint"] == entrypoint]


async def test_every_replicas_breakers_from_redis(
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
    cluster_node: Node,
    backoffice: Backoffice,
    redis: Redis,
    redis_prefix: str,
) -> None:
    keys = Keys(redis_prefix)
    node_id = cluster_node.settings.node_id
    body = await read_status(client, accounts["monitor"])
    own = body["replica_id"]
    # this replica reports its own breakers under its id, with a TTL
    async with asyncio.timeout(TIMEOUT):
        while not await redis.exists(keys.breakers(own)):
            await asyncio.sleep(0.1)
    assert 0 < await redis.pttl(keys.breakers(own)) <= REPORT_TTL * 1000
    # another replica whose breaker of the node is open
    other = f"backoffice-other-{secrets.token_hex(3)}"
    report = {
        "reported_at": 1_700_000_000.0,
        "breakers": {node_id: {"state": "open", "failures": 5}},
    }
    await redis.set(keys.breakers(other), orjson.dumps(report), px=int(REPORT_TTL * 1000))
    try:
        body = await read_status(client, accounts["monitor"])
        breakers = node_of(body, node_id)["breakers"]
        assert {
            "replica_id": other,
            "state": "open",
            "failures": 5,
            "reported_at": "2023-11-14T22:13:20Z",
        } in breakers
        assert body["status"] == "degraded"
        page = (await client.get("/metrics")).text
        assert f'csms_cluster_breakers{{node="{node_id}",state="open"}} 1.0' in page
    finally:
        await redis.delete(keys.breakers(other))
    body = await read_status(client, accounts["monitor"])
    assert other not in {b["replica_id"] for b in node_of(body, node_id)["breakers"]}


async def test_injected_alarm_and_delivery_counts(
    client: httpx.AsyncClient, accounts: dict[str, Account], backoffice: Backoffice
) -> None:
    """What the alarms and notifications features plug in: async counts over the status's
    own PostgreSQL connection."""

    async def alarm_counts(conn: asyncpg.Connection) -> dict[str, int]:
        rows = await conn.fetch(
            "SELECT * FROM (VALUES ('critical', 2), ('warning', 0)) AS t(severity, n)"
        )
        return {r["severity"]: r["n"] for r in rows}

    async def delivery_counts(conn: asyncpg.Connection) -> dict[str, int]:
        return {"dead": int(await conn.fetchval("SELECT 1")), "delivered": 7}

    state = backoffice.app.state.backoffice
    state.status_providers = StatusProviders(
        alarm_counts=alarm_counts, delivery_counts=delivery_counts
    )
    try:
        body = await read_status(client, accounts["monitor"])
        assert body["alarms"] == {"critical": 2, "warning": 0}
        assert body["webhook_deliveries"] == {"dead": 1, "delivered": 7}
        page = (await client.get("/metrics")).text
        assert 'csms_alarms_open{severity="critical"} 2.0' in page
        assert 'csms_webhook_deliveries{state="dead"} 1.0' in page
    finally:
        state.status_providers = StatusProviders()


async def test_a_failing_provider_hides_only_its_own_counts(
    client: httpx.AsyncClient, accounts: dict[str, Account], backoffice: Backoffice
) -> None:
    async def broken(conn: asyncpg.Connection) -> dict[str, int]:
        await conn.fetch("SELECT * FROM no_such_alarms_table")
        return {}  # pragma: no cover

    async def deliveries(conn: asyncpg.Connection) -> dict[str, int]:
        return {"pending": 3}

    state = backoffice.app.state.backoffice
    state.status_providers = StatusProviders(alarm_counts=broken, delivery_counts=deliveries)
    try:
        body = await read_status(client, accounts["monitor"])
    finally:
        state.status_providers = StatusProviders()
    assert body["alarms"] is None and body["unavailable"] == ["alarms"]
    assert body["webhook_deliveries"] == {"pending": 3}
    assert body["dependencies"]["postgres"]["up"] is True
    assert body["queues"] is not None
    assert body["status"] == "degraded"
