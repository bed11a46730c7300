"""A charger's firmware history over REST with real tokens: its updates in firmware
campaigns (created through the API; no worker runs here, so a finished update is written
into the campaign's store the way the worker records it) and the firmware status
notifications a simulated 1.6 charger sent over a real WebSocket."""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg
import httpx

from csms.node.server import Node
from tests.integration.backoffice.conftest import Account, register_charger, station
from tests.integration.backoffice.test_bo_auth import assert_problem


async def upload(client: httpx.AsyncClient, operator: Account, version: str) -> int:
    image = f"CSMS-SIM-FIRMWARE {version}\n".encode() + secrets.token_bytes(200)
    uploaded = await client.post(
        "/api/v1/firmware/artifacts",
        headers=operator.headers,
        data={"version": version},
        files={"file": (f"fw-{version}.bin", image, "application/octet-stream")},
    )
    assert uploaded.status_code == 201, uploaded.text
    artifact_id: int = uploaded.json()["id"]
    return artifact_id


async def campaign(
    client: httpx.AsyncClient, operator: Account, artifact_id: int, name: str, charger: str
) -> dict[str, Any]:
    created = await client.post(
        "/api/v1/firmware/campaigns",
        headers=operator.headers,
        json={"artifact_id": artifact_id, "target": {"chargers": [charger]}, "name": name},
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


async def test_charger_firmware_history_newest_first(
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
    cluster_node: Node,
    pool: asyncpg.Pool,
) -> None:
    """L01 / 1.6 FirmwareStatusNotification: the statuses a charger reports are kept and
    shown with its campaign updates."""
    operator, monitor = accounts["operator"], accounts["monitor"]
    charge_point_id, password = await register_charger(client, operator)
    path = f"/api/v1/chargers/{charge_point_id}/firmware"

    empty = await client.get(path, headers=monitor.headers)
    assert empty.status_code == 200, empty.text
    assert empty.json()["updates"] == [] and empty.json()["statuses"] == []

    old = await campaign(
        client, operator, await upload(client, operator, "1.0.1"), "first", charge_point_id
    )
    await pool.execute(
        "UPDATE firmware_targets SET state = 'failed', attempts = 2,"
        " last_status = 'InstallationFailed', failure = 'install failed (injected)',"
        " finished_at = now() - interval '1 hour', updated_at = now() - interval '1 hour'"
        " WHERE campaign_id = $1",
        old["id"],
    )
    new = await campaign(
        client, operator, await upload(client, operator, "1.0.2"), "second", charge_point_id
    )

    sim = station(cluster_node, charge_point_id, password)
    await sim.connect()
    try:
        await sim.boot()
        for status in ("Downloading", "Downloaded", "Installing"):
            await sim.call("FirmwareStatusNotification", {"status": status})
        await sim.call(
            "SecurityEventNotification",
            {"type": "FirmwareUpdated", "timestamp": "2026-01-01T10:00:00Z"},
        )
    finally:
        await sim.disconnect()

    for account in (accounts["admin"], operator, monitor):
        response = await client.get(path, headers=account.headers)
        assert response.status_code == 200, response.text
    history = response.json()
    assert history["charge_point_id"] == charge_point_id
    assert history["firmware_status"] == "Installing"
    assert [(u["campaign_id"], u["campaign_name"], u["version"]) for u in history["updates"]] == [
        (new["id"], "second", "1.0.2"),
        (old["id"], "first", "1.0.1"),
    ]
    failed = history["updates"][1]
    assert (failed["state"], failed["last_status"], failed["attempts"]) == (
        "failed",
        "InstallationFailed",
        2,
    )
    assert failed["failure"] == "install failed (injected)" and failed["finished_at"]
    assert history["updates"][0]["state"] == "pending"
    assert history["updates"][0]["finished_at"] is None
    # Only firmware statuses, newest first (not the security event sent last).
    assert [(s["action"], s["status"]) for s in history["statuses"]] == [
        ("FirmwareStatusNotification", "Installing"),
        ("FirmwareStatusNotification", "Downloaded"),
        ("FirmwareStatusNotification", "Downloading"),
    ]
    assert all(s["received_at"] for s in history["statuses"])


async def test_charger_firmware_refused_and_unknown(
    client: httpx.AsyncClient, accounts: dict[str, Account]
) -> None:
    charge_point_id, _ = await register_charger(client, accounts["operator"])
    path = f"/api/v1/chargers/{charge_point_id}/firmware"
    assert_problem(await client.get(path), 401)
    assert_problem(await client.get(path, headers=accounts["driver"].headers), 403)
    unknown = await client.get(
        "/api/v1/chargers/NO-SUCH-CHARGER/firmware", headers=accounts["monitor"].headers
    )
    assert_problem(unknown, 404)
