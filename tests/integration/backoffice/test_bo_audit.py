"""The audit log over HTTP: every state-changing route leaves a row (the routes come from the
app itself, so a new one cannot be forgotten), logins and commands say who and what came of
it, secrets never reach a row, the table is append-only, retention removes old rows only,
and only admins search and export it."""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from backoffice.audit import AUDITED_METHODS, route_action
from backoffice.permissions import api_routes, route_permissions
from csms.domain.audit import NewAuditEntry
from csms.node.server import Node
from csms.settings import WorkerSettings
from csms.store import audit
from csms.worker.audit import AUDIT_PURGE, attach_audit_retention, purge_old_entries
from simulators.station import Station
from tests.integration.backoffice.conftest import (
    USER_PASSWORD,
    Account,
    Backoffice,
    NewAccount,
    all_items,
    login,
    register_charger,
    station,
)
from tests.integration.backoffice.test_bo_roles import SAMPLE

AUDIT = "/api/v1/audit"
LOGOUT = "/api/v1/auth/logout"
# routes that revoke the caller's token (the API's logout and the console's)
REVOKING = {("POST", LOGOUT), ("DELETE", "/api/v1/auth/session")}


async def rows_of(pool: asyncpg.Pool, request_id: str) -> list[dict[str, Any]]:
    records = await pool.fetch(
        "SELECT * FROM audit_log WHERE request_id = $1 ORDER BY id", request_id
    )
    return [dict(r) for r in records]


def new_request_id(tag: str) -> str:
    return f"test-{tag}-{secrets.token_hex(6)}"


async def test_every_state_changing_route_leaves_an_audit_row(
    client: httpx.AsyncClient,
    backoffice: Backoffice,
    new_account: NewAccount,
    pool: asyncpg.Pool,
) -> None:
    admin = await new_account("admin")
    calls = [
        (method, route)
        for route in api_routes(backoffice.app)
        for method in sorted(route.methods or ())
        if method in AUDITED_METHODS
    ]
    # a logout revokes the caller's token: last, each with a fresh admin
    calls.sort(key=lambda call: (call[0], call[1].path) in REVOKING)
    assert len(calls) > 50  # the walk really walks the app
    missing: list[str] = []
    for method, route in calls:
        if (method, route.path) in REVOKING:
            admin = await new_account("admin")
        request_id = new_request_id("walk")
        url = route.path.format(**SAMPLE)
        body = {} if method in ("POST", "PUT", "PATCH") else None
        headers = {**admin.headers, "X-Request-ID": request_id}
        response = await client.request(method, url, json=body, headers=headers)
        assert response.headers["X-Request-ID"] == request_id
        name = f"{method} {route.path} ({response.status_code})"
        rows = await rows_of(pool, request_id)
        if len(rows) != 1:
            missing.append(f"{name}: {len(rows)} audit rows")
            continue
        row = rows[0]
        checks = route_permissions(route)
        public = checks == [None]
        expected_actor = None if public else admin.username
        problems = [
            f"{field} is {row[field]!r}, not {want!r}"
            for field, want in (
                ("method", method),
                ("route", route.path),
                ("status", response.status_code),
                ("source", "api"),
                ("request_id", request_id),
            )
            if row[field] != want
        ]
        if not public and (row["actor"], row["actor_user_id"]) != (admin.username, admin.user_id):
            problems.append(f"actor {row['actor']!r}, not {expected_actor!r}")
        if not public and row["actor_role"] != "admin":
            problems.append(f"role {row['actor_role']!r}")
        if row["action"] != route_action(route) and not row["action"].startswith(
            ("auth.", "command.")
        ):
            problems.append(f"action {row['action']!r}")
        if row["outcome"] == "ok" and response.status_code >= 400:
            problems.append("a refused request recorded as ok")
        if problems:
            missing.append(f"{name}: {', '.join(problems)}")
    assert missing == []


