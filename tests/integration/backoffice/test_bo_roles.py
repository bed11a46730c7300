"""Route x role matrix over HTTP: every route answers 401 without a token, 403 to a role it
does not allow, and lets the roles it allows through. The routes come from the app itself,
so a new route cannot be forgotten."""

from __future__ import annotations

import httpx

from backoffice.permissions import Role, route_table
from tests.integration.backoffice.conftest import ROLES, Account, Backoffice, NewAccount

# Path parameters that exist nowhere: allowed roles get 404/422, never a side effect.
SAMPLE = {
    "charge_point_id": "CP-NOT-THERE",
    "user_id": "999999999",
    "id_token": "NO-SUCH-TAG",
    "transaction_pk": "999999999",
    "command": "reset",
    "tariff_id": "NO-SUCH-TARIFF",
    "version": "1",
    "site_id": "NO-SUCH-SITE",
    "scope": "group",
    "target": "NO-SUCH-GROUP",
    "profile_id": "NO-SUCH-PROFILE",
    "apply_id": "999999999",
    "log_id": "999999999",
    "artifact_id": "999999999",
    "campaign_id": "999999999",
    "cdr_id": "999999999",
    "account_id": "999999999",
    "invoice_id": "999999999",
    "payment_id": "999999999",
    "provider": "card",
    "serial_number": "abc123",
    "alarm_id": "999999999",
    "rule_id": "999999999",
    "webhook_id": "999999999",
    "subscription_id": "999999999",
    "delivery_id": "999999999",
}
LOGOUT = "/api/v1/auth/logout"
# routes that revoke the caller's token: checked with fresh accounts
REVOKING = {("POST", LOGOUT), ("DELETE", "/api/v1/auth/session")}


async def status_of(
    client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str]
) -> int:
    body = {} if method in ("POST", "PATCH", "PUT") else None
    # streamed, so the event stream is not read: only its status matters here
    async with client.stream(method, url, headers=headers, json=body) as response:
        return response.status_code


async def test_route_role_matrix(
    client: httpx.AsyncClient, backoffice: Backoffice, new_account: NewAccount
) -> None:
    accounts: dict[str, Account] = {role: await new_account(role) for role in ROLES}
    table = route_table(backoffice.app)
    # logout revokes the caller's token: check it last
    table.sort(key=lambda row: row[1] == LOGOUT)
    wrong: list[str] = []
    for method, path, roles in table:
        url = path.format(**SAMPLE)
        anonymous = await status_of(client, method, url, {})
        if roles is None:
            if anonymous in (401, 403):
                wrong.append(f"{method} {path} is public but answered {anonymous}")
            continue
        if anonymous != 401:
            wrong.append(f"{method} {path} without a token answered {anonymous}")
        callers = accounts
        if (method, path) in REVOKING:
            callers = {role: await new_account(role) for role in ROLES}
        for role in ROLES:
            status = await status_of(client, method, url, callers[role].headers)
            allowed = Role(role) in roles
            if allowed and status in (401, 403):
                wrong.append(f"{method} {path} refused {role} ({status})")
            if not allowed and status != 403:
                wrong.append(f"{method} {path} let {role} through ({status})")
    assert wrong == []


async def test_every_role_reads_its_own_account(
    client: httpx.AsyncClient, accounts: dict[str, Account]
) -> None:
    for role, account in accounts.items():
        response = await client.get("/api/v1/users/me", headers=account.headers)
        assert response.json()["role"] == role
