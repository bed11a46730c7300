"""A priced session survives a node failover, and replays never change its cost (issue 12).

Two nodes of one cluster (Redis, PostgreSQL); a simulator charges on n1, n1 drains in the
middle of the session, the charger reconnects to n2 and finishes there. The final cost is
the hand computation of the whole session, the same as without a failover; the charger's
replay of its last message (its answer lost) changes nothing. Both OCPP versions.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis

from csms.cluster.events import TRANSACTION_COST, Event, read_events
from csms.cluster.keys import Keys
from csms.domain.clock import utc_now
from csms.domain.sites import Scope
from csms.services import Services
from csms.store.postgres import PostgresStores
from simulators.station import Station, StationConfig
from tests.integration.cluster.nodes import StartNode
from tests.integration.conftest import RegisterCharger, RegisterToken
from tests.timeouts import TIMEOUT

# 0.40 EUR/kWh excl., 25 % VAT: 0.50 incl. 12 kWh (2,000 -> 14,000 Wh): 4.80 + 1.20 = 6.00
TARIFF: dict[str, Any] = {
    "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.40", "vat": "25", "step_size": 1}]}
    ],
}
EXPECTED = (Decimal("4.80"), Decimal("1.20"), Decimal("6.00"))
FAST = {"cost_update_interval": 0, "tariff_push_interval": 0.2}


def station(port: int, cp: str, password: str | None, version: str) -> Station:
    return Station(
        StationConfig(
            url=f"ws://127.0.0.1:{port}/ocpp",
            charge_point_id=cp,
            version=version,
            password=password,
            meter_interval=0.05,
            display_cost_and_price=True,
        )
    )


async def cost_row(pool: asyncpg.Pool, cp: str) -> asyncpg.Record:
    row = await pool.fetchrow(
        """SELECT cost_excl_vat, cost_vat, cost_incl_vat, cost_final, cost_breakdown, cost_at
           FROM transactions WHERE charge_point_id = $1""",
        cp,
    )
    assert row is not None
    return row


async def cost_events(redis: Redis, keys: Keys, cp: str) -> list[Event]:
    found: list[Event] = []

    async def follow() -> None:
        async for event in read_events(redis, keys, last_id="0", block_ms=200):
            if event.charge_point_id == cp and event.type == TRANSACTION_COST:
                found.append(event)
                if event.data["final"]:
                    return

    await asyncio.wait_for(follow(), TIMEOUT)
    return found


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_failover_mid_session_keeps_the_total_and_replays_change_nothing(
    start_node: StartNode,
    pool: asyncpg.Pool,
    register_charger: RegisterCharger,
    register_token: RegisterToken,
    redis: Redis,
    prefix: str,
    version: str,
) -> None:
    services = Services(PostgresStores(pool), clock=utc_now)
    charger = await register_charger()
    cp = charger.charge_point_id
    tariff_id = f"F-{secrets.token_hex(4)}"
    await services.tariffs.add(tariff_id, TARIFF, created_by="test")
    await services.tariffs.publish(tariff_id, published_by="test")
    await services.tariffs.assign(Scope.CHARGER, cp, tariff_id, created_by="test")
    tag = await register_token()

    async with start_node("n2", **FAST) as n2:
        async with start_node("n1", **FAST) as n1:
            st = station(n1.port, cp, charger.password, version)
            await st.connect()
            await st.boot()
            await st.authorize(tag)
            tx = await st.start_transaction(1, tag, 2000)
            await st.status_notification(1, "Charging")
            await st.send_meter_values(tx, 5000)
            await st.send_meter_values(tx, 8000)
        # n1 drained: the charger is told to go away (1001) and comes back to n2
        st.config = dataclasses.replace(st.config, url=f"ws://127.0.0.1:{n2.port}/ocpp")
        await st.reconnect()
        await st.send_meter_values(tx, 11_000)
        await st.stop_transaction(tx, "Local", meter_stop_wh=14_000)
        final = await st.display.wait_final_cost(tx.transaction_id, TIMEOUT)
        assert final == Decimal("6.00")
        row = await cost_row(pool, cp)
        assert (row["cost_excl_vat"], row["cost_vat"], row["cost_incl_vat"]) == EXPECTED
        assert row["cost_final"] is True

        await st.replay_last_transaction_message()  # the answer was lost: sent again
        await asyncio.sleep(0.3)  # what a replay would change, it has changed by now
        again = await cost_row(pool, cp)
        assert (again["cost_incl_vat"], again["cost_breakdown"], again["cost_at"]) == (
            row["cost_incl_vat"],
            row["cost_breakdown"],
            row["cost_at"],
        )
        await st.disconnect()

    # the live stream carried the running costs (from both nodes) and the final one
    costs = await cost_events(redis, Keys(prefix), cp)
    assert any(not e.data["final"] for e in costs)
    finals = [e for e in costs if e.data["final"]]
    assert [(e.data["total_incl_vat"], e.data["currency"]) for e in finals] == [("6.00", "EUR")]
    assert {e.node_id for e in costs} == {"n1", "n2"}
