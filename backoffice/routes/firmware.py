"""Firmware: artifacts (uploaded as multipart, streamed into storage), campaigns and their
actions under ``/api/v1/firmware``, and the download route chargers fetch files from.

The download route (``GET|HEAD /firmware/{artifact_id}/{file_name}?cp=&exp=&sig=``) is not
part of the REST API: it takes no token but an expiring URL signed by the worker
(csms.domain.firmware_urls); a URL that is tampered with or expired is 403. It answers Range
requests (206, so a charger resumes a broken download) and streams the file.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from starlette.datastructures import UploadFile
from starlette.responses import StreamingResponse

from backoffice.deps import Operator, PageDep, Reader, StateDep
from backoffice.errors import ApiError, Conflict, Forbidden
from backoffice.pagination import Page, decode_cursor, page_of
from backoffice.routes import API
from backoffice.schemas.firmware import (
    ArtifactPublic,
    CampaignCreate,
    CampaignDetail,
    CampaignPublic,
    EventPublic,
    RetryResult,
    TargetPublic,
    WavePublic,
)
from backoffice.state import State, get_state
from csms.domain.clock import utc_now
from csms.domain.firmware_campaigns import (
    CAMPAIGN_STATUSES,
    Artifact,
    Campaign,
    CampaignOptions,
    NewArtifact,
    parse_percent,
    parse_waves,
    parse_window,
    selector_from,
)
from csms.domain.firmware_signing import signature_text
from csms.domain.firmware_urls import UnsatisfiableRange, parse_range, url_valid
from csms.errors import InvalidInput, NotFound
from csms.services.firmware import ArtifactService, CampaignService, CampaignView
from csms.services.hooks import Hooks
from csms.store.postgres import PostgresFirmware

router = APIRouter(prefix=f"{API}/firmware", tags=["firmware"])
download_router = APIRouter()

UPLOAD_CHUNK = 1024 * 1024
MULTIPART_SLACK = 64 * 1024  # the form's other fields and boundaries
ArtifactIdPath = Annotated[int, Path(ge=1, le=2**63 - 1)]
CampaignIdPath = Annotated[int, Path(ge=1, le=2**63 - 1)]


class PayloadTooLarge(ApiError):
    status = 413


class LengthRequired(ApiError):
    status = 411


class RangeNotSatisfiable(ApiError):
    status = 416


def _store(state: State) -> PostgresFirmware:
    return PostgresFirmware(state.pool, directory=state.settings.firmware_dir)


def artifacts(state: State) -> ArtifactService:
    return ArtifactService(_store(state), max_bytes=state.settings.firmware_max_bytes)


def campaigns(state: State) -> CampaignService:
    return CampaignService(_store(state), clock=utc_now, hooks=Hooks())


def artifact_public(artifact: Artifact) -> ArtifactPublic:
    return ArtifactPublic(**artifact.public())


def campaign_public(c: Campaign) -> CampaignPublic:
    o = c.options
    return CampaignPublic(
        id=c.id,
        name=c.name,
        status=c.status,
        artifact_id=c.artifact_id,
        target_version=c.target_version,
        signed=c.signed,
        target=c.selector,
        canary=o.canary,
        waves=[f"{w.normalize():f}%" for w in o.waves],
        max_failure_rate=f"{o.max_failure_rate.normalize():f}%",
        max_concurrent=o.max_concurrent,
        windows=[str(w) for w in o.windows],
        session_policy=o.session_policy,
        retrieve_at=o.retrieve_at,
        install_at=o.install_at,
        max_attempts=o.max_attempts,
        retry_delay=o.retry_delay,
        timeouts=o.timeouts,
        current_wave=c.current_wave,
        halted_reason=c.halted_reason,
        created_by=c.created_by,
        created_at=c.created_at,
        updated_at=c.updated_at,
        finished_at=c.finished_at,
    )


def campaign_detail(view: CampaignView) -> CampaignDetail:
    waves = [
        WavePublic(
            number=w.wave.number,
            label=w.wave.label,
            size=w.wave.size,
            pending=w.progress.pending,
            in_flight=w.progress.in_flight,
            succeeded=w.progress.succeeded,
            failed=w.progress.failed,
            cancelled=w.progress.cancelled,
            failure_rate=f"{w.progress.failure_rate():.1f}",
            failures_accepted=w.wave.failures_accepted,
            started_at=w.wave.started_at,
            finished_at=w.wave.finished_at,
        )
        for w in view.waves
    ]
    return CampaignDetail(
        **campaign_public(view.campaign).model_dump(),
        chargers=view.total,
        counts=view.counts,
        wave_progress=waves,
    )


# -- artifacts ----------------------------------------------------------------------------------

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "version"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "version": {"type": "string", "maxLength": 50},
                        "vendor": {"type": "string", "maxLength": 50},
                        "model": {"type": "string", "maxLength": 50},
                        "sha256": {"type": "string", "description": "refused if it differs"},
                        "signature": {
                            "type": "string",
                            "format": "binary",
                            "description": "Base64 text or the binary signature",
                        },
                        "signing_certificate": {"type": "string", "format": "binary"},
                        "description": {"type": "string"},
                    },
                }
            }
        },
    }
}


async def _field(form: Any, name: str) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    if isinstance(value, UploadFile):
        data = await value.read(16 * 1024 + 1)
        if len(data) > 16 * 1024:
            raise InvalidInput(f"{name}: too large")
        try:
            return data.decode() if name != "signature" else signature_text(data)
        except UnicodeDecodeError:
            raise InvalidInput(f"{name}: not text") from None
    text = str(value)
    return signature_text(text.encode()) if name == "signature" and text else text or None


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(UPLOAD_CHUNK):
        yield chunk


@router.post(
    "/artifacts",
    response_model=ArtifactPublic,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=UPLOAD_BODY,
)
async def upload_artifact(principal: Operator, state: StateDep, request: Request) -> ArtifactPublic:
    """Upload a firmware file (multipart ``file`` + ``version``, optional ``vendor``,
    ``model``, ``sha256``, ``signature`` and ``signing_certificate``): 413 above
    CSMS_FIRMWARE_MAX_BYTES, 422 when the SHA-256 or the signature does not match (nothing
    is kept)."""
    limit = state.settings.firmware_max_bytes
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise LengthRequired("Content-Length is required")
    if int(length) > limit + MULTIPART_SLACK:
        raise PayloadTooLarge(f"the file is larger than the limit of {limit} bytes")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInput("body: multipart/form-data with a file and a version")
    async with request.form(max_files=3, max_fields=10) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("file: a file part is required")
        new = NewArtifact(
            version=await _field(form, "version") or "",
            file_name=upload.filename or "firmware.bin",
            vendor=await _field(form, "vendor"),
            model=await _field(form, "model"),
            sha256=await _field(form, "sha256"),
            signature=await _field(form, "signature"),
            signing_certificate=await _field(form, "signing_certificate"),
            description=await _field(form, "description") or "",
            created_by=principal.username,
        )
        artifact = await artifacts(state).upload(new, _chunks(upload))
    return artifact_public(artifact)


@router.get("/artifacts", response_model=Page[ArtifactPublic])
async def list_artifacts(_: Reader, state: StateDep, page: PageDep) -> Page[ArtifactPublic]:
    after = decode_cursor(page.cursor, int) or 0
    rows = await artifacts(state).artifacts(after_id=after, limit=page.limit + 1)
    items, cursor = page_of(rows, page.limit, lambda a: a.id)
    return Page(items=[artifact_public(a) for a in items], next_cursor=cursor)


@router.get("/artifacts/{artifact_id}", response_model=ArtifactPublic)
async def get_artifact(_: Reader, state: StateDep, artifact_id: ArtifactIdPath) -> ArtifactPublic:
    return artifact_public(await artifacts(state).get(artifact_id))


@router.delete("/artifacts/{artifact_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_artifact(_: Operator, state: StateDep, artifact_id: ArtifactIdPath) -> Response:
    """409 while a campaign uses it."""
    try:
        await artifacts(state).remove(artifact_id)
    except InvalidInput as exc:
        raise Conflict(str(exc)) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- campaigns ----------------------------------------------------------------------------------


def options_of(body: CampaignCreate) -> CampaignOptions:
    return CampaignOptions(
        canary=body.canary,
        waves=tuple(parse_waves(body.waves)),
        max_failure_rate=parse_percent(body.max_failure_rate, "max_failure_rate"),
        max_concurrent=body.max_concurrent,
        windows=tuple(parse_window(w) for w in body.windows),
        session_policy=body.session_policy,
        retrieve_at=body.retrieve_at,
        install_at=body.install_at,
        max_attempts=body.max_attempts,
        retry_delay=body.retry_delay,
        timeouts=dict(body.timeouts),
        name=body.name,
    )


@router.post("/campaigns", response_model=CampaignDetail, status_code=status.HTTP_201_CREATED)
async def create_campaign(
    principal: Operator, state: StateDep, body: CampaignCreate
) -> CampaignDetail:
    """Start a campaign (``csms firmware rollout create``): 422 when it selects no
    chargers, one of them is in another unfinished campaign, or an option is invalid."""
    selector = selector_from(body.target.model_dump(exclude_none=True))
    service = campaigns(state)
    campaign = await service.create(
        body.artifact_id, selector, options_of(body), by=principal.username
    )
    return campaign_detail(await service.view(campaign.id))


@router.get("/campaigns", response_model=Page[CampaignPublic])
async def list_campaigns(
    _: Reader,
    state: StateDep,
    page: PageDep,
    status_: Annotated[str | None, Query(alias="status", max_length=20)] = None,
) -> Page[CampaignPublic]:
    if status_ is not None and status_ not in CAMPAIGN_STATUSES:
        raise InvalidInput(f"status: one of {', '.join(CAMPAIGN_STATUSES)}")
    after = decode_cursor(page.cursor, int) or 0
    rows = await campaigns(state).campaigns(status=status_, after_id=after, limit=page.limit + 1)
    items, cursor = page_of(rows, page.limit, lambda c: c.id)
    return Page(items=[campaign_public(c) for c in items], next_cursor=cursor)


@router.get("/campaigns/{campaign_id}", response_model=CampaignDetail)
async def get_campaign(_: Reader, state: StateDep, campaign_id: CampaignIdPath) -> CampaignDetail:
    """With each wave's progress and the chargers' counts by state."""
    return campaign_detail(await campaigns(state).view(campaign_id))


@router.get("/campaigns/{campaign_id}/targets", response_model=Page[TargetPublic])
async def list_targets(
    _: Reader,
    state: StateDep,
    page: PageDep,
    campaign_id: CampaignIdPath,
    state_: Annotated[
        list[str] | None, Query(alias="state", description="e.g. failed (repeatable)")
    ] = None,
) -> Page[TargetPublic]:
    """The campaign's chargers in rollout order."""
    after = decode_cursor(page.cursor, int)
    rows = await campaigns(state).targets(
        campaign_id,
        states=state_,
        after_position=-1 if after is None else after,
        limit=page.limit + 1,
    )
    items, cursor = page_of(rows, page.limit, lambda t: t.position)
    return Page(
        items=[
            TargetPublic(
                charge_point_id=t.charge_point_id,
                wave=t.wave,
                position=t.position,
                state=t.target.state,
                attempts=t.target.attempts,
                request_id=t.target.request_id,
                last_status=t.target.last_status,
                failure=t.target.failure,
                from_version=t.from_version,
                reported_version=t.target.reported_version,
                waiting=t.waiting,
                phase_deadline=t.target.phase_deadline,
                not_before=t.target.not_before,
                updated_at=t.updated_at,
                finished_at=t.finished_at,
            )
            for t in items
        ],
        next_cursor=cursor,
    )


