"""The operator's tools on a running cluster: `csms nodes` and the registry behind it,
`csms command`, and the CommandClient every caller (backoffice, CLI) opens and closes
(docs/reference/cli.md, docs/topics/cluster.md "Registry" and "Commands")."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import asyncpg
import orjson
from redis.asyncio import Redis

from csms.cluster.bus import CommandClient
from csms.cluster.keys import Keys
from csms.cluster.registry import Registry
from tests.e2e.cluster import Cluster
from tests.e2e.fleet import CLOSE_BOUND, COMMAND_TIMEOUT, new_station, online, register_chargers


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


async def test_a_command_client_closes_promptly_after_its_replies(
    cluster: Cluster, pool: asyncpg.Pool, redis: Redis, keys: Keys
) -> None:
    """Every caller closes its CommandClient when done (`csms command` before it exits, the
    backoffice at shutdown): close() must return at once, not wait for its reply listener
    forever."""
    (node,) = await cluster.start("n1")
    (cp,) = await register_chargers(pool, 1)
    station = await online(new_station(node.url, cp, "1.6"))
    slow: list[float] = []
    for _ in range(3):
        client = CommandClient(redis, keys)
        result = await client.send(cp, "get_local_list_version", {}, timeout=COMMAND_TIMEOUT)
        assert result["response"] == {"listVersion": 0}
        # closed right after the reply, in the same task, as `csms command` does; the
        # bound cancels close() if it waits (close() swallows that cancellation: the time
        # it took tells)
        started = time.monotonic()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_BOUND):
                await client.close()
        if time.monotonic() - started >= CLOSE_BOUND:
            slow.append(time.monotonic() - started)
    assert not slow, (
        f"{len(slow)} of 3 CommandClient.close() calls still waited after {CLOSE_BOUND} s"
    )
    await station.disconnect()
