"""A node that cannot check ownership in Redis answers the caller; it never drops the command
silently (docs/adr/0001-command-bus.md: "a dead or hung node fails fast"; only a node that
does not answer at all should cost the caller its whole timeout and count against the
node's circuit breaker).

The fault is injected in a private redis-server: the nodes' Redis user loses the right to
read keys (GET, which the check "does Redis still name this socket the owner?" uses), while
the caller keeps every right. Everything else the node does with Redis still works.
"""

from __future__ import annotations

import time
from pathlib import Path

import asyncpg
import pytest
from redis.asyncio import Redis

from csms.cluster.bus import CommandClient
from csms.cluster.keys import Keys
from csms.errors import CommandError, CommandTimeout
from tests.e2e.cluster import RedisServer
from tests.e2e.conftest import ClusterFactory
from tests.e2e.fleet import close_client, new_station, online, register_chargers
from tests.timeouts import TIMEOUT

CALLER, CALLER_PASSWORD = "e2e-caller", "e2e-caller-password"
# long enough for the node to answer many times over, short enough not to slow the run
DEADLINE = TIMEOUT / 2


async def test_a_redis_error_in_the_ownership_check_is_answered_not_dropped(
    cluster_factory: ClusterFactory, pool: asyncpg.Pool, prefix: str, tmp_path: Path
) -> None:
    keys = Keys(prefix)
    async with RedisServer(tmp_path) as redis_server:
        admin = Redis(host="127.0.0.1", port=redis_server.port)
        caller = Redis(
            host="127.0.0.1",
            port=redis_server.port,
            username=CALLER,
            password=CALLER_PASSWORD,
        )
        client = CommandClient(caller, keys)
        try:
            await admin.acl_setuser(
                CALLER,
                enabled=True,
                passwords=[f"+{CALLER_PASSWORD}"],
                keys=["*"],
                channels=["*"],
                categories=["+@all"],
            )
            cluster = cluster_factory(redis_server.url)
            (node,) = await cluster.start("n1")
            (cp,) = await register_chargers(pool, 1)
            station = await online(new_station(node.url, cp, "2.0.1"))
            assert (await client.send(cp, "get_local_list_version", {}))["response"] == {
                "versionNumber": 0
            }

            # the nodes (Redis user "default") may no longer GET
            await admin.acl_setuser("default", enabled=True, commands=["-get"])
            started = time.monotonic()
            with pytest.raises(CommandError) as raised:
                await client.send(cp, "get_local_list_version", {}, timeout=DEADLINE)
            elapsed = time.monotonic() - started
            assert not isinstance(raised.value, CommandTimeout), (
                f"no answer within {DEADLINE} s: the node dropped the command ({raised.value!r})"
            )
            assert elapsed < DEADLINE / 2
            assert station.received_actions() == ["GetLocalListVersion"]
        finally:
            await close_client(client)
            await caller.aclose()
            await admin.aclose()
