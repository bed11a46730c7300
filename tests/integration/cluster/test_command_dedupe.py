"""A command reaches its charger at most once, even when redis-py re-sends its push
(docs/adr/0001-command-bus.md, "At most once").

redis-py re-sends a command whose reply it lost (``retry_on_error`` in
csms/cluster/connect.py). If Redis executed the caller's push and the connection broke
before the answer, a plain LPUSH would leave the command in the inbox twice. The caller
therefore pushes each command id once, and the node drops a copy it sees anyway. The
chargers are simulated stations on real WebSockets to a real node.
"""

from __future__ import annotations

import secrets
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from ocpp_client import RegisterCharger, RegisterToken, eventually
from redis.asyncio import Redis

from csms.cluster import bus
from csms.cluster.bus import CommandClient
from csms.cluster.connect import redis_client
from csms.cluster.keys import Keys
from csms.node.server import Node
from tests.e2e.cluster import RedisServer
from tests.integration.cluster.lossy_proxy import LossyProxy
from tests.integration.cluster.nodes import StartNode, online
from tests.timeouts import TIMEOUT

pytestmark = pytest.mark.integration


def remote_start(node: Node, charge_point_id: str, id_token: str, keys: Keys) -> bus.CommandMessage:
    """What a CommandClient pushes for ``remote_start`` to the charger's node."""
    owner = node.connections[charge_point_id].owner
    assert owner is not None and owner.node_id == node.settings.node_id
    return bus.CommandMessage(
        id=uuid.uuid4().hex,
        charge_point_id=charge_point_id,
        epoch=owner.epoch,
        command="remote_start",
        params={"id_token": id_token, "connector_id": 1},
        deadline=time.time() + TIMEOUT,
        reply_to=keys.replies(f"caller-{secrets.token_hex(4)}"),
    )


async def push(redis: Redis, keys: Keys, node_id: str, message: bus.CommandMessage) -> None:
    await bus.push(redis, keys.inbox(node_id), message.encode(), bus.INBOX_TTL_MS)


async def next_reply(redis: Redis, message: bus.CommandMessage) -> dict[str, Any]:
    item = await redis.brpop([message.reply_to], timeout=TIMEOUT)
    assert item is not None, f"no reply within {TIMEOUT} s"
    reply: dict[str, Any] = orjson.loads(item[1])
    assert reply["id"] == message.id
    return reply


def outcomes(node: Node) -> dict[str, int]:
    """The node's ``csms_command_outcomes_total`` counters."""
    assert node.deps.metrics is not None
    return {
        sample.labels["outcome"]: int(sample.value)
        for metric in node.deps.metrics.registry.collect()
        if metric.name == "csms_command_outcomes"
        for sample in metric.samples
        if sample.name.endswith("_total")
    }


async def served(node: Node, count: int) -> dict[str, int]:
    """The outcomes, once the node has finished with ``count`` commands."""

    async def done() -> dict[str, int] | None:
        counted = outcomes(node)
        return counted if sum(counted.values()) >= count else None

    result: dict[str, int] = await eventually(done)
    return result


async def test_a_push_redis_py_re_sends_reaches_the_charger_once(
    start_node: StartNode,
    register_charger: RegisterCharger,
    register_token: RegisterToken,
    keys: Keys,
    tmp_path: Path,
) -> None:
    """The real thing: the caller's Redis connection breaks after Redis executed the push
    and before its reply, and redis-py sends the push again."""
    charger = await register_charger()
    cp, id_token = charger.charge_point_id, await register_token()
    node_id = f"dedupe-{secrets.token_hex(3)}"
    async with (
        RedisServer(tmp_path) as redis_server,
        LossyProxy(redis_server.port) as proxy,
        start_node(node_id, redis_url=redis_server.url) as node,
        online(node, cp, charger.password) as station,
    ):
        caller = redis_client(f"redis://127.0.0.1:{proxy.port}/0")  # the real retry policy
        client = CommandClient(caller, keys)
        try:
            proxy.lose_next_reply_to(keys.inbox(node_id).encode())
            result = await client.send(
                cp, "remote_start", {"id_token": id_token, "connector_id": 1}, timeout=TIMEOUT
            )
            assert result["response"] == {"status": "Accepted"}, result
            assert proxy.lost == 1  # redis-py did send the push again
            assert await served(node, 1) == {"ok": 1}
            assert station.received_actions() == ["RemoteStartTransaction"]
            assert await caller.llen(keys.inbox(node_id)) == 0
        finally:
            await client.close()
            await caller.aclose()


