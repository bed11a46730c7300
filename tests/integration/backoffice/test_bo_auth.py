"""Login, rotating refresh tokens, logout and revocation, over real HTTP."""

from __future__ import annotations

import secrets
import time

import asyncpg
import httpx
import jwt
import pytest

from tests.integration.backoffice.conftest import (
    JWT_SECRET,
    USER_PASSWORD,
    USER_PASSWORD_HASH,
    Account,
    NewAccount,
    login,
)

ME = "/api/v1/users/me"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["status"] == status and body["detail"] and body["title"]
    return body


async def test_login_gives_working_tokens(
    client: httpx.AsyncClient, new_account: NewAccount
) -> None:
    account = await new_account("operator")
    me = await client.get(ME, headers=account.headers)
    assert me.status_code == 200
    assert me.json()["username"] == account.username
    assert me.json()["role"] == "operator"
    assert "password" not in me.text and "hash" not in me.text


async def test_wrong_password_and_unknown_user_look_the_same(
    client: httpx.AsyncClient, new_account: NewAccount
) -> None:
    account = await new_account("monitor")
    wrong = assert_problem(await login(client, account.username, "wrong-password-x"), 401)
    unknown = assert_problem(await login(client, "nobody-" + account.username, "x" * 12), 401)
    assert wrong["detail"] == unknown["detail"]


async def test_usernames_are_case_insensitive(
    client: httpx.AsyncClient, new_account: NewAccount
) -> None:
    account = await new_account("monitor")
    assert (await login(client, account.username.upper(), USER_PASSWORD)).status_code == 200


async def test_missing_or_malformed_credentials(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get(ME), 401)
    assert "bearer" in str(body["detail"])
    response = await client.get(ME, headers=bearer("not-a-jwt"))
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert_problem(await client.get(ME, headers={"Authorization": "Basic YTpi"}), 401)


def _claims(account: Account, **changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": "csms",
        "aud": "csms-backoffice",
        "sub": str(account.user_id),
        "role": account.role,
        "ver": 0,
        "jti": secrets.token_hex(8),
        "iat": now,
        "exp": now + 60,
    }
    claims.update(changes)
    return claims


@pytest.mark.parametrize(
    "case",
    ["expired", "wrong_audience", "wrong_issuer", "alg_none", "tampered", "other_key", "role"],
)
async def test_forged_and_stale_access_tokens_are_refused(
    client: httpx.AsyncClient, accounts: dict[str, Account], case: str
) -> None:
    account = accounts["driver"]
    now = int(time.time())
    if case == "expired":
        token = jwt.encode(_claims(account, iat=now - 120, exp=now - 60), JWT_SECRET)
    elif case == "wrong_audience":
        token = jwt.encode(_claims(account, aud="another-api"), JWT_SECRET)
    elif case == "wrong_issuer":
        token = jwt.encode(_claims(account, iss="another-issuer"), JWT_SECRET)
    elif case == "alg_none":
        token = jwt.encode(_claims(account, role="admin"), None, algorithm="none")
    elif case == "tampered":
        header, _, signature = account.access_token.split(".")
        body = jwt.utils.base64url_encode(
            jwt.api_jws.json.dumps(_claims(account, role="admin")).encode()
        )
        token = f"{header}.{body.decode()}.{signature}"
    elif case == "other_key":
        token = jwt.encode(_claims(account, role="admin"), "k" * 64)
    else:  # a valid signature, but the user is not an admin: the database says so
        token = jwt.encode(_claims(account, role="admin"), JWT_SECRET)
    assert_problem(await client.get("/api/v1/users", headers=bearer(token)), 401)
    # the genuine token still works
    assert (await client.get(ME, headers=account.headers)).status_code == 200


