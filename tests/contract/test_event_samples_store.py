"""SessionStore.record_and_apply with the message's samples: one write for a 2.0.1
TransactionEvent and its meter values (issue 16, low load), as idempotent as each alone."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from decimal import Decimal

import pytest
from contract_helpers import OCPP201, REFUSED, T0, Backend, event, named, sample, stored_session

from csms.domain.meter_values import MeterSample, SampleBatch


def batch(cp: str, *samples: MeterSample) -> SampleBatch:
    return SampleBatch(cp, 1, 1, samples)


async def charger_of(backend: Backend, pk: int) -> str:
    return (await stored_session(backend, pk)).charge_point_id


async def test_samples_are_stored_with_the_event(backend: Backend) -> None:
    pk = await named(backend)
    cp = await charger_of(backend, pk)
    sessions = backend.stores.sessions
    message = event(pk, 1, charging_state="Charging")
    assert await sessions.record_and_apply(message, batch(cp, sample(10, "100"), sample(20, "200")))
    assert (await stored_session(backend, pk)).charging_state == "Charging"
    assert await backend.stores.meters.register_readings_wh(pk) == (Decimal(100), Decimal(200))


async def test_a_replayed_event_with_its_samples_adds_nothing(backend: Backend) -> None:
    """E04.FR.02 / 2.0.1 E 1.3.1: a TransactionEvent whose answer was lost comes again: its
    seqNo is known (False, no change) and its samples are already stored (no new row, the
    first values stay)."""
    pk = await named(backend)
    cp = await charger_of(backend, pk)
    sessions = backend.stores.sessions
    assert await sessions.record_and_apply(
        event(pk, 1, charging_state="Charging"), batch(cp, sample(10, "100"), sample(20, "200"))
    )
    before = await stored_session(backend, pk)
    replay = batch(cp, sample(10, "999"), sample(20, "1"))
    assert await sessions.record_and_apply(event(pk, 1, charging_state="Idle"), replay) is False
    assert await stored_session(backend, pk) == before
    assert await backend.stores.meters.register_readings_wh(pk) == (Decimal(100), Decimal(200))


async def test_samples_of_a_known_seq_no_are_still_stored(backend: Backend) -> None:
    """The samples do not depend on the event being fresh: stored as add_samples would."""
    pk = await named(backend)
    cp = await charger_of(backend, pk)
    sessions = backend.stores.sessions
    assert await sessions.record_and_apply(event(pk, 1))
    assert await sessions.record_and_apply(event(pk, 1), batch(cp, sample(30, "300"))) is False
    assert await backend.stores.meters.register_readings_wh(pk) == (Decimal(300), Decimal(300))


async def test_a_refused_event_stores_none_of_its_samples(backend: Backend) -> None:
    """Both or neither: an event without its seqNo is refused, and so are its samples."""
    pk = await named(backend)
    cp = await charger_of(backend, pk)
    message = event(pk, 1)
    message = dataclasses.replace(
        message, changes=dataclasses.replace(message.changes, seq_no=None)
    )
    with pytest.raises(REFUSED):
        await backend.stores.sessions.record_and_apply(message, batch(cp, sample(10, "100")))
    assert await backend.stores.meters.register_readings_wh(pk) == (None, None)


async def test_events_with_samples_at_once_are_each_stored(backend: Backend) -> None:
    """Many sessions, and one session twice, in the same gathered batch (one statement per
    round): every event recorded once, every sampled set stored once."""
    cp = await backend.add_charger()
    pks = [await named(backend, cp, f"TX-{n}") for n in range(5)]
    sessions = backend.stores.sessions
    calls = [  # a connector each: sets at one time on one connector would be replays
        sessions.record_and_apply(
            event(pk, seq), SampleBatch(cp, 1, n + 1, [sample(seq, str(100 * seq + n))])
        )
        for n, pk in enumerate(pks)
        for seq in (1, 2)
    ]
    assert await asyncio.gather(*calls) == [True] * 10
    for n, pk in enumerate(pks):
        assert (await stored_session(backend, pk)).last_seq_no == 2
        readings = await backend.stores.meters.register_readings_wh(pk)
        assert readings == (Decimal(100 + n), Decimal(200 + n))


async def test_samples_of_a_week_without_a_partition_are_stored(backend: Backend) -> None:
    """A charger replaying old data (ADR 0005): the week's partition is made on the way."""
    cp = await backend.add_charger()
    old = T0 - timedelta(days=400)
    session = await backend.stores.sessions.open_named(
        cp, "TX-OLD", protocol=OCPP201, started_at=old, evse_id=1, connector_id=1
    )
    reading = dataclasses.replace(sample(0, "42"), sampled_at=old)
    assert await backend.stores.sessions.record_and_apply(event(session.id, 1), batch(cp, reading))
    assert await backend.stores.meters.register_readings_wh(session.id) == (
        Decimal(42),
        Decimal(42),
    )
