"""Fenced ownership across nodes (docs/topics/cluster.md "Ownership and fencing").

The newest authenticated connection of a charger wins wherever it lands: the node that held
the older socket is told to close it (1008), the owner entry moves to the new node with a
higher epoch, and a ConnectionReplaced security event is recorded. A command routed with an
old epoch is never delivered to an old socket, whether the old socket is already closed or
its node never heard of the takeover (the epoch is checked against Redis before sending).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
import pytest
from redis.asyncio import Redis

from csms.cluster import bus
from csms.cluster.bus import CommandClient, CommandMessage
from csms.cluster.keys import Keys
from csms.cluster.routing import Owner, Routing
from csms.errors import ChargerNotConnected
from tests.e2e.cluster import Cluster, NodeProcess
from tests.e2e.command_cases import VENDOR
from tests.e2e.fleet import (
    COMMAND_TIMEOUT,
    VERSIONS,
    RecordingStation,
    charger_row,
    closed,
    eventually,
    new_station,
    online,
    register_chargers,
    sent_calls,
)
from tests.timeouts import TIMEOUT

POLICY_VIOLATION = 1008


@dataclass
class Takeover:
    old_node: NodeProcess
    new_node: NodeProcess
    old: RecordingStation
    new: RecordingStation
    before: Owner
    after: Owner


async def take_over(
    cluster: Cluster, pool: asyncpg.Pool, routing: Routing, version: str
) -> Takeover:
    """One charger connects to n1, then (its first socket still open) to n2."""
    n1, n2 = await cluster.start("n1", "n2")
    (cp,) = await register_chargers(pool, 1)
    old = await online(new_station(n1.url, cp, version))
    before = await routing.owner(cp)
    assert before is not None and before.node_id == "n1"
    new = await online(new_station(n2.url, cp, version))

    code, reason = await closed(old)
    assert code == POLICY_VIOLATION, (code, reason)
    after = await routing.owner(cp)
    assert after is not None and after.node_id == "n2"
    assert after.epoch > before.epoch
    return Takeover(n1, n2, old, new, before, after)


def data_transfer(message_id: str) -> dict[str, Any]:
    return {"vendor_id": VENDOR, "message_id": message_id}


async def send_stale(
    redis: Redis, keys: Keys, node_id: str, cp: str, epoch: int, message_id: str
) -> dict[str, Any]:
    """A command routed with ``epoch``, pushed straight into ``node_id``'s inbox (as a caller
    that resolved the owner before the takeover would); returns the node's reply."""
    caller = f"stale-caller-{uuid.uuid4().hex[:8]}"
    message = CommandMessage(
        id=uuid.uuid4().hex,
        charge_point_id=cp,
        epoch=epoch,
        command="data_transfer",
        params=data_transfer(message_id),
        deadline=time.time() + COMMAND_TIMEOUT,
        reply_to=keys.replies(caller),
    )
    await bus.push(redis, keys.inbox(node_id), message.encode(), bus.INBOX_TTL_MS)
    item = await redis.brpop([keys.replies(caller)], timeout=TIMEOUT)
    assert item is not None, f"no reply from {node_id} within {TIMEOUT} s"
    reply: dict[str, Any] = orjson.loads(item[1])
    assert reply["id"] == message.id
    return reply


