"""Charge detail records: ended sessions with a final cost as OCPI 2.2.1 CDRs, a page at a
time or streamed as a file (NDJSON or CSV) for roaming partners and accounting.

Staff only (admin, operator, monitor): a CDR is a record between the operator and its
partners and accountants; a driver sees their own sessions and costs at
``/api/v1/transactions`` and gets 403 here. See docs/reference/cdr-export.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.responses import Response, StreamingResponse

from backoffice.deps import PageDep, PoolDep, Reader, SettingsDep
from backoffice.pagination import decode_cursor, encode_cursor
from backoffice.routes import API
from backoffice.schemas.common import MAX_BIGINT
from csms.domain.cdrs import dumps
from csms.domain.charge_points import MAX_CHARGE_POINT_ID
from csms.errors import NotFound
from csms.services.cdrs import (
    EXTENSIONS,
    MEDIA_TYPES,
    CdrOptions,
    ExportFormat,
    check_range,
    export,
    parse_instant,
)
from csms.store import cdrs
from csms.store.cdrs import CdrFilter

router = APIRouter(prefix=f"{API}/cdrs", tags=["cdrs"])

JSON = "application/json"
CDR_EXAMPLE = "An OCPI 2.2.1 CDR object (docs/reference/cdr-export.md); numbers are JSON numbers."
From = Annotated[
    str | None,
    Query(
        alias="from",
        max_length=40,
        description="Sessions that ended at or after this (a date is midnight UTC)",
    ),
]
To = Annotated[
    str | None,
    Query(alias="to", max_length=40, description="Sessions that ended before this"),
]
ChargerFilter = Annotated[str | None, Query(max_length=MAX_CHARGE_POINT_ID)]
SiteFilter = Annotated[str | None, Query(max_length=36, description="Chargers at this site")]
AccountFilter = Annotated[
    int | None, Query(ge=1, le=MAX_BIGINT, description="Sessions billed to this account")
]


def _filter(
    start: str | None,
    end: str | None,
    charge_point_id: str | None,
    site: str | None,
    account: int | None,
) -> CdrFilter:
    lower = None if start is None else parse_instant(start, "from")
    upper = None if end is None else parse_instant(end, "to")
    if lower is not None and upper is not None:
        check_range(lower, upper)
    return CdrFilter(lower, upper, charge_point_id, site, account)


def _json(body: object) -> Response:
    return Response(dumps(body), media_type=JSON)


_ONE_CDR: dict[int | str, dict[str, Any]] = {
    200: {"description": CDR_EXAMPLE, "content": {JSON: {}}}
}


@router.get("", response_class=Response, responses=_ONE_CDR)
async def list_cdrs(
    caller: Reader,
    pool: PoolDep,
    settings: SettingsDep,
    page: PageDep,
    start: From = None,
    end: To = None,
    charge_point_id: ChargerFilter = None,
    site: SiteFilter = None,
    account: AccountFilter = None,
) -> Response:
    """`{"items": [CDR, ...], "next_cursor": ...}`, by session id: sessions that ended in
    `[from, to)` with a final cost."""
    after = decode_cursor(page.cursor, int) or 0
    f = _filter(start, end, charge_point_id, site, account)
    f = CdrFilter(f.start, f.end, f.charge_point_id, f.site_id, f.account_id, after)
    rows = await cdrs.page(pool, f, page.limit + 1)
    options = CdrOptions.from_settings(settings)
    items = rows[: page.limit]
    cursor = encode_cursor(items[-1].id) if len(rows) > page.limit else None
    return _json({"items": [options.ocpi(s) for s in items], "next_cursor": cursor})


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "NDJSON (one OCPI CDR per line) or CSV, streamed",
            "content": {MEDIA_TYPES["ocpi"]: {}, "text/csv": {}},
        }
    },
)
async def export_cdrs(
    caller: Reader,
    pool: PoolDep,
    settings: SettingsDep,
    start: Annotated[str, Query(alias="from", max_length=40, description="Ended at or after")],
    end: Annotated[str, Query(alias="to", max_length=40, description="Ended before")],
    fmt: Annotated[ExportFormat, Query(alias="format")] = "ocpi",
    charge_point_id: ChargerFilter = None,
    site: SiteFilter = None,
    account: AccountFilter = None,
) -> StreamingResponse:
    """Every CDR of sessions that ended in `[from, to)`, streamed as it is read (a
    server-side cursor): `format=ocpi` NDJSON, `format=csv` the accounting columns."""
    f = _filter(start, end, charge_point_id, site, account)
    assert f.start is not None and f.end is not None
    options = CdrOptions.from_settings(settings)

    async def body() -> AsyncIterator[bytes]:
        async for chunk in export(cdrs.stream(pool, f), fmt, options):
            yield chunk

    stamps = (f"{bound.astimezone(UTC):%Y%m%dT%H%M%SZ}" for bound in (f.start, f.end))
    name = f"cdrs-{'-'.join(stamps)}.{EXTENSIONS[fmt]}"
    return StreamingResponse(
        body(),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/{cdr_id}", response_class=Response, responses=_ONE_CDR)
async def get_cdr(
    caller: Reader,
    pool: PoolDep,
    settings: SettingsDep,
    cdr_id: Annotated[int, Path(ge=1, le=MAX_BIGINT, description="The CDR's (session's) id")],
) -> Response:
    """One CDR: the session `cdr_id` if it ended with a final cost, else 404."""
    found = await cdrs.get(pool, cdr_id)
    if found is None:
        raise NotFound(f"cdr {cdr_id} not found (no ended session with a final cost)")
    return _json(CdrOptions.from_settings(settings).ocpi(found))
