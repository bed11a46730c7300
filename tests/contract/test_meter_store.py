"""MeterStore: samples stored once, and a session's first and last energy register readings."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from contract_helpers import OCPP201, REFUSED, T0, Backend, sample, unique

from csms.domain.meter_values import MeterSample


async def session_pk(backend: Backend, cp: str, transaction_id: str = "TX-1") -> int:
    opened = await backend.stores.sessions.open_named(
        cp, transaction_id, protocol=OCPP201, started_at=T0, evse_id=1, connector_id=1
    )
    return opened.id


async def readings(
    backend: Backend, *samples: MeterSample
) -> tuple[Decimal | None, Decimal | None]:
    """The register readings of a new session that got ``samples``."""
    cp = await backend.add_charger()
    pk = await session_pk(backend, cp)
    await backend.stores.meters.add_samples(cp, 1, 1, pk, samples)
    return await backend.stores.meters.register_readings_wh(pk)


async def test_a_session_without_readings_has_none(backend: Backend) -> None:
    cp = await backend.add_charger()
    pk = await session_pk(backend, cp)
    assert await backend.stores.meters.register_readings_wh(pk) == (None, None)


async def test_the_first_and_last_readings_are_by_sample_time(backend: Backend) -> None:
    """Queued messages arrive late (E04.FR.02, 1.6 3.7): the sample time orders readings,
    not their arrival."""
    result = await readings(backend, sample(30, "300"), sample(10, "100"), sample(20, "250"))
    assert result == (Decimal(100), Decimal(300))


async def test_one_reading_is_first_and_last(backend: Backend) -> None:
    assert await readings(backend, sample(10, "42.5")) == (Decimal("42.5"), Decimal("42.5"))


@pytest.mark.parametrize(
    ("unit", "wh"), [("Wh", Decimal("1.5")), ("", Decimal("1.5")), ("kWh", Decimal(1500))]
)
async def test_readings_are_in_wh(backend: Backend, unit: str, wh: Decimal) -> None:
    """The unit defaults to Wh (1.6 SampledValue, 2.0.1 UnitOfMeasureType)."""
    assert await readings(backend, sample(10, "1.5", unit=unit)) == (wh, wh)


async def test_units_mix_within_a_session(backend: Backend) -> None:
    result = await readings(backend, sample(10, "1.25", unit="kWh"), sample(20, "3000"))
    assert result == (Decimal(1250), Decimal(3000))


@pytest.mark.parametrize(
    "ignored",
    [
        sample(5, "1", phase="L1"),  # a phase, not the total
        sample(5, "1", phase="L1-N"),
        sample(5, "1", measurand="Energy.Active.Export.Register"),
        sample(5, "1", measurand="Energy.Active.Import.Interval"),
        sample(5, "1", measurand="Power.Active.Import", unit="W"),
        sample(5, "1", unit="varh"),  # another unit
        sample(5, "1", unit="kvarh"),
        sample(5, None),  # a value that is not a number (signed, garbled)
    ],
)
async def test_other_samples_are_not_register_readings(
    backend: Backend, ignored: MeterSample
) -> None:
    assert await readings(backend, ignored) == (None, None)
    assert await readings(backend, ignored, sample(10, "7")) == (Decimal(7), Decimal(7))


async def test_readings_of_other_sessions_and_of_no_session_are_not_counted(
    backend: Backend,
) -> None:
    cp = await backend.add_charger()
    mine, other = await session_pk(backend, cp, "TX-1"), await session_pk(backend, cp, "TX-2")
    meters = backend.stores.meters
    await meters.add_samples(cp, 1, 1, mine, [sample(20, "200")])
    await meters.add_samples(cp, 1, 1, other, [sample(10, "100"), sample(30, "300")])
    await meters.add_samples(cp, 1, 1, None, [sample(5, "50"), sample(40, "400")])
    assert await meters.register_readings_wh(mine) == (Decimal(200), Decimal(200))


async def test_a_replayed_sample_adds_nothing(backend: Backend) -> None:
    """1.6 3.7 / 2.0.1 E 1.3.1: a MeterValues or TransactionEvent whose answer was lost
    comes again; its samples (same charger, EVSE, connector, time, measurand, phase,
    location, context) are already stored, whatever else they say."""
    cp = await backend.add_charger()
    first, second = await session_pk(backend, cp, "TX-1"), await session_pk(backend, cp, "TX-2")
    meters = backend.stores.meters
    await meters.add_samples(cp, 1, 1, first, [sample(10, "100"), sample(20, "200")])
    replay = [sample(10, "999", unit="kWh"), sample(20, "1")]
    await meters.add_samples(cp, 1, 1, first, replay)
    await meters.add_samples(cp, 1, 1, second, replay)  # even for another session
    assert await meters.register_readings_wh(first) == (Decimal(100), Decimal(200))
    assert await meters.register_readings_wh(second) == (None, None)


@pytest.mark.parametrize("where", [{"location": "Inlet"}, {"context": "Transaction.End"}])
async def test_a_sample_of_another_location_or_context_is_not_a_replay(
    backend: Backend, where: dict[str, str]
) -> None:
    cp = await backend.add_charger()
    first, second = await session_pk(backend, cp, "TX-1"), await session_pk(backend, cp, "TX-2")
    await backend.stores.meters.add_samples(cp, 1, 1, first, [sample(10, "100")])
    await backend.stores.meters.add_samples(cp, 1, 1, second, [sample(10, "5", **where)])
    assert await backend.stores.meters.register_readings_wh(second) == (Decimal(5), Decimal(5))


@pytest.mark.parametrize("where", [(2, 1), (1, 2)])
async def test_a_sample_of_another_evse_or_connector_is_not_a_replay(
    backend: Backend, where: tuple[int, int]
) -> None:
    cp = await backend.add_charger()
    first, second = await session_pk(backend, cp, "TX-1"), await session_pk(backend, cp, "TX-2")
    await backend.stores.meters.add_samples(cp, 1, 1, first, [sample(10, "100")])
    await backend.stores.meters.add_samples(cp, *where, second, [sample(10, "5")])
    assert await backend.stores.meters.register_readings_wh(second) == (Decimal(5), Decimal(5))


async def test_samples_added_at_once_are_all_stored(backend: Backend) -> None:
    cp = await backend.add_charger()
    pks = [await session_pk(backend, cp, f"TX-{i}") for i in range(4)]
    await asyncio.gather(
        *(
            backend.stores.meters.add_samples(
                cp, 1, i, pk, [sample(10, str(i)), sample(20, str(i * 10))]
            )
            for i, pk in enumerate(pks)
        )
    )
    for i, pk in enumerate(pks):
        assert await backend.stores.meters.register_readings_wh(pk) == (
            Decimal(i),
            Decimal(i * 10),
        )


async def test_a_replay_within_one_call_adds_nothing(backend: Backend) -> None:
    result = await readings(backend, sample(10, "100"), sample(10, "999"), sample(20, "200"))
    assert result == (Decimal(100), Decimal(200))


async def test_samples_of_an_unregistered_charger_are_refused(backend: Backend) -> None:
    with pytest.raises(REFUSED):
        await backend.stores.meters.add_samples(unique("CT"), 1, 1, None, [sample(10, "1")])


async def test_samples_of_an_unknown_session_are_refused(backend: Backend) -> None:
    cp = await backend.add_charger()
    pk = await session_pk(backend, cp) + 10_000_000
    with pytest.raises(REFUSED):
        await backend.stores.meters.add_samples(cp, 1, 1, pk, [sample(10, "1")])
    assert await backend.stores.meters.register_readings_wh(pk) == (None, None)


async def test_no_samples_is_nothing_to_refuse(backend: Backend) -> None:
    await backend.stores.meters.add_samples(unique("CT"), 1, 1, None, [])