async def test_logins_succeeded_and_failed_are_recorded_never_the_password(
    client: httpx.AsyncClient, new_account: NewAccount, pool: asyncpg.Pool
) -> None:
    account = await new_account("operator")
    wrong = f"wrong-{secrets.token_hex(8)}"
    failed_id = new_request_id("login-failed")
    response = await client.post(
        "/api/v1/auth/token",
        data={"username": account.username, "password": wrong},
        headers={"X-Request-ID": failed_id},
    )
    assert response.status_code == 401
    (failed,) = await rows_of(pool, failed_id)
    assert failed["action"] == "auth.login"
    assert failed["actor"] == account.username
    assert failed["actor_user_id"] is None
    assert (failed["status"], failed["outcome"]) == (401, "refused")
    assert failed["params"]["body"] == {"username": account.username, "password": "[redacted]"}
    assert failed["client"] == "127.0.0.1"
    assert wrong not in orjson.dumps(failed, default=str).decode()

    unknown_id = new_request_id("login-unknown")
    await client.post(
        "/api/v1/auth/token",
        data={"username": "nobody-" + secrets.token_hex(3), "password": wrong},
        headers={"X-Request-ID": unknown_id},
    )
    (unknown,) = await rows_of(pool, unknown_id)
    assert unknown["actor"].startswith("nobody-") and unknown["outcome"] == "refused"

    # a hostile username (PostgreSQL text cannot hold NUL) is still recorded
    hostile_id = new_request_id("login-nul")
    response = await client.post(
        "/api/v1/auth/token",
        data={"username": "eve\x00admin", "password": wrong},
        headers={"X-Request-ID": hostile_id},
    )
    assert response.status_code == 401
    (hostile,) = await rows_of(pool, hostile_id)
    assert hostile["actor"] == "eve\ufffdadmin"
    assert hostile["params"]["body"]["username"] == "eve\ufffdadmin"

    ok_id = new_request_id("login-ok")
    response = await client.post(
        "/api/v1/auth/token",
        data={"username": account.username, "password": USER_PASSWORD},
        headers={"X-Request-ID": ok_id},
    )
    assert response.status_code == 200
    (ok,) = await rows_of(pool, ok_id)
    assert (ok["actor"], ok["actor_user_id"], ok["actor_role"]) == (
        account.username,
        account.user_id,
        "operator",
    )
    assert (ok["status"], ok["outcome"]) == (200, "ok")
    text = orjson.dumps(ok, default=str).decode()
    for secret in (
        USER_PASSWORD,
        response.json()["access_token"],
        response.json()["refresh_token"],
    ):
        assert secret not in text
    assert ok["result"]["access_token"] == "[redacted]"

    refresh_id = new_request_id("refresh")
    response = await client.post(
        "/api/v1/auth/refresh",
        json={"refresh_token": response.json()["refresh_token"]},
        headers={"X-Request-ID": refresh_id},
    )
    assert response.status_code == 200
    (refreshed,) = await rows_of(pool, refresh_id)
    assert (refreshed["action"], refreshed["actor"], refreshed["actor_user_id"]) == (
        "auth.refresh",
        account.username,
        account.user_id,
    )
    assert refreshed["params"]["body"] == {"refresh_token": "[redacted]"}