async def test_refresh_rotates(client: httpx.AsyncClient, new_account: NewAccount) -> None:
    account = await new_account("operator")
    first = await client.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token})
    assert first.status_code == 200, first.text
    tokens = first.json()
    assert tokens["refresh_token"] != account.refresh_token
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] > 0
    assert (await client.get(ME, headers=bearer(tokens["access_token"]))).status_code == 200
    second = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert second.status_code == 200


async def test_reused_refresh_token_revokes_its_family(
    client: httpx.AsyncClient, new_account: NewAccount
) -> None:
    account = await new_account("operator")
    stolen = account.refresh_token
    rotated = await client.post("/api/v1/auth/refresh", json={"refresh_token": stolen})
    assert rotated.status_code == 200
    # the thief (or a replay) presents the used token: refused, and the family dies
    assert_problem(await client.post("/api/v1/auth/refresh", json={"refresh_token": stolen}), 401)
    legitimate = rotated.json()["refresh_token"]
    assert_problem(
        await client.post("/api/v1/auth/refresh", json={"refresh_token": legitimate}), 401
    )
    # other sessions of the same user are not affected
    other = (await login(client, account.username, USER_PASSWORD)).json()["refresh_token"]
    assert (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": other})
    ).status_code == 200


async def test_unknown_refresh_token(client: httpx.AsyncClient) -> None:
    assert_problem(
        await client.post("/api/v1/auth/refresh", json={"refresh_token": "made-up"}), 401
    )


async def test_logout_revokes_access_and_refresh_token(
    client: httpx.AsyncClient, new_account: NewAccount
) -> None:
    account = await new_account("monitor")
    response = await client.post(
        "/api/v1/auth/logout",
        json={"refresh_token": account.refresh_token},
        headers=account.headers,
    )
    assert response.status_code == 204
    assert_problem(await client.get(ME, headers=account.headers), 401)
    assert_problem(
        await client.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token}),
        401,
    )


async def test_logout_everywhere(client: httpx.AsyncClient, new_account: NewAccount) -> None:
    account = await new_account("driver")
    second = (await login(client, account.username, USER_PASSWORD)).json()
    response = await client.post(
        "/api/v1/auth/logout", json={"everywhere": True}, headers=account.headers
    )
    assert response.status_code == 204
    assert_problem(await client.get(ME, headers=bearer(second["access_token"])), 401)
    assert_problem(
        await client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}),
        401,
    )


async def test_role_change_revokes_tokens(
    client: httpx.AsyncClient, accounts: dict[str, Account], new_account: NewAccount
) -> None:
    account = await new_account("operator")
    response = await client.patch(
        f"/api/v1/users/{account.user_id}",
        json={"role": "monitor"},
        headers=accounts["admin"].headers,
    )
    assert response.status_code == 200 and response.json()["role"] == "monitor"
    assert_problem(await client.get(ME, headers=account.headers), 401)
    assert_problem(
        await client.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token}),
        401,
    )
    again = (await login(client, account.username, USER_PASSWORD)).json()
    me = await client.get(ME, headers=bearer(again["access_token"]))
    assert me.json()["role"] == "monitor"


async def test_removed_or_disabled_user_is_locked_out(
    client: httpx.AsyncClient, accounts: dict[str, Account], new_account: NewAccount
) -> None:
    admin = accounts["admin"].headers
    removed, disabled = await new_account("operator"), await new_account("operator")
    assert (
        await client.delete(f"/api/v1/users/{removed.user_id}", headers=admin)
    ).status_code == 204
    assert_problem(await client.get(ME, headers=removed.headers), 401)
    response = await client.patch(
        f"/api/v1/users/{disabled.user_id}", json={"disabled": True}, headers=admin
    )
    assert response.status_code == 200
    assert_problem(await client.get(ME, headers=disabled.headers), 401)
    assert_problem(await login(client, disabled.username, USER_PASSWORD), 401)


