"""GET /api/v1/fleet (+ /summary, /sites) and GET /api/v1/chargers/{id}/messages: what the
console's fleet and charger pages read, filtered and paged in PostgreSQL."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import orjson

from csms.store import journal
from tests.integration.backoffice.conftest import Account, all_items


async def _fleet(pool: asyncpg.Pool, client: httpx.AsyncClient, operator: Account) -> str:
    """Four chargers under one fresh prefix and site: A available, B charging (a connector
    Charging), C faulted, D offline (no node)."""
    prefix = f"FV{secrets.token_hex(3)}"
    site = f"S-{prefix}"
    created = await client.post(
        "/api/v1/sites",
        json={
            "id": site,
            "name": f"Site {prefix}",
            "time_zone": "Europe/Brussels",
            "latitude": "50.85",
            "longitude": "4.35",
        },  # fmt: skip
        headers=operator.headers,
    )
    assert created.status_code == 201, created.text
    for name, node, statuses, model in (
        ("A", "n1", ("Available", "Available"), "M-1"),
        ("B", "n1", ("Available", "Charging"), "M-1"),
        ("C", "n2", ("Faulted", "Charging"), "M-2"),
        ("D", None, ("Available", "Available"), "M-2"),
    ):
        charge_point_id = f"{prefix}-{name}"
        response = await client.post(
            "/api/v1/chargers", json={"charge_point_id": charge_point_id},
            headers=operator.headers,
        )  # fmt: skip
        assert response.status_code == 201, response.text
        await pool.execute(
            """UPDATE chargers SET connected_node = $2, model = $3, site_id = $4,
                   firmware_version = '2.1', vendor = 'V'
               WHERE charge_point_id = $1""",
            charge_point_id,
            node,
            model,
            site,
        )
        for connector_id, status in enumerate(statuses, start=1):
            await pool.execute(
                """INSERT INTO connectors (charge_point_id, evse_id, connector_id, status,
                       error_code, status_at) VALUES ($1, 0, $2, $3, $4, now())""",
                charge_point_id,
                connector_id,
                status,
                "GroundFailure" if status == "Faulted" else "NoError",
            )
    return prefix


async def test_fleet_filters_paging_counts(
    pool: asyncpg.Pool, client: httpx.AsyncClient, accounts: dict[str, Account]
) -> None:
    operator, monitor = accounts["operator"], accounts["monitor"]
    prefix = await _fleet(pool, client, operator)
    site = f"S-{prefix}"

    async def ids(**params: str) -> list[str]:
        items = await all_items(client, "/api/v1/fleet", monitor.headers, {"q": prefix, **params})
        return [c["charge_point_id"].removeprefix(f"{prefix}-") for c in items]

    rows = await all_items(client, "/api/v1/fleet", monitor.headers, {"q": prefix})
    assert {r["charge_point_id"][-1]: r["state"] for r in rows} == {
        "A": "available",
        "B": "charging",
        "C": "faulted",
        "D": "offline",
    }
    c = next(r for r in rows if r["charge_point_id"].endswith("-C"))
    assert c["connectors"] == [
        {"evse_id": 0, "connector_id": 1, "status": "Faulted", "error_code": "GroundFailure"},
        {"evse_id": 0, "connector_id": 2, "status": "Charging", "error_code": "NoError"},
    ]
    assert c["connected_node"] == "n2" and c["model"] == "M-2" and c["site_id"] == site
    assert await ids(state="online") == ["A", "B", "C"]
    assert await ids(state="offline") == ["D"]
    assert await ids(state="charging") == ["B"]
    assert await ids(state="faulted") == ["C"]
    assert await ids(model="M-2") == ["C", "D"]
    assert await ids(site_id=site, state="available") == ["A"]
    assert await ids(q=prefix.lower()) == ["A", "B", "C", "D"]  # case-insensitive
    assert await ids(q="%") == []  # a wildcard is a character
    only = await client.get(
        "/api/v1/fleet",
        params=[("charge_point_id", f"{prefix}-B"), ("charge_point_id", f"{prefix}-D")],
        headers=monitor.headers,
    )
    assert [r["charge_point_id"][-1] for r in only.json()["items"]] == ["B", "D"]

    # pages of 3 then 1, by id
    first = (
        await client.get("/api/v1/fleet", params={"q": prefix, "limit": 3}, headers=monitor.headers)
    ).json()
    assert [r["charge_point_id"][-1] for r in first["items"]] == ["A", "B", "C"]
    second = (
        await client.get(
            "/api/v1/fleet",
            params={"q": prefix, "limit": 3, "cursor": first["next_cursor"]},
            headers=monitor.headers,
        )
    ).json()
    assert [r["charge_point_id"][-1] for r in second["items"]] == ["D"]
    assert second["next_cursor"] is None

    summary = await client.get(
        "/api/v1/fleet/summary", params={"q": prefix}, headers=monitor.headers
    )
    assert summary.json() == {
        "total": 4, "online": 3, "available": 1, "charging": 1, "faulted": 1, "offline": 1,
    }  # fmt: skip
    by_model = await client.get(
        "/api/v1/fleet/summary", params={"site_id": site, "model": "M-1"}, headers=monitor.headers
    )
    assert by_model.json()["total"] == 2 and by_model.json()["online"] == 2

    sites = await all_items(client, "/api/v1/fleet/sites", monitor.headers)
    mine = next(s for s in sites if s["site_id"] == site)
    assert mine["latitude"] == "50.850000" and mine["longitude"] == "4.350000"
    assert mine["counts"]["total"] == 4 and mine["counts"]["faulted"] == 1

    # bad input, roles
    bad = await client.get("/api/v1/fleet", params={"state": "sleepy"}, headers=monitor.headers)
    assert bad.status_code == 422
    for path in ("/api/v1/fleet", "/api/v1/fleet/summary", "/api/v1/fleet/sites"):
        assert (await client.get(path, headers=accounts["driver"].headers)).status_code == 403
        assert (await client.get(path)).status_code == 401


async def test_journal_search_and_paging(
    pool: asyncpg.Pool, client: httpx.AsyncClient, accounts: dict[str, Account]
) -> None:
    operator = accounts["operator"]
    charge_point_id = f"JR-{secrets.token_hex(4)}"
    created = await client.post(
        "/api/v1/chargers", json={"charge_point_id": charge_point_id}, headers=operator.headers
    )
    assert created.status_code == 201
    at = datetime.now(UTC) - timedelta(minutes=5)
    frames = [
        ("in", 2, "m1", "BootNotification", {"chargePointModel": "Zeta_1"}),
        ("out", 3, "m1", "BootNotification", {"status": "Accepted"}),
        ("in", 2, "m2", "StatusNotification", {"connectorId": 1, "status": "Faulted"}),
        ("out", 3, "m2", "StatusNotification", {}),
        ("in", 2, "m3", "Heartbeat", {}),
    ]
    texts = [
        orjson.dumps(
            [kind, message_id, action, payload] if kind == 2 else [kind, message_id, payload]
        ).decode()
        for direction, kind, message_id, action, payload in frames
    ]
    await journal.insert_rows(
        pool,
        [
            (charge_point_id, at + timedelta(seconds=i), direction, kind, message_id, action, text)
            for i, ((direction, kind, message_id, action, _), text) in enumerate(
                zip(frames, texts, strict=True)
            )
        ],
    )
    url = f"/api/v1/chargers/{charge_point_id}/messages"
    reader = accounts["monitor"].headers
    newest = await all_items(client, url, reader)
    assert [(f["message_id"], f["direction"]) for f in newest] == [
        ("m3", "in"), ("m2", "out"), ("m2", "in"), ("m1", "out"), ("m1", "in"),
    ]  # fmt: skip
    assert newest[2]["payload"] == {"connectorId": 1, "status": "Faulted"}
    assert [f["frame"] for f in newest] == texts[::-1]  # the text as journaled
    found = await all_items(client, url, reader, {"q": "faulted"})
    assert [f["action"] for f in found] == ["StatusNotification"]
    assert len(await all_items(client, url, reader, {"q": "zeta_1"})) == 1  # _ is literal
    assert len(await all_items(client, url, reader, {"q": "zeta%"})) == 0
    assert len(await all_items(client, url, reader, {"action": "BootNotification"})) == 2
    page = (await client.get(url, params={"limit": 2}, headers=reader)).json()
    rest = (
        await client.get(url, params={"limit": 2, "cursor": page["next_cursor"]}, headers=reader)
    ).json()
    assert [f["message_id"] for f in page["items"] + rest["items"]] == ["m3", "m2", "m2", "m1"]

    missing = await client.get("/api/v1/chargers/NOPE-x1/messages", headers=reader)
    assert missing.status_code == 404
    driver = await client.get(url, headers=accounts["driver"].headers)
    assert driver.status_code == 403
