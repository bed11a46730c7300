"""Redis restarted (all keys lost) under load (docs/topics/cluster.md "Failure modes").

Two nodes serve twenty chargers that keep sending meter values and heartbeats. The test's
own redis-server is killed and started again on the same port: the charger sockets stay
up and every message keeps being answered and stored (PostgreSQL is the record); each
node's next heartbeat finds its registration gone, registers again and re-asserts every
charger it holds, with the epoch of that connection; commands work again.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from redis.asyncio import Redis

from csms.cluster.bus import CommandClient
from csms.cluster.connect import redis_client
from csms.cluster.keys import Keys
from csms.cluster.registry import Registry
from csms.cluster.routing import Owner, Routing
from simulators.transaction import Transaction
from tests.e2e.cluster import Cluster, RedisServer
from tests.e2e.command_cases import VENDOR
from tests.e2e.conftest import ClusterFactory
from tests.e2e.fleet import (
    COMMAND_TIMEOUT,
    METER_INTERVAL,
    VERSIONS,
    RecordingStation,
    charger_row,
    close_client,
    eventually,
    new_station,
    online,
    periodic_samplings,
    register_chargers,
    register_token,
    transactions_of,
    until,
)
from tests.timeouts import TIMEOUT

CHARGERS = 20
BACK_WITHIN = 2 * TIMEOUT  # re-registration waits for the next heartbeat (every ~3.3 s)


@dataclass
class Load:
    """One station's stream of meter values and heartbeats, each one answered."""

    station: RecordingStation
    tx: Transaction
    stop: asyncio.Event
    meter_values: int = 0
    heartbeats: int = 0

    async def run(self) -> None:
        while not self.stop.is_set():
            response = await self.station.send_meter_values(self.tx)
            assert response is not None, "a meter value was queued: the socket went down"
            self.meter_values += 1
            await self.station.heartbeat()
            self.heartbeats += 1
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(METER_INTERVAL):
                    await self.stop.wait()


def progressed(loads: list[Load], at_least: dict[int, int]) -> bool:
    return all(load.meter_values >= at_least[i] for i, load in enumerate(loads))


async def test_nodes_ride_out_a_redis_restart_under_load(
    cluster_factory: ClusterFactory, pool: asyncpg.Pool, prefix: str, tmp_path: Path
) -> None:
    async with RedisServer(tmp_path) as redis_server:
        cluster = cluster_factory(redis_server.url)
        await ride_out(cluster, redis_server, Keys(prefix), pool)
        await cluster.aclose()
    assert "Traceback" not in cluster.logs(), cluster.logs()


async def ride_out(
    cluster: Cluster, redis_server: RedisServer, keys: Keys, pool: asyncpg.Pool
) -> None:
    nodes = await cluster.start("n1", "n2")
    ids = await register_chargers(pool, CHARGERS)
    # charger i on node i % 2; versions alternate in pairs, so each node has both
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
    # a long-lived caller (what the backoffice holds), built as csms builds its clients
    caller = redis_client(redis_server.url)
    client = CommandClient(caller, keys)
    # the test's own eyes on Redis: redis-py's default client retries a stale connection
    observer = Redis(host="127.0.0.1", port=redis_server.port)
    try:
        async with asyncio.TaskGroup() as group:
            for load in loads:
                group.create_task(load.run())
            try:
                await restart_under_load(redis_server, keys, pool, loads, client, observer, home)
            finally:
                # the loads end on this even if a cancellation got lost (Python 3.11's
                # wait_for can swallow one, and the TaskGroup would wait forever)
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
        # every meter value the station sent was answered, hence stored
        assert await periodic_samplings(pool, row["id"]) == load.meter_values, cp
        assert load.heartbeats == load.meter_values
    await asyncio.gather(*(station.disconnect() for station in stations))


async def restart_under_load(
    redis_server: RedisServer,
    keys: Keys,
    pool: asyncpg.Pool,
    loads: list[Load],
    client: CommandClient,
    observer: Redis,
    home: dict[str, str],
) -> None:
    """Redis killed and started again while ``loads`` run; commands before and after."""
    stations = [load.station for load in loads]
    running = dict.fromkeys(range(CHARGERS), 2)
    await until(lambda: progressed(loads, running), "load running")
    assert await command_burst(client, stations, "before") == {}

    await redis_server.kill()
    # the chargers are served while Redis is down
    during = {i: load.meter_values + 2 for i, load in enumerate(loads)}
    await until(lambda: progressed(loads, during), "load during the outage")
    await redis_server.start()

    await recovered(observer, keys, pool, stations, home)
    # a caller that connected after the restart sees only the nodes' side ...
    fresh = CommandClient(observer, keys)
    try:
        through_nodes = await command_burst(fresh, stations, "fresh caller")
    finally:
        await close_client(fresh)
    # ... the long-lived one also its own pooled connections of before the restart
    long_lived = await command_burst(client, stations, "long-lived caller")
    assert (through_nodes, long_lived) == ({}, {}), (
        f"after the Redis restart, {len(through_nodes)} of {CHARGERS} commands from a "
        f"new caller failed: {through_nodes}; {len(long_lived)} of {CHARGERS} from "
        f"the long-lived caller failed: {long_lived}"
    )
    after = {i: load.meter_values + 2 for i, load in enumerate(loads)}
    await until(lambda: progressed(loads, after), "load after the restart")


async def recovered(
    redis: Redis,
    keys: Keys,
    pool: asyncpg.Pool,
    stations: list[RecordingStation],
    home: dict[str, str],
) -> None:
    """Both nodes registered again and every charger owned again by the node holding its
    socket, with that connection's epoch (chargers.connection_epoch)."""
    registry, routing = Registry(redis, keys), Routing(redis, keys)

    async def registered_again() -> bool:
        return {n.node_id for n in await registry.live_nodes()} == {"n1", "n2"}

    await eventually(registered_again, "both nodes registered again", timeout=BACK_WITHIN)

    async def owned_again() -> bool:
        for station in stations:
            cp = station.config.charge_point_id
            epoch = (await charger_row(pool, cp))["connection_epoch"]
            if await routing.owner(cp) != Owner(home[cp], epoch):
                return False
        return True

    await eventually(owned_again, "every charger re-owned by its node", timeout=BACK_WITHIN)


async def command_burst(
    client: CommandClient, stations: list[RecordingStation], marker: str
) -> dict[str, str]:
    """A command to every charger at once; the ones that did not reach their station and
    come back Accepted, with what went wrong."""
    before = {id(station): len(station.received) for station in stations}
    results = await asyncio.gather(
        *(
            client.send(
                station.config.charge_point_id,
                "data_transfer",
                {"vendor_id": VENDOR, "message_id": marker},
                timeout=COMMAND_TIMEOUT,
            )
            for station in stations
        ),
        return_exceptions=True,
    )
    failed: dict[str, str] = {}
    for station, result in zip(stations, results, strict=True):
        received = [c.action for c in station.received[before[id(station)] :]]
        if isinstance(result, BaseException):
            failed[station.config.charge_point_id] = repr(result)
        elif result["response"] != {"status": "Accepted"} or received != ["DataTransfer"]:
            failed[station.config.charge_point_id] = f"{result} / received {received}"
    return failed
