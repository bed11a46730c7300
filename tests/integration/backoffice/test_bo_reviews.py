"""The settlement review queue through REST (issue 13: "sessions that cannot be priced go
to a review queue with the reason; an operator resolves them (set energy, waive, price
manually) with an audit record").

Real sessions: a simulator charges on the cluster node over a real WebSocket, a real worker
(PgQueuer) settles them into charges or reviews; the operator, with a real JWT, resolves
each review, and the resolution records their username."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import asyncpg
import httpx

from csms.node.server import Node
from csms.worker.runtime import Worker
from tests.integration.backoffice.billing_helpers import open_account
from tests.integration.backoffice.conftest import Account, every_item, register_charger, station
from tests.integration.backoffice.pricing import assign, create_tariff, create_token
from tests.timeouts import TIMEOUT

REVIEWS = "/api/v1/settlement-reviews"


async def a_session(
    node: Node, charge_point_id: str, password: str, tag: str, stop_wh: int, *, peak: int = 0
) -> None:
    """1.6: start at 1,000 Wh, a reading at ``peak`` (if given), stop at ``stop_wh``."""
    sim = station(node, charge_point_id, password, "1.6")
    await sim.connect()
    try:
        await sim.boot()
        tx = await sim.start_transaction(1, tag, 1000)
        if peak:
            await sim.send_meter_values(tx, peak)
        await sim.stop_transaction(tx, "Local", meter_stop_wh=stop_wh)
    finally:
        await sim.disconnect()


async def session_pk(pool: asyncpg.Pool, tag: str) -> int:
    pk: int = await pool.fetchval("SELECT id FROM transactions WHERE id_token = $1", tag)
    return pk


async def in_review(client: httpx.AsyncClient, headers: Any, pk: int) -> dict[str, Any]:
    async with asyncio.timeout(TIMEOUT):
        while (response := await client.get(f"{REVIEWS}/{pk}", headers=headers)).status_code != 200:
            assert response.status_code == 404, response.text
            await asyncio.sleep(0.05)
    found: dict[str, Any] = response.json()
    return found


async def test_an_operator_resolves_every_kind_of_review(
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
    cluster_node: Node,
    worker: Worker,
    pool: asyncpg.Pool,
) -> None:
    operator = accounts["operator"]
    headers = operator.headers
    charge_point_id, password = await register_charger(client, operator)
    # 1.00 EUR start + 0.25 EUR/kWh, +20 % VAT
    await assign(
        client, operator, "charger", charge_point_id, await create_tariff(client, operator)
    )
    fleet = await open_account(client, operator, kind="postpaid", name="Fleet")
    unbilled, backwards, broken, odd = [await create_token(client, operator) for _ in range(4)]
    for tag in (backwards, broken, odd):
        linked = await client.put(
            f"/api/v1/id-tokens/{tag}/account", json={"account_id": fleet["id"]}, headers=headers
        )
        assert linked.status_code == 200

    # -- no account: link one, retry ------------------------------------------------------
    await a_session(cluster_node, charge_point_id, password, unbilled, stop_wh=3000)
    pk = await session_pk(pool, unbilled)
    review = await in_review(client, headers, pk)
    assert (review["reason"], review["status"], review["account"], review["charge"]) == (
        "no_account",
        "open",
        None,
        None,
    )
    assert review["detail"] == f"id token {unbilled} bills to no account"
    assert review["session"]["id"] == pk and review["session"]["cost_incl_vat"] == "1.80"
    listed = await every_item(client, REVIEWS, accounts["monitor"].headers)
    assert pk in [r["transaction_pk"] for r in listed]
    resolved_only = await client.get(REVIEWS, params={"status": "resolved"}, headers=headers)
    assert pk not in [r["transaction_pk"] for r in resolved_only.json()["items"]]

    no_account = await client.post(
        f"{REVIEWS}/{pk}/price", json={"incl_vat": "1.00"}, headers=headers
    )
    assert no_account.status_code == 422
    assert (
        no_account.json()["detail"] == "the session's id token bills to no account: link one first"
    )
    await client.put(
        f"/api/v1/id-tokens/{unbilled}/account", json={"account_id": fleet["id"]}, headers=headers
    )
    retried = await client.post(f"{REVIEWS}/{pk}/retry", headers=headers)
    assert retried.status_code == 200, retried.text
    body = retried.json()
    assert body["outcome"] == "charged"
    assert (body["charge"]["excl_vat"], body["charge"]["vat"], body["charge"]["incl_vat"]) == (
        "1.50",
        "0.30",
        "1.80",
    )
    assert body["charge"]["vat_lines"] == [{"rate": "20", "excl_vat": "1.50", "vat": "0.30"}]
    assert body["review"]["status"] == "resolved"
    assert (body["review"]["resolution"], body["review"]["resolved_by"]) == (
        "settled",
        operator.username,
    )

    # -- the meter went backwards: the operator sets the energy, priced again ---------------
    await a_session(cluster_node, charge_point_id, password, backwards, stop_wh=3000, peak=5000)
    pk2 = await session_pk(pool, backwards)
    assert (await in_review(client, headers, pk2))["reason"] == "meter_backwards"
    for bad, detail in (
        ({"energy_wh": 4000}, 'energy_wh: Value error, a decimal string such as "12.50"'),
        ({"energy_wh": "-1"}, "energy_wh: must not be negative"),
        ({"energy_wh": "four"}, "energy_wh: Value error, 'four' is not a decimal number"),
        ({}, "body.energy_wh: Field required"),
    ):
        refused = await client.post(f"{REVIEWS}/{pk2}/set-energy", json=bad, headers=headers)
        assert refused.status_code == 422, bad
        assert detail in refused.json()["detail"], refused.json()
    energy = await client.post(
        f"{REVIEWS}/{pk2}/set-energy", json={"energy_wh": "4000"}, headers=headers
    )
    assert energy.status_code == 200, energy.text
    # 1.00 + 4 kWh x 0.25 = 2.00, +20 % = 2.40
    assert energy.json()["charge"]["incl_vat"] == "2.40"
    assert energy.json()["review"]["resolution"] == "energy_set"
    assert energy.json()["review"]["resolution_detail"] == {
        "energy_wh": "4000",
        "was": "meter_backwards",
    }
    assert energy.json()["review"]["resolved_by"] == operator.username

    # -- waived --------------------------------------------------------------------------------
    await a_session(cluster_node, charge_point_id, password, broken, stop_wh=2000, peak=9000)
    pk3 = await session_pk(pool, broken)
    await in_review(client, headers, pk3)
    assert (
        await client.post(f"{REVIEWS}/{pk3}/waive", json={}, headers=headers)
    ).status_code == 422
    waived = await client.post(
        f"{REVIEWS}/{pk3}/waive", json={"note": "meter replaced"}, headers=headers
    )
    assert waived.status_code == 200, waived.text
    assert (waived.json()["outcome"], waived.json()["charge"]) == ("waived", None)
    assert waived.json()["review"]["resolution_detail"] == {
        "note": "meter replaced",
        "was": "meter_backwards",
    }
    again = await client.post(f"{REVIEWS}/{pk3}/waive", json={"note": "x"}, headers=headers)
    assert again.status_code == 422
    assert again.json()["detail"] == f"session {pk3}: its review is resolved already"

    # -- priced by hand ------------------------------------------------------------------------
    await a_session(cluster_node, charge_point_id, password, odd, stop_wh=1500, peak=8000)
    pk4 = await session_pk(pool, odd)
    await in_review(client, headers, pk4)
    for bad, detail in (
        ({"incl_vat": "-1"}, "incl_vat: must be positive"),
        ({"incl_vat": "1.234"}, "incl_vat: at most 2 decimals in EUR"),
        ({"incl_vat": "3.00", "vat_rate": "150"}, "vat_rate: between 0 and 100"),
        ({"incl_vat": 3}, "incl_vat: Value error"),
    ):
        refused = await client.post(f"{REVIEWS}/{pk4}/price", json=bad, headers=headers)
        assert refused.status_code == 422, bad
        assert detail in refused.json()["detail"], refused.json()
    priced = await client.post(
        f"{REVIEWS}/{pk4}/price", json={"incl_vat": "3.00", "vat_rate": "20"}, headers=headers
    )
    assert priced.status_code == 200, priced.text
    charge = priced.json()["charge"]
    assert (charge["excl_vat"], charge["vat"], charge["incl_vat"], charge["source"]) == (
        "2.50",
        "0.50",
        "3.00",
        "review",
    )

    # what the account was charged, on its charges and its ledger
    charges = await client.get(f"/api/v1/accounts/{fleet['id']}/charges", headers=headers)
    by_session = {c["transaction_pk"]: c["incl_vat"] for c in charges.json()["items"]}
    assert by_session == {pk: "1.80", pk2: "2.40", pk4: "3.00"}
    shown = (await client.get(f"/api/v1/accounts/{fleet['id']}", headers=headers)).json()
    assert Decimal(shown["balances"]["receivable"]) == Decimal("7.20")
    entries = (await client.get(f"/api/v1/accounts/{fleet['id']}/ledger", headers=headers)).json()
    created_by = {e["transaction_pk"]: e["created_by"] for e in entries["items"]}
    assert created_by == {pk: operator.username, pk2: operator.username, pk4: operator.username}
    everything = await every_item(client, REVIEWS, headers, {"status": "all"})
    statuses = {r["transaction_pk"]: r["status"] for r in everything}
    assert {statuses[p] for p in (pk, pk2, pk3, pk4)} == {"resolved"}
    assert (await client.get(f"{REVIEWS}/987654321", headers=headers)).status_code == 404
    missing = await client.post(f"{REVIEWS}/987654321/retry", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "session 987654321 is not in review"
