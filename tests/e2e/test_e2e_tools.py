"""The operator's tools on a running cluster: `csms nodes` and the registry behind it,
`csms command`, and the CommandClient every caller (backoffice, CLI) opens and closes
(docs/reference/cli.md, docs/topics/cluster.md "Registry" and "Commands")."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from redis.asyncio import Redis

from csms.cluster.bus import CommandClient
from csms.cluster.connect import redis_client
from csms.cluster.keys import Keys
from csms.cluster.registry import Registry
from tests.e2e.cluster import Cluster
from tests.e2e.fleet import COMMAND_TIMEOUT, new_station, online, register_chargers
from tests.timeouts import TIMEOUT


async def test_live_nodes_are_listed_when_the_prefix_has_glob_characters(
    database_url: str, redis_url: str, redis: Redis, prefix: str, tmp_path: Path
) -> None:
    """CSMS_REDIS_PREFIX is any text ("eu-[1]:", "a*b:"): a SCAN MATCH pattern built from
    it must escape glob characters, or `csms nodes` shows an empty cluster."""
    glob_prefix = f"{prefix}eu-[1]:"
    async with Cluster(
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=glob_prefix,
        log_dir=tmp_path,
    ) as cluster:
        (node,) = await cluster.start("n1")
        registry = Registry(redis, Keys(glob_prefix))
        assert await registry.is_alive("n1")
        assert [n.node_id for n in await registry.live_nodes()] == ["n1"]
        status, out, err = await cluster.cli("nodes")
        assert status == 0, err
        assert [line.split()[0] for line in out.splitlines()[1:]] == ["n1"], out
        assert await cluster.stop(node) == 0


async def test_csms_command_round_trips_from_the_shell(
    cluster: Cluster, pool: asyncpg.Pool
) -> None:
    """`csms command CP-1 reset --type soft`: the shell's way onto the same bus."""
    (node,) = await cluster.start("n1")
    (cp,) = await register_chargers(pool, 1)
    station = await online(new_station(node.url, cp, "2.0.1"))

    status, out, err = await cluster.cli("command", cp, "get_local_list_version")
    assert status == 0, err
    assert orjson.loads(out)["response"] == {"versionNumber": 0}
    status, out, err = await cluster.cli(
        "command", cp, "data_transfer", "--vendor-id", "SimVendor", "--data", '{"n": 1}'
    )
    assert status == 0, err
    assert orjson.loads(out)["response"] == {"status": "Accepted"}
    assert station.received_actions() == ["GetLocalListVersion", "DataTransfer"]
    assert station.received[-1].payload == {"vendorId": "SimVendor", "data": {"n": 1}}
    await station.disconnect()


class PollWatch(Redis):
    """A Redis client that notes when a blocking pop runs out without an item."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ran_out = asyncio.Event()

    async def brpop(self, keys: Any, timeout: Any = 0) -> Any:  # type: ignore[override]
        item = await super().brpop(keys, timeout)
        if item is None:
            self.ran_out.set()
        return item


# Below the 1 s after which stop_task re-sends a lost cancellation, so a pop the first
# cancellation missed runs out before a re-sent one would end it, and the test sees it.
POLL_SECONDS = TIMEOUT / 20


async def test_a_command_client_closes_without_waiting_out_its_listeners_pop(
    cluster: Cluster, pool: asyncpg.Pool, redis_url: str, keys: Keys
) -> None:
    """Every caller closes its CommandClient when done (`csms command` before it exits, the
    backoffice at shutdown): close() must return at once. Closed right after the answer, in
    the same task, the reply listener's cancellation is lost on Python 3.11 (it lands as
    redis-py's ``wait_for`` around sending the next BRPOP completes): close() used to wait
    for that pop to run out, ~1 s of the ~1.3 s a `csms command` took (docs/performance.md,
    "CLI command latency")."""
    (node,) = await cluster.start("n1")
    (cp,) = await register_chargers(pool, 1)
    station = await online(new_station(node.url, cp, "1.6"))
    # the client `csms command` makes (csms/cli/support.py), watched
    watch = PollWatch.from_pool(redis_client(redis_url, max_connections=4).connection_pool)
    try:
        for _ in range(3):
            client = CommandClient(watch, keys, poll_seconds=POLL_SECONDS)
            result = await client.send(cp, "get_local_list_version", {}, timeout=COMMAND_TIMEOUT)
            assert result["response"] == {"listVersion": 0}
            watch.ran_out.clear()  # a pop may run out while the charger answers: that is fine
            # closed right after the answer, in the same task, as `csms command` does
            await client.close()
            assert not watch.ran_out.is_set(), "close() waited for its listener's pop to run out"
    finally:
        await watch.aclose()
    await station.disconnect()