@router.get("/campaigns/{campaign_id}/events", response_model=Page[EventPublic])
async def list_events(
    _: Reader,
    state: StateDep,
    page: PageDep,
    campaign_id: CampaignIdPath,
    charge_point_id: Annotated[str | None, Query(max_length=48)] = None,
) -> Page[EventPublic]:
    """What happened, oldest first: each charger's transitions and the campaign's own
    (created, paused by whom, halted and why, waves started)."""
    after = decode_cursor(page.cursor, int) or 0
    rows = await campaigns(state).events(
        campaign_id, charge_point_id=charge_point_id, after_id=after, limit=page.limit + 1
    )
    items, cursor = page_of(rows, page.limit, lambda e: e.id)
    return Page(
        items=[
            EventPublic(
                id=e.id,
                charge_point_id=e.charge_point_id,
                at=e.at,
                kind=e.kind,
                state=e.state,
                detail=e.detail,
                actor=e.actor,
            )
            for e in items
        ],
        next_cursor=cursor,
    )


async def _action(state: State, campaign_id: int, action: str, by: str) -> CampaignPublic:
    service = campaigns(state)
    try:
        campaign = await getattr(service, action)(campaign_id, by=by)
    except InvalidInput as exc:
        raise Conflict(str(exc)) from None
    return campaign_public(campaign)


