"""Chargers and id tokens through the API, pagination, probes, metrics, error format."""

from __future__ import annotations

import secrets

import asyncpg
import httpx

from csms.passwords import verify_password
from tests.integration.backoffice.conftest import Account, NewAccount, register_charger
from tests.integration.backoffice.test_bo_auth import assert_problem


async def test_health_ready_metrics_need_no_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/health")).json() == {"status": "ok"}
    assert (await client.get("/api/v1/ready")).json() == {
        "status": "ready",
        "postgres": "ok",
        "redis": "ok",
    }
    metrics = await client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'csms_backoffice_requests_total{method="GET",route="/api/v1/health",status="200"}' in (
        metrics.text
    )
    assert "csms_backoffice_request_duration_seconds_bucket" in metrics.text


async def test_openapi_and_docs(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/api/v1/chargers/{charge_point_id}/commands/{command}" in spec["paths"]
    assert "OAuth2PasswordBearer" in spec["components"]["securitySchemes"]
    assert (await client.get("/docs")).status_code == 200


async def test_errors_are_problem_json(
    client: httpx.AsyncClient, accounts: dict[str, Account]
) -> None:
    headers = accounts["admin"].headers
    assert_problem(await client.get("/api/v1/nowhere", headers=headers), 404)
    assert_problem(await client.put("/api/v1/chargers", headers=headers), 405)
    broken = await client.post(
        "/api/v1/chargers",
        content=b"{not json",
        headers={**headers, "content-type": "application/json"},
    )
    assert broken.status_code in (400, 422) and "Traceback" not in broken.text
    assert broken.headers["content-type"] == "application/problem+json"
    invalid = assert_problem(
        await client.post("/api/v1/chargers", json={"charge_point_id": "a/b"}, headers=headers),
        422,
    )
    assert "charge_point_id" in str(invalid["detail"]) and invalid["errors"]
    extra = assert_problem(
        await client.post(
            "/api/v1/chargers", json={"charge_point_id": "OK-1", "colour": "red"}, headers=headers
        ),
        422,
    )
    assert "colour" in str(extra["detail"])
    nul = await client.get("/api/v1/chargers/%00", headers=headers)
    assert nul.status_code in (404, 422)


async def test_charger_lifecycle(client: httpx.AsyncClient, accounts: dict[str, Account]) -> None:
    headers = accounts["operator"].headers
    charge_point_id, password = await register_charger(client, accounts["operator"])
    duplicate = await client.post(
        "/api/v1/chargers", json={"charge_point_id": charge_point_id}, headers=headers
    )
    assert_problem(duplicate, 409)
    changed = await client.patch(
        f"/api/v1/chargers/{charge_point_id}",
        json={"boot_policy": "pending", "ocpp_version": "2.0.1", "regenerate_password": True},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["boot_policy"] == "pending" and body["ocpp_version"] == "ocpp2.0.1"
    assert body["password"] and body["password"] != password
    again = await client.patch(
        f"/api/v1/chargers/{charge_point_id}", json={"ocpp_version": "any"}, headers=headers
    )
    assert again.json()["ocpp_version"] is None and again.json()["password"] is None
    own = await client.post(
        "/api/v1/chargers",
        json={"charge_point_id": f"{charge_point_id}-b", "password": "p" * 20},
        headers=headers,
    )
    assert own.status_code == 201 and own.json()["password"] is None  # never echoed
    open_charger = await client.post(
        "/api/v1/chargers",
        json={"charge_point_id": f"{charge_point_id}-c", "auth": "none"},
        headers=headers,
    )
    assert open_charger.json()["auth_mode"] == "none" and open_charger.json()["password"] is None
    short = await client.post(
        "/api/v1/chargers",
        json={"charge_point_id": f"{charge_point_id}-d", "password": "short"},
        headers=headers,
    )
    assert_problem(short, 422)
    for cp in (charge_point_id, f"{charge_point_id}-b", f"{charge_point_id}-c"):
        assert (await client.delete(f"/api/v1/chargers/{cp}", headers=headers)).status_code == 204
    assert_problem(await client.get(f"/api/v1/chargers/{charge_point_id}", headers=headers), 404)
    assert_problem(await client.delete(f"/api/v1/chargers/{charge_point_id}", headers=headers), 404)


async def test_generated_password_is_stored_hashed(
    client: httpx.AsyncClient, accounts: dict[str, Account], pool: asyncpg.Pool
) -> None:
    charge_point_id, password = await register_charger(client, accounts["operator"])
    stored = await pool.fetchval(
        "SELECT password_hash FROM chargers WHERE charge_point_id = $1", charge_point_id
    )
    assert stored.startswith("$argon2id$") and verify_password(stored, password)


async def test_id_token_lifecycle_and_binding(
    client: httpx.AsyncClient, accounts: dict[str, Account], new_account: NewAccount
) -> None:
    headers = accounts["operator"].headers
    driver = await new_account("driver")
    tag = f"TAG-{secrets.token_hex(4)}"
    created = await client.post(
        "/api/v1/id-tokens",
        json={"id_token": tag, "expiry_date": "2030-01-01T00:00:00Z", "user_id": driver.user_id},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["user_id"] == driver.user_id
    assert created.headers["location"] == f"/api/v1/id-tokens/{tag}"
    naive = await client.post(
        "/api/v1/id-tokens",
        json={"id_token": f"{tag}-n", "expiry_date": "2030-01-01T00:00:00"},
        headers=headers,
    )
    assert_problem(naive, 422)  # a date without a time zone is ambiguous
    nobody = await client.post(
        "/api/v1/id-tokens", json={"id_token": f"{tag}-x", "user_id": 987654321}, headers=headers
    )
    assert_problem(nobody, 404)
    assert_problem(
        await client.get(f"/api/v1/id-tokens/{tag}-x", headers=headers), 404
    )  # nothing half-created
    blocked = await client.patch(
        f"/api/v1/id-tokens/{tag.lower()}",
        json={"status": "Blocked", "expiry_date": None},
        headers=headers,
    )
    assert blocked.status_code == 200
    assert blocked.json()["status"] == "Blocked" and blocked.json()["expiry_date"] is None
    assert blocked.json()["user_id"] == driver.user_id  # unchanged when not given
    unbound = await client.patch(
        f"/api/v1/id-tokens/{tag}", json={"user_id": None}, headers=headers
    )
    assert unbound.json()["user_id"] is None
    seen = await client.get(f"/api/v1/id-tokens/{tag}", headers=driver.headers)
    assert_problem(seen, 404)  # no longer the driver's
    assert (await client.delete(f"/api/v1/id-tokens/{tag}", headers=headers)).status_code == 204
    assert_problem(await client.delete(f"/api/v1/id-tokens/{tag}", headers=headers), 404)


async def test_pagination_walks_every_item_once(
    client: httpx.AsyncClient, accounts: dict[str, Account]
) -> None:
    headers = accounts["operator"].headers
    prefix = f"PG{secrets.token_hex(3)}"
    tags = [f"{prefix}-{i}" for i in range(7)]
    for tag in tags:
        response = await client.post("/api/v1/id-tokens", json={"id_token": tag}, headers=headers)
        assert response.status_code == 201
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/id-tokens", params=params, headers=headers)).json()
        assert len(page["items"]) <= 3
        seen += [t["id_token"] for t in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [t for t in seen if t.startswith(prefix)] == tags
    assert len(seen) == len(set(seen)) and pages >= 3
    bad = await client.get("/api/v1/id-tokens", params={"cursor": "garbage"}, headers=headers)
    assert_problem(bad, 422)
    huge = await client.get("/api/v1/id-tokens", params={"limit": "1000"}, headers=headers)
    assert len(huge.json()["items"]) <= 50  # CSMS_MAX_PAGE_SIZE in the tests
    assert_problem(
        await client.get("/api/v1/id-tokens", params={"limit": "1001"}, headers=headers), 422
    )
