"""Accounts and wallet money for the billing tests: an account opened through the API,
and top-ups and refunds posted to the ledger as the payments API posts them."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

import asyncpg
import httpx

from csms.domain import ledger
from csms.store import billing
from tests.integration.backoffice.conftest import Account

ACCOUNTS = "/api/v1/accounts"


async def open_account(
    client: httpx.AsyncClient, operator: Account, **fields: Any
) -> dict[str, Any]:
    body = {"kind": "prepaid", "currency": "EUR", "name": f"Driver {secrets.token_hex(3)}"}
    body.update(fields)
    response = await client.post(ACCOUNTS, json=body, headers=operator.headers)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"{ACCOUNTS}/{response.json()['id']}"
    created: dict[str, Any] = response.json()
    return created


async def topup(pool: asyncpg.Pool, account_id: int, amount: str, currency: str = "EUR") -> None:
    """Money into a wallet as a provider's top-up posts it (the payments API does this)."""
    entry = ledger.Entry(
        ledger.TOPUP,
        f"test-topup:{account_id}:{secrets.token_hex(4)}",
        (
            ledger.debit(ledger.clearing("manual"), currency, Decimal(amount)),
            ledger.credit(ledger.wallet(account_id), currency, Decimal(amount)),
        ),
        account_id=account_id,
        memo="top-up",
    )
    assert await billing.post_one(pool, entry) is not None


async def refund(pool: asyncpg.Pool, account_id: int, amount: str) -> None:
    entry = ledger.Entry(
        ledger.REFUND,
        f"test-refund:{account_id}:{secrets.token_hex(4)}",
        (
            ledger.debit(ledger.wallet(account_id), "EUR", Decimal(amount)),
            ledger.credit(ledger.clearing("manual"), "EUR", Decimal(amount)),
        ),
        account_id=account_id,
        memo="refund",
    )
    assert await billing.post_one(pool, entry) is not None
