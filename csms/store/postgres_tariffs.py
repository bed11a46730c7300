"""Sites, tariffs, assignments and display pushes on PostgreSQL (csms.store.postgres)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from csms.domain.sites import Assignment, Scope, Site
from csms.domain.tariff_catalog import Resolved, TariffInfo, TariffPush, TariffVersion
from csms.store import tariffs


class PostgresTariffs:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add_site(self, site: Site) -> Site:
        return await tariffs.add_site(self._pool, site)

    async def get_site(self, site_id: str) -> Site | None:
        return await tariffs.get_site(self._pool, site_id)

    async def list_sites(self) -> list[Site]:
        return await tariffs.list_sites(self._pool)

    async def update_site(self, site_id: str, **changes: Any) -> Site:
        return await tariffs.update_site(self._pool, site_id, **changes)

    async def remove_site(self, site_id: str) -> None:
        await tariffs.remove_site(self._pool, site_id)

    async def set_charger_site(self, charge_point_id: str, site_id: str | None) -> None:
        await tariffs.set_charger_site(self._pool, charge_point_id, site_id)

    async def site_of(self, charge_point_id: str) -> Site | None:
        return await tariffs.site_of(self._pool, charge_point_id)

    async def charger_sites(
        self, charge_point_ids: Sequence[str] | None = None
    ) -> dict[str, str | None]:
        return await tariffs.charger_sites(self._pool, charge_point_ids)

    async def add_tariff(
        self,
        tariff_id: str,
        *,
        description: str,
        definition: dict[str, Any],
        currency: str,
        created_by: str | None,
    ) -> TariffVersion:
        return await tariffs.add_tariff(
            self._pool,
            tariff_id,
            description=description,
            definition=definition,
            currency=currency,
            created_by=created_by,
        )

    async def save_draft(
        self,
        tariff_id: str,
        *,
        definition: dict[str, Any],
        currency: str,
        created_by: str | None,
        description: str | None = None,
    ) -> TariffVersion:
        return await tariffs.save_draft(
            self._pool,
            tariff_id,
            definition=definition,
            currency=currency,
            created_by=created_by,
            description=description,
        )

    async def publish(
        self, tariff_id: str, *, published_by: str | None, at: datetime
    ) -> TariffVersion:
        return await tariffs.publish(self._pool, tariff_id, published_by=published_by, at=at)

    async def get_version(self, tariff_id: str, version: int) -> TariffVersion | None:
        return await tariffs.get_version(self._pool, tariff_id, version)

    async def current_version(self, tariff_id: str) -> TariffVersion | None:
        return await tariffs.current_version(self._pool, tariff_id)

    async def list_versions(self, tariff_id: str) -> list[TariffVersion]:
        return await tariffs.list_versions(self._pool, tariff_id)

    async def list_tariffs(self) -> list[TariffInfo]:
        return await tariffs.list_tariffs(self._pool)

    async def describe(self, tariff_id: str, description: str) -> None:
        await tariffs.describe(self._pool, tariff_id, description)

    async def remove_tariff(self, tariff_id: str) -> None:
        await tariffs.remove_tariff(self._pool, tariff_id)

    async def assign(
        self, scope: Scope, target: str, tariff_id: str, *, created_by: str | None
    ) -> Assignment:
        return await tariffs.assign(self._pool, scope, target, tariff_id, created_by=created_by)

    async def unassign(self, scope: Scope, target: str) -> None:
        await tariffs.unassign(self._pool, scope, target)

    async def list_assignments(self) -> list[Assignment]:
        return await tariffs.list_assignments(self._pool)

    async def display_assignments(
        self, charge_point_ids: Sequence[str], site_ids: Sequence[str]
    ) -> list[Assignment]:
        return await tariffs.display_assignments(self._pool, charge_point_ids, site_ids)

    async def request_pushes(self, targets: Sequence[tuple[str, str | None, int | None]]) -> None:
        await tariffs.request_pushes(self._pool, targets)

    async def resolve(self, charge_point_id: str, groups: Sequence[str]) -> Resolved:
        return await tariffs.resolve(self._pool, charge_point_id, groups)

    async def pending_pushes(
        self, charge_point_ids: Sequence[str], *, retry_failed: bool = False
    ) -> list[TariffPush]:
        return await tariffs.pending_pushes(self._pool, charge_point_ids, retry_failed=retry_failed)

    async def record_push(
        self, charge_point_id: str, *, requested_at: datetime, status: str, detail: str
    ) -> bool:
        return await tariffs.record_push(
            self._pool, charge_point_id, requested_at=requested_at, status=status, detail=detail
        )

    async def list_pushes(
        self,
        *,
        tariff_id: str | None = None,
        charge_point_id: str | None = None,
        charge_point_ids: Sequence[str] | None = None,
    ) -> list[TariffPush]:
        return await tariffs.list_pushes(
            self._pool,
            tariff_id=tariff_id,
            charge_point_id=charge_point_id,
            charge_point_ids=charge_point_ids,
        )
