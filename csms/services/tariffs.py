"""Tariffs as operators manage them: sites, tariffs and their versions, assignments, which
tariff applies where, and the price display each charger should have.

A tariff is posted as OCPI-shaped JSON, validated by :func:`csms.domain.tariffs.parse_tariff`
and stored normalised; edits change the draft, publishing makes the draft the current
version (immutable from then on). Publishing, assigning, unassigning and moving a charger to
a site request a push of the price display to every charger whose display tariff changed
(the charger > site > default tariff: driver groups are per session, not per display);
the node holding a charger applies it (``csms.node.price_display``), chargers offline when
they next connect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from csms.domain.clock import Clock
from csms.domain.sites import (
    Applicable,
    Assignment,
    Scope,
    Site,
    applicable,
    check_identifier,
    check_time_zone,
    group_targets,
)
from csms.domain.tariff_catalog import TariffInfo, TariffPush, TariffVersion
from csms.domain.tariffs import Tariff, parse_tariff, tariff_to_json
from csms.errors import InvalidInput, NotFound
from csms.services.ports import ChargerStore, TariffStore

MAX_DESCRIPTION = 255


@dataclass(frozen=True, slots=True)
class TariffAnswer:
    """Which tariff applies to a charger (for a driver), why, and its current version."""

    charge_point_id: str
    site: Site | None
    applicable: Applicable | None
    version: TariffVersion | None

    @property
    def tariff(self) -> Tariff | None:
        return None if self.version is None else parse_tariff(self.version.definition)


class TariffService:
    def __init__(self, tariffs: TariffStore, chargers: ChargerStore, *, clock: Clock) -> None:
        self._tariffs = tariffs
        self._chargers = chargers
        self._clock = clock

    # -- sites -------------------------------------------------------------------------------

    async def add_site(self, site: Site) -> Site:
        check_identifier(site.id, "id")
        _check_site_fields(
            name=site.name,
            time_zone=site.time_zone,
            latitude=site.latitude,
            longitude=site.longitude,
        )
        return await self._tariffs.add_site(site)

    async def site(self, site_id: str) -> Site:
        found = await self._tariffs.get_site(site_id)
        if found is None:
            raise NotFound(f"site {site_id} not found")
        return found

    async def sites(self) -> list[Site]:
        return await self._tariffs.list_sites()

    async def update_site(self, site_id: str, **changes: Any) -> Site:
        _check_site_fields(**changes)
        return await self._tariffs.update_site(site_id, **changes)

    async def remove_site(self, site_id: str) -> None:
        await self._tariffs.remove_site(site_id)
        await self.refresh_displays()

    async def assign_site(self, charge_point_id: str, site_id: str | None) -> None:
        """Place a charger at a site (None: at none); its display follows."""
        await self.place_chargers([charge_point_id], site_id)

    async def place_chargers(self, charge_point_ids: Sequence[str], site_id: str | None) -> None:
        """Place chargers at a site (None: at none): all of them or, when one of them or
        the site does not exist, none (NotFound); their displays follow."""
        if site_id is not None:
            await self.site(site_id)
        for charge_point_id in charge_point_ids:
            if await self._chargers.get(charge_point_id) is None:
                raise NotFound(f"charger {charge_point_id} not found")
        for charge_point_id in charge_point_ids:
            await self._tariffs.set_charger_site(charge_point_id, site_id)
        await self.refresh_displays()

    # -- tariffs -----------------------------------------------------------------------------

    async def add(
        self,
        tariff_id: str,
        definition: Mapping[str, Any],
        *,
        description: str = "",
        created_by: str | None,
    ) -> TariffVersion:
        """A new tariff; its first version is a draft until published."""
        check_identifier(tariff_id, "id")
        _check_description(description)
        tariff = parse_tariff(definition)
        return await self._tariffs.add_tariff(
            tariff_id,
            description=description,
            definition=tariff_to_json(tariff),
            currency=tariff.currency,
            created_by=created_by,
        )

    async def edit(
        self,
        tariff_id: str,
        definition: Mapping[str, Any],
        *,
        description: str | None = None,
        created_by: str | None,
    ) -> TariffVersion:
        """Change the draft, or start the next version as a draft (published versions never
        change)."""
        if description is not None:
            _check_description(description)
        tariff = parse_tariff(definition)
        return await self._tariffs.save_draft(
            tariff_id,
            definition=tariff_to_json(tariff),
            currency=tariff.currency,
            created_by=created_by,
            description=description,
        )

    async def publish(self, tariff_id: str, *, published_by: str | None) -> TariffVersion:
        """The draft becomes the current version: sessions that start from now on are priced
        with it, and the chargers it is the display tariff of are pushed."""
        version = await self._tariffs.publish(
            tariff_id, published_by=published_by, at=self._clock()
        )
        await self.refresh_displays()
        return version

    async def info(self, tariff_id: str) -> TariffInfo:
        for found in await self._tariffs.list_tariffs():
            if found.id == tariff_id:
                return found
        raise NotFound(f"tariff {tariff_id} not found")

    async def tariffs(self) -> list[TariffInfo]:
        return await self._tariffs.list_tariffs()

    async def versions(self, tariff_id: str) -> list[TariffVersion]:
        found = await self._tariffs.list_versions(tariff_id)
        if not found:
            raise NotFound(f"tariff {tariff_id} not found")
        return found

    async def version(self, tariff_id: str, version: int) -> TariffVersion:
        found = await self._tariffs.get_version(tariff_id, version)
        if found is None:
            raise NotFound(f"tariff {tariff_id} has no version {version}")
        return found

    async def describe(self, tariff_id: str, description: str) -> None:
        """Change the description only (no new version: it prices nothing)."""
        _check_description(description)
        await self._tariffs.describe(tariff_id, description)

    async def remove(self, tariff_id: str) -> None:
        """Only a tariff no session was priced with (unassign it otherwise). Chargers that
        showed it get the display of what applies now (or a cleared one)."""
        showing = [p.charge_point_id for p in await self._tariffs.list_pushes(tariff_id=tariff_id)]
        await self._tariffs.remove_tariff(tariff_id)
        await self._tariffs.request_pushes([(cp, None, None) for cp in showing])
        await self.refresh_displays()

    # -- assignments -------------------------------------------------------------------------

    async def assign(
        self, scope: Scope, target: str, tariff_id: str, *, created_by: str | None
    ) -> Assignment:
        """Assign a published tariff to a driver group (an id token, or the group id token
        of tokens), a charger, a site or as the default; replaces what was assigned there."""
        target = await self._target(scope, target)
        if await self._tariffs.current_version(tariff_id) is None:
            if not await self._tariffs.list_versions(tariff_id):
                raise NotFound(f"tariff {tariff_id} not found")
            raise InvalidInput(f"tariff {tariff_id} has no published version: publish it first")
        assignment = await self._tariffs.assign(scope, target, tariff_id, created_by=created_by)
        if scope is not Scope.GROUP:
            await self.refresh_displays()
        return assignment

    async def unassign(self, scope: Scope, target: str) -> None:
        target = _normal_target(scope, target)
        await self._tariffs.unassign(scope, target)
        if scope is not Scope.GROUP:
            await self.refresh_displays()

    async def assignments(self) -> list[Assignment]:
        return await self._tariffs.list_assignments()

    async def _target(self, scope: Scope, target: str) -> str:
        target = _normal_target(scope, target)
        if scope is Scope.CHARGER and await self._chargers.get(target) is None:
            raise NotFound(f"charger {target} not found")
        if scope is Scope.SITE and await self._tariffs.get_site(target) is None:
            raise NotFound(f"site {target} not found")
        return target

    # -- what applies --------------------------------------------------------------------------

    async def applicable(
        self,
        charge_point_id: str,
        *,
        id_token: str | None = None,
        parent_id_token: str | None = None,
    ) -> TariffAnswer:
        """The tariff that applies to a session at the charger of a driver with
        ``id_token`` (and its group): group > charger > site > default."""
        if await self._chargers.get(charge_point_id) is None:
            raise NotFound(f"charger {charge_point_id} not found")
        resolved = await self._tariffs.resolve(
            charge_point_id, group_targets(id_token, parent_id_token)
        )
        return TariffAnswer(charge_point_id, resolved.site, resolved.applicable, resolved.version)

    # -- pushes ----------------------------------------------------------------------------------

    async def pushes(
        self, *, tariff_id: str | None = None, charge_point_id: str | None = None
    ) -> list[TariffPush]:
        return await self._tariffs.list_pushes(tariff_id=tariff_id, charge_point_id=charge_point_id)

    async def refresh_displays(self, only: Sequence[str] | None = None) -> int:
        """Request a push for every charger (or those of ``only``: chargers back on line,
        one batch for many) whose display tariff (version) differs from the one last
        requested for it; returns how many."""
        sites = await self._tariffs.charger_sites(only)
        if only is None:
            assignments = await self._tariffs.list_assignments()
        else:  # chargers back on line: what concerns them, not every assignment
            site_ids = sorted({site for site in sites.values() if site is not None})
            assignments = await self._tariffs.display_assignments(list(sites), site_ids)
        assigned: dict[tuple[Scope, str], str] = {
            (a.scope, a.target): a.tariff_id for a in assignments if a.scope is not Scope.GROUP
        }
        chosen_of = {
            charge_point_id: applicable(assigned, charge_point_id=charge_point_id, site_id=site)
            for charge_point_id, site in sites.items()
        }
        current: dict[str, int] = {}
        for tariff_id in {c.tariff_id for c in chosen_of.values() if c is not None}:
            found = await self._tariffs.current_version(tariff_id)
            if found is not None:
                current[tariff_id] = found.version
        requested = {
            p.charge_point_id: p for p in await self._tariffs.list_pushes(charge_point_ids=only)
        }
        targets: list[tuple[str, str | None, int | None]] = []
        for charge_point_id, chosen in chosen_of.items():
            wanted: tuple[str | None, int | None] = (None, None)
            if chosen is not None and chosen.tariff_id in current:
                wanted = (chosen.tariff_id, current[chosen.tariff_id])
            last = requested.get(charge_point_id)
            if last is None:
                if wanted[0] is not None:
                    targets.append((charge_point_id, *wanted))
            elif (last.tariff_id, last.tariff_version) != wanted:
                targets.append((charge_point_id, *wanted))
        await self._tariffs.request_pushes(targets)
        return len(targets)

    async def site_of(self, charge_point_id: str) -> Site | None:
        return await self._tariffs.site_of(charge_point_id)

    async def display_of(self, charge_point_id: str) -> TariffAnswer:
        """The tariff a charger's display should show (no driver known)."""
        resolved = await self._tariffs.resolve(charge_point_id, ())
        return TariffAnswer(charge_point_id, resolved.site, resolved.applicable, resolved.version)

    async def due_pushes(
        self, charge_point_ids: Sequence[str], *, retry_failed: bool
    ) -> list[TariffPush]:
        return await self._tariffs.pending_pushes(charge_point_ids, retry_failed=retry_failed)

    async def push_done(self, push: TariffPush, status: str, detail: str) -> bool:
        return await self._tariffs.record_push(
            push.charge_point_id, requested_at=push.requested_at, status=status, detail=detail
        )


def _normal_target(scope: Scope, target: str) -> str:
    if scope is Scope.DEFAULT:
        return ""
    if not target:
        raise InvalidInput(f"target: the {scope.value} to assign to is required")
    if scope is Scope.GROUP:
        if len(target) > 36:
            raise InvalidInput("target: an id token has at most 36 characters")
        return target.lower()
    return target


def _check_description(description: str) -> None:
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"description: at most {MAX_DESCRIPTION} characters")


def _check_site_fields(**fields: Any) -> None:
    name = fields.get("name")
    if name is not None and not 1 <= len(name) <= 255:
        raise InvalidInput("name: 1-255 characters")
    time_zone = fields.get("time_zone")
    if time_zone is not None:
        check_time_zone(time_zone)
    for key in ("latitude", "longitude"):
        value = fields.get(key)
        limit = 90 if key == "latitude" else 180
        if value is not None and not -limit <= value <= limit:
            raise InvalidInput(f"{key}: between -{limit} and {limit}")
