"""Sites, tariffs, assignments and display pushes, in memory (csms.store.memory)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from csms.domain.sites import Assignment, Scope, Site, applicable
from csms.domain.tariff_catalog import (
    PUSH_FAILED,
    PUSH_PENDING,
    Resolved,
    TariffInfo,
    TariffPush,
    TariffVersion,
)
from csms.errors import AlreadyExists, InvalidInput, NotFound

if TYPE_CHECKING:
    from csms.store.memory import _Data

_SITE_FIELDS = {f.name for f in dataclasses.fields(Site)} - {"id", "created_at"}


_COORDINATE = Decimal("0.000001")  # numeric(9, 6) in PostgreSQL


def _rounded(site: Site) -> Site:
    """Coordinates to six decimals, half away from zero, as PostgreSQL's numeric(9, 6)."""
    latitude, longitude = (
        None if c is None else Decimal(c).quantize(_COORDINATE, ROUND_HALF_UP)
        for c in (site.latitude, site.longitude)
    )
    return dataclasses.replace(site, latitude=latitude, longitude=longitude)


class MemoryTariffs:
    def __init__(self, data: _Data) -> None:
        self._data = data

    # -- sites ------------------------------------------------------------------------------

    async def add_site(self, site: Site) -> Site:
        if site.id in self._data.sites:
            raise AlreadyExists(f"site {site.id} exists already")
        stored = _rounded(dataclasses.replace(site, created_at=self._data.clock()))
        self._data.sites[site.id] = stored
        return stored

    async def get_site(self, site_id: str) -> Site | None:
        return self._data.sites.get(site_id)

    async def list_sites(self) -> list[Site]:
        return [self._data.sites[k] for k in sorted(self._data.sites)]

    async def update_site(self, site_id: str, **changes: Any) -> Site:
        unknown = set(changes) - _SITE_FIELDS
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        site = self._data.sites.get(site_id)
        if site is None:
            raise NotFound(f"site {site_id} not found")
        changed = _rounded(dataclasses.replace(site, **changes))
        self._data.sites[site_id] = changed
        return changed

    async def remove_site(self, site_id: str) -> None:
        if self._data.sites.pop(site_id, None) is None:
            raise NotFound(f"site {site_id} not found")
        self._data.assignments.pop((Scope.SITE, site_id), None)
        for cp in [cp for cp, s in self._data.charger_sites.items() if s == site_id]:
            del self._data.charger_sites[cp]

    async def set_charger_site(self, charge_point_id: str, site_id: str | None) -> None:
        if site_id is not None and site_id not in self._data.sites:
            raise NotFound(f"site {site_id} not found")
        self._data.registered(charge_point_id)
        if site_id is None:
            self._data.charger_sites.pop(charge_point_id, None)
        else:
            self._data.charger_sites[charge_point_id] = site_id

    async def site_of(self, charge_point_id: str) -> Site | None:
        site_id = self._data.charger_sites.get(charge_point_id)
        return None if site_id is None else self._data.sites[site_id]

    async def charger_sites(
        self, charge_point_ids: Sequence[str] | None = None
    ) -> dict[str, str | None]:
        wanted = self._data.chargers if charge_point_ids is None else charge_point_ids
        return {cp: self._data.charger_sites.get(cp) for cp in wanted if cp in self._data.chargers}

    # -- tariffs ----------------------------------------------------------------------------

    def _version(
        self,
        tariff_id: str,
        version: int,
        definition: dict[str, Any],
        currency: str,
        by: str | None,
    ) -> TariffVersion:
        made = TariffVersion(tariff_id, version, definition, currency, self._data.clock(), by)
        self._data.versions[(tariff_id, version)] = made
        return made

    def _draft(self, tariff_id: str) -> TariffVersion | None:
        drafts = [
            v for (t, _), v in self._data.versions.items() if t == tariff_id and not v.published
        ]
        return drafts[0] if drafts else None

    async def add_tariff(
        self,
        tariff_id: str,
        *,
        description: str,
        definition: dict[str, Any],
        currency: str,
        created_by: str | None,
    ) -> TariffVersion:
        if tariff_id in self._data.tariffs:
            raise AlreadyExists(f"tariff {tariff_id} exists already")
        self._data.tariffs[tariff_id] = (description, self._data.clock())
        return self._version(tariff_id, 1, definition, currency, created_by)

    async def save_draft(
        self,
        tariff_id: str,
        *,
        definition: dict[str, Any],
        currency: str,
        created_by: str | None,
        description: str | None = None,
    ) -> TariffVersion:
        if tariff_id not in self._data.tariffs:
            raise NotFound(f"tariff {tariff_id} not found")
        if description is not None:
            self._data.tariffs[tariff_id] = (description, self._data.tariffs[tariff_id][1])
        draft = self._draft(tariff_id)
        if draft is not None:
            return self._version(tariff_id, draft.version, definition, currency, created_by)
        latest = max(v for (t, v) in self._data.versions if t == tariff_id)
        return self._version(tariff_id, latest + 1, definition, currency, created_by)

    async def publish(
        self, tariff_id: str, *, published_by: str | None, at: datetime
    ) -> TariffVersion:
        if tariff_id not in self._data.tariffs:
            raise NotFound(f"tariff {tariff_id} not found")
        draft = self._draft(tariff_id)
        if draft is None:
            raise InvalidInput(f"tariff {tariff_id}: no draft to publish (edit it first)")
        published = dataclasses.replace(draft, published_at=at, published_by=published_by)
        self._data.versions[(tariff_id, draft.version)] = published
        return published

    async def get_version(self, tariff_id: str, version: int) -> TariffVersion | None:
        return self._data.versions.get((tariff_id, version))

    async def current_version(self, tariff_id: str) -> TariffVersion | None:
        published = [v for v in await self.list_versions(tariff_id) if v.published]
        return published[-1] if published else None

    async def list_versions(self, tariff_id: str) -> list[TariffVersion]:
        return sorted(
            (v for (t, _), v in self._data.versions.items() if t == tariff_id),
            key=lambda v: v.version,
        )

    async def list_tariffs(self) -> list[TariffInfo]:
        found = []
        for tariff_id in sorted(self._data.tariffs):
            description, created_at = self._data.tariffs[tariff_id]
            versions = await self.list_versions(tariff_id)
            published = [v.version for v in versions if v.published]
            found.append(
                TariffInfo(
                    tariff_id,
                    description,
                    created_at,
                    versions[-1].version,
                    published[-1] if published else None,
                )
            )
        return found

    async def describe(self, tariff_id: str, description: str) -> None:
        found = self._data.tariffs.get(tariff_id)
        if found is None:
            raise NotFound(f"tariff {tariff_id} not found")
        self._data.tariffs[tariff_id] = (description, found[1])

    async def remove_tariff(self, tariff_id: str) -> None:
        if tariff_id not in self._data.tariffs:
            raise NotFound(f"tariff {tariff_id} not found")
        if any(c.tariff_id == tariff_id for c in self._data.costs.values()):
            raise InvalidInput(
                f"tariff {tariff_id} priced sessions: it cannot be deleted (unassign it instead)"
            )
        del self._data.tariffs[tariff_id]
        for version_key in [k for k in self._data.versions if k[0] == tariff_id]:
            del self._data.versions[version_key]
        assigned = [k for k, a in self._data.assignments.items() if a.tariff_id == tariff_id]
        for assignment_key in assigned:
            del self._data.assignments[assignment_key]
        for cp in [cp for cp, p in self._data.pushes.items() if p.tariff_id == tariff_id]:
            del self._data.pushes[cp]

    # -- assignments ------------------------------------------------------------------------

    async def assign(
        self, scope: Scope, target: str, tariff_id: str, *, created_by: str | None
    ) -> Assignment:
        if tariff_id not in self._data.tariffs:
            raise NotFound(f"tariff {tariff_id} not found")
        made = Assignment(scope, target, tariff_id, created_by, self._data.clock())
        self._data.assignments[(scope, target)] = made
        return made

    async def unassign(self, scope: Scope, target: str) -> None:
        if self._data.assignments.pop((scope, target), None) is None:
            raise NotFound(f"no tariff is assigned to {scope.value} {target or '(default)'}")

    async def list_assignments(self) -> list[Assignment]:
        return sorted(self._data.assignments.values(), key=lambda a: (a.scope.value, a.target))

    async def display_assignments(
        self, charge_point_ids: Sequence[str], site_ids: Sequence[str]
    ) -> list[Assignment]:
        chargers, sites = set(charge_point_ids), set(site_ids)
        return [
            a
            for a in await self.list_assignments()
            if a.scope is Scope.DEFAULT
            or (a.scope is Scope.CHARGER and a.target in chargers)
            or (a.scope is Scope.SITE and a.target in sites)
        ]

    # -- pushes -----------------------------------------------------------------------------

    async def request_pushes(self, targets: Sequence[tuple[str, str | None, int | None]]) -> None:
        now = self._data.clock()
        latest = {cp: (tariff_id, version) for cp, tariff_id, version in targets}
        for cp, (tariff_id, _) in latest.items():  # all or nothing (PostgreSQL: one statement)
            if cp in self._data.chargers and tariff_id is not None:
                if tariff_id not in self._data.tariffs:
                    raise NotFound(f"tariff {tariff_id} not found")
        for cp, (tariff_id, version) in latest.items():
            if cp in self._data.chargers:
                self._data.pushes[cp] = TariffPush(
                    cp, tariff_id, version, PUSH_PENDING, "", 0, now, now
                )

    async def resolve(self, charge_point_id: str, groups: Sequence[str]) -> Resolved:
        site_id = self._data.charger_sites.get(charge_point_id)
        site = None if site_id is None else self._data.sites[site_id]
        assigned = {(a.scope, a.target): a.tariff_id for a in self._data.assignments.values()}
        chosen = applicable(
            assigned, charge_point_id=charge_point_id, site_id=site_id, groups=groups
        )
        version = None
        if chosen is not None:
            version = await self.current_version(chosen.tariff_id)
        return Resolved(site, chosen, version)

    async def pending_pushes(
        self, charge_point_ids: Sequence[str], *, retry_failed: bool = False
    ) -> list[TariffPush]:
        wanted = set(charge_point_ids)
        statuses = {PUSH_PENDING, PUSH_FAILED} if retry_failed else {PUSH_PENDING}
        return [
            p
            for cp, p in sorted(self._data.pushes.items())
            if cp in wanted and p.status in statuses
        ]

    async def record_push(
        self, charge_point_id: str, *, requested_at: datetime, status: str, detail: str
    ) -> bool:
        push = self._data.pushes.get(charge_point_id)
        if push is None or push.requested_at != requested_at:
            return False
        self._data.pushes[charge_point_id] = dataclasses.replace(
            push,
            status=status,
            detail=detail[:500],
            attempts=push.attempts + 1,
            updated_at=self._data.clock(),
        )
        return True

    async def list_pushes(
        self,
        *,
        tariff_id: str | None = None,
        charge_point_id: str | None = None,
        charge_point_ids: Sequence[str] | None = None,
    ) -> list[TariffPush]:
        return [
            p
            for cp, p in sorted(self._data.pushes.items())
            if (tariff_id is None or p.tariff_id == tariff_id)
            and (charge_point_ids is None or cp in charge_point_ids)
            and (charge_point_id is None or cp == charge_point_id)
        ]