async def test_secrets_never_reach_the_audit_log(
    client: httpx.AsyncClient, new_account: NewAccount, pool: asyncpg.Pool
) -> None:
    admin = await new_account("admin")
    user = await new_account("monitor")
    secrets_sent: list[str] = []

    async def call(method: str, url: str, account: Account, body: Any) -> dict[str, Any]:
        request_id = new_request_id("secret")
        headers = {**account.headers, "X-Request-ID": request_id}
        response = await client.request(method, url, json=body, headers=headers)
        (row,) = await rows_of(pool, request_id)
        assert row["status"] == response.status_code
        return row | {"response": response}

    new_password = "new-password-" + secrets.token_hex(8)
    secrets_sent += [USER_PASSWORD, new_password]
    changed = await call(
        "POST",
        "/api/v1/users/me/password",
        user,
        {"current_password": USER_PASSWORD, "new_password": new_password},
    )
    assert changed["status"] == 204 and changed["actor"] == user.username
    assert changed["params"]["body"] == {
        "current_password": "[redacted]",
        "new_password": "[redacted]",
    }

    created_password = "created-password-" + secrets.token_hex(8)
    secrets_sent.append(created_password)
    username = f"audited-{secrets.token_hex(4)}"
    created = await call(
        "POST",
        "/api/v1/users",
        admin,
        {"username": username, "password": created_password, "role": "monitor"},
    )
    assert created["status"] == 201 and created["target"] == username
    assert created["action"] == "users.create_user"
    user_id = created["response"].json()["id"]
    role_change = await call("PATCH", f"/api/v1/users/{user_id}", admin, {"role": "operator"})
    assert role_change["status"] == 200
    assert role_change["target"] == str(user_id)
    assert role_change["params"]["body"] == {"role": "operator"}
    assert role_change["result"]["role"] == "operator"

    # a webhook-secret-like field and a token, refused (422) but recorded, redacted
    webhook_secret = "whsec_" + secrets.token_hex(16)
    api_token = "tok_" + secrets.token_hex(16)
    secrets_sent += [webhook_secret, api_token]
    refused = await call(
        "POST",
        "/api/v1/chargers",
        admin,
        {
            "charge_point_id": "AUDIT-" + secrets.token_hex(3),
            "webhook_secret": webhook_secret,
            "nested": [{"hmacSecret": webhook_secret, "apiToken": api_token}],
        },
    )
    assert refused["status"] == 422 and refused["outcome"] == "failed"
    assert refused["params"]["body"]["webhook_secret"] == "[redacted]"
    assert refused["params"]["body"]["nested"] == [
        {"hmacSecret": "[redacted]", "apiToken": "[redacted]"}
    ]

    # a charger's generated password is in the response only, never in the row
    registered = await call("POST", "/api/v1/chargers", admin, {"charge_point_id": "AUDIT-CP"})
    if registered["status"] == 201:
        secrets_sent.append(registered["response"].json()["password"])
        assert registered["result"]["password"] == "[redacted]"

    logout = await call(
        "POST", LOGOUT, admin, {"refresh_token": admin.refresh_token, "everywhere": False}
    )
    assert logout["status"] == 204
    secrets_sent += [admin.refresh_token, admin.access_token]
    assert logout["params"]["body"]["refresh_token"] == "[redacted]"

    every_row = await pool.fetch("SELECT params::text, result::text FROM audit_log")
    dump = "\n".join(f"{r[0]} {r[1]}" for r in every_row)
    for secret in secrets_sent:
        assert secret not in dump


@pytest.fixture
async def connected(
    client: httpx.AsyncClient, accounts: dict[str, Account], cluster_node: Node
) -> AsyncIterator[tuple[str, Station]]:
    charge_point_id, password = await register_charger(client, accounts["operator"])
    sim = station(cluster_node, charge_point_id, password)
    await sim.connect()
    await sim.boot()
    yield charge_point_id, sim
    await sim.disconnect()


