"""The login rate limits extend to token refresh: a refused refresh counts as a failed login
of its client address, and an address at its limit gets 429 for refreshes and logins alike,
counted in the backoffice's metrics. A backoffice of its own (a low per-address limit, its
own Redis prefix), over real HTTP."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from prometheus_client import generate_latest

from csms.settings import BackofficeSettings
from csms.store import users
from tests.integration.backoffice.conftest import (
    USER_PASSWORD,
    USER_PASSWORD_HASH,
    Backoffice,
    login,
    serving,
)
from tests.integration.backoffice.test_bo_auth import assert_problem
from tests.timeouts import TIMEOUT

REFRESH = "/api/v1/auth/refresh"
PER_ADDRESS = 3


@pytest.fixture
async def limited_backoffice(
    backoffice_settings: BackofficeSettings, redis_prefix: str
) -> AsyncIterator[Backoffice]:
    settings = backoffice_settings.model_copy(
        update={
            "login_max_attempts_per_ip": PER_ADDRESS,
            "redis_prefix": f"{redis_prefix}refresh-{secrets.token_hex(3)}:",
        }
    )
    async with serving(settings) as backoffice:
        yield backoffice


def rate_limited(backoffice: Backoffice, limit: str) -> float:
    text = generate_latest(backoffice.app.state.backoffice.metrics.registry).decode()
    line = f'csms_backoffice_rate_limited_total{{limit="{limit}"}} '
    (value,) = [row[len(line) :] for row in text.splitlines() if row.startswith(line)]
    return float(value)


async def test_refused_refreshes_count_against_the_address(
    limited_backoffice: Backoffice, pool: asyncpg.Pool
) -> None:
    username = f"refresher-{secrets.token_hex(4)}"
    await users.add_user(pool, username, password_hash=USER_PASSWORD_HASH, role="operator")
    async with httpx.AsyncClient(base_url=limited_backoffice.url, timeout=TIMEOUT) as client:
        session = (await login(client, username, USER_PASSWORD)).json()
        for n in range(PER_ADDRESS):  # guessed refresh tokens: 401 each, and counted
            made_up = {"refresh_token": f"guessed-{n}-{secrets.token_hex(16)}"}
            assert_problem(await client.post(REFRESH, json=made_up), 401)
        limited = await client.post(REFRESH, json={"refresh_token": session["refresh_token"]})
        body = assert_problem(limited, 429)  # even a valid token, from this address
        assert "refresh" in str(body["detail"])
        assert 0 < int(limited.headers["retry-after"]) <= 60
        assert_problem(await login(client, username, USER_PASSWORD), 429)  # logins too
        assert rate_limited(limited_backoffice, "refresh") == 1
        assert rate_limited(limited_backoffice, "login") == 1


async def test_good_refreshes_are_not_counted(
    limited_backoffice: Backoffice, pool: asyncpg.Pool
) -> None:
    username = f"refresher-{secrets.token_hex(4)}"
    await users.add_user(pool, username, password_hash=USER_PASSWORD_HASH, role="operator")
    async with httpx.AsyncClient(base_url=limited_backoffice.url, timeout=TIMEOUT) as client:
        token = (await login(client, username, USER_PASSWORD)).json()["refresh_token"]
        for _ in range(PER_ADDRESS * 2):
            response = await client.post(REFRESH, json={"refresh_token": token})
            assert response.status_code == 200, response.text
            token = response.json()["refresh_token"]
        assert rate_limited(limited_backoffice, "refresh") == 0
