"""Schemathesis fuzzing of the whole OpenAPI surface with an admin token: no 500s, and every
error is problem+json.

It runs against a backoffice of its own, on a database of its own: the fuzzer deletes and
changes whatever ids it guesses. Its admin is the only admin there, so it cannot lock
itself out (the last admin cannot be demoted, disabled or deleted). Bounded: a few examples
per operation, derandomized so CI sees the same requests every run.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csms import embedded
from csms.bootstrap import ensure_database
from csms.settings import BackofficeSettings
from csms.store import users
from csms.store.pool import migrate
from tests.integration.backoffice.conftest import (
    JWT_SECRET,
    USER_PASSWORD,
    USER_PASSWORD_HASH,
    Backoffice,
    login,
    serving,
)

EXAMPLES = 20
# streaming, or revoking the fuzzer's own token: not for blind fuzzing
SKIPPED = {
    ("GET", "/api/v1/events"),
    ("POST", "/api/v1/auth/logout"),
    ("DELETE", "/api/v1/auth/session"),  # the console's logout
}
BUDGET_SECONDS = 45.0


@pytest.fixture(scope="module")
async def fuzz_database(database_url: str) -> AsyncIterator[str]:
    name = f"csms_fuzz_{secrets.token_hex(4)}"
    await ensure_database(database_url, name)
    dsn = embedded.with_database(database_url, name)
    await migrate(dsn)
    yield dsn
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(scope="module")
async def fuzz_backoffice(
    fuzz_database: str, redis_url: str, redis_prefix: str
) -> AsyncIterator[Backoffice]:
    fuzz_settings = BackofficeSettings(
        database_url=fuzz_database,
        redis_url=redis_url,
        redis_prefix=f"{redis_prefix}fuzz:",
        jwt_secret=JWT_SECRET,
        login_max_attempts=100_000,
        login_max_attempts_per_ip=100_000,
        command_timeout=1.0,
        db_pool_min=1,
        db_pool_max=4,
    )
    async with serving(fuzz_settings) as backoffice:
        yield backoffice


def fuzz(url: str, token: str, openapi: dict[str, object]) -> tuple[list[str], Counter[int]]:
    schema = schemathesis.openapi.from_dict(openapi)
    headers = {"Authorization": f"Bearer {token}"}
    problems: list[str] = []
    statuses: Counter[int] = Counter()
    deadline = time.monotonic() + BUDGET_SECONDS
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue

        @given(
            case=st.one_of(
                operation.as_strategy(),
                operation.as_strategy(schemathesis.GenerationMode.NEGATIVE),
            )
        )
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            if time.monotonic() > deadline:
                return
            response = case.call(base_url=url, headers=headers, timeout=10)
            statuses[response.status_code] += 1
            where = f"{case.method} {case.formatted_path}"
            if response.status_code >= 500 and response.status_code not in (503, 504):
                problems.append(f"{where} -> {response.status_code}: {response.text[:200]}")
            elif response.status_code >= 400:
                media = response.headers.get("content-type", [""])
                media_type = media[0] if isinstance(media, list) else str(media)
                if not media_type.startswith("application/problem+json"):
                    problems.append(f"{where} -> {response.status_code} as {media_type}")

        check()
    return problems, statuses


async def test_fuzz_openapi_surface(fuzz_backoffice: Backoffice, fuzz_database: str) -> None:
    pool = await asyncpg.create_pool(fuzz_database, min_size=1, max_size=1)
    assert pool is not None
    try:
        # an id the fuzzer will not guess: PATCH /users/{its id} would change its password
        await pool.execute("SELECT setval('users_id_seq', 4611686018427387904)")
        await users.add_user(pool, "fuzzer", password_hash=USER_PASSWORD_HASH, role="admin")
    finally:
        await pool.close()
    async with httpx.AsyncClient(base_url=fuzz_backoffice.url) as client:
        token = (await login(client, "fuzzer", USER_PASSWORD)).json()["access_token"]
        openapi = (await client.get("/openapi.json")).json()
    problems, statuses = await asyncio.to_thread(fuzz, fuzz_backoffice.url, token, openapi)
    assert problems == []
    # the fuzzer got through: successes and refusals, not only 401s
    assert sum(n for status, n in statuses.items() if status < 300) >= 30, statuses
    assert sum(statuses.values()) >= 200, statuses
