"""Drivers see their own tokens and sessions and nothing else (BOLA): another driver's
object answers exactly like one that does not exist, on every route with an id."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import httpx
import pytest

from backoffice.permissions import route_table
from csms.domain.transactions import NewSession, start_key
from csms.store import billing, chargers, id_tokens, payments, token_owners, transactions
from tests.integration.backoffice.conftest import Account, Backoffice, NewAccount
from tests.integration.billing.invoice_helpers import invoice_of_user


@dataclass(frozen=True)
class Owned:
    account: Account
    id_token: str
    transaction_pk: int


@dataclass(frozen=True)
class World:
    charge_point_id: str
    alice: Owned
    bob: Owned
    bob_invoice_id: int  # an invoice of Bob's billing account
    bob_account_id: int
    bob_payment_id: int


async def _driver_with_session(
    pool: asyncpg.Pool, new_account: NewAccount, charge_point_id: str, connector_id: int
) -> Owned:
    account = await new_account("driver")
    tag = f"TAG-{secrets.token_hex(4)}"
    await id_tokens.add_id_token(pool, tag)
    await token_owners.set_owner(pool, tag.lower(), account.user_id)  # case insensitive
    started_at = datetime.now(UTC)
    tx, _ = await transactions.create_started(
        pool,
        charge_point_id,
        NewSession(
            protocol="ocpp1.6",
            start_key=start_key(connector_id, tag, started_at, 0),
            evse_id=0,
            connector_id=connector_id,
            id_token=tag,
            id_token_type="Central",
            started_at=started_at,
            meter_start_wh=0,
            reservation_id=None,
            authorization_status="Accepted",
            parent_id_token=None,
        ),
    )
    return Owned(account, tag, tx.id)


@pytest.fixture(scope="module")
async def world(pool: asyncpg.Pool, new_account: NewAccount) -> World:
    charge_point_id = f"ISO-{secrets.token_hex(4)}"
    await chargers.add_charger(pool, charge_point_id, password_hash=None)
    alice = await _driver_with_session(pool, new_account, charge_point_id, 1)
    bob = await _driver_with_session(pool, new_account, charge_point_id, 2)
    invoice_id = await invoice_of_user(pool, bob.account.user_id)
    account = await billing.account_of_user(pool, bob.account.user_id)
    assert account is not None
    payment, _ = await payments.add_payment(
        pool,
        account_id=account.id,
        provider="manual",
        kind="topup",
        amount=Decimal("5.00"),
        currency="EUR",
        idempotency_key=f"iso:{secrets.token_hex(4)}",
    )
    return World(charge_point_id, alice, bob, invoice_id, account.id, payment.id)


async def test_driver_lists_only_their_own(client: httpx.AsyncClient, world: World) -> None:
    headers = world.alice.account.headers
    tokens = (await client.get("/api/v1/id-tokens", headers=headers)).json()["items"]
    assert [t["id_token"] for t in tokens] == [world.alice.id_token]
    assert tokens[0]["user_id"] == world.alice.account.user_id
    sessions = (await client.get("/api/v1/transactions", headers=headers)).json()["items"]
    assert [s["id"] for s in sessions] == [world.alice.transaction_pk]
    for params in (
        {"id_token": world.bob.id_token},
        {"user_id": world.bob.account.user_id},
        {"charge_point_id": world.charge_point_id, "id_token": world.bob.id_token},
    ):
        response = await client.get("/api/v1/transactions", params=params, headers=headers)
        assert response.status_code == 200 and response.json()["items"] == [], params
    mine = await client.get(
        "/api/v1/transactions", params={"charge_point_id": world.charge_point_id}, headers=headers
    )
    assert [s["id"] for s in mine.json()["items"]] == [world.alice.transaction_pk]


async def test_driver_reads_their_own_objects(client: httpx.AsyncClient, world: World) -> None:
    headers = world.alice.account.headers
    token = await client.get(f"/api/v1/id-tokens/{world.alice.id_token.lower()}", headers=headers)
    assert token.status_code == 200 and token.json()["id_token"] == world.alice.id_token
    session = await client.get(
        f"/api/v1/transactions/{world.alice.transaction_pk}", headers=headers
    )
    assert session.status_code == 200 and session.json()["id_token"] == world.alice.id_token


def _existing(world: World) -> dict[str, str]:
    """Ids of objects that exist but are not Alice's."""
    return {
        "charge_point_id": world.charge_point_id,
        "user_id": str(world.bob.account.user_id),
        "id_token": world.bob.id_token,
        "transaction_pk": str(world.bob.transaction_pk),
        "command": "remote_start",
        "invoice_id": str(world.bob_invoice_id),
        "account_id": str(world.bob_account_id),
        "payment_id": str(world.bob_payment_id),
        **NOT_A_DRIVERS,
    }


