"""The worker's part of security profile upgrades: the rollback at each upgrade's
deadline (``security_profile.upgrade_deadline``, enqueued when the upgrade starts)."""

from __future__ import annotations

from typing import Any

import asyncpg

from csms.domain.clock import utc_now
from csms.services.hooks import Hooks
from csms.services.security_profiles import (
    UPGRADE_DEADLINE,
    CommandSender,
    SecurityProfileService,
)
from csms.store.postgres import PostgresStores


def register_security_jobs(
    worker: Any, pool: asyncpg.Pool, commands: CommandSender | None, *, command_timeout: float
) -> None:
    """Run upgrade deadlines on ``worker`` (restoring a 2.0.1 charger's settings through
    ``commands``, the cluster bus, when it is connected)."""
    from csms.worker.runtime import register

    stores = PostgresStores(pool)
    service = SecurityProfileService(
        stores.security_profiles,
        stores.chargers,
        stores.reports,
        stores.jobs,
        clock=utc_now,
        hooks=Hooks(),
    )

    async def deadline(payload: dict[str, Any]) -> None:
        await service.expire(
            str(payload["charge_point_id"]),
            str(payload["upgrade_id"]),
            commands=commands,
            command_timeout=command_timeout,
        )

    register(worker, UPGRADE_DEADLINE, deadline)
