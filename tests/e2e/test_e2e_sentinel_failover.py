"""A Redis Sentinel failover under load (docs/topics/deployment.md, "Redis Sentinel").

A primary, a replica and three sentinels (tests/redis_servers.py); two node processes and a
command caller take ``CSMS_REDIS_URL=redis+sentinel://.../mymaster/0``. Twenty chargers keep
sending meter values and heartbeats. The replica is made to miss the ownership of six of
them (asynchronous replication loses the last writes of a primary that dies), then the
primary is killed (SIGKILL): while the sentinels promote the replica, commands fail fast
(node unavailable, not a wait for their timeout); no charger socket closes and every
message is answered and stored; once the replica is the primary, each node notices another
server behind its routing keys and re-owns its chargers with their epochs (the six lost
ones too), and commands work again, from a caller that lived through the switch and from
a new one.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import asyncpg
from redis.asyncio import Redis
from redis.exceptions import RedisError

from csms.cluster.bus import CommandClient
from csms.cluster.connect import redis_client
from csms.cluster.keys import Keys
from csms.errors import CommandError, NodeUnavailable
from tests.e2e.cluster import Cluster
from tests.e2e.conftest import ClusterFactory
from tests.e2e.fleet import (
    COMMAND_TIMEOUT,
    VERSIONS,
    RecordingStation,
    close_client,
    new_station,
    online,
    periodic_samplings,
    register_chargers,
    register_token,
    transactions_of,
    until,
)
from tests.e2e.test_e2e_redis_restart import Load, command_burst, progressed, recovered
from tests.redis_servers import LocalSentinels
from tests.timeouts import TIMEOUT

CHARGERS = 20
LOST = 6  # chargers (of both nodes) whose ownership the replica never got
# A command sent while there is no primary must fail well before its timeout.
FAST = COMMAND_TIMEOUT / 4
SWITCH_WITHIN = 3 * TIMEOUT  # sentinels: 1 s to call it down, then an election


async def test_a_sentinel_failover_under_load_loses_no_session(
    cluster_factory: ClusterFactory, pool: asyncpg.Pool, prefix: str, tmp_path: Path
) -> None:
    async with LocalSentinels(tmp_path / "redis") as sentinels:
        cluster = cluster_factory(sentinels.url)
        try:
            await fail_over(cluster, sentinels, Keys(prefix), pool)
        except BaseException:
            sys.stderr.write(sentinels.logs())  # shown with the failure
            raise
        await cluster.aclose()
    logs = cluster.logs()
    assert "Traceback" not in logs, logs
    assert logs.count("another Redis server (failover): re-owning chargers") == 2, logs


async def fail_over(
    cluster: Cluster, sentinels: LocalSentinels, keys: Keys, pool: asyncpg.Pool
) -> None:
    nodes = await cluster.start("n1", "n2")
    ids = await register_chargers(pool, CHARGERS)
    stations = [
        new_station(nodes[i % 2].url, cp, VERSIONS[(i // 2) % 2]) for i, cp in enumerate(ids)
    ]
    home = {s.config.charge_point_id: nodes[i % 2].node_id for i, s in enumerate(stations)}
    await asyncio.gather(*(online(station) for station in stations))
    closes = [asyncio.create_task(station.wait_closed()) for station in stations]
    stop = asyncio.Event()
    loads = []
    for station in stations:
        tx = await station.start_transaction(1, await register_token(pool))
        loads.append(Load(station, tx, stop))
    caller = redis_client(sentinels.url)  # what the backoffice holds, through the switch
    client = CommandClient(caller, keys)
    observer = redis_client(sentinels.url)
    old_primary = sentinels.primary.port
    try:
        async with asyncio.TaskGroup() as group:
            for load in loads:
                group.create_task(load.run())
            try:
                await until(lambda: progressed(loads, dict.fromkeys(range(CHARGERS), 2)), "load")
                assert await command_burst(client, stations, "before") == {}

                await lose_last_claims(sentinels, keys, ids[:LOST])
                await sentinels.primary.kill()
                failures = await commands_during_switch(client, stations, sentinels, old_primary)
                slow = {cp: f"{s:.1f} s: {e}" for cp, (s, e) in failures.items() if s > FAST}
                assert slow == {}, f"commands that did not fail fast: {slow}"
                assert any(isinstance(e, NodeUnavailable) for _, e in failures.values()), (
                    f"no command saw the switch: {failures}"
                )

                await recovered(observer, keys, pool, stations, home)
                fresh = CommandClient(observer, keys)
                try:
                    through_nodes = await command_burst(fresh, stations, "fresh caller")
                finally:
                    await close_client(fresh)
                long_lived = await command_burst(client, stations, "long-lived caller")
                assert (through_nodes, long_lived) == ({}, {})
                after = {i: load.meter_values + 2 for i, load in enumerate(loads)}
                await until(lambda: progressed(loads, after), "load after the failover")
            finally:
                stop.set()
    finally:
        stop.set()
        await close_client(client)
        await caller.aclose()
        await observer.aclose()

    assert not any(close.done() for close in closes), "a station saw its socket close"
    for close in closes:
        close.cancel()
    for load in loads:
        await load.station.stop_transaction(load.tx)
        cp = load.station.config.charge_point_id
        (row,) = await transactions_of(pool, cp)
        assert row["ended_at"] is not None
        assert await periodic_samplings(pool, row["id"]) == load.meter_values, cp
    await asyncio.gather(*(load.station.disconnect() for load in loads))


async def lose_last_claims(
    sentinels: LocalSentinels, keys: Keys, charge_point_ids: list[str]
) -> None:
    """The replica misses the ownership of ``charge_point_ids`` (as if their claims came
    just before the primary died): only the nodes' re-assert can bring them back."""
    replica = Redis(host="127.0.0.1", port=sentinels.replica.port)
    try:
        for cp in charge_point_ids:
            assert await replica.delete(keys.owner(cp)) == 1
        for node_id in ("n1", "n2"):
            await replica.srem(keys.held(node_id), *charge_point_ids)
    finally:
        await replica.aclose()


async def commands_during_switch(
    client: CommandClient,
    stations: list[RecordingStation],
    sentinels: LocalSentinels,
    old_primary: int,
) -> dict[str, tuple[float, CommandError]]:
    """Commands to one charger after another until the sentinels name a new primary; the
    ones that failed, with how long each took."""
    failures: dict[str, tuple[float, CommandError]] = {}
    deadline = time.monotonic() + SWITCH_WITHIN
    turn = 0
    while time.monotonic() < deadline:
        station = stations[turn % len(stations)]
        turn += 1
        cp = station.config.charge_point_id
        started = time.monotonic()
        try:
            await client.send(
                cp,
                "data_transfer",
                {"vendor_id": "org.example", "message_id": f"switch-{turn}"},
                timeout=COMMAND_TIMEOUT,
            )
        except CommandError as exc:
            failures[f"{cp}#{turn}"] = (time.monotonic() - started, exc)
        try:
            if await sentinels.primary_port() != old_primary:
                return failures
        except (RedisError, OSError):
            pass  # that sentinel is busy: ask again
        await asyncio.sleep(0.05)
    raise AssertionError(f"no new primary within {SWITCH_WITHIN} s; failures: {failures}")
