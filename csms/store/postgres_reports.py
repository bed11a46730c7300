"""What chargers report, on PostgreSQL (csms.store.postgres)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from csms.domain.reports import (
    Availability,
    ConfigurationRow,
    ConfigurationValue,
    Notification,
    VariableRow,
)
from csms.store import charger_events, configuration


class PostgresReports:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record_notification(
        self,
        charge_point_id: str,
        action: str,
        payload: dict[str, Any],
        *,
        kind: str | None = None,
        occurred_at: datetime | None = None,
    ) -> None:
        await charger_events.record(
            self._pool, charge_point_id, action, payload, kind=kind, occurred_at=occurred_at
        )

    async def list_notifications(
        self,
        charge_point_id: str,
        *,
        actions: Sequence[str] | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[Notification]:
        return await charger_events.list_events(
            self._pool, charge_point_id, actions=actions, limit=limit, before_id=before_id
        )

    async def upsert_configuration(
        self,
        charge_point_id: str,
        rows: Sequence[ConfigurationRow],
        *,
        source: str = "reported",
        by: str | None = None,
    ) -> None:
        await configuration.upsert_configuration(
            self._pool, charge_point_id, rows, source=source, by=by
        )

    async def forget_configuration(
        self, charge_point_id: str, *, keeping: Sequence[str], by: str | None = None
    ) -> None:
        await configuration.forget_configuration(
            self._pool, charge_point_id, keeping=keeping, by=by
        )

    async def forget_keys(
        self, charge_point_id: str, keys: Sequence[str], *, by: str | None = None
    ) -> None:
        await configuration.forget_keys(self._pool, charge_point_id, keys, by=by)

    async def list_configuration(self, charge_point_id: str) -> list[ConfigurationValue]:
        return await configuration.list_configuration(self._pool, charge_point_id)

    async def upsert_variables(
        self,
        charge_point_id: str,
        rows: Sequence[VariableRow],
        *,
        source: str = "reported",
        by: str | None = None,
    ) -> None:
        await charger_events.upsert_variables(
            self._pool, charge_point_id, rows, source=source, by=by
        )

    async def forget_variables(
        self, charge_point_id: str, keeping: Sequence[str], *, by: str | None = None
    ) -> None:
        await charger_events.forget_variables(self._pool, charge_point_id, keeping, by=by)

    async def list_variables(self, charge_point_id: str) -> list[ConfigurationValue]:
        return await charger_events.list_variables(self._pool, charge_point_id)

    async def record_availability(
        self, charge_point_id: str, *, evse_id: int, connector_id: int, operative: bool, answer: str
    ) -> None:
        await configuration.record_availability(
            self._pool,
            charge_point_id,
            evse_id=evse_id,
            connector_id=connector_id,
            operative=operative,
            answer=answer,
        )

    async def list_availability(self, charge_point_id: str) -> list[Availability]:
        return await configuration.list_availability(self._pool, charge_point_id)
