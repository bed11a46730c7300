"""Settlement (issue 13): every ended session becomes exactly one charge, or a review.

Real PostgreSQL: sessions driven by simulators over real sockets on both versions, the
settlement job run by a real worker (PgQueuer), then run again twice and concurrently from
two more workers' services; the ledger balances and the account's wallet equal the frozen
session costs.
"""

from __future__ import annotations

import asyncio
import secrets
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from csms.domain import ledger
from csms.domain.billing import METER_BACKWARDS, NO_ACCOUNT, PREPAID
from csms.domain.clock import utc_now
from csms.domain.sites import Scope
from csms.errors import InUse, InvalidInput
from csms.node.server import Node
from csms.services import Services
from csms.services.billing import Repricing, SettlementService
from csms.store import billing, chargers
from csms.store.jobs import PgJobQueue
from csms.store.postgres import PostgresBilling, PostgresPricing, PostgresStores, PostgresTariffs
from csms.worker.runtime import Worker
from simulators.station import Station, StationConfig
from tests.integration.conftest import RegisterCharger, RegisterToken
from tests.timeouts import TIMEOUT

TARIFF: dict[str, Any] = {
    "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.40", "vat": "25", "step_size": 1}]}
    ],
}


def settlement(pool: asyncpg.Pool) -> SettlementService:
    return SettlementService(PostgresBilling(pool), PgJobQueue(pool), clock=utc_now)


async def priced_charger(pool: asyncpg.Pool, cp: str) -> None:
    services = Services(PostgresStores(pool), clock=utc_now)
    tariff_id = f"B-{secrets.token_hex(4)}"
    await services.tariffs.add(tariff_id, TARIFF, created_by="t")
    await services.tariffs.publish(tariff_id, published_by="t")
    await services.tariffs.assign(Scope.CHARGER, cp, tariff_id, created_by="t")


async def session(
    node: Node, cp: str, password: str | None, tag: str, version: str, kwh: int
) -> None:
    st = Station(
        StationConfig(
            url=f"ws://127.0.0.1:{node.port}/ocpp",
            charge_point_id=cp,
            version=version,
            password=password,
        )
    )
    await st.connect()
    await st.boot()
    await st.authorize(tag)
    tx = await st.start_transaction(1, tag, 1000)
    await st.send_meter_values(tx, 1000 + kwh * 500)
    await st.stop_transaction(tx, "Local", meter_stop_wh=1000 + kwh * 1000)
    await st.disconnect()


async def eventually(check: Any) -> Any:
    async with asyncio.timeout(TIMEOUT):
        while not (found := await check()):
            await asyncio.sleep(0.05)
    return found


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_an_ended_session_is_charged_once_from_the_wallet(
    node: Node,
    worker: Worker,
    pool: asyncpg.Pool,
    register_charger: RegisterCharger,
    register_token: RegisterToken,
    version: str,
) -> None:
    charger = await register_charger()
    await priced_charger(pool, charger.charge_point_id)
    tag = await register_token()
    account = await billing.add_account(
        pool, kind=PREPAID, currency="EUR", name="Driver", hold_amount=Decimal("20.00")
    )
    await billing.link_token(pool, tag, account.id)
    topup = ledger.Entry(
        ledger.TOPUP,
        f"test-topup:{account.id}",
        (
            ledger.debit(ledger.clearing("manual"), "EUR", Decimal("50.00")),
            ledger.credit(ledger.wallet(account.id), "EUR", Decimal("50.00")),
        ),
        account_id=account.id,
    )
    assert await billing.post_one(pool, topup) is not None

    await session(node, charger.charge_point_id, charger.password, tag, version, kwh=10)
    pk = await pool.fetchval(
        "SELECT id FROM transactions WHERE charge_point_id = $1", charger.charge_point_id
    )
    charge = await eventually(lambda: billing.charge_of(pool, pk))
    # 10 kWh x 0.40 = 4.00 + 25 % VAT = 5.00
    assert (charge.excl_vat, charge.vat, charge.incl_vat) == (
        Decimal("4.00"),
        Decimal("1.00"),
        Decimal("5.00"),
    )
    assert charge.account_id == account.id and charge.source == "tariff"

    # run again, twice and concurrently: still one charge, one entry
    again = settlement(pool)
    outcomes = await asyncio.gather(*(again.settle(pk) for _ in range(4)))
    assert {o.outcome for o in outcomes} == {"already"}
    assert await pool.fetchval("SELECT count(*) FROM charges WHERE transaction_pk = $1", pk) == 1
    kinds = await pool.fetch(
        "SELECT kind FROM ledger_entries WHERE transaction_pk = $1 ORDER BY id", pk
    )
    # the hold is taken if its job ran while the session was still charging
    assert [k["kind"] for k in kinds] in (["hold", "charge", "release"], ["charge"])

    balances = await billing.balances(pool, account)
    assert balances == {
        "wallet": Decimal("45.00"),
        "held": Decimal("0"),
        "receivable": Decimal("0"),
    }
    assert all(
        total == 0
        for (_, _), total in (await _per_currency(await billing.trial_balance(pool))).items()
    )
    # the charge is an accounting record: its charger cannot be removed from under it
    with pytest.raises(InUse, match="has billed sessions"):
        await chargers.remove_charger(pool, charger.charge_point_id)
    assert await chargers.get_charger(pool, charger.charge_point_id) is not None


