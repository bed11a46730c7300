"""The audit log: search and export (admin only). There is no route that changes or
removes an entry (docs/topics/audit.md)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Query
from starlette.responses import StreamingResponse

from backoffice.deps import Admin, PageDep, PoolDep
from backoffice.pagination import Page, decode_cursor, page_of
from backoffice.routes import API
from backoffice.schemas.audit import AuditEntryPublic
from csms.domain.audit import AuditEntry, csv_header, csv_row, parse_when
from csms.domain.clock import utc_now
from csms.errors import InvalidInput
from csms.store import audit
from csms.store.audit import AuditFilter

router = APIRouter(prefix=f"{API}/audit", tags=["audit"])

ActorQuery = Annotated[str | None, Query(max_length=200, description="Username, exactly")]
TargetQuery = Annotated[
    str | None,
    Query(max_length=200, description="A charger id, user id, ... (any path id of the action)"),
]
ActionQuery = Annotated[
    str | None,
    Query(max_length=200, description="An action, or a prefix ending in `.` (`chargers.`)"),
]
SinceQuery = Annotated[
    str | None, Query(max_length=40, description="`1h`, `7d` ago, or an instant (inclusive)")
]
UntilQuery = Annotated[
    str | None, Query(max_length=40, description="`1h`, `7d` ago, or an instant (exclusive)")
]
OutcomeQuery = Annotated[
    Literal["ok", "refused", "failed", "error"] | None, Query(description="Outcome")
]
StatusQuery = Annotated[int | None, Query(ge=100, le=599, description="HTTP status")]
SourceQuery = Annotated[Literal["api", "cli", "worker"] | None, Query(description="Source")]
RequestIdQuery = Annotated[str | None, Query(max_length=128, description="X-Request-ID")]


def _terms(
    actor: ActorQuery = None,
    target: TargetQuery = None,
    action: ActionQuery = None,
    since: SinceQuery = None,
    until: UntilQuery = None,
    outcome: OutcomeQuery = None,
    status: StatusQuery = None,
    source: SourceQuery = None,
    request_id: RequestIdQuery = None,
) -> AuditFilter:
    """The filter query parameters of search and export (every one given must match)."""
    now = utc_now()
    lower = None if since is None else parse_when(since, now, "since")
    upper = None if until is None else parse_when(until, now, "until")
    if lower is not None and upper is not None and upper <= lower:
        raise InvalidInput("until: must be after since")
    return AuditFilter(
        actor=actor,
        target=target,
        action=action,
        since=lower,
        until=upper,
        outcome=outcome,
        status=status,
        source=source,
        request_id=request_id,
    )


TermsDep = Annotated[AuditFilter, Depends(_terms)]


def _public(entry: AuditEntry) -> AuditEntryPublic:
    return AuditEntryPublic(**dataclasses.asdict(entry))


@router.get("", response_model=Page[AuditEntryPublic])
async def search_audit(
    _: Admin,
    pool: PoolDep,
    page: PageDep,
    terms: TermsDep,
) -> Page[AuditEntryPublic]:
    """Audit entries, newest first, filtered (every filter given must match)."""
    before = decode_cursor(page.cursor, int)
    rows = await audit.search(pool, terms, before_id=before, limit=page.limit + 1)
    items, cursor = page_of(rows, page.limit, lambda e: e.id)
    return Page(items=[_public(e) for e in items], next_cursor=cursor)


MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "CSV (formula-safe cells) or NDJSON, oldest first, streamed",
            "content": {"text/csv": {}, "application/x-ndjson": {}},
        }
    },
)
async def export_audit(
    _: Admin,
    pool: PoolDep,
    terms: TermsDep,
    fmt: Annotated[Literal["csv", "ndjson"], Query(alias="format")] = "ndjson",
) -> StreamingResponse:
    """Every matching entry, oldest first, streamed as it is read: `format=csv` (the
    columns of docs/topics/audit.md, cells that could be read as a formula prefixed with
    `'`) or `format=ndjson` (one entry per line)."""

    async def body() -> AsyncIterator[bytes]:
        if fmt == "csv":
            yield csv_header().encode()
        async for entry in audit.export(pool, terms):
            if fmt == "csv":
                yield csv_row(entry).encode()
            else:
                yield orjson.dumps(dataclasses.asdict(entry)) + b"\n"

    stamp = f"{utc_now():%Y%m%dT%H%M%SZ}"
    return StreamingResponse(
        body(),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.{fmt}"'},
    )
