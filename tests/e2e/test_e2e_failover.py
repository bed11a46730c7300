"""A node killed mid-session (docs/topics/cluster.md "Failure modes": SIGKILL).

Its sockets drop without a closing handshake; the chargers reconnect to the other nodes
(what a load balancer does), claim a new epoch and replay what they queued meanwhile, so
their sessions go on and end there with exactly one transaction each (transaction messages
are idempotent in PostgreSQL whatever node they arrive on). The dead node's registration
lapses after its TTL. Until then a command for a charger that has not reconnected times out
(nobody takes it from the dead node's inbox); after that, until the charger reconnects, it
is "not connected".
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from csms.cluster.bus import CommandClient
from csms.cluster.registry import Registry
from csms.cluster.routing import Owner, Routing
from csms.errors import ChargerNotConnected, CommandTimeout
from simulators.station import Station
from tests.e2e.cluster import Cluster
from tests.e2e.command_cases import VENDOR
from tests.e2e.fleet import (
    COMMAND_TIMEOUT,
    NODE_GONE,
    VERSIONS,
    Session,
    charger_row,
    closed,
    eventually,
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

ABNORMAL_CLOSURE = 1006  # no close frame: the peer vanished


async def reaches(client: CommandClient, session: Session, node_id: str, marker: str) -> None:
    """A command gets to the station, through ``node_id``."""
    station = session.station
    before = len(station.received)
    result = await client.send(
        session.charge_point_id,
        "data_transfer",
        {"vendor_id": VENDOR, "message_id": marker},
        timeout=COMMAND_TIMEOUT,
    )
    assert result["response"] == {"status": "Accepted"}
    assert station.commands_since(before) == ["DataTransfer"]
    [sent] = [c for c in station.received[before:] if c.action == "DataTransfer"]
    assert sent.payload["messageId"] == marker


async def test_chargers_of_a_killed_node_fail_over_and_finish_their_sessions(
    cluster: Cluster,
    pool: asyncpg.Pool,
    client: CommandClient,
    registry: Registry,
    routing: Routing,
) -> None:
    n1, n2, n3 = await cluster.start("n1", "n2", "n3")
    ids = await register_chargers(pool, 4)
    stations = [new_station(n1.url, cp, VERSIONS[i % 2]) for i, cp in enumerate(ids)]
    await asyncio.gather(*(online(station) for station in stations))
    tokens = [await register_token(pool) for _ in stations]
    sessions = list(
        await asyncio.gather(
            *(start_session(client, pool, s, t) for s, t in zip(stations, tokens, strict=True))
        )
    )
    owners_before: dict[str, Owner] = {}
    for session in sessions:
        owner = await routing.owner(session.charge_point_id)
        assert owner is not None and owner.node_id == "n1"
        owners_before[session.charge_point_id] = owner

    assert await cluster.kill(n1) == -9
    codes = await asyncio.gather(*(closed(station) for station in stations))
    assert {code for code, _ in codes} == {ABNORMAL_CLOSURE}
    # n1 is still registered (its TTL lapses >= 6.7 s after the kill): no answer at all
    with pytest.raises(CommandTimeout):
        await client.send(
            sessions[-1].charge_point_id, "reset", {"type": "soft"}, timeout=COMMAND_TIMEOUT / 10
        )
    stored_at_kill = {
        s.charge_point_id: await periodic_samplings(pool, s.transaction_pk) for s in sessions
    }

    # all but one reconnect at once, alternately to n2 and n3
    *prompt, late = sessions
    survivors = {s.charge_point_id: (n2, n3)[i % 2] for i, s in enumerate(prompt)}
    survivors[late.charge_point_id] = n2
    await asyncio.gather(*(move(s.station, survivors[s.charge_point_id].url) for s in prompt))
    for session in prompt:
        cp, node = session.charge_point_id, survivors[session.charge_point_id]
        owner = await routing.owner(cp)
        assert owner is not None and owner.node_id == node.node_id
        assert owner.epoch > owners_before[cp].epoch
        await reaches(client, session, node.node_id, "moved")

    # n1 registered with a TTL and was never deregistered: it vanishes when the TTL lapses
    async def n1_gone() -> bool:
        return "n1" not in {n.node_id for n in await registry.live_nodes()}

    await eventually(n1_gone, "n1's registration lapsing", timeout=NODE_GONE)
    assert {n.node_id for n in await registry.live_nodes()} == {"n2", "n3"}
    # the late charger's owner entry still names n1, which is gone
    with pytest.raises(ChargerNotConnected):
        await client.send(late.charge_point_id, "reset", {"type": "soft"}, timeout=COMMAND_TIMEOUT)
    await move(late.station, n2.url)
    # taking over from a node that is gone replaces no socket: no security event for it
    replaced = await pool.fetchval(
        """SELECT count(*) FROM charger_events WHERE charge_point_id = $1
           AND action = 'ConnectionReplaced'""",
        late.charge_point_id,
    )
    assert replaced == 0

    for session in sessions:
        cp, node = session.charge_point_id, survivors[session.charge_point_id]
        await reaches(client, session, node.node_id, "after-ttl")
        row = await charger_row(pool, cp)
        assert row["connected_node"] == node.node_id
        # the session goes on: periodic meter values keep arriving on the new node
        await metered(pool, session, stored_at_kill[cp] + 2)

    ended = await asyncio.gather(*(stop_session(client, pool, s) for s in sessions))
    for session, row in zip(sessions, ended, strict=True):
        cp = session.charge_point_id
        assert len(await transactions_of(pool, cp)) == 1
        assert row["stop_reason"] == "Remote"
        assert abs(row["meter_stop_wh"] - round(session.tx.meter_wh)) <= 1
        assert row["energy_wh"] == row["meter_stop_wh"] - row["meter_start_wh"]
        assert session.station.replay_errors == []

        # a periodic meter value queued just before the stop may still be on its way
        async def delivered(station: Station = session.station) -> bool:
            return station.pending_transaction_messages == 0

        await eventually(delivered, f"{cp}'s queued transaction messages delivered")
    await asyncio.gather(*(station.disconnect() for station in stations))