def _missing() -> dict[str, str]:
    return {
        "charge_point_id": "ISO-MISSING",
        "user_id": "987654321",
        "id_token": "TAG-MISSING",
        "transaction_pk": "987654321",
        "command": "remote_start",
        "invoice_id": "987654321",
        "account_id": "987654321",
        "payment_id": "987654321",
        **NOT_A_DRIVERS,
    }


# tariffs, sites, assignments and accounts are staff's: a driver is refused (403) either way
NOT_A_DRIVERS = {
    "tariff_id": "ISO-TARIFF",
    "version": "1",
    "site_id": "ISO-SITE",
    "scope": "charger",
    "target": "ISO-TARGET",
    "profile_id": "ISO-PROFILE",
    "apply_id": "1",
    "log_id": "1",
    "artifact_id": "1",  # firmware is staff's too
    "campaign_id": "1",
    "cdr_id": "987654322",  # CDRs are staff's too
    "provider": "card",  # the payment webhook: public, the same for everyone
    "serial_number": "abc123",  # certificates on chargers are staff's too
    "alarm_id": "1",  # alarms and their rules are staff's
    "rule_id": "1",
    "webhook_id": "1",  # webhooks are staff's too (main lacked these ids)
    "subscription_id": "1",
    "delivery_id": "1",
}
# routes a driver asks with an id token besides the path: Bob's, or one that does not exist
QUERY = {"/api/v1/chargers/{charge_point_id}/tariff": "id_token"}


async def _answer(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    headers: dict[str, str],
    ids: dict[str, str],
) -> tuple[int, str]:
    url = path.format(**ids)
    body = {} if method in ("POST", "PATCH", "PUT") else None
    params = {QUERY[path]: ids[QUERY[path]]} if path in QUERY else None
    response = await client.request(method, url, headers=headers, json=body, params=params)
    detail = str(response.json().get("detail", "")) if response.content else ""
    instance = str(response.json().get("instance", "")) if response.content else ""
    for value in sorted(ids.values(), key=len, reverse=True):
        detail = detail.replace(value, "<id>")
    assert instance in ("", url), instance
    return response.status_code, detail


async def test_no_route_tells_another_drivers_object_from_a_missing_one(
    client: httpx.AsyncClient, backoffice: Backoffice, world: World
) -> None:
    headers = world.alice.account.headers
    checked = []
    for method, path, _roles in route_table(backoffice.app):
        names = re.findall(r"{(\w+)}", path)
        if not names:
            continue
        existing, missing = _existing(world), _missing()
        foreign = await _answer(client, method, path, headers, existing)
        absent = await _answer(client, method, path, headers, missing)
        assert foreign[0] in (403, 404), (method, path, foreign)
        assert foreign == absent, (method, path, foreign, absent)
        checked.append((method, path))
    assert len(checked) >= 12
    # the id routes a driver may use answer 404 (never 403) for what is not theirs
    assert ("GET", "/api/v1/id-tokens/{id_token}") in checked
    assert ("GET", "/api/v1/transactions/{transaction_pk}") in checked
    assert ("GET", "/api/v1/transactions/{transaction_pk}/cost") in checked
    assert ("GET", "/api/v1/chargers/{charge_point_id}/tariff") in checked
    assert ("POST", "/api/v1/me/sessions/{transaction_pk}/stop") in checked
    assert ("GET", "/api/v1/invoices/{invoice_id}") in checked
    assert ("GET", "/api/v1/invoices/{invoice_id}/pdf") in checked
    assert ("GET", "/api/v1/payments/{payment_id}") in checked


async def test_staff_see_everything(
    client: httpx.AsyncClient, accounts: dict[str, Account], world: World
) -> None:
    headers = accounts["monitor"].headers
    sessions = await client.get(
        "/api/v1/transactions", params={"charge_point_id": world.charge_point_id}, headers=headers
    )
    assert {s["id"] for s in sessions.json()["items"]} == {
        world.alice.transaction_pk,
        world.bob.transaction_pk,
    }
    by_user = await client.get(
        "/api/v1/transactions", params={"user_id": world.bob.account.user_id}, headers=headers
    )
    assert [s["id"] for s in by_user.json()["items"]] == [world.bob.transaction_pk]
    token = await client.get(f"/api/v1/id-tokens/{world.bob.id_token}", headers=headers)
    assert token.json()["user_id"] == world.bob.account.user_id
