"""A signed artifact's campaign: 1.6 chargers get SignedUpdateFirmware and answer with
SignedFirmwareStatusNotification (security whitepaper L01, L01.FR.10: the requestId of the
update), 2.0.1 chargers get UpdateFirmware with signature and signingCertificate
(L01.FR.11); each verifies the signature over the file (L01.FR.04). A charger whose check
fails reports InvalidSignature (L01 step 5), which is final: no second attempt. A paused
campaign sends nothing until it is resumed."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets

import asyncpg
import httpx

from csms.node.server import Node
from simulators.station import Station, StationConfig
from tests.integration.backoffice.conftest import Account, Backoffice
from tests.integration.conftest import PASSWORD
from tests.integration.firmware.conftest import (
    TICK,
    eventually,
    firmware_image,
    register,
    sign,
    signing_key,
    worker_settings,
    working,
)
from tests.timeouts import TIMEOUT

VERSION = "5.5.0"


async def test_a_signed_campaign_with_one_bad_signature(
    backoffice: Backoffice,
    client: httpx.AsyncClient,
    operator: Account,
    node: Node,
    pool: asyncpg.Pool,
    database_url: str,
    redis_url: str,
    prefix: str,
) -> None:
    model = f"SIGNED-{secrets.token_hex(3)}"
    ids = await register(pool, 4, model)
    stations = [
        Station(
            StationConfig(
                url=f"ws://127.0.0.1:{node.port}/ocpp",
                charge_point_id=cp,
                version=("1.6", "2.0.1")[i % 2],
                password=PASSWORD,
                model=model,
                call_timeout=TIMEOUT,
            )
        )
        for i, cp in enumerate(ids)
    ]
    bad = stations[0]  # a 1.6 charger whose signature checks fail
    bad.config = dataclasses.replace(bad.config, bad_signature=True)
    for s in stations:
        await s.connect()
        await s.boot()
    key, certificate = signing_key("ec")
    image = firmware_image(VERSION)
    uploaded = await client.post(
        "/api/v1/firmware/artifacts",
        headers=operator.headers,
        data={
            "version": VERSION,
            "vendor": "SimVendor",
            "model": model,
            "signature": sign(key, image),
        },  # fmt: skip
        files={"file": ("fw.bin", image), "signing_certificate": ("c.pem", certificate.encode())},
    )
    assert uploaded.status_code == 201, uploaded.text
    created = await client.post(
        "/api/v1/firmware/campaigns",
        headers=operator.headers,
        json={
            "artifact_id": uploaded.json()["id"],
            "target": {"model": model},
            "max_failure_rate": "100%",
            "max_attempts": 3,
            "retry_delay": 0,
        },
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    assert created.json()["signed"] is True
    paused = await client.post(
        f"/api/v1/firmware/campaigns/{campaign_id}/pause", headers=operator.headers
    )
    assert paused.status_code == 200 and paused.json()["status"] == "paused"

    async with working(worker_settings(backoffice, prefix), database_url, redis_url):
        await asyncio.sleep(TICK * 5)  # several ticks: a paused campaign sends nothing
        states = await pool.fetch(
            "SELECT DISTINCT state FROM firmware_targets WHERE campaign_id = $1", campaign_id
        )
        assert [r["state"] for r in states] == ["pending"]
        resumed = await client.post(
            f"/api/v1/firmware/campaigns/{campaign_id}/resume", headers=operator.headers
        )
        assert resumed.status_code == 200

        async def completed() -> bool:
            status = await pool.fetchval(
                "SELECT status FROM firmware_campaigns WHERE id = $1", campaign_id
            )
            return status == "completed"

        await eventually(completed, "the campaign completes", timeout=TIMEOUT * 3)
    rows = {
        r["charge_point_id"]: r
        for r in await pool.fetch(
            "SELECT * FROM firmware_targets WHERE campaign_id = $1", campaign_id
        )
    }
    failed = rows[bad.config.charge_point_id]
    assert (failed["state"], failed["failure"], failed["attempts"]) == (
        "failed",
        "InvalidSignature",
        1,
    )
    for s in stations[1:]:
        assert rows[s.config.charge_point_id]["state"] == "succeeded"
        assert s.config.firmware_version == VERSION
    assert bad.config.firmware_version == "1.0.0"
    # what each version received and reported, as kept in charger_events
    actions = await pool.fetch(
        """SELECT charge_point_id, action, kind FROM charger_events
           WHERE charge_point_id = ANY($1) ORDER BY id""",
        ids,
    )
    good_16 = stations[2].config.charge_point_id
    signed_16 = [
        r["kind"]
        for r in actions
        if r["charge_point_id"] == good_16 and r["action"] == "SignedFirmwareStatusNotification"
    ]
    assert signed_16[:5] == [
        "Downloading",
        "Downloaded",
        "SignatureVerified",
        "Installing",
        "InstallRebooting",
    ]
    security = [r["kind"] for r in actions if r["action"] == "SecurityEventNotification"]
    assert "InvalidFirmwareSignature" in security and "FirmwareUpdated" in security
    for s in stations:
        await s.disconnect()