async def test_password_change_needs_the_current_one_and_revokes(
    client: httpx.AsyncClient, new_account: NewAccount
) -> None:
    account = await new_account("driver")
    wrong = await client.post(
        f"{ME}/password",
        json={"current_password": "not-it", "new_password": "a-brand-new-password"},
        headers=account.headers,
    )
    assert_problem(wrong, 401)
    response = await client.post(
        f"{ME}/password",
        json={"current_password": USER_PASSWORD, "new_password": "a-brand-new-password"},
        headers=account.headers,
    )
    assert response.status_code == 204
    assert_problem(await client.get(ME, headers=account.headers), 401)
    assert (await login(client, account.username, "a-brand-new-password")).status_code == 200


async def test_failed_logins_are_rate_limited(
    client: httpx.AsyncClient, new_account: NewAccount
) -> None:
    account = await new_account("operator")
    for _ in range(3):  # CSMS_LOGIN_MAX_ATTEMPTS in the tests
        assert_problem(await login(client, account.username, "wrong-password-x"), 401)
    limited = await login(client, account.username, USER_PASSWORD)  # even the right one
    assert_problem(limited, 429)
    assert 0 < int(limited.headers["retry-after"]) <= 60
    # another user from the same address is not affected
    other = await new_account("operator")
    assert (await login(client, other.username, USER_PASSWORD)).status_code == 200


async def test_the_last_admin_stays(
    client: httpx.AsyncClient, pool: asyncpg.Pool, new_account: NewAccount
) -> None:
    admin = await new_account("admin")
    # make it the only admin for a moment (plain SQL: keeps the other admins' tokens valid)
    others = await pool.fetch(
        "UPDATE users SET role = 'monitor' WHERE role = 'admin' AND id <> $1 RETURNING id",
        admin.user_id,
    )
    try:
        response = await client.patch(
            f"/api/v1/users/{admin.user_id}", json={"role": "operator"}, headers=admin.headers
        )
        assert_problem(response, 409)
        deleted = await client.delete(f"/api/v1/users/{admin.user_id}", headers=admin.headers)
        assert_problem(deleted, 409)
        disabled = await client.patch(
            f"/api/v1/users/{admin.user_id}", json={"disabled": True}, headers=admin.headers
        )
        assert_problem(disabled, 409)
    finally:
        await pool.execute(
            "UPDATE users SET role = 'admin' WHERE id = ANY($1::bigint[])",
            [r["id"] for r in others],
        )
    assert (await client.get(ME, headers=admin.headers)).status_code == 200


async def test_user_admin_crud(client: httpx.AsyncClient, accounts: dict[str, Account]) -> None:
    admin = accounts["admin"].headers
    name = f"created-{secrets.token_hex(4)}"
    created = await client.post(
        "/api/v1/users",
        json={"username": name, "password": "created-password-1", "role": "driver"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert created.headers["location"] == f"/api/v1/users/{user['id']}"
    assert set(user) == {"id", "username", "role", "disabled", "created_at", "updated_at"}
    duplicate = await client.post(
        "/api/v1/users",
        json={"username": name.upper(), "password": "created-password-1", "role": "driver"},
        headers=admin,
    )
    assert_problem(duplicate, 409)
    weak = await client.post(
        "/api/v1/users",
        json={"username": "x", "password": "short", "role": "driver"},
        headers=admin,
    )
    body = assert_problem(weak, 422)
    assert "password" in str(body["detail"])
    listed = await client.get(
        "/api/v1/users", params={"role": "driver", "limit": 1000}, headers=admin
    )
    assert name in [u["username"] for u in listed.json()["items"]]
    assert (await client.get(f"/api/v1/users/{user['id']}", headers=admin)).json()[
        "username"
    ] == name
    assert_problem(await client.get("/api/v1/users/999999999", headers=admin), 404)


async def test_bootstrap_password_hash_is_never_returned(
    client: httpx.AsyncClient, accounts: dict[str, Account]
) -> None:
    listed = await client.get("/api/v1/users", headers=accounts["admin"].headers)
    assert "argon2" not in listed.text and USER_PASSWORD_HASH not in listed.text
