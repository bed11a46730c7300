"""A campaign's rules with real chargers: maintenance windows, "never while a session is
active" (wait for the session to end, or send now and let the charger install after it:
L01.FR.06 / L02.FR.03 and InstallScheduled, L01.FR.34 / L02.FR.23), cancel freeing the
chargers for another campaign; and the halt as the hook event the alarms attach to."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx

from csms.domain.clock import utc_now
from csms.domain.firmware_campaigns import CampaignOptions, Selector
from csms.node.server import Node
from csms.services.firmware import CampaignService, FirmwareOrchestrator
from csms.services.hooks import FirmwareCampaignHalted, Hooks
from csms.store import id_tokens
from csms.store.jobs import PgJobQueue
from csms.store.postgres import PostgresFirmware
from simulators.station import Station, StationConfig
from tests.integration.backoffice.conftest import Account, Backoffice
from tests.integration.conftest import PASSWORD
from tests.integration.firmware.conftest import (
    Upload,
    eventually,
    register,
    worker_settings,
    working,
)
from tests.timeouts import TIMEOUT


def station(node: Node, charge_point_id: str, version: str, model: str) -> Station:
    return Station(
        StationConfig(
            url=f"ws://127.0.0.1:{node.port}/ocpp",
            charge_point_id=charge_point_id,
            version=version,
            password=PASSWORD,
            model=model,
            meter_interval=0.5,
            call_timeout=TIMEOUT,
        )
    )


async def targets(pool: asyncpg.Pool, campaign_id: int) -> dict[str, asyncpg.Record]:
    rows = await pool.fetch("SELECT * FROM firmware_targets WHERE campaign_id = $1", campaign_id)
    return {r["charge_point_id"]: r for r in rows}


async def create(
    client: httpx.AsyncClient, account: Account, body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post("/api/v1/firmware/campaigns", headers=account.headers, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_windows_sessions_and_cancel(
    backoffice: Backoffice,
    client: httpx.AsyncClient,
    operator: Account,
    node: Node,
    pool: asyncpg.Pool,
    database_url: str,
    redis_url: str,
    prefix: str,
    upload: Upload,
) -> None:
    model = f"RULES-{secrets.token_hex(3)}"
    ids = await register(pool, 4, model)
    idle_a, charging_b, idle_c, charging_d = ids
    stations = {
        cp: station(node, cp, "2.0.1" if i % 2 else "1.6", model) for i, cp in enumerate(ids)
    }
    for s in stations.values():
        await s.connect()
        await s.boot()
    tag = f"TAG-{secrets.token_hex(4)}"
    await id_tokens.add_id_token(pool, tag, allow_concurrent=True)
    session_b = await stations[charging_b].charge(1, tag)
    session_d = await stations[charging_d].charge(1, tag)
    artifact = await upload("2.0.0", model=model)

    # 1. a window that is not now (chargers at no site: CSMS_DEFAULT_TIME_ZONE, UTC)
    later = datetime.now(UTC) + timedelta(hours=3)
    window = f"{later:%H}:00-{(later + timedelta(hours=1)):%H}:00"
    first = await create(
        client,
        operator,
        {"artifact_id": artifact.id, "target": {"model": model}, "windows": [window]},
    )
    settings = worker_settings(backoffice, prefix)
    async with working(settings, database_url, redis_url):

        async def all_waiting() -> bool:
            found = await targets(pool, first["id"])
            return {r["waiting"] for r in found.values()} == {"maintenance window"}

        await eventually(all_waiting, "every charger waits for the window")
        assert {r["state"] for r in (await targets(pool, first["id"])).values()} == {"pending"}
        cancelled = await client.post(
            f"/api/v1/firmware/campaigns/{first['id']}/cancel", headers=operator.headers
        )
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        assert {r["state"] for r in (await targets(pool, first["id"])).values()} == {"cancelled"}
        again = await client.post(
            f"/api/v1/firmware/campaigns/{first['id']}/resume", headers=operator.headers
        )
        assert again.status_code == 409

        # 2. the same chargers are free again; B is charging: it waits for its session (wait)
        second = await create(
            client,
            operator,
            {"artifact_id": artifact.id, "target": {"chargers": [idle_a, charging_b, idle_c]}},
        )

        async def b_waits() -> bool:
            found = await targets(pool, second["id"])
            return (
                found[idle_a]["state"] == found[idle_c]["state"] == "succeeded"
                and found[charging_b]["waiting"] == "session active"
            )

        await eventually(b_waits, "A and C updated while B charges", timeout=TIMEOUT * 2)
        assert (await targets(pool, second["id"]))[charging_b]["state"] == "pending"
        await stations[charging_b].end_charging(session_b, "Local")

        async def done() -> bool:
            status = await pool.fetchval(
                "SELECT status FROM firmware_campaigns WHERE id = $1", second["id"]
            )
            return status == "completed"

        await eventually(done, "B is updated once its session ended", timeout=TIMEOUT * 2)
        assert stations[charging_b].config.firmware_version == "2.0.0"

        # 3. schedule: D is sent its update while charging and installs after the session
        third = await create(
            client,
            operator,
            {
                "artifact_id": artifact.id,
                "target": {"chargers": [charging_d]},
                "session_policy": "schedule",
            },
        )

        async def scheduled() -> bool:
            found = (await targets(pool, third["id"]))[charging_d]
            return found["last_status"] == "InstallScheduled"

        await eventually(scheduled, "D downloads and schedules its install", timeout=TIMEOUT * 2)
        assert stations[charging_d].config.firmware_version == "1.0.0"
        await stations[charging_d].end_charging(session_d, "Local")

        async def installed() -> bool:
            found = (await targets(pool, third["id"]))[charging_d]
            return found["state"] == "succeeded"

        await eventually(installed, "D installs after its session", timeout=TIMEOUT * 2)
    assert stations[charging_d].config.firmware_version == "2.0.0"
    for s in stations.values():
        await s.disconnect()


class NoCommands:
    async def send(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise AssertionError("a halted campaign sends nothing")


async def test_a_halt_is_a_hook_event_for_the_alarms(pool: asyncpg.Pool, upload: Upload) -> None:
    model = f"HALT-{secrets.token_hex(3)}"
    ids = await register(pool, 10, model)
    await pool.execute(  # as their boots would have reported
        "UPDATE chargers SET vendor = 'SimVendor', model = $2 WHERE charge_point_id = ANY($1)",
        ids,
        model,
    )
    artifact = await upload("3.3.3", model=model)
    store = PostgresFirmware(pool)
    hooks = Hooks()
    halted: list[FirmwareCampaignHalted] = []
    hooks.subscribe(FirmwareCampaignHalted, halted.append)
    campaign = await CampaignService(store, clock=utc_now, hooks=hooks).create(
        artifact.id,
        Selector(model=model),
        CampaignOptions(canary=4, waves=(Decimal(100),), max_failure_rate=Decimal(20)),
        by="test",
    )
    # one canary charger failed: 25 % > 20 %
    [first] = await store.targets(campaign.id, limit=1)
    await pool.execute(
        """UPDATE firmware_targets SET state = 'failed', failure = 'DownloadFailed'
           WHERE campaign_id = $1 AND charge_point_id = $2""",
        campaign.id,
        first.charge_point_id,
    )
    orchestrator = FirmwareOrchestrator(
        store, PgJobQueue(pool), NoCommands(), lambda *a: "http://x", clock=utc_now, hooks=hooks
    )
    await orchestrator.tick(campaign.id)
    await orchestrator.tick(campaign.id)  # once only
    assert halted == [
        FirmwareCampaignHalted(campaign.id, 0, "wave 0: 1 of 4 chargers failed (25.0% > 20%)")
    ]
    found = await store.get_campaign(campaign.id)
    assert found is not None and found.status == "halted"
