"""PricingStore: the tariff version a session is priced with, its cost (running, then final),
its charging states and its energy register readings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from contract_helpers import REFUSED, Backend, at, definition, named, sample, unique

from csms.domain.tariff_catalog import SessionCost
from csms.errors import NotFound

NOTHING = SessionCost(None, None, None, None, None, None, None, None, False)
BREAKDOWN = {"energy": {"kwh": "12.5", "excl_vat": "3.75"}, "periods": [{"start": "12:00"}]}


async def published_tariff(backend: Backend, *, versions: int = 1) -> str:
    """A tariff whose versions 1..``versions`` are published."""
    tariff_id = unique("T")
    tariffs = backend.stores.tariffs
    await tariffs.add_tariff(
        tariff_id, description="", definition=definition(), currency="EUR", created_by=None
    )
    await tariffs.publish(tariff_id, published_by=None, at=at(0))
    for version in range(2, versions + 1):
        await tariffs.save_draft(
            tariff_id, definition=definition(str(version)), currency="EUR", created_by=None
        )
        await tariffs.publish(tariff_id, published_by=None, at=at(version))
    return tariff_id


async def store(backend: Backend, pk: int, amount: str, *, final: bool, **options: Any) -> bool:
    """Keep a cost of ``amount`` excl. VAT (21 % VAT) computed at ``amount`` seconds."""
    excl_vat = Decimal(amount)
    vat = (excl_vat * Decimal("0.21")).quantize(Decimal("0.01"))
    return await backend.stores.pricing.store_cost(
        pk,
        excl_vat=excl_vat,
        vat=vat,
        incl_vat=excl_vat + vat,
        breakdown={"amount": amount},
        at=at(float(amount)),
        final=final,
        **options,
    )


async def cost_of(backend: Backend, pk: int) -> SessionCost:
    cost = await backend.stores.pricing.session_cost(pk)
    assert cost is not None
    return cost


# --- the tariff of a session ----------------------------------------------------------------


async def test_a_new_session_has_no_tariff_and_no_cost(backend: Backend) -> None:
    assert await backend.stores.pricing.session_cost(await named(backend)) == NOTHING


async def test_session_cost_of_an_unknown_session_is_none(backend: Backend) -> None:
    pk = await named(backend)
    assert await backend.stores.pricing.session_cost(pk + 1_000_000) is None


async def test_set_tariff_fixes_the_version_once(backend: Backend) -> None:
    """A session keeps the version it started with, even when a newer one is published."""
    pricing = backend.stores.pricing
    tariff_id = await published_tariff(backend, versions=2)
    pk = await named(backend)
    assert await pricing.set_tariff(pk, tariff_id=tariff_id, tariff_version=1, currency="EUR")
    fixed = await cost_of(backend, pk)
    assert (fixed.tariff_id, fixed.tariff_version, fixed.currency) == (tariff_id, 1, "EUR")
    assert not await pricing.set_tariff(pk, tariff_id=tariff_id, tariff_version=2, currency="CHF")
    assert await cost_of(backend, pk) == fixed


async def test_set_tariff_of_a_version_that_does_not_exist_is_refused(
    backend: Backend,
) -> None:
    pricing = backend.stores.pricing
    tariff_id = await published_tariff(backend)
    pk = await named(backend)
    for unknown, version in [(tariff_id, 2), (unique("T"), 1)]:
        with pytest.raises(REFUSED):
            await pricing.set_tariff(pk, tariff_id=unknown, tariff_version=version, currency="EUR")
    assert await cost_of(backend, pk) == NOTHING


async def test_set_tariff_of_a_draft_is_refused(backend: Backend) -> None:
    """A draft may still change: a session priced with it could not be priced again the
    same way."""
    pricing = backend.stores.pricing
    tariff_id = await published_tariff(backend)
    await backend.stores.tariffs.save_draft(
        tariff_id, definition=definition("2"), currency="EUR", created_by=None
    )
    pk = await named(backend)
    with pytest.raises(NotFound):
        await pricing.set_tariff(pk, tariff_id=tariff_id, tariff_version=2, currency="EUR")
    assert await cost_of(backend, pk) == NOTHING


async def test_set_tariff_of_an_unknown_session_is_false(backend: Backend) -> None:
    tariff_id = await published_tariff(backend)
    pk = await named(backend) + 1_000_000
    assert not await backend.stores.pricing.set_tariff(
        pk, tariff_id=tariff_id, tariff_version=1, currency="EUR"
    )
    assert await backend.stores.pricing.session_cost(pk) is None


# --- the cost -------------------------------------------------------------------------------


async def test_store_cost_keeps_every_amount_and_the_breakdown(backend: Backend) -> None:
    tariff_id = await published_tariff(backend)
    pk = await named(backend)
    await backend.stores.pricing.set_tariff(
        pk, tariff_id=tariff_id, tariff_version=1, currency="EUR"
    )
    assert await backend.stores.pricing.store_cost(
        pk,
        excl_vat=Decimal("3.75"),
        vat=Decimal("0.7875"),
        incl_vat=Decimal("4.5375"),
        breakdown=BREAKDOWN,
        at=at(60),
        final=False,
    )
    assert await cost_of(backend, pk) == SessionCost(
        tariff_id,
        1,
        "EUR",
        Decimal("3.75"),
        Decimal("0.7875"),
        Decimal("4.5375"),
        BREAKDOWN,
        at(60),
        False,
    )


async def test_a_running_cost_replaces_the_running_cost(backend: Backend) -> None:
    pk = await named(backend)
    assert await store(backend, pk, "1.00", final=False)
    assert await store(backend, pk, "2.00", final=False)
    cost = await cost_of(backend, pk)
    assert (cost.excl_vat, cost.incl_vat, cost.computed_at, cost.final) == (
        Decimal("2.00"),
        Decimal("2.42"),
        at(2),
        False,
    )


async def test_a_final_cost_is_kept_once(backend: Backend) -> None:
    """Neither a running cost (a late meter value) nor a second final one (a replayed end)
    changes it."""
    pk = await named(backend)
    assert await store(backend, pk, "1.00", final=False)
    assert await store(backend, pk, "5.00", final=True)
    final = await cost_of(backend, pk)
    assert (final.excl_vat, final.final) == (Decimal("5.00"), True)
    assert not await store(backend, pk, "6.00", final=False)
    assert not await store(backend, pk, "7.00", final=True)
    assert await cost_of(backend, pk) == final


async def test_a_final_cost_is_replaced_with_replace_final(backend: Backend) -> None:
    """The charger's own stop replaces the cost of the CSMS's close."""
    pk = await named(backend)
    assert await store(backend, pk, "5.00", final=True)
    assert await store(backend, pk, "5.50", final=True, replace_final=True)
    replaced = await cost_of(backend, pk)
    assert (replaced.excl_vat, replaced.breakdown, replaced.final) == (
        Decimal("5.50"),
        {"amount": "5.50"},
        True,
    )


async def test_a_running_cost_never_replaces_a_final_one(backend: Backend) -> None:
    """``replace_final`` replaces a final cost with a final one: a running cost is kept
    "only while no final one is kept"."""
    pk = await named(backend)
    assert await store(backend, pk, "5.00", final=True)
    final = await cost_of(backend, pk)
    assert not await store(backend, pk, "6.00", final=False, replace_final=True)
    assert await cost_of(backend, pk) == final


async def test_a_first_cost_may_be_final(backend: Backend) -> None:
    pk = await named(backend)
    assert await store(backend, pk, "3.00", final=True, replace_final=True)
    assert (await cost_of(backend, pk)).final


async def test_store_cost_of_an_unknown_session_is_false(backend: Backend) -> None:
    pk = await named(backend) + 1_000_000
    assert not await store(backend, pk, "1.00", final=False)
    assert not await store(backend, pk, "1.00", final=True)


# --- charging states ------------------------------------------------------------------------


async def test_states_are_by_time(backend: Backend) -> None:
    """Queued messages arrive late (E04.FR.02): the time orders the states."""
    pricing = backend.stores.pricing
    pk, other = await named(backend), await named(backend)
    await pricing.add_state(pk, at(30), True)
    await pricing.add_state(pk, at(10), True)
    await pricing.add_state(pk, at(20), False)
    await pricing.add_state(other, at(15), False)
    assert await pricing.states(pk) == [(at(10), True), (at(20), False), (at(30), True)]
    assert await pricing.states(other) == [(at(15), False)]


async def test_a_second_state_at_the_same_time_adds_nothing(backend: Backend) -> None:
    pricing = backend.stores.pricing
    pk = await named(backend)
    await pricing.add_state(pk, at(10), True)
    await pricing.add_state(pk, at(10), False)
    await pricing.add_state(pk, at(10), True)
    assert await pricing.states(pk) == [(at(10), True)]


async def test_states_of_a_session_without_any_are_empty(backend: Backend) -> None:
    pk = await named(backend)
    assert await backend.stores.pricing.states(pk) == []
    assert await backend.stores.pricing.states(pk + 1_000_000) == []


async def test_add_state_of_an_unknown_session_is_refused(backend: Backend) -> None:
    pk = await named(backend) + 1_000_000
    with pytest.raises(REFUSED):
        await backend.stores.pricing.add_state(pk, at(0), True)


async def test_a_removed_charger_takes_its_sessions_pricing_along(backend: Backend) -> None:
    pricing = backend.stores.pricing
    tariff_id = await published_tariff(backend)
    cp = await backend.add_charger()
    pk = await named(backend, cp)
    await pricing.set_tariff(pk, tariff_id=tariff_id, tariff_version=1, currency="EUR")
    await store(backend, pk, "1.00", final=True)
    await pricing.add_state(pk, at(0), True)
    await backend.stores.chargers.remove(cp)
    assert await pricing.session_cost(pk) is None
    assert await pricing.states(pk) == []


# --- register readings ----------------------------------------------------------------------


async def test_register_readings_are_the_phase_totals_in_wh_by_time(backend: Backend) -> None:
    """Queued messages arrive late (E04.FR.02): the sample time orders readings. The unit
    defaults to Wh (1.6 SampledValue, 2.0.1 UnitOfMeasureType)."""
    cp = await backend.add_charger()
    pk = await named(backend, cp)
    await backend.stores.meters.add_samples(
        cp,
        1,
        1,
        pk,
        [
            sample(40, "4000", unit="Wh"),
            sample(10, "1.25", unit="kWh"),
            sample(30, "3000.5", unit=""),
            sample(20, "999", phase="L1"),
            sample(20, "7", measurand="Power.Active.Import", unit="W"),
            sample(20, "8", measurand="Energy.Active.Export.Register"),
            sample(25, None),
            sample(50, "5", unit="varh"),
        ],
    )
    assert await backend.stores.pricing.register_readings(pk) == [
        (at(10), Decimal(1250)),
        (at(30), Decimal("3000.5")),
        (at(40), Decimal(4000)),
    ]


async def test_register_readings_are_the_sessions_own(backend: Backend) -> None:
    cp = await backend.add_charger()
    pk, other = await named(backend, cp, "TX-1"), await named(backend, cp, "TX-2")
    meters = backend.stores.meters
    await meters.add_samples(cp, 1, 1, pk, [sample(10, "100")])
    await meters.add_samples(cp, 1, 1, other, [sample(20, "200")])
    await meters.add_samples(cp, 1, 1, None, [sample(30, "300")])
    assert await backend.stores.pricing.register_readings(pk) == [(at(10), Decimal(100))]
    assert await backend.stores.pricing.register_readings(pk + 1_000_000) == []


async def test_register_readings_of_a_session_without_samples_are_empty(
    backend: Backend,
) -> None:
    pk = await named(backend)
    assert await backend.stores.pricing.register_readings(pk) == []