async def witness_flushed(
    pool: asyncpg.Pool, client: CommandClient, witness: RecordingStation, message_id: str
) -> None:
    """A command through the same node to another charger, once journaled, shows that the
    node's journal holds everything it sent before."""
    cp = witness.config.charge_point_id
    await client.send(cp, "data_transfer", data_transfer(message_id), timeout=COMMAND_TIMEOUT)

    async def journaled() -> bool:
        calls = await sent_calls(pool, cp, "DataTransfer")
        return any(p.get("messageId") == message_id for p in calls)

    await eventually(journaled, f"{message_id} in the journal")


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_newer_connection_on_another_node_replaces_the_open_one(
    cluster: Cluster, pool: asyncpg.Pool, client: CommandClient, routing: Routing, version: str
) -> None:
    t = await take_over(cluster, pool, routing, version)
    cp = t.new.config.charge_point_id
    assert (t.old.connected, t.new.connected) == (False, True)

    async def recorded_on_n2() -> bool:
        row = await charger_row(pool, cp)
        return (row["connected_node"], row["connection_epoch"]) == ("n2", t.after.epoch)

    # n1's late close of the replaced socket must not clear n2's connection record
    await eventually(recorded_on_n2, "chargers.connected_node of the new connection")

    result = await client.send(cp, "data_transfer", data_transfer("after"), timeout=COMMAND_TIMEOUT)
    assert result["response"] == {"status": "Accepted"}
    assert t.new.received_actions() == ["DataTransfer"]
    assert t.old.received_actions() == []

    async def replaced_event() -> asyncpg.Record | None:
        return await pool.fetchrow(
            """SELECT kind, payload FROM charger_events WHERE charge_point_id = $1
               AND action = 'ConnectionReplaced'""",
            cp,
        )

    event: asyncpg.Record = await eventually(
        replaced_event, "the ConnectionReplaced security event"
    )
    assert event["kind"] == "security"
    assert event["payload"] == {
        "previousNode": "n1",
        "previousEpoch": t.before.epoch,
        "node": "n2",
        "epoch": t.after.epoch,
    }
    await t.new.disconnect()


async def test_a_stale_epoch_never_reaches_the_replaced_socket(
    cluster: Cluster,
    pool: asyncpg.Pool,
    client: CommandClient,
    routing: Routing,
    redis: Redis,
    keys: Keys,
) -> None:
    """A command routed before the takeover (old epoch, old node's inbox) is answered
    "moved" (the old node no longer holds the charger) and no socket gets it."""
    t = await take_over(cluster, pool, routing, "1.6")
    cp = t.new.config.charge_point_id
    (witness_id,) = await register_chargers(pool, 1)
    witness = await online(new_station(t.old_node.url, witness_id, "1.6"))

    reply = await send_stale(redis, keys, "n1", cp, t.before.epoch, "stale")
    assert reply["ok"] is False
    assert reply["error"] in (bus.MOVED, bus.NOT_CONNECTED), reply
    assert t.old.received_actions() == []
    assert t.new.received_actions() == []

    await witness_flushed(pool, client, witness, "witness")
    assert await sent_calls(pool, cp, "DataTransfer") == []
    await t.new.disconnect()
    await witness.disconnect()


async def test_a_stale_epoch_is_fenced_by_redis_when_the_eviction_is_lost(
    cluster: Cluster,
    pool: asyncpg.Pool,
    client: CommandClient,
    routing: Routing,
    redis: Redis,
    keys: Keys,
) -> None:
    """n2 claimed the charger (a newer connection, epoch + 1) but n1 never got the evict
    message, so n1 still holds an open socket of the old epoch: a command with that epoch
    must still not be delivered, because n1 checks the owner entry in Redis just before
    sending (docs/adr/0001-command-bus.md "Consequences")."""
    n1, _ = await cluster.start("n1", "n2")  # n2 runs: callers resolve it as the owner
    cp, witness_id = await register_chargers(pool, 2)
    old = await online(new_station(n1.url, cp, "2.0.1"))
    witness = await online(new_station(n1.url, witness_id, "2.0.1"))
    before = await routing.owner(cp)
    assert before is not None and before.node_id == "n1"

    # the claim n2 makes for a newer connection; the evict it would push to n1 is "lost"
    epoch, previous = await routing.claim(cp, "n2")
    assert previous == before and epoch > before.epoch

    reply = await send_stale(redis, keys, "n1", cp, before.epoch, "stale")
    assert (reply["ok"], reply["error"]) == (False, bus.MOVED), reply
    assert old.connected, "nobody told n1 to close the socket"
    assert old.received_actions() == []

    # a fresh caller resolves n2, which holds no socket: not connected, never the old one
    with pytest.raises(ChargerNotConnected):
        await client.send(cp, "data_transfer", data_transfer("fresh"), timeout=COMMAND_TIMEOUT)
    assert old.received_actions() == []

    await witness_flushed(pool, client, witness, "witness")
    assert await sent_calls(pool, cp, "DataTransfer") == []
    await old.disconnect()
    await witness.disconnect()
