"""ChargerStore, presence: which node holds a charger's connection (record_presence), and
what the presence sweep reads and clears (list_presence, clear_presence;
docs/topics/cluster.md)."""

from __future__ import annotations

import asyncio

import pytest
from contract_helpers import OCPP16, OCPP201, Backend, at, stored_charger, unique

from csms.domain.chargers import Presence

# --- record_presence ----------------------------------------------------------------------


def connected(cp: str, node: str, epoch: int, second: int, protocol: str = OCPP16) -> Presence:
    return Presence(cp, protocol, node, epoch, at(second))


def disconnected(cp: str, node: str, epoch: int, second: int) -> Presence:
    return Presence(cp, None, node, epoch, at(second))


async def presence(backend: Backend, cp: str) -> tuple[str | None, str | None, object]:
    stored = await stored_charger(backend, cp)
    return stored.connected_protocol, stored.connected_node, stored.last_seen_at


async def test_a_connection_marks_the_charger_connected_to_its_node(backend: Backend) -> None:
    cp = await backend.add_charger()
    await backend.stores.chargers.record_presence(connected(cp, "n1", 7, 1, OCPP201))
    assert await presence(backend, cp) == (OCPP201, "n1", at(1))


async def test_a_disconnection_of_the_same_node_and_epoch_clears_it(backend: Backend) -> None:
    cp = await backend.add_charger()
    await backend.stores.chargers.record_presence(connected(cp, "n1", 7, 1))
    await backend.stores.chargers.record_presence(disconnected(cp, "n1", 7, 2))
    assert await presence(backend, cp) == (None, None, at(2))


@pytest.mark.parametrize(("node", "epoch"), [("n2", 7), ("n1", 6), ("n1", 8)])
async def test_a_disconnection_of_another_connection_changes_nothing(
    backend: Backend, node: str, epoch: int
) -> None:
    """A late close of a replaced socket (another node, or an older epoch of this one)
    must not mark the charger that reconnected as disconnected."""
    cp = await backend.add_charger()
    await backend.stores.chargers.record_presence(connected(cp, "n1", 7, 1))
    await backend.stores.chargers.record_presence(disconnected(cp, node, epoch, 2))
    assert await presence(backend, cp) == (OCPP16, "n1", at(1))


async def test_a_disconnection_of_a_charger_never_connected_changes_nothing(
    backend: Backend,
) -> None:
    cp = await backend.add_charger()
    await backend.stores.chargers.record_presence(disconnected(cp, "n1", 1, 2))
    assert await presence(backend, cp) == (None, None, None)


async def test_a_connection_replaces_another_whatever_its_epoch(backend: Backend) -> None:
    cp = await backend.add_charger()
    await backend.stores.chargers.record_presence(connected(cp, "n1", 7, 1))
    await backend.stores.chargers.record_presence(connected(cp, "n2", 3, 2, OCPP201))
    await backend.stores.chargers.record_presence(disconnected(cp, "n1", 7, 3))
    assert await presence(backend, cp) == (OCPP201, "n2", at(2))


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # the old connection's close arrives after the takeover: ignored
        ([("n1", 1, True), ("n2", 2, True), ("n1", 1, False)], ("n2", 2)),
        # connected, closed, connected again
        ([("n1", 1, True), ("n1", 1, False), ("n1", 2, True)], ("n1", 3)),
        # connected again, then the close of the first connection: ignored
        ([("n1", 1, True), ("n1", 2, True), ("n1", 1, False)], ("n1", 2)),
        # two closes: only the one of the connection held applies
        ([("n1", 1, True), ("n2", 5, False), ("n1", 1, False)], (None, 3)),
    ],
)
async def test_presence_changes_made_at_once_apply_in_call_order(
    backend: Backend,
    changes: list[tuple[str, int, bool]],
    expected: tuple[str | None, int],
) -> None:
    cp = await backend.add_charger()
    calls = [
        connected(cp, node, epoch, second) if up else disconnected(cp, node, epoch, second)
        for second, (node, epoch, up) in enumerate(changes, start=1)
    ]
    await asyncio.gather(*(backend.stores.chargers.record_presence(c) for c in calls))
    node, second = expected
    assert await presence(backend, cp) == (
        None if node is None else OCPP16,
        node,
        at(second),
    )


