"""Priced sessions on both OCPP versions, simulators over real WebSockets, real PostgreSQL.

An operator's tariff (1.00 EUR start + 0.25 EUR/kWh, both +20 % VAT) is assigned to a
charger and published; the charger's price display is pushed when it boots (1.6 California
Pricing keys, 2.0.1 TariffCostCtrlr variables); a driver sees the tariff text on
authorization (1.6 SetUserPrice, 2.0.1 personalMessage, I01), running costs while charging
(1.6 RunningCost, 2.0.1 totalCost, I02) and the final cost (1.6 FinalCost, 2.0.1 totalCost
in the Ended response, I03). The stored final cost equals the hand computation below, with
its breakdown; a charger without a display is shown nothing and its session is still priced.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from csms.domain.clock import utc_now
from csms.domain.sites import Scope
from csms.node.runtime import running_node
from csms.node.server import Node
from csms.services import Services
from csms.settings import NodeSettings
from csms.store.postgres import PostgresStores
from simulators.station import Station, StationConfig
from tests.integration.conftest import RegisterCharger, RegisterToken
from tests.timeouts import TIMEOUT

VERSIONS = ["1.6", "2.0.1"]

TARIFF: dict[str, Any] = {
    "currency": "EUR",
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": "1.00", "vat": "20", "step_size": 0},
                {"type": "ENERGY", "price": "0.25", "vat": "20", "step_size": 1},
            ]
        }
    ],
    "tariff_alt_text": [{"language": "en", "text": "1.20 EUR start + 0.30 EUR/kWh"}],
}
# 10 kWh (meter 1,000 -> 11,000 Wh): start 1.00 + VAT 0.20 = 1.20; energy 10 x 0.25 = 2.50 +
# VAT 0.50 = 3.00; total 3.50 excl. VAT, 0.70 VAT, 4.20 incl. VAT.
EXPECTED_EXCL, EXPECTED_VAT, EXPECTED_INCL = Decimal("3.50"), Decimal("0.70"), Decimal("4.20")


@pytest.fixture
async def pricing_node(database_url: str) -> AsyncIterator[Node]:
    settings = NodeSettings(
        host="127.0.0.1",
        port=0,
        node_id=f"price-{secrets.token_hex(3)}",
        heartbeat_interval=60,
        cost_update_interval=0,  # a running cost at every meter value
        tariff_push_interval=0.2,
        tariff_push_timeout=TIMEOUT,
    )
    async with running_node(settings, database_url) as node:
        yield node


@pytest.fixture
async def services(pool: asyncpg.Pool) -> Services:
    return Services(PostgresStores(pool), clock=utc_now)


async def priced_charger(services: Services, charge_point_id: str) -> str:
    tariff_id = f"T-{secrets.token_hex(4)}"
    await services.tariffs.add(tariff_id, TARIFF, description="test", created_by="test")
    await services.tariffs.publish(tariff_id, published_by="test")
    await services.tariffs.assign(Scope.CHARGER, charge_point_id, tariff_id, created_by="test")
    return tariff_id


async def eventually(check: Any, what: str) -> Any:
    async with asyncio.timeout(TIMEOUT):
        while True:
            found = await check()
            if found:
                return found
            await asyncio.sleep(0.05)
    raise AssertionError(what)


def station(node: Node, cp: str, password: str | None, version: str, display: bool) -> Station:
    return Station(
        StationConfig(
            url=f"ws://127.0.0.1:{node.port}/ocpp",
            charge_point_id=cp,
            version=version,
            password=password,
            meter_interval=0.05,
            display_cost_and_price=display,
        )
    )


async def charge(st: Station, tag: str) -> tuple[Any, dict[str, Any] | None]:
    await st.status_notification(1, "Preparing")
    tx = await st.start_transaction(1, tag, 1000)
    await st.status_notification(1, "Charging")
    await st.send_meter_values(tx, 4000)
    await st.send_meter_values(tx, 8000)
    stop = await st.stop_transaction(tx, "Local", meter_stop_wh=11_000)
    await st.status_notification(1, "Available")
    return tx, stop


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_priced_session_shows_the_driver_its_price_and_cost(
    pricing_node: Node,
    pool: asyncpg.Pool,
    services: Services,
    register_charger: RegisterCharger,
    register_token: RegisterToken,
    version: str,
) -> None:
    charger = await register_charger()
    cp = charger.charge_point_id
    tariff_id = await priced_charger(services, cp)
    tag = await register_token()
    st = station(pricing_node, cp, charger.password, version, display=True)
    await st.connect()
    await st.boot()

    async def pushed() -> Any:
        pushes = await services.tariffs.pushes(charge_point_id=cp)
        return pushes and pushes[0].status == "accepted" and pushes[0]

    push = await eventually(pushed, "the price display was never pushed")
    assert (push.tariff_id, push.tariff_version) == (tariff_id, 1)

    await st.authorize(tag)
    if version == "1.6":  # SetUserPrice follows Authorize.conf
        await eventually(_async(lambda: st.display.price_text), "no SetUserPrice")
    assert st.display.price_text == "1.20 EUR start + 0.30 EUR/kWh"  # I01

    tx, _ = await charge(st, tag)
    final = await st.display.wait_final_cost(tx.transaction_id, TIMEOUT)
    assert final == EXPECTED_INCL  # I03 / FinalCost
    shown = st.display.cost(tx.transaction_id)
    assert shown is not None and shown.updates >= 2  # I02 / RunningCost at each meter value
    assert shown.running_cost is not None and shown.running_cost <= EXPECTED_INCL
    await st.disconnect()

    row = await pool.fetchrow(
        """SELECT tariff_id, tariff_version, currency, cost_excl_vat, cost_vat, cost_incl_vat,
                  cost_breakdown, cost_final
           FROM transactions WHERE charge_point_id = $1""",
        cp,
    )
    assert (row["tariff_id"], row["tariff_version"], row["currency"]) == (tariff_id, 1, "EUR")
    assert (row["cost_excl_vat"], row["cost_vat"], row["cost_incl_vat"]) == (
        EXPECTED_EXCL,
        EXPECTED_VAT,
        EXPECTED_INCL,
    )
    assert row["cost_final"] is True
    lines = {line["dimension"]: line for line in row["cost_breakdown"]["lines"]}
    assert Decimal(lines["FLAT"]["incl_vat"]) == Decimal("1.20")
    assert Decimal(lines["ENERGY"]["volume"]) == Decimal("10")
    assert Decimal(lines["ENERGY"]["incl_vat"]) == Decimal("3.00")


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_charger_without_a_display_is_shown_nothing_and_still_priced(
    pricing_node: Node,
    pool: asyncpg.Pool,
    services: Services,
    register_charger: RegisterCharger,
    register_token: RegisterToken,
    version: str,
) -> None:
    charger = await register_charger()
    cp = charger.charge_point_id
    await priced_charger(services, cp)
    tag = await register_token()
    st = station(pricing_node, cp, charger.password, version, display=False)
    await st.connect()
    await st.boot()

    async def answered() -> Any:
        pushes = await services.tariffs.pushes(charge_point_id=cp)
        return pushes and pushes[0].status != "pending" and pushes[0]

    push = await eventually(answered, "the push was never tried")
    assert push.status == "not_supported"
    await st.authorize(tag)
    tx, _ = await charge(st, tag)
    await asyncio.sleep(0.2)  # a DataTransfer would have arrived by now
    assert st.display.price_text is None
    assert st.display.cost(tx.transaction_id) is None
    await st.disconnect()
    cost = await pool.fetchval(
        "SELECT cost_incl_vat FROM transactions WHERE charge_point_id = $1", cp
    )
    assert cost == EXPECTED_INCL


def _async(fn: Any) -> Any:
    async def check() -> Any:
        return fn()

    return check
