"""The cost of sessions through REST: a session priced end to end by a node (a simulator
charges 10 kWh under a tariff made, published and assigned through the API), stored costs
read back line by line, and what a driver may see (their own sessions' costs and the tariff
that applies to their own tokens: anything else answers 404 like a missing one)."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from csms.domain.cost import CostBreakdown, CostLine
from csms.domain.tariffs import Dimension
from csms.domain.transactions import NewSession
from csms.node.server import Node
from csms.store import transactions
from simulators.station import Station, StationConfig
from tests.integration.backoffice.conftest import Account, NewAccount, register_charger
from tests.integration.backoffice.pricing import (
    assign,
    create_tariff,
    create_token,
    energy_tariff,
)
from tests.timeouts import TIMEOUT


async def eventually(client: httpx.AsyncClient, url: str, headers: Any, check: Any) -> Any:
    """The JSON of ``url`` once ``check`` holds for it."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            body = (await client.get(url, headers=headers)).json()
            if check(body):
                return body
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a_session_priced_by_the_node_shows_its_cost(
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
    new_account: NewAccount,
    cluster_node: Node,
    version: str,
) -> None:
    operator = accounts["operator"]
    driver, other = await new_account("driver"), await new_account("driver")
    charge_point_id, password = await register_charger(client, operator)
    tariff = await create_tariff(client, operator)
    await assign(client, operator, "charger", charge_point_id, tariff)
    tag = await create_token(client, operator, user_id=driver.user_id)
    pushes_url = f"/api/v1/tariffs/{tariff}/pushes"
    (push,) = (await client.get(pushes_url, headers=operator.headers)).json()["items"]
    assert (push["status"], push["stored_status"]) == ("offline", "pending")

    # the driver sees the price before charging
    applies = await client.get(
        f"/api/v1/chargers/{charge_point_id}/tariff",
        params={"id_token": tag, "language": "en"},
        headers=driver.headers,
    )
    assert applies.status_code == 200, applies.text
    assert applies.json()["applicable"]["display_text"] == "1.20 EUR start + 0.30 EUR/kWh"
    assert applies.json()["time_zone"] == "UTC" and applies.json()["site"] is None

    sim = Station(
        StationConfig(
            url=f"ws://127.0.0.1:{cluster_node.port}/ocpp",
            charge_point_id=charge_point_id,
            version=version,
            password=password,
            call_timeout=TIMEOUT,
            display_cost_and_price=True,
        )
    )
    await sim.connect()
    try:
        assert (await sim.boot())["status"] == "Accepted"
        # the node holding the charger pushed its price display when it connected
        pushed = await eventually(
            client,
            pushes_url,
            operator.headers,
            lambda body: body["items"] and body["items"][0]["status"] == "accepted",
        )
        assert pushed["items"][0]["connected"] is True
        await sim.status_notification(1, "Preparing")
        tx = await sim.start_transaction(1, tag, 1000)
        await sim.status_notification(1, "Charging")
        await sim.send_meter_values(tx, 4000)
        await sim.send_meter_values(tx, 8000)
        await sim.stop_transaction(tx, "Local", meter_stop_wh=11_000)
        await sim.status_notification(1, "Available")
    finally:
        await sim.disconnect()

    listed = await client.get(
        "/api/v1/transactions", params={"charge_point_id": charge_point_id}, headers=driver.headers
    )
    (session,) = listed.json()["items"]
    assert (session["tariff_id"], session["tariff_version"], session["currency"]) == (
        tariff,
        1,
        "EUR",
    )
    assert (session["cost_excl_vat"], session["cost_vat"], session["cost_incl_vat"]) == (
        "3.50",
        "0.70",
        "4.20",
    )
    assert session["cost_final"] is True
    detail = await client.get(f"/api/v1/transactions/{session['id']}", headers=driver.headers)
    assert detail.json()["cost_incl_vat"] == "4.20"

    cost_url = f"/api/v1/transactions/{session['id']}/cost"
    cost = await client.get(cost_url, headers=driver.headers)
    assert cost.status_code == 200, cost.text
    body = cost.json()
    assert body["id"] == session["id"] and body["final"] is True
    assert (body["tariff_id"], body["tariff_version"], body["currency"]) == (tariff, 1, "EUR")
    assert (body["total_excl_vat"], body["total_vat"], body["total_incl_vat"]) == (
        "3.50",
        "0.70",
        "4.20",
    )
    assert body["capped"] is None and body["computed_at"] is not None
    lines = {line["dimension"]: line for line in body["lines"]}
    assert set(lines) == {"FLAT", "ENERGY"}
    energy = lines["ENERGY"]
    assert Decimal(energy["volume"]) == Decimal(energy["billed_volume"]) == Decimal(10)
    assert Decimal(energy["unit_price"]) == Decimal("0.25")
    assert Decimal(energy["vat_rate"]) == Decimal(20)
    assert (Decimal(energy["excl_vat"]), Decimal(energy["vat"]), Decimal(energy["incl_vat"])) == (
        Decimal("2.50"),
        Decimal("0.50"),
        Decimal("3.00"),
    )
    assert energy["element"] == 0 and energy["started_at"] <= energy["ended_at"]
    assert Decimal(lines["FLAT"]["incl_vat"]) == Decimal("1.20")

    # staff read it; another driver cannot tell it from a missing session
    assert (await client.get(cost_url, headers=accounts["monitor"].headers)).status_code == 200
    hidden = await client.get(cost_url, headers=other.headers)
    assert hidden.status_code == 404
    missing = await client.get("/api/v1/transactions/999999999/cost", headers=other.headers)
    assert hidden.json()["detail"].replace(str(session["id"]), "N") == missing.json()[
        "detail"
    ].replace("999999999", "N")

    # a tariff that priced a session stays
    refused = await client.delete(f"/api/v1/tariffs/{tariff}", headers=operator.headers)
    assert refused.status_code == 409, refused.text
    assert "priced sessions" in refused.json()["detail"]
    assert (
        await client.get(f"/api/v1/tariffs/{tariff}", headers=operator.headers)
    ).status_code == 200