async def test_presence_of_an_unregistered_charger_is_ignored(backend: Backend) -> None:
    cp = unique("CT")
    await backend.stores.chargers.record_presence(connected(cp, "n1", 1, 1))
    await backend.stores.chargers.record_presence(disconnected(cp, "n1", 1, 2))
    assert await backend.stores.chargers.get(cp) is None


async def test_list_presence_lists_the_chargers_connected_to_a_node(backend: Backend) -> None:
    """What the presence sweep reads (docs/topics/cluster.md): the connections of a node."""
    node, other = unique("node"), unique("node")
    one, two, three, gone = [await backend.add_charger() for _ in range(4)]
    chargers = backend.stores.chargers
    await chargers.record_presence(connected(two, node, 7, 3, OCPP201))
    await chargers.record_presence(connected(one, node, 2, 1))
    await chargers.record_presence(connected(three, other, 1, 2))
    await chargers.record_presence(connected(gone, node, 4, 1))
    await chargers.record_presence(disconnected(gone, node, 4, 5))
    listed = await chargers.list_presence(node_id=node)
    assert listed == sorted(
        [connected(one, node, 2, 1), connected(two, node, 7, 3, OCPP201)],
        key=lambda p: p.charge_point_id,
    )
    assert await chargers.list_presence(node_id=unique("node")) == []


async def test_list_presence_excluding_nodes_lists_the_connections_of_the_others(
    backend: Backend,
) -> None:
    alive, dead, other_dead = unique("node"), unique("node"), unique("node")
    mine = [await backend.add_charger() for _ in range(4)]
    chargers = backend.stores.chargers
    await chargers.record_presence(connected(mine[0], alive, 1, 1))
    await chargers.record_presence(connected(mine[1], dead, 1, 2))
    await chargers.record_presence(connected(mine[2], other_dead, 5, 3, OCPP201))
    # the run's database holds other tests' chargers: look at these ones only
    listed = [
        p
        for p in await chargers.list_presence(excluding_nodes=[alive])
        if p.charge_point_id in mine
    ]
    assert listed == sorted(
        [connected(mine[1], dead, 1, 2), connected(mine[2], other_dead, 5, 3, OCPP201)],
        key=lambda p: p.charge_point_id,
    )
    both = await chargers.list_presence(node_id=dead, excluding_nodes=[alive])
    assert both == [connected(mine[1], dead, 1, 2)]
    assert await chargers.list_presence(node_id=dead, excluding_nodes=[dead]) == []
    everyone = [p for p in await chargers.list_presence() if p.charge_point_id in mine]
    assert len(everyone) == 3


async def test_clear_presence_clears_only_the_connections_still_held(backend: Backend) -> None:
    """A node taken for dead loses its chargers, but never a charger that has reconnected
    since (another node or epoch); last seen stays what the charger last showed."""
    dead, alive = unique("node"), unique("node")
    stale, moved, reconnected, never = [await backend.add_charger() for _ in range(4)]
    chargers = backend.stores.chargers
    await chargers.record_presence(connected(stale, dead, 1, 1))
    await chargers.record_presence(connected(moved, alive, 3, 2))
    await chargers.record_presence(connected(reconnected, dead, 2, 3))
    cleared = await chargers.clear_presence(
        [
            connected(stale, dead, 1, 1),
            connected(moved, dead, 3, 1),
            connected(reconnected, dead, 1, 1),
            connected(never, dead, 1, 1),
            connected(unique("CT"), dead, 1, 1),
        ]
    )
    assert cleared == [stale]
    assert await presence(backend, stale) == (None, None, at(1))
    assert await presence(backend, moved) == (OCPP16, alive, at(2))
    assert await presence(backend, reconnected) == (OCPP16, dead, at(3))
    assert await chargers.clear_presence([connected(stale, dead, 1, 1)]) == []
    assert await chargers.clear_presence([]) == []


async def test_clear_presence_returns_the_cleared_by_id(backend: Backend) -> None:
    node = unique("node")
    ids = [await backend.add_charger() for _ in range(3)]
    for cp in ids:
        await backend.stores.chargers.record_presence(connected(cp, node, 1, 1))
    stale = [connected(cp, node, 1, 1) for cp in reversed(ids)]
    assert await backend.stores.chargers.clear_presence(stale + stale[:1]) == sorted(ids)
    assert await backend.stores.chargers.list_presence(node_id=node) == []
