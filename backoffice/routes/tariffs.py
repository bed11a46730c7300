"""Tariffs: create, edit the draft, publish, read versions, delete; and the price display
pushed to each charger a tariff is shown on.

A tariff's versions are immutable once published: an edit changes the draft, or starts the
next version as the draft. Publishing requests a push of the price display to every charger
whose display tariff changed (the service does; the node holding the charger applies it).
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Path, Response, status

from backoffice.deps import Operator, PageDep, Reader, ServicesDep, StateDep
from backoffice.errors import Conflict
from backoffice.pagination import Page, decode_cursor, page_of
from backoffice.routes import API
from backoffice.schemas.common import MAX_INT32
from backoffice.schemas.tariffs import (
    PushStatus,
    TariffCreate,
    TariffDescribe,
    TariffDetail,
    TariffPublic,
    TariffPushPublic,
    TariffUpdate,
    TariffVersionPublic,
)
from backoffice.services import live
from csms.domain.tariff_catalog import (
    PUSH_FAILED,
    PUSH_OFFLINE,
    PUSH_PENDING,
    TariffInfo,
    TariffPush,
    TariffVersion,
)
from csms.domain.tariffs import display_text, parse_tariff
from csms.errors import InvalidInput

router = APIRouter(prefix=f"{API}/tariffs", tags=["tariffs"])

TariffIdPath = Annotated[str, Path(min_length=1, max_length=36)]
VersionPath = Annotated[int, Path(ge=1, le=MAX_INT32)]


def version_public(version: TariffVersion) -> TariffVersionPublic:
    return TariffVersionPublic(
        tariff_id=version.tariff_id,
        version=version.version,
        status="published" if version.published else "draft",
        currency=version.currency,
        definition=version.definition,
        display_text=display_text(parse_tariff(version.definition)),
        created_at=version.created_at,
        created_by=version.created_by,
        published_at=version.published_at,
        published_by=version.published_by,
    )


def _draft_version(info: TariffInfo) -> int | None:
    return None if info.latest_version == info.published_version else info.latest_version


def tariff_public(info: TariffInfo) -> TariffPublic:
    return TariffPublic(
        id=info.id,
        description=info.description,
        created_at=info.created_at,
        latest_version=info.latest_version,
        published_version=info.published_version,
        draft_version=_draft_version(info),
    )


def push_public(push: TariffPush, connected: bool) -> TariffPushPublic:
    shown = push.status
    if shown in (PUSH_PENDING, PUSH_FAILED) and not connected:
        shown = PUSH_OFFLINE
    return TariffPushPublic(
        charge_point_id=push.charge_point_id,
        tariff_id=push.tariff_id,
        tariff_version=push.tariff_version,
        status=cast(PushStatus, shown),
        stored_status=push.status,
        connected=connected,
        detail=push.detail,
        attempts=push.attempts,
        requested_at=push.requested_at,
        updated_at=push.updated_at,
    )


@router.get("", response_model=Page[TariffPublic])
async def list_tariffs(_: Reader, services: ServicesDep, page: PageDep) -> Page[TariffPublic]:
    """By id, with the published (current) and draft version numbers."""
    after = decode_cursor(page.cursor, str)
    rows = [t for t in await services.tariffs.tariffs() if after is None or t.id > after]
    items, cursor = page_of(rows, page.limit, lambda t: t.id)
    return Page(items=[tariff_public(t) for t in items], next_cursor=cursor)


@router.post("", response_model=TariffVersionPublic, status_code=status.HTTP_201_CREATED)
async def create_tariff(
    caller: Operator, services: ServicesDep, body: TariffCreate, response: Response
) -> TariffVersionPublic:
    """A new tariff; its version 1 is a draft until published. A bad definition is refused
    whole (422) with the path of the first bad field in ``detail``."""
    version = await services.tariffs.add(
        body.id, body.definition, description=body.description, created_by=caller.username
    )
    response.headers["Location"] = f"{API}/tariffs/{version.tariff_id}"
    return version_public(version)


@router.get("/{tariff_id}", response_model=TariffDetail)
async def get_tariff(_: Reader, services: ServicesDep, tariff_id: TariffIdPath) -> TariffDetail:
    """The tariff with its current published version and its draft (if any)."""
    info = await services.tariffs.info(tariff_id)
    published = draft = None
    if info.published_version is not None:
        published = await services.tariffs.version(tariff_id, info.published_version)
    draft_number = _draft_version(info)
    if draft_number is not None:
        draft = await services.tariffs.version(tariff_id, draft_number)
    return TariffDetail(
        **tariff_public(info).model_dump(),
        published=None if published is None else version_public(published),
        draft=None if draft is None else version_public(draft),
    )


@router.put("/{tariff_id}", response_model=TariffVersionPublic)
async def edit_tariff(
    caller: Operator, services: ServicesDep, tariff_id: TariffIdPath, body: TariffUpdate
) -> TariffVersionPublic:
    """Change the draft, or start the next version as the draft when the latest is published
    (a published version never changes). Answers the draft; publish it to apply it."""
    version = await services.tariffs.edit(
        tariff_id, body.definition, description=body.description, created_by=caller.username
    )
    return version_public(version)


@router.patch("/{tariff_id}", response_model=TariffDetail)
async def describe_tariff(
    _: Operator, services: ServicesDep, tariff_id: TariffIdPath, body: TariffDescribe
) -> TariffDetail:
    """Change the description only; no version is made (PUT changes what it prices)."""
    await services.tariffs.describe(tariff_id, body.description)
    return await get_tariff(_, services, tariff_id)


@router.delete("/{tariff_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_tariff(_: Operator, services: ServicesDep, tariff_id: TariffIdPath) -> None:
    """Delete the tariff, its versions and assignments. 409 when sessions were priced with
    it (they keep it: unassign it instead)."""
    try:
        await services.tariffs.remove(tariff_id)
    except InvalidInput as exc:  # the only refusal: sessions were priced with it
        raise Conflict(str(exc)) from None


@router.post("/{tariff_id}/publish", response_model=TariffVersionPublic)
async def publish_tariff(
    caller: Operator, services: ServicesDep, tariff_id: TariffIdPath
) -> TariffVersionPublic:
    """The draft becomes the current version: sessions that start from now on are priced with
    it, and the chargers it is the display tariff of get a price display push. 409 when
    there is no draft."""
    try:
        version = await services.tariffs.publish(tariff_id, published_by=caller.username)
    except InvalidInput as exc:  # the only refusal: no draft to publish
        raise Conflict(str(exc)) from None
    return version_public(version)


@router.get("/{tariff_id}/versions", response_model=Page[TariffVersionPublic])
async def list_versions(
    _: Reader, services: ServicesDep, tariff_id: TariffIdPath, page: PageDep
) -> Page[TariffVersionPublic]:
    """Every version, oldest first."""
    after = decode_cursor(page.cursor, int)
    rows = [
        v for v in await services.tariffs.versions(tariff_id) if after is None or v.version > after
    ]
    items, cursor = page_of(rows, page.limit, lambda v: v.version)
    return Page(items=[version_public(v) for v in items], next_cursor=cursor)


@router.get("/{tariff_id}/versions/{version}", response_model=TariffVersionPublic)
async def get_version(
    _: Reader, services: ServicesDep, tariff_id: TariffIdPath, version: VersionPath
) -> TariffVersionPublic:
    return version_public(await services.tariffs.version(tariff_id, version))


@router.get("/{tariff_id}/pushes", response_model=Page[TariffPushPublic])
async def list_pushes(
    _: Reader, state: StateDep, tariff_id: TariffIdPath, page: PageDep
) -> Page[TariffPushPublic]:
    """The price display push of every charger this tariff is the display tariff of, by
    charger: ``offline`` when pending or failed and the charger is not connected (it is
    pushed when it next connects)."""
    services = state.services
    await services.tariffs.info(tariff_id)
    after = decode_cursor(page.cursor, str)
    rows = [
        p
        for p in await services.tariffs.pushes(tariff_id=tariff_id)
        if after is None or p.charge_point_id > after
    ]
    items, cursor = page_of(rows, page.limit, lambda p: p.charge_point_id)
    owners = await live.owners(state, [p.charge_point_id for p in items])
    return Page(
        items=[push_public(p, p.charge_point_id in owners) for p in items], next_cursor=cursor
    )
