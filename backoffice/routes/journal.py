"""A charger's OCPP journal: every frame it sent and was sent (passwords redacted when
journaled), newest first, with search."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from backoffice.deps import PageDep, PoolDep, Reader
from backoffice.pagination import Page, decode_cursor, page_of
from backoffice.routes import API
from backoffice.routes.chargers import ChargePointIdPath, existing
from csms.store import journal

router = APIRouter(prefix=f"{API}/chargers", tags=["chargers"])


class FramePublic(BaseModel):
    id: int
    at: datetime
    direction: str = Field(description="in: from the charger; out: from the CSMS")
    message_type: int = Field(description="2 CALL, 3 CALLRESULT, 4 CALLERROR")
    message_id: str
    action: str | None = Field(description="The CALL's action (also on its answer)")
    payload: Any = Field(
        description="Parsed from the frame: a CALL's or CALLRESULT's payload, a CALLERROR's "
        "errorCode/errorDescription/errorDetails, {raw: text} for an unparseable frame"
    )
    frame: str = Field(description="The frame as received or sent (a password being set shows ***)")


@router.get("/{charge_point_id}/messages", response_model=Page[FramePublic])
async def charger_messages(
    _: Reader,
    pool: PoolDep,
    charge_point_id: ChargePointIdPath,
    page: PageDep,
    q: Annotated[
        str | None, Query(max_length=200, description="Text in the action, id or payload")
    ] = None,
    action: Annotated[str | None, Query(max_length=100, description="Only this action")] = None,
) -> Page[FramePublic]:
    """The charger's OCPP frames, newest first (kept for CSMS_JOURNAL_RETENTION_DAYS)."""
    await existing(pool, charge_point_id)
    before = decode_cursor(page.cursor, int)
    rows = await journal.search_messages(
        pool, charge_point_id, search=q, action=action, limit=page.limit + 1, before_id=before
    )
    items, cursor = page_of(rows, page.limit, lambda r: int(r["id"]))
    return Page(items=[FramePublic(**r) for r in items], next_cursor=cursor)