async def test_commands_are_recorded_with_the_chargers_answer(
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
    connected: tuple[str, Station],
    pool: asyncpg.Pool,
) -> None:
    charge_point_id, _ = connected
    operator = accounts["operator"]

    async def send(command: str, params: dict[str, Any], cp: str = charge_point_id) -> Any:
        request_id = new_request_id("command")
        response = await client.post(
            f"/api/v1/chargers/{cp}/commands/{command}",
            json=params,
            headers={**operator.headers, "X-Request-ID": request_id},
        )
        (row,) = await rows_of(pool, request_id)
        return response, row

    response, row = await send("change_availability", {"operative": True, "connector_id": 1})
    assert response.status_code == 200
    assert row["action"] == "command.change_availability"
    assert (row["actor"], row["actor_role"]) == (operator.username, "operator")
    assert row["target"] == charge_point_id
    assert row["target_params"] == {
        "charge_point_id": charge_point_id,
        "command": "change_availability",
    }
    assert row["params"]["body"] == {"operative": True, "connector_id": 1}
    assert row["result"] == {"action": "ChangeAvailability", "response": {"status": "Accepted"}}
    assert row["outcome"] == "ok"

    # A01.FR.09-like: a password set through a raw ChangeConfiguration is never recorded
    key_value = "0123456789abcdef0123456789abcdef"
    response, row = await send(
        "raw",
        {
            "action": "ChangeConfiguration",
            "payload": {"key": "AuthorizationKey", "value": key_value},
        },
    )
    assert response.status_code == 200, response.text
    assert row["params"]["body"]["payload"] == {"key": "AuthorizationKey", "value": "[redacted]"}
    assert key_value not in orjson.dumps(row, default=str).decode()
    assert row["result"]["response"] == response.json()["response"]

    other, _ = await register_charger(client, operator)
    response, row = await send("reset", {"type": "soft"}, other)
    assert response.status_code == 409
    assert (row["action"], row["outcome"], row["status"]) == ("command.reset", "failed", 409)
    assert row["result"]["error"] == "not_connected"
    assert row["target"] == other

    # a role that may not send commands: refused, and recorded as such
    monitor = accounts["monitor"]
    request_id = new_request_id("command-refused")
    response = await client.post(
        f"/api/v1/chargers/{charge_point_id}/commands/reset",
        json={"type": "hard"},
        headers={**monitor.headers, "X-Request-ID": request_id},
    )
    assert response.status_code == 403
    (row,) = await rows_of(pool, request_id)
    assert (row["actor"], row["outcome"], row["status"]) == (monitor.username, "refused", 403)


async def test_the_audit_log_is_append_only(pool: asyncpg.Pool) -> None:
    entry_id = await audit.record(
        pool, NewAuditEntry(source="api", action="test.append_only", outcome="ok", actor="x")
    )
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await pool.execute("UPDATE audit_log SET actor = 'mallory' WHERE id = $1", entry_id)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await pool.execute("DELETE FROM audit_log WHERE id = $1", entry_id)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await pool.execute("TRUNCATE audit_log")
    with pytest.raises(asyncpg.InvalidParameterValueError):
        await pool.execute("SELECT audit_log_purge(0)")  # never the rows of today
    assert await pool.fetchval("SELECT actor FROM audit_log WHERE id = $1", entry_id) == "x"


async def test_an_app_role_set_up_as_documented_cannot_change_the_log(
    pool: asyncpg.Pool,
) -> None:
    """docs/topics/audit.md's production GRANTs: the app role reads, appends and calls the
    purge; UPDATE and DELETE are denied by privilege even with the purge flag raised."""
    role = f"csms_audit_app_{secrets.token_hex(4)}"
    marker = f"test.app-role.{secrets.token_hex(4)}"
    async with pool.acquire() as connection:
        await connection.execute(f"CREATE ROLE {role} NOLOGIN")
        try:
            await connection.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
            await connection.execute(f"GRANT SELECT, INSERT ON audit_log TO {role}")
            await connection.execute(
                f"GRANT EXECUTE ON FUNCTION audit_log_purge(integer, integer) TO {role}"
            )
            old = datetime.now(UTC) - timedelta(days=800)
            async with connection.transaction():
                await connection.execute(f"SET LOCAL ROLE {role}")
                await connection.execute(
                    "INSERT INTO audit_log (at, source, action, outcome) "
                    "VALUES ($1, 'api', $2, 'ok'), (now(), 'api', $2, 'ok')",
                    old,
                    marker,
                )
                for statement in (
                    "UPDATE audit_log SET actor = 'mallory' WHERE action = $1",
                    "DELETE FROM audit_log WHERE action = $1",
                ):
                    # a savepoint (rolled back by the error): the test goes on
                    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission"):
                        async with connection.transaction():
                            await connection.execute(
                                "SELECT set_config('csms.audit_purge', 'on', true)"
                            )
                            await connection.execute(statement, marker)
                assert await connection.fetchval("SELECT audit_log_purge(365)") >= 1
                left = await connection.fetchval(
                    "SELECT count(*) FROM audit_log WHERE action = $1", marker
                )
                assert left == 1
        finally:
            await connection.execute(f"DROP OWNED BY {role}")
            await connection.execute(f"DROP ROLE {role}")


