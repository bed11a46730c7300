"""The driver's app through REST (issue 13: "a driver with an account starts a session from
an app, watches it live with the running cost, and after it ends sees the settled charge
and their balance").

A driver (real JWT) starts a session on a simulator connected to the cluster node: the
backoffice routes 1.6 RemoteStartTransaction (5.11) / 2.0.1 RequestStartTransaction (F01/
F02, C05 authorization of a CSMS-initiated transaction) to the owning node; they stop it
(1.6 RemoteStopTransaction 5.12, 2.0.1 F03); a real worker settles it from their prepaid
wallet. A blocked account or a wallet below its minimum is refused with 409 and why;
another driver's token or session answers 404 like one that does not exist."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from csms.node.server import Node
from csms.worker.runtime import Worker
from tests.integration.backoffice.billing_helpers import open_account, topup
from tests.integration.backoffice.conftest import (
    Account,
    NewAccount,
    register_charger,
    station,
)
from tests.integration.backoffice.pricing import assign, create_tariff, create_token
from tests.timeouts import TIMEOUT

ME = "/api/v1/me"


async def until(
    client: httpx.AsyncClient, url: str, headers: Any, check: Callable[[Any], bool]
) -> Any:
    """The JSON of ``url`` once ``check`` holds for it."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            body = (await client.get(url, headers=headers)).json()
            if check(body):
                return body
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a_driver_starts_watches_and_stops_a_session_and_pays_from_the_wallet(
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
    new_account: NewAccount,
    cluster_node: Node,
    worker: Worker,
    pool: asyncpg.Pool,
    version: str,
) -> None:
    operator = accounts["operator"]
    driver, other = await new_account("driver"), await new_account("driver")
    me = driver.headers
    charge_point_id, password = await register_charger(client, operator)
    await assign(
        client, operator, "charger", charge_point_id, await create_tariff(client, operator)
    )
    tag = await create_token(client, operator, user_id=driver.user_id)
    others_tag = await create_token(client, operator, user_id=other.user_id)
    account = await open_account(
        client, operator, user_id=driver.user_id, hold_amount="5.00", name="Ada"
    )
    where = {"connector_id": 1} if version == "1.6" else {"evse_id": 1}
    start = {"charge_point_id": charge_point_id, "id_token": tag, **where}

    mine = await client.get(f"{ME}/account", headers=me)
    assert mine.status_code == 200 and mine.json()["id"] == account["id"]
    assert mine.json()["standing"]["reason"] == "no_credit"
    assert (await client.get(f"{ME}/account", headers=other.headers)).status_code == 404

    sim = station(cluster_node, charge_point_id, password, version)
    await sim.connect()
    try:
        assert (await sim.boot())["status"] == "Accepted"

        # an empty wallet may not start; neither another driver's token nor a missing charger
        broke = await client.post(f"{ME}/sessions", json=start, headers=me)
        assert broke.status_code == 409, broke.text
        assert broke.json()["reason"] == "no_credit"
        assert (broke.json()["available"], broke.json()["minimum"]) == ("0", "5.00")
        assert broke.json()["detail"] == (
            f"account {account['id']} has 0 EUR available; a session needs 5.00 EUR "
            "(its hold amount): top up first"
        )
        await topup(pool, account["id"], "30.00")
        for body, status, detail in (
            ({**start, "id_token": others_tag}, 404, f"id token {others_tag} not found"),
            ({**start, "id_token": "NO-SUCH-TAG"}, 404, "id token NO-SUCH-TAG not found"),
            ({**start, "charge_point_id": "NO-SUCH-CP"}, 404, "charger NO-SUCH-CP not found"),
            ({**start, "connector_id": 0}, 422, "connector_id"),
            ({"charge_point_id": charge_point_id}, 422, "id_token: Field required"),
        ):
            refused = await client.post(f"{ME}/sessions", json=body, headers=me)
            assert refused.status_code == status, (body, refused.text)
            assert detail in refused.json()["detail"], refused.json()
        monitor = await client.post(
            f"{ME}/sessions", json=start, headers=accounts["monitor"].headers
        )
        assert monitor.status_code == 403

        started = await client.post(f"{ME}/sessions", json=start, headers=me)
        assert started.status_code == 202, started.text
        assert started.json()["status"] == "Accepted" and started.json()["id_token"] == tag

        # live: the session charges, with its running cost and the hold taken
        running = await until(
            client,
            f"{ME}/sessions",
            me,
            lambda b: b["items"] and b["items"][0]["cost_incl_vat"] is not None,
        )
        (session,) = running["items"]
        assert session["active"] is True and session["settlement"] == "charging"
        assert session["id_token"] == tag and session["currency"] == "EUR"
        assert session["charge"] is None
        if version == "2.0.1":
            assert session["remote_start_id"] == started.json()["remote_start_id"]
        await until(client, f"{ME}/account", me, lambda b: b["balances"]["held"] == "5.00")
        pk = session["id"]

        # another driver cannot stop it, nor tell it from a session that does not exist
        foreign = await client.post(f"{ME}/sessions/{pk}/stop", headers=other.headers)
        absent = await client.post(f"{ME}/sessions/987654321/stop", headers=other.headers)
        assert foreign.status_code == absent.status_code == 404
        assert foreign.json()["detail"] == f"session {pk} not found"
        assert (await client.get(f"{ME}/sessions", headers=other.headers)).json()["items"] == []

        stopped = await client.post(f"{ME}/sessions/{pk}/stop", headers=me)
        assert stopped.status_code == 202, stopped.text
        assert stopped.json() == {"transaction_pk": pk, "status": "Accepted"}
        settled = await until(
            client, f"{ME}/sessions", me, lambda b: b["items"][0]["settlement"] == "charged"
        )
    finally:
        await sim.disconnect()

    (session,) = settled["items"]
    assert session["active"] is False and session["cost_final"] is True
    charge = session["charge"]
    assert charge["incl_vat"] == session["cost_incl_vat"] and charge["account_id"] == account["id"]
    assert Decimal(charge["incl_vat"]) >= Decimal("1.20")  # 1.00 start + VAT at least
    balance = (await client.get(f"{ME}/account", headers=me)).json()["balances"]
    assert Decimal(balance["wallet"]) == Decimal("30.00") - Decimal(charge["incl_vat"])
    assert balance["held"] == "0.00" or Decimal(balance["held"]) == 0
    ended = await client.post(f"{ME}/sessions/{pk}/stop", headers=me)
    assert ended.status_code == 409 and ended.json()["reason"] == "session_ended"
    finished = await client.get(f"{ME}/sessions", params={"active": "false"}, headers=me)
    assert [s["id"] for s in finished.json()["items"]] == [pk]


