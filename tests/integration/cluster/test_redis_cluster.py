"""csms on a Redis Cluster (``CSMS_REDIS_URL=redis+cluster://...``): three primaries started
by the test run (tests/redis_servers.py), the keys spread over their slots.

A Cluster runs a script or a transaction only when all its keys hash to one slot; the keys
carry hash tags for that (csms/cluster/keys.py). The routing scripts run against the Cluster
in test_routing_held.py and test_routing_many.py; here: the registry, the command bus (the
push-once script, inbox, replies), live events, the login limiter's script, and a node
serving a simulated station, commanded through the Cluster.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from ocpp_client import RegisterCharger, eventually
from redis.asyncio.cluster import RedisCluster

from backoffice.errors import TooManyRequests
from backoffice.services.ratelimit import LoginLimiter
from csms.cluster import bus
from csms.cluster.bus import CommandClient
from csms.cluster.connect import redis_client
from csms.cluster.events import CHARGER_CONNECTED, EventPublisher, read_events
from csms.cluster.keys import Keys
from csms.cluster.registry import Registry
from csms.cluster.routing import Routing
from csms.settings import BackofficeSettings
from tests.integration.cluster.nodes import StartNode, online
from tests.redis_servers import LocalCluster
from tests.timeouts import TIMEOUT

pytestmark = pytest.mark.integration


@pytest.fixture
async def cluster(redis_cluster: LocalCluster) -> AsyncIterator[RedisCluster]:
    client = redis_client(redis_cluster.url)
    assert isinstance(client, RedisCluster)
    yield client
    await client.aclose()


async def slots_used(client: RedisCluster, keys: list[str]) -> set[int]:
    return {int(await client.cluster_keyslot(key)) for key in keys}


async def test_the_cluster_spreads_slots_over_three_primaries(cluster: RedisCluster) -> None:
    await cluster.initialize()
    assert len(cluster.get_primaries()) == 3
    keys = Keys(f"t{secrets.token_hex(2)}:")
    # the routing keys share one slot; the inboxes of two nodes (most likely) do not
    routing = [keys.owner("CP-1"), keys.epoch("CP-2"), keys.held("n1"), keys.node("n2")]
    assert len(await slots_used(cluster, routing)) == 1
    assert len(await slots_used(cluster, [keys.inbox("n1"), keys.seen("n1", "c1")])) == 1


async def test_registry(cluster: RedisCluster, keys: Keys) -> None:
    registry = Registry(cluster, keys)
    assert not await registry.heartbeat("n1", "ws://n1", 1.0, 3)
    assert await registry.heartbeat("n1", "ws://n1", 1.0, 4)
    await registry.heartbeat("n2", "ws://n2", 2.0, 0)
    assert await registry.is_alive("n1")
    assert [(n.node_id, n.connections) for n in await registry.live_nodes()] == [
        ("n1", 4),
        ("n2", 0),
    ]
    server = await registry.server_id()
    assert len(server) == 40 and server == await registry.server_id()
    await registry.deregister("n1")
    assert not await registry.is_alive("n1")


async def test_command_push_once_and_replies(cluster: RedisCluster, keys: Keys) -> None:
    client = CommandClient(cluster, keys)
    message = bus.CommandMessage(
        id=uuid.uuid4().hex,
        charge_point_id="CP-1",
        epoch=1,
        command="clear_cache",
        params={},
        deadline=time.time() + TIMEOUT,
        reply_to=client.reply_key,
    )
    try:
        assert await client.push("n1", message)
        assert not await client.push("n1", message)  # a re-sent push pushes nothing
        assert await cluster.llen(keys.inbox("n1")) == 1
        item = await cluster.brpop([keys.inbox("n1")], timeout=TIMEOUT)
        assert item is not None and bus.decode_message(item[1]) == message
        await bus.push(cluster, message.reply_to, bus.reply_ok(message.id, {}), 1000)
        assert await cluster.llen(message.reply_to) == 1
    finally:
        await client.close()


async def test_live_events(cluster: RedisCluster, keys: Keys) -> None:
    publisher = EventPublisher(cluster, keys, "n1")
    await publisher.start()
    try:
        publisher.publish(CHARGER_CONNECTED, "CP-1", protocol="ocpp1.6")
        events = read_events(cluster, keys, last_id="0", block_ms=int(TIMEOUT * 1000))
        event = await anext(events)
        await events.aclose()
    finally:
        await publisher.close()
    assert (event.type, event.charge_point_id, event.node_id) == (CHARGER_CONNECTED, "CP-1", "n1")
    assert publisher.dropped == 0


async def test_login_limiter(cluster: RedisCluster, prefix: str) -> None:
    settings = BackofficeSettings(login_max_attempts=2, login_max_attempts_per_ip=3)
    limiter = LoginLimiter(cluster, f"{prefix}login:", settings)
    for _ in range(2):
        await limiter.failed("alice", "192.0.2.1")
    with pytest.raises(TooManyRequests):
        await limiter.check("alice", "192.0.2.1")
    await limiter.failed_address("192.0.2.1")
    with pytest.raises(TooManyRequests):
        await limiter.check_address("192.0.2.1")


async def test_a_node_on_the_cluster_serves_commands(
    start_node: StartNode,
    register_charger: RegisterCharger,
    redis_cluster: LocalCluster,
    cluster: RedisCluster,
    keys: Keys,
) -> None:
    charger = await register_charger()
    cp = charger.charge_point_id
    node_id = f"cl-{secrets.token_hex(3)}"
    async with start_node(node_id, redis_url=redis_cluster.url) as node:
        async with online(node, cp, charger.password) as station:
            owner = node.connections[cp].owner
            assert owner is not None and owner.node_id == node_id
            assert await Routing(cluster, keys).owner(cp) == owner
            assert node_id in {n.node_id for n in await Registry(cluster, keys).live_nodes()}
            client = CommandClient(cluster, keys)
            try:
                result = await client.send(
                    cp,
                    "data_transfer",
                    {"vendor_id": "org.example", "message_id": "cluster"},
                    timeout=TIMEOUT,
                )
            finally:
                await client.close()
            assert result["response"]["status"] in ("Accepted", "Rejected", "UnknownVendorId")
            assert station.received_actions() == ["DataTransfer"]

        async def released() -> bool:
            return await Routing(cluster, keys).owner(cp) is None

        await eventually(released)  # the node saw the close
