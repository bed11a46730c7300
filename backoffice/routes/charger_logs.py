"""Diagnostics and logs of a charger: ask for an upload (1.6 GetDiagnostics, GetLog of both
versions), follow it, list and download what chargers uploaded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Body, Request, Response, status
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse

from backoffice.deps import Operator, PageDep, Reader, StateDep
from backoffice.pagination import Page, decode_cursor, page_of
from backoffice.routes import API
from backoffice.routes.chargers import ChargePointIdPath, existing
from backoffice.schemas.fleet import LogRequestCreate, LogRequestPublic
from backoffice.uploads import DIRECTORY, upload_file_path
from csms.errors import NotFound
from csms.store import charger_logs

router = APIRouter(prefix=f"{API}/chargers", tags=["diagnostics and logs"])

LogIdPath = Annotated[int, PathParam(ge=1, le=2**63 - 1)]
READ_BYTES = 256 * 1024


@router.post(
    "/{charge_point_id}/logs",
    response_model=LogRequestPublic,
    status_code=status.HTTP_201_CREATED,
)
async def request_logs(
    principal: Operator,
    state: StateDep,
    request: Request,
    response: Response,
    charge_point_id: ChargePointIdPath,
    body: Annotated[LogRequestCreate | None, Body()] = None,
) -> LogRequestPublic:
    """Ask the charger to upload its diagnostics or its security log (from / to: the period
    it covers) to a URL of this backoffice made for this request. 409 when it is not
    connected, 502 when it answers a CALLERROR, 504 when it does not answer: nothing is
    kept then."""
    asked = body or LogRequestCreate()
    await existing(state.pool, charge_point_id)
    settings = state.settings
    base_url = settings.log_upload_base_url or str(request.base_url)
    found = await state.services.logs.request(
        state.commands,
        charge_point_id,
        log_type=asked.type,
        oldest=asked.from_,
        latest=asked.to,
        base_url=base_url,
        ttl=settings.log_upload_ttl,
        by=principal.username,
        timeout=settings.command_timeout,
    )
    response.headers["Location"] = f"{API}/chargers/{charge_point_id}/logs/{found.id}"
    return LogRequestPublic.of(found)


@router.get("/{charge_point_id}/logs", response_model=Page[LogRequestPublic])
async def list_logs(
    _: Reader, state: StateDep, charge_point_id: ChargePointIdPath, page: PageDep
) -> Page[LogRequestPublic]:
    """Newest first: each request with its statuses and, once uploaded, its size and
    SHA-256."""
    await existing(state.pool, charge_point_id)
    before = decode_cursor(page.cursor, int)
    rows = await state.services.logs.list(charge_point_id, before_id=before, limit=page.limit + 1)
    items, cursor = page_of(rows, page.limit, lambda r: r.id)
    return Page(items=[LogRequestPublic.of(r) for r in items], next_cursor=cursor)


@router.get("/{charge_point_id}/logs/{log_id}", response_model=LogRequestPublic)
async def get_log(
    _: Reader, state: StateDep, charge_point_id: ChargePointIdPath, log_id: LogIdPath
) -> LogRequestPublic:
    return LogRequestPublic.of(await state.services.logs.get(charge_point_id, log_id))


@router.get(
    "/{charge_point_id}/logs/{log_id}/download",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def download_log(
    _: Reader, state: StateDep, charge_point_id: ChargePointIdPath, log_id: LogIdPath
) -> StreamingResponse:
    """The file the charger uploaded, as uploaded (404 until it is)."""
    found = await state.services.logs.get(charge_point_id, log_id)
    if found.uploaded_at is None:
        raise NotFound(f"log request {log_id} has no upload yet (status {found.status})")
    name = found.upload_name or found.file_name or f"{charge_point_id}-{log_id}.log"
    headers = {
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}",
        "X-Content-SHA256": found.sha256 or "",
    }
    if found.size_bytes is not None:
        headers["Content-Length"] = str(found.size_bytes)
    directory = state.settings.log_upload_dir
    if found.stored_in == DIRECTORY:
        if directory is None:
            raise NotFound(f"log request {log_id} is stored in a directory not configured here")
        path = upload_file_path(directory, log_id)
        if not path.exists():
            raise NotFound(f"the file of log request {log_id} is gone")
        content: AsyncIterator[bytes] = _file(path)
    else:
        content = charger_logs.read_chunks(state.pool, log_id)
    return StreamingResponse(content, media_type="application/octet-stream", headers=headers)


async def _file(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while chunk := await asyncio.to_thread(handle.read, READ_BYTES):
            yield chunk