async def _session(pool: asyncpg.Pool, charge_point_id: str, id_token: str) -> int:
    started, _ = await transactions.create_started(
        pool,
        charge_point_id,
        NewSession(
            protocol="ocpp2.0.1",
            start_key=secrets.token_hex(8),
            evse_id=1,
            connector_id=1,
            id_token=id_token,
            id_token_type="ISO14443",
            started_at=datetime(2026, 12, 1, 9, tzinfo=UTC),
            meter_start_wh=0,
            reservation_id=None,
            authorization_status="Accepted",
            parent_id_token=None,
        ),
    )
    return started.id


async def test_stored_costs_running_capped_and_unpriced(
    client: httpx.AsyncClient, accounts: dict[str, Account], pool: asyncpg.Pool
) -> None:
    operator = accounts["operator"]
    monitor = accounts["monitor"].headers
    charge_point_id, _ = await register_charger(client, operator)
    tariff = await create_tariff(client, operator, energy_tariff("0.30"))
    tag = await create_token(client, operator)

    unpriced = await _session(pool, charge_point_id, tag)
    cost = (await client.get(f"/api/v1/transactions/{unpriced}/cost", headers=monitor)).json()
    assert cost["tariff_id"] is None and cost["lines"] == [] and cost["final"] is False
    assert cost["total_incl_vat"] is None and cost["computed_at"] is None
    listed = (
        await client.get(
            "/api/v1/transactions", params={"charge_point_id": charge_point_id}, headers=monitor
        )
    ).json()["items"]
    assert listed[0]["tariff_id"] is None and listed[0]["cost_incl_vat"] is None

    running = await _session(pool, charge_point_id, tag)
    await transactions.set_tariff(pool, running, tariff_id=tariff, tariff_version=1, currency="EUR")
    started = datetime(2026, 12, 1, 9, tzinfo=UTC)
    breakdown = CostBreakdown(
        currency="EUR",
        lines=(
            CostLine(
                dimension=Dimension.ENERGY,
                element=0,
                volume=Decimal("1.5"),
                billed_volume=Decimal("1.5"),
                unit_price=Decimal("0.30"),
                excl_vat=Decimal("0.45"),
                vat_rate=None,
                vat=Decimal("0.00"),
                incl_vat=Decimal("0.45"),
                started_at=started,
                ended_at=started + timedelta(minutes=20),
            ),
        ),
        total_excl_vat=Decimal("0.50"),
        total_vat=Decimal("0.00"),
        total_incl_vat=Decimal("0.50"),
        capped="min_price",
    )
    computed_at = started + timedelta(minutes=20)
    await transactions.store_cost(
        pool,
        running,
        excl_vat=breakdown.total_excl_vat,
        vat=breakdown.total_vat,
        incl_vat=breakdown.total_incl_vat,
        breakdown=breakdown.to_json(),
        at=computed_at,
        final=False,
    )
    cost = (await client.get(f"/api/v1/transactions/{running}/cost", headers=monitor)).json()
    assert cost["final"] is False and cost["capped"] == "min_price"
    assert cost["total_incl_vat"] == "0.50"
    assert datetime.fromisoformat(cost["computed_at"]) == computed_at
    (line,) = cost["lines"]
    assert line == {
        "dimension": "ENERGY",
        "element": 0,
        "volume": "1.5",
        "billed_volume": "1.5",
        "unit_price": "0.30",
        "vat_rate": None,
        "excl_vat": "0.45",
        "vat": "0.00",
        "incl_vat": "0.45",
        "started_at": "2026-12-01T09:00:00Z",
        "ended_at": "2026-12-01T09:20:00Z",
    }
    status = await client.get(f"/api/v1/chargers/{charge_point_id}/status", headers=monitor)
    active = {t["id"]: t for t in status.json()["active_transactions"]}
    assert active[running]["cost_incl_vat"] == "0.50" and active[running]["cost_final"] is False
    assert active[unpriced]["cost_incl_vat"] is None


