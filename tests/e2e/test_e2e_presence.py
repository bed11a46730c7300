"""Presence is reconciled cluster-wide (docs/topics/cluster.md, "When a node dies").

Three node processes; chargers on n1; n1 is SIGKILLed. The chargers that never come back
read as offline within the registration TTL plus one sweep interval, in Redis (no owner
entry, no held set), in PostgreSQL (not connected), on the CLI and over REST; a charger
that reconnected to n2 meanwhile is never released. A node restarted under the same id
releases what its previous run left before it takes connections.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from csms.cluster.keys import Keys
from csms.cluster.registry import DEFAULT_TTL
from csms.cluster.routing import Routing
from csms.settings import BackofficeSettings
from csms.store import users
from tests.e2e.cluster import Cluster
from tests.e2e.fleet import charger_row, eventually, move, new_station, online, register_chargers
from tests.integration.backoffice.conftest import (
    USER_PASSWORD,
    USER_PASSWORD_HASH,
    login,
    serving,
)
from tests.timeouts import TIMEOUT

SWEEP = 1.0  # CSMS_PRESENCE_SWEEP_INTERVAL of these nodes
# the documented bound: the dead node's registration lapses (TTL), then one sweep runs; the
# margin covers a sweep that had just started and the poll
OFFLINE_BOUND = DEFAULT_TTL + SWEEP + TIMEOUT / 2


@pytest.fixture
async def api(
    database_url: str, redis_url: str, prefix: str, pool: asyncpg.Pool
) -> AsyncIterator[httpx.AsyncClient]:
    """The REST API of the same cluster, logged in as a monitor."""
    settings = BackofficeSettings(
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=prefix,
        jwt_secret="e2e-presence-jwt-secret-" + "k" * 40,
        db_pool_min=1,
        db_pool_max=2,
    )
    name = f"monitor-{secrets.token_hex(4)}"
    await users.add_user(pool, name, password_hash=USER_PASSWORD_HASH, role="monitor")
    async with serving(settings) as backoffice:
        async with httpx.AsyncClient(base_url=backoffice.url, timeout=TIMEOUT) as client:
            token = (await login(client, name, USER_PASSWORD)).json()["access_token"]
            client.headers["Authorization"] = f"Bearer {token}"
            yield client


async def offline_everywhere(
    pool: asyncpg.Pool,
    redis: Redis,
    keys: Keys,
    cluster: Cluster,
    api: httpx.AsyncClient,
    charge_point_id: str,
) -> bool:
    """Redis, PostgreSQL, the CLI and the REST API all say the charger is offline."""
    if await Routing(redis, keys).owner(charge_point_id) is not None:
        return False
    if (await charger_row(pool, charge_point_id))["connected_node"] is not None:
        return False
    status, out, _ = await cluster.cli("charger", "show", charge_point_id)
    assert status == 0
    shown = {
        parts[0]: parts[1] if len(parts) > 1 else ""
        for line in out.splitlines()
        if (parts := line.split(None, 1))
    }
    if shown.get("connected_node", "-").strip() != "-":
        return False
    charger = (await api.get(f"/api/v1/chargers/{charge_point_id}")).json()
    return charger["connected"] is False and charger["connected_node"] is None


async def test_a_killed_node_s_chargers_read_offline_within_the_bound(
    cluster: Cluster, pool: asyncpg.Pool, redis_url: str, keys: Keys, api: httpx.AsyncClient
) -> None:
    cluster.settings["CSMS_PRESENCE_SWEEP_INTERVAL"] = str(SWEEP)
    n1, n2, _ = await cluster.start("n1", "n2", "n3")
    gone_a, gone_b, mover = await register_chargers(pool, 3)
    stations = [new_station(n1.url, cp, v) for cp, v in ((gone_a, "1.6"), (gone_b, "2.0.1"))]
    moving = new_station(n1.url, mover, "1.6")
    await asyncio.gather(*(online(s) for s in [*stations, moving]))
    redis = Redis.from_url(redis_url)
    try:
        assert await redis.smembers(keys.held("n1")) == {
            c.encode() for c in (gone_a, gone_b, mover)
        }
        killed_at = time.monotonic()
        assert await cluster.kill(n1) == -9
        await asyncio.gather(*(s.drop() for s in stations))  # these never come back
        await move(moving, n2.url)  # this one reconnects elsewhere at once

        for cp in (gone_a, gone_b):
            await eventually(
                lambda cp=cp: offline_everywhere(pool, redis, keys, cluster, api, cp),
                f"{cp} offline",
                timeout=OFFLINE_BOUND,
            )
        took = time.monotonic() - killed_at
        assert took <= OFFLINE_BOUND, took
        assert not await redis.exists(keys.held("n1"))
        # the charger that reconnected is n2's, in Redis and in PostgreSQL, untouched
        owner = await Routing(redis, keys).owner(mover)
        assert owner is not None and owner.node_id == "n2"
        assert (await charger_row(pool, mover))["connected_node"] == "n2"
        assert await redis.smembers(keys.held("n2")) == {mover.encode()}
        listed = (await api.get(f"/api/v1/chargers/{mover}")).json()
        assert (listed["connected"], listed["owner_node"]) == (True, "n2")
    finally:
        await redis.aclose()
        await moving.disconnect()


async def test_a_node_restarted_under_the_same_id_releases_what_it_left(
    cluster: Cluster, pool: asyncpg.Pool, redis_url: str, keys: Keys, api: httpx.AsyncClient
) -> None:
    """The node comes back before its registration lapsed: no sweep would release its old
    entries (it is registered), so it does so itself before it accepts connections."""
    cluster.settings["CSMS_PRESENCE_SWEEP_INTERVAL"] = "3600"  # only the restart releases
    (n1,) = await cluster.start("n1")
    never_back, comes_back = await register_chargers(pool, 2)
    first = new_station(n1.url, never_back, "2.0.1")
    second = new_station(n1.url, comes_back, "1.6")
    await asyncio.gather(online(first), online(second))
    redis = Redis.from_url(redis_url)
    try:
        assert await cluster.kill(n1) == -9
        await asyncio.gather(first.drop(), second.drop())
        assert (await charger_row(pool, never_back))["connected_node"] == "n1"
        (n1,) = await cluster.start("n1")  # listening: the release happened before
        assert await offline_everywhere(pool, redis, keys, cluster, api, never_back)
        await move(second, n1.url)
        owner = await Routing(redis, keys).owner(comes_back)
        assert owner is not None and owner.node_id == "n1"
        assert (await charger_row(pool, comes_back))["connected_node"] == "n1"
        assert await redis.smembers(keys.held("n1")) == {comes_back.encode()}
    finally:
        await redis.aclose()
        await second.disconnect()
