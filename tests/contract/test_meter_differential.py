"""Meter samples, differential: generated groups of add_samples calls, gathered at once (so
PostgreSQL's BatchWriter writes them in one statement), with replays of samples within a
call, within a group and across groups (for the same or another session), must leave the
same register readings on PostgreSQL and in memory.

Every sample has one location and context, and each session gets its samples from one
connector, so two register readings of a session at one instant are one sample (a replay):
its first and last readings are never a tie (PostgreSQL leaves ties unordered).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest
from contract_helpers import (
    DIFFERENTIAL,
    OCPP201,
    T0,
    Backend,
    MemoryBackend,
    PostgresBackend,
    sample,
    unique,
)
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.integration

SAMPLES = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=5),  # second: replays are likely
        st.none() | st.decimals(min_value=0, max_value=10**9, places=3, allow_nan=False),
        st.sampled_from(["Wh", "kWh", "", "varh"]),
        st.sampled_from(["", "", "L1"]),
        st.sampled_from(["Energy.Active.Import.Register", "Power.Active.Import"]),
    ),
    min_size=1,
    max_size=4,
)
# (connector, session index or None, samples); the connector of a session's samples is its own
CALL = st.tuples(st.integers(1, 2), st.none() | st.integers(0, 2), SAMPLES).map(
    lambda call: call if call[1] is None else (1 + call[1] % 2, *call[1:])
)
GROUPS = st.lists(st.lists(CALL, min_size=1, max_size=4), min_size=1, max_size=4)
Call = tuple[int, int | None, list[tuple[Any, ...]]]


async def run_group(backend: Backend, cp: str, pks: list[int], calls: Sequence[Call]) -> None:
    await asyncio.gather(
        *(
            backend.stores.meters.add_samples(
                cp,
                1,
                connector_id,
                None if index is None else pks[index],
                [
                    sample(second, value, unit=unit, phase=phase, measurand=measurand)
                    for second, value, unit, phase, measurand in samples
                ],
            )
            for connector_id, index, samples in calls
        )
    )


async def readings(backend: Backend, pks: list[int]) -> list[Any]:
    return [await backend.stores.meters.register_readings_wh(pk) for pk in pks]


@settings(DIFFERENTIAL, max_examples=40)
@given(groups=GROUPS)
async def test_samples_leave_the_same_register_readings(
    pool: asyncpg.Pool, groups: list[list[Call]]
) -> None:
    cp = unique("CD")
    sides: list[Backend] = [PostgresBackend(pool), MemoryBackend()]
    pks: list[list[int]] = []
    for side in sides:
        await side.add_charger(cp)
        pks.append(
            [
                (
                    await side.stores.sessions.open_named(
                        cp, f"TX-{i}", protocol=OCPP201, started_at=T0, evse_id=1, connector_id=1
                    )
                ).id
                for i in range(3)
            ]
        )
    for step, calls in enumerate(groups):
        for side, side_pks in zip(sides, pks, strict=True):
            await run_group(side, cp, side_pks, calls)
        assert await readings(sides[0], pks[0]) == await readings(sides[1], pks[1]), step