async def test_retention_removes_only_old_rows(pool: asyncpg.Pool) -> None:
    marker = f"test.retention.{secrets.token_hex(4)}"
    now = datetime.now(UTC)
    ages = {"old": 400, "older": 1000, "recent": 10, "young": 0}
    for name, days in ages.items():
        await pool.execute(
            "INSERT INTO audit_log (at, source, action, outcome, actor) "
            "VALUES ($1, 'worker', $2, 'ok', $3)",
            now - timedelta(days=days),
            marker,
            name,
        )
    removed = await purge_old_entries(pool, 365, batch=1)  # one by one: the loop goes on
    assert removed >= 2
    kept = await pool.fetch("SELECT actor FROM audit_log WHERE action = $1", marker)
    assert sorted(r["actor"] for r in kept) == ["recent", "young"]
    # the worker's scheduled run: the same purge, and an entry saying it ran
    handlers: dict[str, Any] = {}
    settings = WorkerSettings(audit_retention_days=5, audit_purge_schedule="0 * * * *")
    attach_audit_retention(
        lambda name, cron, handler: handlers.update({name: handler}), pool, settings
    )
    await handlers[AUDIT_PURGE](None)
    kept = await pool.fetch("SELECT actor FROM audit_log WHERE action = $1", marker)
    assert [r["actor"] for r in kept] == ["young"]
    (ran,) = await pool.fetch(
        "SELECT * FROM audit_log WHERE action = $1 ORDER BY id DESC LIMIT 1", AUDIT_PURGE
    )
    assert (ran["source"], ran["params"]) == ("worker", {"retention_days": 5})
    assert ran["result"]["removed"] >= 1


@pytest.fixture
async def seeded(pool: asyncpg.Pool) -> AsyncIterator[str]:
    """Entries of two actors on two chargers, one of them an hour old; the marker action."""
    marker = f"test.search.{secrets.token_hex(4)}."
    now = datetime.now(UTC)
    rows = [
        ("alice", "CP-A", "ok", 200, now - timedelta(hours=2)),
        ("alice", "CP-B", "failed", 409, now - timedelta(minutes=5)),
        ("bob", "CP-A", "refused", 403, now - timedelta(minutes=4)),
        ("alice", "CP-A", "ok", 200, now - timedelta(minutes=3)),
        ('=HYPERLINK("http://evil")', "CP-A", "error", 500, now - timedelta(minutes=2)),
    ]
    for actor, target, outcome, status, at in rows:
        await pool.execute(
            """INSERT INTO audit_log (at, source, action, outcome, status, actor, target,
                   target_params, params)
               VALUES ($1, 'api', $2, $3, $4, $5, $6, $7, $8)""",
            at,
            marker + "send",
            outcome,
            status,
            actor,
            target,
            {"charge_point_id": target},
            {"body": {"note": "+SUM(A1:A9)"}},
        )
    yield marker