async def _per_currency(trial: dict[tuple[str, str], Decimal]) -> dict[tuple[str, str], Decimal]:
    totals: dict[tuple[str, str], Decimal] = {}
    for (_, currency), amount in trial.items():
        totals[("all", currency)] = totals.get(("all", currency), Decimal(0)) + amount
    return totals


async def test_a_session_without_an_account_goes_to_review(
    node: Node,
    worker: Worker,
    pool: asyncpg.Pool,
    register_charger: RegisterCharger,
    register_token: RegisterToken,
) -> None:
    charger = await register_charger()
    await priced_charger(pool, charger.charge_point_id)
    tag = await register_token()
    await session(node, charger.charge_point_id, charger.password, tag, "2.0.1", kwh=2)
    pk = await pool.fetchval(
        "SELECT id FROM transactions WHERE charge_point_id = $1", charger.charge_point_id
    )
    review = await eventually(lambda: billing.review_of(pool, pk))
    assert (review.reason, review.status) == (NO_ACCOUNT, "open")
    assert await billing.charge_of(pool, pk) is None

    # the operator links the token to an account and settles again: charged, review resolved
    account = await billing.add_account(pool, kind="postpaid", currency="EUR", name="Fleet")
    await billing.link_token(pool, tag, account.id)
    outcome = await settlement(pool).retry(pk, by="alice")
    assert outcome.outcome == "charged" and outcome.charge is not None
    assert outcome.charge.incl_vat == Decimal("1.00")
    resolved = await billing.review_of(pool, pk)
    assert resolved is not None and resolved.status == "resolved"
    assert (resolved.resolution, resolved.resolved_by) == ("settled", "alice")
    assert (await billing.balances(pool, account))["receivable"] == Decimal("1.00")


async def test_the_operator_sets_the_energy_of_a_session_whose_meter_went_backwards(
    node: Node,
    worker: Worker,
    pool: asyncpg.Pool,
    register_charger: RegisterCharger,
    register_token: RegisterToken,
) -> None:
    charger = await register_charger()
    await priced_charger(pool, charger.charge_point_id)
    tag = await register_token()
    account = await billing.add_account(pool, kind="postpaid", currency="EUR", name="Fleet")
    await billing.link_token(pool, tag, account.id)
    st = Station(
        StationConfig(
            url=f"ws://127.0.0.1:{node.port}/ocpp",
            charge_point_id=charger.charge_point_id,
            version="1.6",
            password=charger.password,
        )
    )
    await st.connect()
    await st.boot()
    tx = await st.start_transaction(1, tag, 1000)
    await st.send_meter_values(tx, 5000)
    await st.stop_transaction(tx, "Local", meter_stop_wh=3000)  # below the last reading
    await st.disconnect()
    pk = await pool.fetchval(
        "SELECT id FROM transactions WHERE charge_point_id = $1", charger.charge_point_id
    )
    review = await eventually(lambda: billing.review_of(pool, pk))
    assert review.reason == METER_BACKWARDS

    with pytest.raises(InvalidInput):
        await repricing_settlement(pool).set_energy(pk, Decimal(-1), by="alice")
    outcome = await repricing_settlement(pool).set_energy(pk, Decimal(4000), by="alice")
    # priced again with the session's own tariff version: 4 kWh x 0.40 = 1.60 + 25 % = 2.00
    assert outcome.outcome == "charged" and outcome.charge is not None
    assert (outcome.charge.excl_vat, outcome.charge.incl_vat) == (Decimal("1.60"), Decimal("2.00"))
    cost = await pool.fetchrow(
        "SELECT cost_incl_vat, cost_final FROM transactions WHERE id = $1", pk
    )
    assert cost is not None and cost["cost_incl_vat"] == Decimal("2.00") and cost["cost_final"]
    resolved = await billing.review_of(pool, pk)
    assert resolved is not None
    assert (resolved.resolution, resolved.resolved_by) == ("energy_set", "alice")
    assert (
        resolved.resolution_detail is not None and resolved.resolution_detail["energy_wh"] == "4000"
    )
    # resolved: a second resolution is refused, and nothing is charged twice
    with pytest.raises(InvalidInput, match="resolved already"):
        await repricing_settlement(pool).set_energy(pk, Decimal(1), by="bob")
    assert await pool.fetchval("SELECT count(*) FROM charges WHERE transaction_pk = $1", pk) == 1


def repricing_settlement(pool: asyncpg.Pool) -> SettlementService:
    repricing = Repricing(
        PostgresPricing(pool), PostgresTariffs(pool), ZoneInfo("UTC"), "ROUND_HALF_UP"
    )
    return SettlementService(
        PostgresBilling(pool), PgJobQueue(pool), clock=utc_now, repricing=repricing
    )
