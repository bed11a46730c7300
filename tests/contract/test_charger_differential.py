"""Chargers, differential: generated groups of boots, connector statuses, presence changes
and heartbeats, each group gathered at once (so PostgreSQL batches it), run on PostgreSQL
and in memory side by side must return the same and leave the same chargers and connectors.

A group holds calls of one kind: calls of different kinds made at once go to different
batches, and the ports promise no order between them (a boot and a connection both set
last_seen_at). Heartbeats are fire-and-forget; each group of them is waited for, and holds
one heartbeat per charger (two of one charger in one batch: see
test_heartbeats_noted_together_keep_the_last, a PostgreSQL bug).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest
from contract_helpers import (
    DIFFERENTIAL,
    OCPP16,
    OCPP201,
    REFUSED,
    Backend,
    MemoryBackend,
    PostgresBackend,
    at,
    connector_status,
    fields_of,
    unique,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from csms.domain.chargers import Boot, Presence

pytestmark = pytest.mark.integration

# charger 0 and 1 are registered (accept / pending), charger 2 is not
CHARGER = st.integers(min_value=0, max_value=2)
SECOND = st.integers(min_value=0, max_value=6)  # few instants: ties and replays are likely

BOOTS = st.tuples(
    st.just("boot"), st.lists(st.tuples(CHARGER, SECOND, st.sampled_from(["M1", "M2"])),
                              min_size=1, max_size=4)
)  # fmt: skip
STATUSES = st.tuples(
    st.just("status"),
    st.lists(
        st.tuples(CHARGER, st.integers(0, 1), st.integers(0, 2),
                  st.sampled_from(["Available", "Occupied", "Faulted"]), SECOND),
        min_size=1, max_size=6,
    ),
)  # fmt: skip
PRESENCE = st.tuples(
    st.just("presence"),
    st.lists(
        st.tuples(CHARGER, st.sampled_from([OCPP16, OCPP201, None]), st.sampled_from(["n1", "n2"]),
                  st.integers(1, 3), SECOND),
        min_size=1, max_size=6,
    ),
)  # fmt: skip
HEARTBEATS = st.tuples(
    st.just("heartbeat"),
    st.lists(st.tuples(CHARGER, SECOND), max_size=3, unique_by=lambda heartbeat: heartbeat[0]),
)
# connections a presence sweep takes for stale: (charger, node, epoch)
CLEARS = st.tuples(
    st.just("clear"),
    st.lists(st.tuples(CHARGER, st.sampled_from(["n1", "n2"]), st.integers(1, 3)), max_size=4),
)
GROUPS = st.lists(st.one_of(BOOTS, STATUSES, PRESENCE, PRESENCE, HEARTBEATS, CLEARS), max_size=8)
Group = tuple[str, list[Any]]


async def outcome(call: Any) -> Any:
    """What a call returned, or that it was refused (the implementations raise their own
    errors for a row about an unregistered charger)."""
    try:
        return await call
    except REFUSED:
        return "refused"


async def run_group(
    backend: Backend, ids: list[str], nodes: dict[str, str], name: str, calls: list[Any]
) -> list[Any]:
    """Make one group's calls at once; ``nodes`` names the generated nodes uniquely."""
    chargers = backend.stores.chargers
    if name == "boot":
        made = [chargers.record_boot(Boot(ids[c], at(s), {"model": m})) for c, s, m in calls]
    elif name == "status":
        made = [
            chargers.record_connector_status(ids[c], connector_status(e, n, status, s))
            for c, e, n, status, s in calls
        ]
    elif name == "presence":
        made = [
            chargers.record_presence(Presence(ids[c], protocol, nodes[node], epoch, at(s)))
            for c, protocol, node, epoch, s in calls
        ]
    elif name == "clear":
        stale = [Presence(ids[c], OCPP16, nodes[node], epoch, at(0)) for c, node, epoch in calls]
        return [await chargers.clear_presence(stale)]
    else:
        for c, s in calls:
            chargers.note_heartbeat(ids[c], at(s))
        await backend.settle()
        return []
    return list(await asyncio.gather(*(outcome(call) for call in made)))


async def state(backend: Backend, ids: Sequence[str], nodes: Sequence[str]) -> list[Any]:
    found: list[Any] = []
    for node in nodes:
        found.append(await backend.stores.chargers.list_presence(node_id=node))
    for cp in ids:
        charger = await backend.stores.chargers.get(cp)
        found.append(None if charger is None else fields_of(charger, ignore=("created_at",)))
        found.append(await backend.stores.chargers.list_connectors(cp))
    return found


async def run_both(pool: asyncpg.Pool, groups: Sequence[Group]) -> None:
    ids = [unique("CD") for _ in range(3)]
    nodes = {name: unique(name) for name in ("n1", "n2")}
    sides: list[Backend] = [PostgresBackend(pool), MemoryBackend()]
    for side in sides:
        await side.add_charger(ids[0], boot_policy="accept")
        await side.add_charger(ids[1], boot_policy="pending")
    for step, (name, calls) in enumerate(groups):
        postgres, memory = [await run_group(side, ids, nodes, name, calls) for side in sides]
        assert postgres == memory, f"step {step}: {name}"
        postgres_state, memory_state = [
            await state(side, ids, list(nodes.values())) for side in sides
        ]
        assert postgres_state == memory_state, f"step {step}: {name}"
    await sides[0].settle()


@settings(DIFFERENTIAL, max_examples=50)
@given(groups=GROUPS)
@example(
    groups=[
        # a status of an unregistered charger in a batch fails alone
        ("status", [(0, 0, 1, "Occupied", 3), (2, 0, 1, "Available", 1),
                    (0, 0, 1, "Available", 3), (1, 0, 1, "Faulted", 2)]),
        # the close of the first connection after the second one connected: ignored
        ("presence", [(0, OCPP16, "n1", 1, 1), (0, OCPP201, "n2", 2, 2), (0, None, "n1", 1, 3),
                      (0, None, "n2", 1, 4), (2, OCPP16, "n1", 1, 1)]),
        ("boot", [(0, 1, "M1"), (1, 2, "M1"), (0, 3, "M2"), (2, 1, "M1")]),
        ("heartbeat", [(0, 5), (2, 5)]),
    ]
)  # fmt: skip
async def test_charger_calls_leave_the_same_chargers(
    pool: asyncpg.Pool, groups: list[Group]
) -> None:
    await run_both(pool, groups)