async def test_a_command_id_is_pushed_once(redis: Redis, keys: Keys) -> None:
    """Whoever consumes the inbox (the node, or its next run after a restart): a command id
    pushed again is not in it twice, for as long as a copy could still be served."""
    client = CommandClient(redis, keys)
    message = bus.CommandMessage(
        id=uuid.uuid4().hex,
        charge_point_id="CP-1",
        epoch=1,
        command="reset",
        params={"type": "soft"},
        deadline=time.time() + TIMEOUT,
        reply_to=keys.replies("caller"),
    )
    assert await client.push("n1", message)
    assert await redis.rpop(keys.inbox("n1")) == message.encode()
    assert not await client.push("n1", message)
    assert await redis.llen(keys.inbox("n1")) == 0
    ttl_ms = await redis.pttl(keys.seen("n1", message.id))
    assert TIMEOUT * 1000 < ttl_ms <= TIMEOUT * 1000 + bus.SEEN_SLACK_MS


async def test_a_command_in_the_inbox_twice_reaches_the_charger_once(
    start_node: StartNode,
    register_charger: RegisterCharger,
    register_token: RegisterToken,
    redis: Redis,
    keys: Keys,
) -> None:
    """The same encoded command pushed twice by a plain LPUSH (what redis-py's retry of
    the push made before callers pushed each id once)."""
    charger = await register_charger()
    cp, id_token = charger.charge_point_id, await register_token()
    node_id = f"dedupe-{secrets.token_hex(3)}"
    async with start_node(node_id) as node, online(node, cp, charger.password) as station:
        message = remote_start(node, cp, id_token, keys)
        await push(redis, keys, node_id, message)
        await push(redis, keys, node_id, message)

        reply = await next_reply(redis, message)
        assert reply["ok"], reply
        assert reply["result"]["response"] == {"status": "Accepted"}
        assert await served(node, 2) == {"ok": 1, "duplicate": 1}
        assert station.received_actions() == ["RemoteStartTransaction"]
        # the caller waits for one reply: the copy gets none
        assert await redis.llen(message.reply_to) == 0


async def test_a_node_that_cannot_check_answers_unavailable_and_drops_the_copy(
    start_node: StartNode,
    register_charger: RegisterCharger,
    register_token: RegisterToken,
    keys: Keys,
    tmp_path: Path,
) -> None:
    """Redis refuses the node's check: the first copy is answered "unavailable" (not
    delivered), and the second, which Redis might then let through, is not delivered either:
    the caller was told the command did not run."""
    charger = await register_charger()
    cp, id_token = charger.charge_point_id, await register_token()
    node_id = f"dedupe-{secrets.token_hex(3)}"
    async with RedisServer(tmp_path) as redis_server:
        redis = Redis.from_url(redis_server.url)
        try:
            async with (
                start_node(node_id, redis_url=redis_server.url) as node,
                online(node, cp, charger.password) as station,
            ):
                message = remote_start(node, cp, id_token, keys)
                # the node (and this test: it only pushes and pops) may no longer GET
                await redis.acl_setuser("default", enabled=True, commands=["-get"])
                await push(redis, keys, node_id, message)
                reply = await next_reply(redis, message)
                assert (reply["ok"], reply["error"]) == (False, bus.UNAVAILABLE), reply

                await redis.acl_setuser("default", enabled=True, commands=["+get"])
                await push(redis, keys, node_id, message)
                assert await served(node, 2) == {bus.UNAVAILABLE: 1, "duplicate": 1}
                assert station.received_actions() == []
                assert await redis.llen(message.reply_to) == 0
        finally:
            await redis.aclose()