async def test_a_driver_sees_only_the_tariff_of_their_own_tokens(
    client: httpx.AsyncClient, accounts: dict[str, Account], new_account: NewAccount
) -> None:
    operator = accounts["operator"]
    driver, other = await new_account("driver"), await new_account("driver")
    charge_point_id, _ = await register_charger(client, operator)
    tariff = await create_tariff(client, operator)
    await assign(client, operator, "charger", charge_point_id, tariff)
    mine = await create_token(client, operator, user_id=driver.user_id)
    theirs = await create_token(client, operator, user_id=other.user_id)
    unbound = await create_token(client, operator)
    url = f"/api/v1/chargers/{charge_point_id}/tariff"

    own = await client.get(url, params={"id_token": mine.lower()}, headers=driver.headers)
    assert own.status_code == 200 and own.json()["applicable"]["tariff_id"] == tariff
    missing = await client.get(url, params={"id_token": "NO-SUCH-TAG"}, headers=driver.headers)
    assert missing.status_code == 404
    for token in (theirs, unbound):
        hidden = await client.get(url, params={"id_token": token}, headers=driver.headers)
        assert hidden.status_code == 404
        assert hidden.json()["detail"] == f"id token {token} not found"
    without = await client.get(url, headers=driver.headers)
    assert without.status_code == 422 and without.json()["detail"].startswith("id_token:")
    unknown_charger = await client.get(
        "/api/v1/chargers/CP-NOT-THERE/tariff", params={"id_token": mine}, headers=driver.headers
    )
    assert unknown_charger.status_code == 404

    # staff may ask for any token, or none
    for params in ({"id_token": theirs}, {}, {"id_token": "NOT-REGISTERED"}):
        staff = await client.get(url, params=params, headers=accounts["monitor"].headers)
        assert staff.status_code == 200 and staff.json()["applicable"]["tariff_id"] == tariff

    # nothing else of tariffs and sites
    for path in (
        "/api/v1/tariffs",
        f"/api/v1/tariffs/{tariff}",
        f"/api/v1/tariffs/{tariff}/versions",
        f"/api/v1/tariffs/{tariff}/pushes",
        "/api/v1/tariff-assignments",
        "/api/v1/sites",
        f"/api/v1/chargers/{charge_point_id}/site",
    ):
        assert (await client.get(path, headers=driver.headers)).status_code == 403, path
