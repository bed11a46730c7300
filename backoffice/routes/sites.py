"""Sites (a named place with a time zone, where chargers are) and which site a charger is at.

Moving a charger to or from a site, and deleting a site, request a price display push to
the chargers whose tariff changed with it (the service does).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status

from backoffice.deps import Operator, PageDep, Reader, ServicesDep
from backoffice.pagination import Page, decode_cursor, page_of
from backoffice.routes import API
from backoffice.routes.chargers import ChargePointIdPath
from backoffice.schemas.sites import (
    ChargerSite,
    ChargerSiteUpdate,
    SiteCreate,
    SitePublic,
    SiteUpdate,
)
from csms.domain.sites import Site

router = APIRouter(prefix=f"{API}/sites", tags=["tariffs"])
charger_router = APIRouter(prefix=f"{API}/chargers", tags=["tariffs"])

SiteIdPath = Annotated[str, Path(min_length=1, max_length=36)]


def site_public(site: Site) -> SitePublic:
    return SitePublic(
        id=site.id,
        name=site.name,
        time_zone=site.time_zone,
        address=site.address,
        city=site.city,
        postal_code=site.postal_code,
        country=site.country,
        latitude=site.latitude,
        longitude=site.longitude,
        created_at=site.created_at,
    )


@router.get("", response_model=Page[SitePublic])
async def list_sites(_: Reader, services: ServicesDep, page: PageDep) -> Page[SitePublic]:
    """By id."""
    after = decode_cursor(page.cursor, str)
    rows = [s for s in await services.tariffs.sites() if after is None or s.id > after]
    items, cursor = page_of(rows, page.limit, lambda s: s.id)
    return Page(items=[site_public(s) for s in items], next_cursor=cursor)


@router.post("", response_model=SitePublic, status_code=status.HTTP_201_CREATED)
async def create_site(
    _: Operator, services: ServicesDep, body: SiteCreate, response: Response
) -> SitePublic:
    site = await services.tariffs.add_site(Site(**body.model_dump()))
    response.headers["Location"] = f"{API}/sites/{site.id}"
    return site_public(site)


@router.get("/{site_id}", response_model=SitePublic)
async def get_site(_: Reader, services: ServicesDep, site_id: SiteIdPath) -> SitePublic:
    return site_public(await services.tariffs.site(site_id))


@router.patch("/{site_id}", response_model=SitePublic)
async def update_site(
    _: Operator, services: ServicesDep, site_id: SiteIdPath, body: SiteUpdate
) -> SitePublic:
    """Change the fields given; a new ``time_zone`` applies to sessions priced from now on
    (and to running sessions at their next cost update)."""
    changes: dict[str, Any] = {
        name: getattr(body, name)
        for name in body.model_fields_set
        if getattr(body, name) is not None or name in ("latitude", "longitude")
    }
    return site_public(await services.tariffs.update_site(site_id, **changes))


@router.delete("/{site_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_site(_: Operator, services: ServicesDep, site_id: SiteIdPath) -> None:
    """Its chargers are then at no site, and a tariff assigned to it is unassigned (a site
    created later with the same id starts without one)."""
    await services.tariffs.remove_site(site_id)  # with its assignment


@charger_router.get("/{charge_point_id}/site", response_model=ChargerSite)
async def charger_site(
    _: Reader, services: ServicesDep, charge_point_id: ChargePointIdPath
) -> ChargerSite:
    """The site the charger is at (null: none)."""
    await services.chargers.get(charge_point_id)
    site = await services.tariffs.site_of(charge_point_id)
    return ChargerSite(
        charge_point_id=charge_point_id, site=None if site is None else site_public(site)
    )


@charger_router.put("/{charge_point_id}/site", response_model=ChargerSite)
async def place_charger(
    _: Operator, services: ServicesDep, charge_point_id: ChargePointIdPath, body: ChargerSiteUpdate
) -> ChargerSite:
    """Place the charger at a site (``site_id: null``: at none); its price display follows
    the tariff of its new site."""
    await services.tariffs.assign_site(charge_point_id, body.site_id)
    site = None if body.site_id is None else await services.tariffs.site(body.site_id)
    return ChargerSite(
        charge_point_id=charge_point_id, site=None if site is None else site_public(site)
    )
