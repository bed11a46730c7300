"""The held sets (``held:{node}``: the chargers a node may own) kept with the owner entries
by every routing script, and ``release_node``: what a node that is gone (or restarts under
the same id) left behind is released, never a charger another node took since. Each test
runs against one Redis server and against a Redis Cluster."""

from __future__ import annotations

import pytest

from csms.cluster.connect import RedisClient
from csms.cluster.keys import Keys
from csms.cluster.registry import Registry
from csms.cluster.routing import Owner, Routing

pytestmark = pytest.mark.integration


@pytest.fixture
def redis(any_redis: RedisClient) -> RedisClient:
    return any_redis


@pytest.fixture
def routing(redis: RedisClient, keys: Keys) -> Routing:
    return Routing(redis, keys)


async def held(redis: RedisClient, keys: Keys, node_id: str) -> set[str]:
    return {m.decode() for m in await redis.smembers(keys.held(node_id))}


async def test_claims_releases_and_takeovers_keep_the_held_sets(
    redis: RedisClient, keys: Keys, routing: Routing
) -> None:
    await routing.claim("CP-1", "n1")
    await routing.claim_many(["CP-2", "CP-3"], "n1")
    assert await held(redis, keys, "n1") == {"CP-1", "CP-2", "CP-3"}
    # a takeover moves the charger to the new node's set
    await routing.claim_many(["CP-2"], "n2")
    await routing.claim("CP-3", "n2")
    assert await held(redis, keys, "n1") == {"CP-1"}
    assert await held(redis, keys, "n2") == {"CP-2", "CP-3"}
    # a release of a stale epoch leaves the owner entry but not the old node's set
    assert not await routing.release("CP-2", Owner("n1", 1))
    assert await routing.release_many([("CP-1", Owner("n1", 1)), ("CP-3", Owner("n2", 2))]) == [
        True,
        True,
    ]
    assert await held(redis, keys, "n1") == set()
    assert await held(redis, keys, "n2") == {"CP-2"}
    assert sorted(await routing.nodes_holding()) == ["n2"]


async def test_release_many_of_several_nodes(
    redis: RedisClient, keys: Keys, routing: Routing
) -> None:
    await routing.claim("A", "n1")
    await routing.claim("B", "n2")
    released = await routing.release_many([("A", Owner("n1", 1)), ("B", Owner("n2", 1))])
    assert released == [True, True]
    assert await held(redis, keys, "n1") == await held(redis, keys, "n2") == set()


async def test_release_node_only_when_gone_and_never_a_charger_taken_since(
    redis: RedisClient, keys: Keys, routing: Routing
) -> None:
    await routing.claim_many(["CP-1", "CP-2", "CP-3"], "n1")
    await Registry(redis, keys).heartbeat("n1", "ws://n1", 0.0, 3)
    assert await routing.release_node("n1") == []  # registered: alive, nothing released
    assert await routing.owner("CP-1") == Owner("n1", 1)
    await Registry(redis, keys).deregister("n1")
    await routing.claim("CP-3", "n2")  # reconnected elsewhere before anyone noticed
    released = await routing.release_node("n1")
    assert sorted(released) == [("CP-1", Owner("n1", 1)), ("CP-2", Owner("n1", 1))]
    assert await routing.owner("CP-1") is None and await routing.owner("CP-2") is None
    assert await routing.owner("CP-3") == Owner("n2", 2)
    assert not await redis.exists(keys.held("n1"))
    assert await routing.release_node("n1") == []  # twice: nothing more


async def test_a_node_restarting_under_its_id_releases_with_force(
    redis: RedisClient, keys: Keys, routing: Routing
) -> None:
    await routing.claim("CP-1", "n1")
    await Registry(redis, keys).heartbeat("n1", "ws://n1", 0.0, 1)  # not yet lapsed
    assert await routing.release_node("n1", force=True) == [("CP-1", Owner("n1", 1))]
    assert await routing.owner("CP-1") is None
    # the next connection of the charger gets the next epoch (fencing goes on)
    assert await routing.claim("CP-1", "n1") == (2, None)


async def test_reassert_puts_the_charger_back_in_the_held_set(
    redis: RedisClient, keys: Keys, routing: Routing
) -> None:
    epoch, _ = await routing.claim("CP-1", "n1")
    await redis.delete(keys.owner("CP-1"), keys.held("n1"))  # Redis lost them
    assert await routing.reassert("CP-1", Owner("n1", epoch))
    assert await held(redis, keys, "n1") == {"CP-1"}
