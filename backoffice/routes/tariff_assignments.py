"""Where tariffs apply: assignments to a driver group, a charger, a site or as the default,
and which tariff applies at a charger (for a driver) and why.

Assigning and unassigning (but for driver groups, which are per session) request a price
display push to the chargers whose display tariff changed (the service does).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from backoffice.deps import AnyUser, Operator, PageDep, PoolDep, Reader, ServicesDep
from backoffice.errors import Conflict
from backoffice.pagination import Page, decode_cursor, page_of
from backoffice.routes import API
from backoffice.routes.chargers import ChargePointIdPath
from backoffice.routes.sites import site_public
from backoffice.schemas.tariffs import (
    ApplicableTariff,
    AssignmentPublic,
    AssignmentPut,
    ChargerTariff,
    ScopeName,
)
from csms.domain.sites import Assignment, Scope
from csms.domain.tariffs import display_text
from csms.errors import InvalidInput, NotFound
from csms.store import id_tokens, token_owners

router = APIRouter(prefix=f"{API}/tariff-assignments", tags=["tariffs"])
charger_router = APIRouter(prefix=f"{API}/chargers", tags=["tariffs"])

NO_DEFAULT_TARGET = (
    "target: the default assignment has no target (DELETE /api/v1/tariff-assignments/default)"
)


def assignment_public(assignment: Assignment) -> AssignmentPublic:
    return AssignmentPublic(
        scope=assignment.scope.value,
        target=assignment.target,
        tariff_id=assignment.tariff_id,
        created_by=assignment.created_by,
        created_at=assignment.created_at,
    )


def _key(assignment: Assignment) -> str:
    return f"{assignment.scope.value}\x00{assignment.target}"


@router.get("", response_model=Page[AssignmentPublic])
async def list_assignments(
    _: Reader,
    services: ServicesDep,
    page: PageDep,
    scope: Annotated[ScopeName | None, Query()] = None,
    tariff_id: Annotated[str | None, Query(max_length=36)] = None,
) -> Page[AssignmentPublic]:
    """By scope and target."""
    after = decode_cursor(page.cursor, str)
    rows = sorted(
        (
            a
            for a in await services.tariffs.assignments()
            if (scope is None or a.scope.value == scope)
            and (tariff_id is None or a.tariff_id == tariff_id)
            and (after is None or _key(a) > after)
        ),
        key=_key,
    )
    items, cursor = page_of(rows, page.limit, _key)
    return Page(items=[assignment_public(a) for a in items], next_cursor=cursor)


@router.put("", response_model=AssignmentPublic)
async def assign(caller: Operator, services: ServicesDep, body: AssignmentPut) -> AssignmentPublic:
    """Assign a published tariff to a driver group (an id token, or the parent id token of
    a group of tokens), a charger, a site or as the default (no target); replaces what was
    assigned there. 409 when the tariff has no published version."""
    if body.scope == "default" and body.target:
        raise InvalidInput("target: the default assignment has no target")
    info = await services.tariffs.info(body.tariff_id)
    if info.published_version is None:
        raise Conflict(f"tariff {body.tariff_id} has no published version: publish it first")
    assignment = await services.tariffs.assign(
        Scope(body.scope), body.target, body.tariff_id, created_by=caller.username
    )
    return assignment_public(assignment)


@router.delete("/default", status_code=status.HTTP_204_NO_CONTENT)
async def unassign_default(_: Operator, services: ServicesDep) -> None:
    """Remove the default tariff (404 if there is none)."""
    await services.tariffs.unassign(Scope.DEFAULT, "")


@router.delete("/{scope}/{target}", status_code=status.HTTP_204_NO_CONTENT)
async def unassign(
    _: Operator,
    services: ServicesDep,
    scope: ScopeName,
    target: Annotated[str, Path(min_length=1, max_length=48)],
) -> None:
    """Remove the tariff assigned to that group, charger or site (404 if there is none)."""
    if scope == "default":
        raise InvalidInput(NO_DEFAULT_TARGET)
    await services.tariffs.unassign(Scope(scope), target)


@charger_router.get("/{charge_point_id}/tariff", response_model=ChargerTariff)
async def charger_tariff(
    caller: AnyUser,
    pool: PoolDep,
    services: ServicesDep,
    charge_point_id: ChargePointIdPath,
    id_token: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=36,
            description="The driver's id token: a tariff of its group applies first. "
            "Required for drivers (one of their own).",
        ),
    ] = None,
    language: Annotated[
        str | None,
        Query(pattern=r"^[A-Za-z]{2}$", description="ISO 639-1: the display text in it"),
    ] = None,
) -> ChargerTariff:
    """The tariff a session at the charger would be priced with now, and why: the most
    specific assignment of the driver's group (the id token, then its parent) > the charger
    > its site > the default. A driver asks with one of their own id tokens; another's
    answers 404."""
    parent_id_token = None
    if id_token is not None:
        token = await id_tokens.get_id_token(pool, id_token)
        if caller.is_driver and (
            token is None or await token_owners.owner_of(pool, id_token) != caller.user_id
        ):
            raise NotFound(f"id token {id_token} not found")
        parent_id_token = None if token is None else token.parent_id_token
    elif caller.is_driver:
        raise InvalidInput("id_token: a driver asks with one of their own id tokens")
    answer = await services.tariffs.applicable(
        charge_point_id, id_token=id_token, parent_id_token=parent_id_token
    )
    applicable = None
    tariff = answer.tariff
    if answer.applicable is not None and answer.version is not None and tariff is not None:
        version = answer.version
        applicable = ApplicableTariff(
            scope=answer.applicable.scope.value,
            target=answer.applicable.target,
            reason=answer.applicable.reason,
            tariff_id=version.tariff_id,
            version=version.version,
            currency=version.currency,
            display_text=display_text(tariff, language),
            definition=version.definition,
            published_at=version.published_at,
        )
    site = answer.site
    return ChargerTariff(
        charge_point_id=charge_point_id,
        id_token=id_token,
        site=None if site is None else site_public(site),
        time_zone=site.time_zone if site is not None else services.pricing.default_zone.key,
        applicable=applicable,
    )
