"""A node stopped with SIGTERM drains (docs/topics/cluster.md "Failure modes"): it stops
accepting, closes every socket with 1001 (going away), releases each ownership and
deregisters before it exits; its chargers reconnect to the other nodes, which own them
from then on, and sessions that were running go on there.
"""

from __future__ import annotations

import asyncio

import asyncpg

from csms.cluster.bus import CommandClient
from csms.cluster.registry import Registry
from csms.cluster.routing import Routing
from tests.e2e.cluster import Cluster
from tests.e2e.command_cases import VENDOR
from tests.e2e.fleet import (
    COMMAND_TIMEOUT,
    VERSIONS,
    charger_row,
    closed,
    metered,
    move,
    new_station,
    online,
    periodic_samplings,
    register_chargers,
    register_token,
    start_session,
    stop_session,
    transactions_of,
)

GOING_AWAY = 1001


async def test_sigterm_drains_with_1001_and_the_chargers_are_owned_elsewhere(
    cluster: Cluster,
    pool: asyncpg.Pool,
    client: CommandClient,
    registry: Registry,
    routing: Routing,
) -> None:
    n1, n2, n3 = await cluster.start("n1", "n2", "n3")
    ids = await register_chargers(pool, 6)
    stations = [new_station(n1.url, cp, VERSIONS[i % 2]) for i, cp in enumerate(ids)]
    await asyncio.gather(*(online(station) for station in stations))
    # one session per version is running when the node goes away
    sessions = [
        await start_session(client, pool, station, await register_token(pool))
        for station in stations[:2]
    ]

    assert await cluster.stop(n1) == 0
    codes = await asyncio.gather(*(closed(station) for station in stations))
    assert codes == [(GOING_AWAY, "node shutting down")] * len(stations)
    log = n1.log()
    assert "Traceback" not in log and " ERROR " not in log, log

    # gone at once (deregistered, not left to its TTL), its chargers released
    assert {n.node_id for n in await registry.live_nodes()} == {"n2", "n3"}
    for station in stations:
        cp = station.config.charge_point_id
        assert await routing.owner(cp) is None
        assert (await charger_row(pool, cp))["connected_node"] is None
    stored = {s.transaction_pk: await periodic_samplings(pool, s.transaction_pk) for s in sessions}

    targets = [(n2, n3)[i % 2] for i in range(len(stations))]
    await asyncio.gather(
        *(move(station, node.url) for station, node in zip(stations, targets, strict=True))
    )
    for station, node in zip(stations, targets, strict=True):
        cp = station.config.charge_point_id
        owner = await routing.owner(cp)
        assert owner is not None and owner.node_id == node.node_id
        before = len(station.received)
        result = await client.send(
            cp, "data_transfer", {"vendor_id": VENDOR}, timeout=COMMAND_TIMEOUT
        )
        assert result["response"] == {"status": "Accepted"}
        assert station.commands_since(before) == ["DataTransfer"]
        assert station.replay_errors == []

    for session in sessions:
        await metered(pool, session, stored[session.transaction_pk] + 2)
        row = await stop_session(client, pool, session)
        assert row["stop_reason"] == "Remote"
        assert len(await transactions_of(pool, session.charge_point_id)) == 1
    await asyncio.gather(*(station.disconnect() for station in stations))