async def test_a_blocked_account_may_not_start(
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
    new_account: NewAccount,
    pool: asyncpg.Pool,
) -> None:
    operator = accounts["operator"]
    driver = await new_account("driver")
    charge_point_id, _ = await register_charger(client, operator)
    tag = await create_token(client, operator, user_id=driver.user_id)
    account = await open_account(client, operator, user_id=driver.user_id)
    await topup(pool, account["id"], "50.00")
    blocked = await client.patch(
        f"/api/v1/accounts/{account['id']}",
        json={"status": "blocked", "status_reason": "card declined"},
        headers=operator.headers,
    )
    assert blocked.status_code == 200
    start = {"charge_point_id": charge_point_id, "id_token": tag, "connector_id": 1}
    refused = await client.post(f"{ME}/sessions", json=start, headers=driver.headers)
    assert refused.status_code == 409
    assert refused.json()["reason"] == "account_blocked"
    assert refused.json()["detail"] == f"account {account['id']} is blocked"
    # a blocked id token is refused for itself
    await client.patch(
        f"/api/v1/accounts/{account['id']}", json={"status": "open"}, headers=operator.headers
    )
    await client.patch(
        f"/api/v1/id-tokens/{tag}", json={"status": "Blocked"}, headers=operator.headers
    )
    token_refused = await client.post(f"{ME}/sessions", json=start, headers=driver.headers)
    assert token_refused.status_code == 409
    assert (token_refused.json()["reason"], token_refused.json()["token_status"]) == (
        "token_not_accepted",
        "Blocked",
    )
    # an open account and token, but the charger is not connected
    await client.patch(
        f"/api/v1/id-tokens/{tag}", json={"status": "Accepted"}, headers=operator.headers
    )
    offline = await client.post(f"{ME}/sessions", json=start, headers=driver.headers)
    assert offline.status_code == 409
    assert offline.json()["type"] == "urn:csms:problem:charger-not-connected"
