"""Routing.claim_many / release_many against a real Redis: the same fencing as claim and
release, for a connect storm's batch in one script run.

Each test has its own key prefix, deleted afterwards (epoch counters never expire), and runs
against one Redis server and against a Redis Cluster.
"""

from __future__ import annotations

import pytest

from csms.cluster.connect import RedisClient
from csms.cluster.keys import Keys
from csms.cluster.routing import Owner, Routing

pytestmark = pytest.mark.integration


@pytest.fixture
def routing(any_redis: RedisClient, keys: Keys) -> Routing:
    """Under this test's key prefix (the ``prefix`` fixture deletes its keys)."""
    return Routing(any_redis, keys)


async def test_claim_many_gives_each_charger_its_next_epoch_in_order(routing: Routing) -> None:
    await routing.claim("CP-B", "n0")
    await routing.claim("CP-B", "n0")
    claimed = await routing.claim_many(["CP-A", "CP-B", "CP-C"], "n1")
    assert claimed == [(1, None), (3, Owner("n0", 2)), (1, None)]
    assert [await routing.owner(cp) for cp in ("CP-A", "CP-B", "CP-C")] == [
        Owner("n1", 1),
        Owner("n1", 3),
        Owner("n1", 1),
    ]


async def test_claim_many_returns_the_owner_it_replaced(routing: Routing) -> None:
    first = await routing.claim_many(["CP-1", "CP-2"], "n1")
    second = await routing.claim_many(["CP-2", "CP-1"], "n2")
    assert first == [(1, None), (1, None)]
    assert second == [(2, Owner("n1", 1)), (2, Owner("n1", 1))]
    assert await routing.owner("CP-1") == Owner("n2", 2)


async def test_claim_many_and_claim_share_the_epoch_counter(routing: Routing) -> None:
    assert await routing.claim_many(["CP-1"], "n1") == [(1, None)]
    assert await routing.claim("CP-1", "n2") == (2, Owner("n1", 1))
    assert await routing.claim_many(["CP-1"], "n1") == [(3, Owner("n2", 2))]


async def test_the_same_charger_twice_in_one_claim_many(routing: Routing) -> None:
    """A charger that reconnects within one batch: two increasing epochs, the second
    replaces the first and owns it afterwards."""
    claimed = await routing.claim_many(["CP-1", "CP-2", "CP-1"], "n1")
    assert claimed == [(1, None), (1, None), (2, Owner("n1", 1))]
    assert await routing.owner("CP-1") == Owner("n1", 2)


async def test_release_many_removes_only_our_own_epoch(routing: Routing) -> None:
    (ours, _), (replaced, _), (_, _) = await routing.claim_many(["CP-1", "CP-2", "CP-3"], "n1")
    newer, _ = await routing.claim("CP-2", "n2")  # CP-2 moved to another node
    released = await routing.release_many(
        [
            ("CP-1", Owner("n1", ours)),
            ("CP-2", Owner("n1", replaced)),  # stale: must not remove n2's entry
            ("CP-3", Owner("n1", 99)),  # an epoch we never held
            ("CP-4", Owner("n1", 1)),  # nothing recorded at all
        ]
    )
    assert released == [True, False, False, False]
    assert await routing.owner("CP-1") is None
    assert await routing.owner("CP-2") == Owner("n2", newer)
    assert await routing.owner("CP-3") == Owner("n1", 1)


async def test_release_many_matches_release(routing: Routing) -> None:
    claimed = await routing.claim_many(["CP-1", "CP-2"], "n1")
    owners = [("CP-1", Owner("n1", claimed[0][0])), ("CP-2", Owner("n1", claimed[1][0]))]
    assert await routing.release_many(owners) == [True, True]
    assert await routing.release_many(owners) == [False, False]
    assert not await routing.release("CP-1", owners[0][1])


async def test_release_many_of_the_same_charger_twice(routing: Routing) -> None:
    epoch, _ = await routing.claim("CP-1", "n1")
    held = ("CP-1", Owner("n1", epoch))
    assert await routing.release_many([held, held]) == [True, False]


async def test_epochs_keep_increasing_after_release_many(routing: Routing) -> None:
    ((epoch, _),) = await routing.claim_many(["CP-1"], "n1")
    assert await routing.release_many([("CP-1", Owner("n1", epoch))]) == [True]
    assert await routing.claim_many(["CP-1"], "n2") == [(epoch + 1, None)]


async def test_empty_batches(routing: Routing) -> None:
    assert await routing.claim_many([], "n1") == []
    assert await routing.release_many([]) == []
