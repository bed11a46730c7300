"""Hourly meter rollups of a charger (read-only): energy delivered, highest power and
sessions per connector and hour, without scanning raw samples (ADR 0005)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from backoffice.deps import PoolDep, Reader
from backoffice.routes import API
from backoffice.routes.chargers import ChargePointIdPath, existing
from csms.errors import InvalidInput
from csms.services.cdrs import check_range, parse_instant
from csms.store import rollups

router = APIRouter(prefix=f"{API}/chargers", tags=["chargers"])

MAX_RANGE = timedelta(days=366)


class MeterRollupPublic(BaseModel):
    evse_id: int
    connector_id: int
    hour: datetime
    energy_wh: Decimal | None
    """How far the energy register advanced between the hour's first and last readings."""
    first_wh: Decimal | None
    last_wh: Decimal | None
    max_power_w: Decimal | None
    session_count: int


class MeterRollups(BaseModel):
    charge_point_id: str
    start: datetime
    end: datetime
    items: list[MeterRollupPublic]


@router.get("/{charge_point_id}/rollups", response_model=MeterRollups)
async def charger_rollups(
    _: Reader,
    pool: PoolDep,
    charge_point_id: ChargePointIdPath,
    start: Annotated[str, Query(alias="from", max_length=40, description="Hours from (UTC)")],
    end: Annotated[str, Query(alias="to", max_length=40, description="Hours before")],
) -> MeterRollups:
    """Per connector and hour in `[from, to)` (at most 366 days): energy delivered (Wh),
    highest active power imported (W), sessions that sampled. Updated by `csms worker`
    every minute from the samples received up to a minute before."""
    first, last = parse_instant(start, "from"), parse_instant(end, "to")
    check_range(first, last)
    if last - first > MAX_RANGE:
        raise InvalidInput("to: at most 366 days after from")
    await existing(pool, charge_point_id)
    rows = await rollups.list_rollups(pool, charge_point_id, first, last)
    return MeterRollups(
        charge_point_id=charge_point_id,
        start=first,
        end=last,
        items=[MeterRollupPublic(**row) for row in rows],
    )