@router.post("/campaigns/{campaign_id}/pause", response_model=CampaignPublic)
async def pause_campaign(
    principal: Operator, state: StateDep, campaign_id: CampaignIdPath
) -> CampaignPublic:
    """No new updates are sent (409 unless running)."""
    return await _action(state, campaign_id, "pause", principal.username)


@router.post("/campaigns/{campaign_id}/resume", response_model=CampaignPublic)
async def resume_campaign(
    principal: Operator, state: StateDep, campaign_id: CampaignIdPath
) -> CampaignPublic:
    """A paused or halted campaign runs again (a halted one's failures so far accepted)."""
    return await _action(state, campaign_id, "resume", principal.username)


@router.post("/campaigns/{campaign_id}/cancel", response_model=CampaignPublic)
async def cancel_campaign(
    principal: Operator, state: StateDep, campaign_id: CampaignIdPath
) -> CampaignPublic:
    """For good: chargers not finished are cancelled (409 if it has finished)."""
    return await _action(state, campaign_id, "cancel", principal.username)


@router.post("/campaigns/{campaign_id}/retry-failed", response_model=RetryResult)
async def retry_failed(
    principal: Operator, state: StateDep, campaign_id: CampaignIdPath
) -> RetryResult:
    """Failed chargers are tried again from their first attempt."""
    try:
        campaign, retried, skipped = await campaigns(state).retry_failed(
            campaign_id, by=principal.username
        )
    except InvalidInput as exc:
        raise Conflict(str(exc)) from None
    return RetryResult(campaign=campaign_public(campaign), retried=retried, skipped=skipped)


