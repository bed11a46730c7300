"""Tariffs, sites and id tokens made through the REST API, for the tariff and cost tests."""

from __future__ import annotations

import copy
import secrets
from typing import Any

import httpx

from tests.integration.backoffice.conftest import Account

# 1.00 EUR start + 0.25 EUR/kWh, both +20 % VAT: 10 kWh cost 3.50 + 0.70 VAT = 4.20.
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


def energy_tariff(price: str, currency: str = "EUR") -> dict[str, Any]:
    """One ENERGY price, no VAT."""
    return {
        "currency": currency,
        "elements": [{"price_components": [{"type": "ENERGY", "price": price, "step_size": 1}]}],
    }


def tariff_id() -> str:
    return f"T-{secrets.token_hex(4)}"


async def create_tariff(
    client: httpx.AsyncClient,
    account: Account,
    definition: dict[str, Any] | None = None,
    *,
    publish: bool = True,
) -> str:
    """A tariff made through the API (published unless told not to); its id."""
    new_id = tariff_id()
    body = {"id": new_id, "description": "test", "definition": copy.deepcopy(definition or TARIFF)}
    created = await client.post("/api/v1/tariffs", json=body, headers=account.headers)
    assert created.status_code == 201, created.text
    if publish:
        published = await client.post(f"/api/v1/tariffs/{new_id}/publish", headers=account.headers)
        assert published.status_code == 200, published.text
    return new_id


async def assign(
    client: httpx.AsyncClient, account: Account, scope: str, target: str, tariff: str
) -> dict[str, Any]:
    response = await client.put(
        "/api/v1/tariff-assignments",
        json={"scope": scope, "target": target, "tariff_id": tariff},
        headers=account.headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def unassign(client: httpx.AsyncClient, account: Account, scope: str, target: str) -> None:
    url = "/api/v1/tariff-assignments/" + ("default" if scope == "default" else f"{scope}/{target}")
    response = await client.delete(url, headers=account.headers)
    assert response.status_code == 204, response.text


async def create_site(
    client: httpx.AsyncClient, account: Account, time_zone: str = "Europe/Amsterdam"
) -> str:
    site_id = f"S-{secrets.token_hex(4)}"
    response = await client.post(
        "/api/v1/sites",
        json={"id": site_id, "name": f"Site {site_id}", "time_zone": time_zone},
        headers=account.headers,
    )
    assert response.status_code == 201, response.text
    return site_id


async def create_token(
    client: httpx.AsyncClient,
    account: Account,
    *,
    user_id: int | None = None,
    parent_id_token: str | None = None,
) -> str:
    tag = f"TAG-{secrets.token_hex(4)}"
    body: dict[str, Any] = {"id_token": tag, "user_id": user_id}
    if parent_id_token is not None:
        body["parent_id_token"] = parent_id_token
    response = await client.post("/api/v1/id-tokens", json=body, headers=account.headers)
    assert response.status_code == 201, response.text
    return tag
