"""The billing services over the app's pool, per request (a few small objects): accounts
and settlement (its review queue prices again with the session's own tariff version)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends

from backoffice.state import State, get_state
from csms.domain.clock import utc_now
from csms.services.accounts import AccountService
from csms.services.billing import Repricing, SettlementService
from csms.store.jobs import PgJobQueue
from csms.store.postgres import PostgresBilling, PostgresPricing, PostgresTariffs


@dataclass(frozen=True, slots=True)
class Billing:
    accounts: AccountService
    settlement: SettlementService


def billing(state: Annotated[State, Depends(get_state)]) -> Billing:
    pool = state.pool
    settings = state.settings
    store = PostgresBilling(pool)
    repricing = Repricing(
        PostgresPricing(pool),
        PostgresTariffs(pool),
        ZoneInfo(settings.default_time_zone),
        settings.cost_rounding,
    )
    return Billing(
        AccountService(store),
        SettlementService(store, PgJobQueue(pool), clock=utc_now, repricing=repricing),
    )


BillingDep = Annotated[Billing, Depends(billing)]