# -- what chargers download ---------------------------------------------------------------------


async def download(request: Request) -> Response:
    """A firmware file for the charger a signed URL names (403 unless the URL is ours and
    has not expired), whole or one byte range (206; 416 past the end)."""
    state = get_state(request)
    try:
        artifact_id = int(request.path_params["artifact_id"])
        expires = int(request.query_params.get("exp", ""))
    except ValueError:
        raise Forbidden("not a valid firmware URL") from None
    charge_point_id = request.query_params.get("cp", "")
    signature = request.query_params.get("sig", "")
    secret = state.settings.firmware_url_secret.get_secret_value()
    if not url_valid(
        secret,
        artifact_id=artifact_id,
        charge_point_id=charge_point_id,
        expires=expires,
        signature=signature,
        now=time.time(),
    ):
        raise Forbidden("this firmware URL is not valid or has expired")
    service = artifacts(state)
    artifact = await service.get(artifact_id)
    if request.path_params["file_name"] != artifact.file_name:
        raise NotFound("no such firmware file")
    size = artifact.size_bytes
    digest = base64.b64encode(bytes.fromhex(artifact.sha256)).decode()
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": f'"{artifact.sha256}"',
        "Repr-Digest": f"sha-256=:{digest}:",  # RFC 9530: the whole file's SHA-256
        "X-Firmware-Version": artifact.version,
        "Cache-Control": "private, no-store",
    }
    try:
        wanted = parse_range(request.headers.get("range"), size)
    except UnsatisfiableRange:
        raise RangeNotSatisfiable(
            f"the file has {size} bytes", headers={"Content-Range": f"bytes */{size}"}
        ) from None
    if_range = request.headers.get("if-range")
    if wanted is not None and if_range is not None and if_range != headers["ETag"]:
        wanted = None  # the file changed since the client's first part: send it whole
    start, length, code = 0, size, 200
    if wanted is not None:
        start, length, code = wanted.start, wanted.length, 206
        headers["Content-Range"] = f"bytes {wanted.start}-{wanted.end}/{size}"
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        return Response(status_code=code, headers=headers, media_type="application/octet-stream")
    return StreamingResponse(
        service.read(artifact_id, start, length),
        status_code=code,
        headers=headers,
        media_type="application/octet-stream",
    )


download_router.add_route(
    "/firmware/{artifact_id}/{file_name}", download, methods=["GET", "HEAD"], name="firmware"
)
