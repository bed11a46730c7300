"""The configuration follow-up job (``config.charger_back``) of a charger removed after the
job was queued ends quietly against PostgreSQL, instead of failing on the foreign key (a
removed charger's job is nothing to retry)."""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg
import pytest

from csms.domain.clock import utc_now
from csms.errors import ChargerNotConnected
from csms.services.fleet_config import ConfigService
from csms.store import chargers
from csms.store.postgres import PostgresStores

pytestmark = pytest.mark.integration


class Unreachable:
    async def send(self, charge_point_id: str, *_: Any, **__: Any) -> dict[str, Any]:
        raise ChargerNotConnected(f"{charge_point_id} is not connected")


async def test_the_job_of_a_removed_charger_ends_without_error(pool: asyncpg.Pool) -> None:
    stores = PostgresStores(pool)
    service = ConfigService(stores.config, stores.jobs, clock=utc_now)
    cp = f"CB-{secrets.token_hex(4)}"
    await chargers.add_charger(pool, cp, password_hash=None)
    await chargers.remove_charger(pool, cp)

    for booted in (True, False):
        await service.charger_back(Unreachable(), cp, booted=booted, protocol="ocpp1.6")

    assert (
        await pool.fetchval(
            "SELECT count(*) FROM charger_config_state WHERE charge_point_id = $1", cp
        )
        == 0
    )