async def test_search_filters_pages_and_is_for_admins_only(
    client: httpx.AsyncClient, accounts: dict[str, Account], seeded: str
) -> None:
    admin = accounts["admin"].headers

    async def search(**params: str) -> list[dict[str, Any]]:
        return await all_items(client, AUDIT, admin, {"action": seeded, **params})

    everything = await search()
    assert len(everything) == 5
    assert [e["id"] for e in everything] == sorted((e["id"] for e in everything), reverse=True)
    assert {e["actor"] for e in await search(actor="alice")} == {"alice"}
    assert len(await search(actor="alice")) == 3
    assert len(await search(target="CP-A")) == 4
    assert len(await search(actor="alice", target="CP-A")) == 2
    assert len(await search(since="1h")) == 4
    assert len(await search(until="1h")) == 1
    assert len(await search(outcome="refused")) == 1
    assert len(await search(status="409")) == 1
    assert await search(action=seeded + "other") == []
    exact = await all_items(client, AUDIT, admin, {"action": seeded + "send"})
    assert len(exact) == 5
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert len(await search(since=since)) == 4

    first = await client.get(AUDIT, params={"action": seeded, "limit": "2"}, headers=admin)
    page = first.json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    second = await client.get(
        AUDIT,
        params={"action": seeded, "limit": "2", "cursor": page["next_cursor"]},
        headers=admin,
    )
    assert second.json()["items"][0]["id"] < page["items"][-1]["id"]

    for bad in ({"since": "yesterday"}, {"outcome": "maybe"}, {"since": "1h", "until": "2h"}):
        response = await client.get(AUDIT, params=bad, headers=admin)
        assert response.status_code == 422, bad
    for role in ("operator", "monitor", "driver"):
        headers = accounts[role].headers
        assert (await client.get(AUDIT, headers=headers)).status_code == 403
        assert (await client.get(f"{AUDIT}/export", headers=headers)).status_code == 403
    assert (await client.get(AUDIT)).status_code == 401


async def test_export_csv_is_formula_safe_and_ndjson_is_one_entry_a_line(
    client: httpx.AsyncClient, accounts: dict[str, Account], seeded: str
) -> None:
    admin = accounts["admin"].headers
    response = await client.get(
        f"{AUDIT}/export", params={"format": "csv", "action": seeded}, headers=admin
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 5
    assert [int(r["id"]) for r in rows] == sorted(int(r["id"]) for r in rows)  # oldest first
    evil = [r for r in rows if "HYPERLINK" in r["actor"]]
    assert evil[0]["actor"].startswith("'=")
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@")), cell
    response = await client.get(
        f"{AUDIT}/export",
        params={"format": "ndjson", "action": seeded, "actor": "alice"},
        headers=admin,
    )
    assert response.status_code == 200
    lines = [orjson.loads(line) for line in response.text.splitlines()]
    assert len(lines) == 3 and {line["actor"] for line in lines} == {"alice"}
    assert lines[0]["params"] == {"body": {"note": "+SUM(A1:A9)"}}  # data as is in NDJSON
    bad = await client.get(f"{AUDIT}/export", params={"format": "xlsx"}, headers=admin)
    assert bad.status_code == 422


async def test_no_route_changes_or_removes_an_audit_entry(backoffice: Backoffice) -> None:
    audit_routes = [
        (method, route.path)
        for route in api_routes(backoffice.app)
        if route.path.startswith(AUDIT)
        for method in route.methods or ()
    ]
    assert sorted(audit_routes) == [("GET", AUDIT), ("GET", f"{AUDIT}/export")]


async def test_a_driver_action_records_the_driver(
    client: httpx.AsyncClient, new_account: NewAccount, pool: asyncpg.Pool
) -> None:
    driver = await new_account("driver")
    fresh = await login(client, driver.username, USER_PASSWORD)
    assert fresh.status_code == 200
    request_id = new_request_id("driver")
    response = await client.post(
        LOGOUT,
        json={"everywhere": True},
        headers={
            "Authorization": f"Bearer {fresh.json()['access_token']}",
            "X-Request-ID": request_id,
        },
    )
    assert response.status_code == 204
    (row,) = await rows_of(pool, request_id)
    assert (row["actor"], row["actor_role"], row["action"]) == (
        driver.username,
        "driver",
        "auth.logout",
    )
