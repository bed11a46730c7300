"""The fleet at a glance (the console's fleet page and site map): chargers with their
connectors and state, filtered and paged in PostgreSQL, and counts per state."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from backoffice.deps import PageDep, PoolDep, Reader
from backoffice.pagination import Page, decode_cursor, page_of
from backoffice.routes import API
from csms.store import fleet
from csms.store.fleet import FleetFilter

router = APIRouter(prefix=f"{API}/fleet", tags=["fleet"])

State = Literal["available", "charging", "faulted", "offline", "online"]


class FleetConnectorPublic(BaseModel):
    evse_id: int
    connector_id: int
    status: str
    error_code: str


class FleetChargerPublic(BaseModel):
    charge_point_id: str
    state: str = Field(description="offline, faulted, charging or available")
    vendor: str | None
    model: str | None
    firmware_version: str | None
    connected_node: str | None = Field(description="The node holding its connection")
    connected_protocol: str | None
    last_heartbeat_at: datetime | None
    last_seen_at: datetime | None
    site_id: str | None
    connectors: list[FleetConnectorPublic]


class FleetCountsPublic(BaseModel):
    total: int
    online: int = Field(description="Every state but offline")
    available: int
    charging: int
    faulted: int
    offline: int


class SiteCountsPublic(BaseModel):
    site_id: str
    name: str
    latitude: Decimal | None
    longitude: Decimal | None
    counts: FleetCountsPublic


SiteQuery = Annotated[str | None, Query(max_length=36, description="Only this site's")]
ModelQuery = Annotated[str | None, Query(max_length=100, description="Only this model")]
SearchQuery = Annotated[
    str | None, Query(max_length=100, description="Part of the charger id or description")
]


@router.get("", response_model=Page[FleetChargerPublic])
async def list_fleet(
    _: Reader,
    pool: PoolDep,
    page: PageDep,
    site_id: SiteQuery = None,
    model: ModelQuery = None,
    state: Annotated[State | None, Query(description="Only chargers in this state")] = None,
    q: SearchQuery = None,
    charge_point_id: Annotated[
        list[str] | None,
        Query(max_length=100, description="Only these chargers (the console's live rows)"),
    ] = None,
) -> Page[FleetChargerPublic]:
    """Chargers by id with their connectors and state; filtered by site, model, state, a
    search in id and description, and ids."""
    after = decode_cursor(page.cursor, str) or ""
    ids = None if charge_point_id is None else tuple(charge_point_id)
    where = FleetFilter(site_id=site_id, model=model, state=state, search=q, charge_point_ids=ids)
    rows = await fleet.list_fleet(pool, where, limit=page.limit + 1, after=after)
    items, cursor = page_of(rows, page.limit, lambda c: c.charge_point_id)
    return Page(
        items=[FleetChargerPublic(**dataclasses.asdict(c)) for c in items], next_cursor=cursor
    )


@router.get("/summary", response_model=FleetCountsPublic)
async def fleet_summary(
    _: Reader,
    pool: PoolDep,
    site_id: SiteQuery = None,
    model: ModelQuery = None,
    q: SearchQuery = None,
) -> FleetCountsPublic:
    """How many chargers (of a site, a model, matching a search) are in each state."""
    where = FleetFilter(site_id=site_id, model=model, search=q)
    counts = await fleet.count_fleet(pool, where)
    return FleetCountsPublic(**dataclasses.asdict(counts))


@router.get("/sites", response_model=Page[SiteCountsPublic])
async def fleet_sites(_: Reader, pool: PoolDep, page: PageDep) -> Page[SiteCountsPublic]:
    """Sites by id with their coordinates and their chargers' states (the map)."""
    after = decode_cursor(page.cursor, str) or ""
    rows = await fleet.list_site_counts(pool, limit=page.limit + 1, after=after)
    items, cursor = page_of(rows, page.limit, lambda s: s.site_id)
    return Page(
        items=[SiteCountsPublic(**dataclasses.asdict(s)) for s in items], next_cursor=cursor
    )
