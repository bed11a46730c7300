"""Sites, tariffs, their assignments and the display pushes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from csms.domain.sites import Assignment, Scope, Site
from csms.domain.tariff_catalog import Resolved, TariffInfo, TariffPush, TariffVersion


class TariffStore(Protocol):
    """Sites, tariffs and their versions, assignments, and pushes to chargers."""

    async def add_site(self, site: Site) -> Site:
        """AlreadyExists."""
        ...

    async def get_site(self, site_id: str) -> Site | None: ...

    async def list_sites(self) -> list[Site]:
        """By id."""
        ...

    async def update_site(self, site_id: str, **changes: Any) -> Site:
        """NotFound."""
        ...

    async def remove_site(self, site_id: str) -> None:
        """Its chargers keep no site, its tariff assignment goes; NotFound."""
        ...

    async def set_charger_site(self, charge_point_id: str, site_id: str | None) -> None:
        """NotFound (the charger or the site)."""
        ...

    async def site_of(self, charge_point_id: str) -> Site | None: ...

    async def charger_sites(
        self, charge_point_ids: Sequence[str] | None = None
    ) -> dict[str, str | None]:
        """Every registered charger (or those of ``charge_point_ids``) and its site id."""
        ...

    async def add_tariff(
        self,
        tariff_id: str,
        *,
        description: str,
        definition: dict[str, Any],
        currency: str,
        created_by: str | None,
    ) -> TariffVersion:
        """A new tariff with version 1 as its draft; AlreadyExists."""
        ...

    async def save_draft(
        self,
        tariff_id: str,
        *,
        definition: dict[str, Any],
        currency: str,
        created_by: str | None,
        description: str | None = None,
    ) -> TariffVersion:
        """Replace the draft, or start the next version as the draft; NotFound."""
        ...

    async def publish(
        self, tariff_id: str, *, published_by: str | None, at: datetime
    ) -> TariffVersion:
        """The draft becomes the current version; NotFound, InvalidInput (no draft)."""
        ...

    async def get_version(self, tariff_id: str, version: int) -> TariffVersion | None: ...

    async def current_version(self, tariff_id: str) -> TariffVersion | None:
        """The latest published version."""
        ...

    async def list_versions(self, tariff_id: str) -> list[TariffVersion]: ...

    async def list_tariffs(self) -> list[TariffInfo]:
        """By id."""
        ...

    async def describe(self, tariff_id: str, description: str) -> None:
        """Change the description (no new version: it prices nothing); NotFound."""
        ...

    async def remove_tariff(self, tariff_id: str) -> None:
        """NotFound; InvalidInput when sessions were priced with it."""
        ...

    async def assign(
        self, scope: Scope, target: str, tariff_id: str, *, created_by: str | None
    ) -> Assignment:
        """Replaces what was assigned there; NotFound (the tariff)."""
        ...

    async def unassign(self, scope: Scope, target: str) -> None:
        """NotFound."""
        ...

    async def list_assignments(self) -> list[Assignment]:
        """By scope, then target."""
        ...

    async def display_assignments(
        self, charge_point_ids: Sequence[str], site_ids: Sequence[str]
    ) -> list[Assignment]:
        """What can decide these chargers' display tariff: the default and the assignments
        to these chargers and these sites (groups never do: no driver is known). In
        ``list_assignments``' order."""
        ...

    async def request_pushes(self, targets: Sequence[tuple[str, str | None, int | None]]) -> None:
        """(charger, tariff, version) each charger's display should show, pending; replaces
        an older request (of a charger named twice, the later one counts); chargers not
        registered are skipped."""
        ...

    async def resolve(self, charge_point_id: str, groups: Sequence[str]) -> Resolved:
        """The charger's site, the assignment that applies to a session of a driver in
        ``groups`` (:func:`csms.domain.sites.applicable`) and that tariff's current
        published version."""
        ...

    async def pending_pushes(
        self, charge_point_ids: Sequence[str], *, retry_failed: bool = False
    ) -> list[TariffPush]:
        """Pending pushes of these chargers (and failed ones with ``retry_failed``)."""
        ...

    async def record_push(
        self, charge_point_id: str, *, requested_at: datetime, status: str, detail: str
    ) -> bool:
        """What became of the push requested at ``requested_at``; False if a newer request
        replaced it (nothing changes)."""
        ...

    async def list_pushes(
        self,
        *,
        tariff_id: str | None = None,
        charge_point_id: str | None = None,
        charge_point_ids: Sequence[str] | None = None,
    ) -> list[TariffPush]:
        """By charger; ``charge_point_ids``: only these chargers'."""
        ...
