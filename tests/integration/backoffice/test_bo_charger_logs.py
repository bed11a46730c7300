"""Diagnostics and logs end to end: an operator asks over REST (real JWT), the simulated
charger (real WebSocket) uploads over HTTP to the backoffice's upload URL, its status
notifications are kept on the request, and the download is what it uploaded.

OCPP: 1.6 GetDiagnostics / DiagnosticsStatusNotification (5.9, 4.4); 2.0.1 N01 GetLog
(N01.FR.01 file name, N01.FR.07 same requestId, N01.FR.08/09 Uploading then Uploaded,
N01.FR.10 UploadFailure, N01.FR.18/19 PUT and POST multipart); 1.6 security whitepaper GetLog.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from csms.domain.charger_logs import new_token, token_hash
from csms.domain.clock import utc_now
from csms.node.server import Node
from csms.settings import BackofficeSettings
from csms.store import charger_logs
from simulators.station import Station, StationConfig
from tests.integration.backoffice.conftest import Account, register_charger, serving
from tests.integration.backoffice.test_bo_auth import assert_problem
from tests.integration.ocpp_client import eventually
from tests.timeouts import TIMEOUT


def simulated(node: Node, cp: str, password: str, version: str, **config: Any) -> Station:
    return Station(
        StationConfig(
            url=f"ws://127.0.0.1:{node.port}/ocpp",
            charge_point_id=cp,
            version=version,
            password=password,
            call_timeout=TIMEOUT,
            **config,
        )
    )


async def online(
    client: httpx.AsyncClient, account: Account, node: Node, version: str, **config: Any
) -> tuple[str, Station]:
    charge_point_id, password = await register_charger(client, account)
    station = simulated(node, charge_point_id, password, version, **config)
    await station.connect()
    assert (await station.boot())["status"] == "Accepted"
    return charge_point_id, station


async def settled(
    client: httpx.AsyncClient, account: Account, charge_point_id: str, log_id: int
) -> dict[str, Any]:
    """The request once the charger said its last word on it."""

    async def final() -> Any:
        response = await client.get(
            f"/api/v1/chargers/{charge_point_id}/logs/{log_id}", headers=account.headers
        )
        body = response.json()
        return body if body["status"] not in ("Requested", "Uploading") else None

    result: dict[str, Any] = await eventually(final, interval=0.05)
    return result


@pytest.mark.parametrize(
    ("version", "log_type", "method", "action", "file_name"),
    [
        ("1.6", "diagnostics", "POST", "GetDiagnostics", "diagnostics-{cp}.log"),
        ("1.6", "security", "PUT", "GetLog", "SecurityLog-{request_id}.log"),
        ("2.0.1", "diagnostics", "PUT", "GetLog", "DiagnosticsLog-{request_id}.log"),
        ("2.0.1", "security", "POST", "GetLog", "SecurityLog-{request_id}.log"),
    ],
)
async def test_a_log_is_asked_uploaded_and_downloaded(
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
    cluster_node: Node,
    version: str,
    log_type: str,
    method: str,
    action: str,
    file_name: str,
) -> None:
    operator, monitor = accounts["operator"], accounts["monitor"]
    cp, station = await online(
        client, operator, cluster_node, version, log_upload_method=method, log_bytes=40_000
    )
    try:
        response = await client.post(
            f"/api/v1/chargers/{cp}/logs",
            json={"type": log_type, "from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"},
            headers=operator.headers,
        )
        assert response.status_code == 201, response.text
        asked = response.json()
        assert (asked["type"], asked["action"], asked["requested_by"]) == (
            log_type,
            action,
            operator.username,
        )
        assert asked["oldest_at"].startswith("2026-01-01")
        expected_name = file_name.format(cp=cp, request_id=asked["request_id"])
        assert asked["file_name"] == expected_name  # N01.FR.01: the name it will upload
        done = await settled(client, monitor, cp, asked["id"])
        assert done["status"] == "Uploaded"
        # N01.FR.08/09, 1.6 DiagnosticsStatusNotification: Uploading, then Uploaded
        assert [s["status"] for s in done["statuses"]] == ["Requested", "Uploading", "Uploaded"]
        [upload] = station.state.uploads
        assert upload.ok and upload.status_code == 201
        assert done["size_bytes"] == len(upload.content) == 40_000
        assert done["sha256"] == hashlib.sha256(upload.content).hexdigest()
        assert done["upload_name"] == expected_name

        listed = await client.get(f"/api/v1/chargers/{cp}/logs", headers=monitor.headers)
        assert [r["id"] for r in listed.json()["items"]] == [asked["id"]]
        download = await client.get(
            f"/api/v1/chargers/{cp}/logs/{asked['id']}/download", headers=monitor.headers
        )
        assert download.status_code == 200
        assert download.content == upload.content
        assert expected_name in download.headers["content-disposition"]

        # the URL was for one upload: a second one is refused, nothing changes
        again = await client.put(upload.location, content=b"other")
        assert_problem(again, 403)
        unchanged = await client.get(
            f"/api/v1/chargers/{cp}/logs/{asked['id']}/download", headers=monitor.headers
        )
        assert unchanged.content == upload.content
    finally:
        await station.disconnect()


async def test_an_upload_above_the_limit_is_refused_and_nothing_kept(
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
    cluster_node: Node,
    backoffice_settings: BackofficeSettings,
    pool: asyncpg.Pool,
) -> None:
    operator = accounts["operator"]
    too_big = backoffice_settings.log_upload_max_bytes + 1
    for method in ("PUT", "POST"):
        cp, station = await online(
            client, operator, cluster_node, "2.0.1", log_upload_method=method, log_bytes=too_big
        )
        try:
            response = await client.post(
                f"/api/v1/chargers/{cp}/logs",
                json={"type": "diagnostics"},
                headers=operator.headers,
            )
            asked = response.json()
            done = await settled(client, operator, cp, asked["id"])
            [upload] = station.state.uploads
            assert upload.status_code == 413
            assert done["status"] == "UploadFailure"  # N01.FR.10
            assert done["uploaded_at"] is None and done["size_bytes"] is None
            chunks = await pool.fetchval(
                "SELECT count(*) FROM charger_log_chunks WHERE log_id = $1", asked["id"]
            )
            assert chunks == 0
            download = await client.get(
                f"/api/v1/chargers/{cp}/logs/{asked['id']}/download", headers=operator.headers
            )
            assert_problem(download, 404)
        finally:
            await station.disconnect()


async def test_a_wrong_or_expired_token_is_refused(
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
    pool: asyncpg.Pool,
) -> None:
    assert_problem(await client.put("/uploads/logs/" + new_token(), content=b"x"), 401)
    assert_problem(await client.post("/uploads/logs/short", content=b"x"), 401)
    cp, _ = await register_charger(client, accounts["operator"])
    token = new_token()
    expired = await charger_logs.create_request(
        pool,
        cp,
        log_type="diagnostics",
        action="GetLog",
        request_id=secrets.randbelow(2**31 - 1) + 1,
        token_hash=token_hash(token),
        expires_at=utc_now() - timedelta(seconds=1),
        oldest_at=None,
        latest_at=None,
        by="test",
        at=utc_now() - timedelta(hours=1),
    )
    assert_problem(await client.put(f"/uploads/logs/{token}", content=b"late"), 403)
    found = await charger_logs.get_request(pool, expired.id)
    assert found is not None and found.uploaded_at is None
    chunks = await pool.fetchval(
        "SELECT count(*) FROM charger_log_chunks WHERE log_id = $1", expired.id
    )
    assert chunks == 0


async def test_refusals_when_asking(
    client: httpx.AsyncClient, accounts: dict[str, Account]
) -> None:
    operator, monitor = accounts["operator"], accounts["monitor"]
    cp, _ = await register_charger(client, operator)
    path = f"/api/v1/chargers/{cp}/logs"
    not_connected = await client.post(path, json={"type": "security"}, headers=operator.headers)
    assert_problem(not_connected, 409)
    assert (await client.get(path, headers=operator.headers)).json()["items"] == []
    bad = await client.post(path, json={"type": "kernel"}, headers=operator.headers)
    assert_problem(bad, 422)
    backwards = await client.post(
        path,
        json={"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        headers=operator.headers,
    )
    assert_problem(backwards, 422)
    assert_problem(await client.post(path, json={}, headers=monitor.headers), 403)
    assert_problem(await client.get(f"{path}/999999/download", headers=monitor.headers), 404)


@pytest.fixture
async def directory_backoffice(
    backoffice_settings: BackofficeSettings, tmp_path: Path
) -> AsyncIterator[tuple[str, Path]]:
    settings = backoffice_settings.model_copy(update={"log_upload_dir": tmp_path / "logs"})
    async with serving(settings) as running:
        yield running.url, tmp_path / "logs"


async def test_uploads_kept_in_a_directory(
    accounts: dict[str, Account],
    client: httpx.AsyncClient,
    cluster_node: Node,
    directory_backoffice: tuple[str, Path],
) -> None:
    url, directory = directory_backoffice
    operator = accounts["operator"]
    cp, station = await online(client, operator, cluster_node, "1.6", log_bytes=30_000)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as other:
            response = await other.post(
                f"/api/v1/chargers/{cp}/logs", json={}, headers=operator.headers
            )
            assert response.status_code == 201, response.text
            asked = response.json()
            done = await settled(other, operator, cp, asked["id"])
            assert done["status"] == "Uploaded"
            [upload] = station.state.uploads
            assert upload.location.startswith(url + "/uploads/logs/")
            assert (directory / f"log-{asked['id']}").read_bytes() == upload.content
            assert [p.name for p in directory.iterdir()] == [f"log-{asked['id']}"]
            download = await other.get(
                f"/api/v1/chargers/{cp}/logs/{asked['id']}/download", headers=operator.headers
            )
            assert download.content == upload.content
    finally:
        await station.disconnect()
