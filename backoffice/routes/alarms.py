"""Alarms: list, read with history, acknowledge, clear by hand; alarm rules; maintenance of
chargers and sites (docs/topics/alarms.md). Monitors read and acknowledge; operators clear,
configure rules and maintenance."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status

from backoffice.deps import Operator, PageDep, Reader, StateDep
from backoffice.errors import Conflict
from backoffice.pagination import Page, decode_cursor, page_of
from backoffice.routes import API
from backoffice.routes.chargers import ChargePointIdPath, existing
from backoffice.routes.sites import SiteIdPath
from backoffice.schemas.alarms import (
    AlarmDetail,
    AlarmNote,
    AlarmPublic,
    AlarmTypePublic,
    HistoryEntry,
    MaintenancePublic,
    MaintenanceSet,
    RuleCreate,
    RulePublic,
    RuleUpdate,
)
from backoffice.state import State
from csms.cluster.events import publish_now
from csms.domain.alarms import (
    SOURCES,
    AlarmError,
    AlarmType,
    Change,
    Rule,
    Scope,
    alarm_payload,
    parse_severity,
    parse_type,
    validate_rule,
)
from csms.domain.clock import utc_now
from csms.errors import InvalidInput, NotFound
from csms.store import alarms as store
from csms.store import tariffs as sites_store

log = logging.getLogger(__name__)

router = APIRouter(prefix=API, tags=["alarms"])

AlarmIdPath = Annotated[int, Path(ge=1, le=2**63 - 1)]
RuleIdPath = Annotated[int, Path(ge=1, le=2**63 - 1)]
StateFilter = Literal["open", "raised", "acknowledged", "cleared"]


async def _announce(state: State, change: Change) -> None:
    data = alarm_payload(change)
    charge_point_id = data.pop("charge_point_id") or ""  # the event's own field
    await publish_now(
        state.redis, state.keys, "backoffice", change.event_type, charge_point_id, data
    )


async def _found(state: State, alarm_id: int) -> AlarmDetail:
    alarm = await store.get_alarm(state.pool, alarm_id)
    if alarm is None:
        raise NotFound(f"alarm {alarm_id} not found")
    entries = await store.history(state.pool, alarm_id)
    return AlarmDetail(
        **AlarmPublic.of(alarm).model_dump(), history=[HistoryEntry.of(t) for t in entries]
    )


@router.get("/alarms", response_model=Page[AlarmPublic])
async def list_alarms(
    _: Reader,
    state: StateDep,
    page: PageDep,
    state_: Annotated[
        list[StateFilter] | None,
        Query(alias="state", description="open = raised or acknowledged; repeat for several"),
    ] = None,
    severity: Annotated[str | None, Query(max_length=16)] = None,
    site: Annotated[str | None, Query(max_length=36)] = None,
    charger: Annotated[str | None, Query(max_length=48)] = None,
    type: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[AlarmPublic]:
    """Newest first, filtered by state, severity, site, charger and type."""
    try:
        if severity is not None:
            severity = parse_severity(severity).value
        if type is not None:
            type = parse_type(type).value
    except AlarmError as exc:
        raise InvalidInput(str(exc)) from None
    before = decode_cursor(page.cursor, int)
    rows = await store.list_alarms(
        state.pool,
        before_id=before,
        limit=page.limit + 1,
        states=state_,
        severity=severity,
        site_id=site,
        charge_point_id=charger,
        alarm_type=type,
    )
    items, cursor = page_of(rows, page.limit, lambda a: a.id)
    return Page(items=[AlarmPublic.of(a) for a in items], next_cursor=cursor)


@router.get("/alarms/{alarm_id}", response_model=AlarmDetail)
async def get_alarm(_: Reader, state: StateDep, alarm_id: AlarmIdPath) -> AlarmDetail:
    """The alarm with its history: every transition, who and when, with the notes."""
    return await _found(state, alarm_id)


@router.post("/alarms/{alarm_id}/ack", response_model=AlarmDetail)
async def acknowledge(
    principal: Reader, state: StateDep, alarm_id: AlarmIdPath, body: AlarmNote
) -> AlarmDetail:
    """Acknowledge a raised alarm (409 if it is acknowledged or cleared already)."""
    change = await store.acknowledge(
        state.pool,
        alarm_id,
        now=utc_now(),
        by=principal.username,
        note=body.note,
        outbox=state.alarm_outbox,
    )
    if change is None:
        found = await _found(state, alarm_id)
        raise Conflict(f"alarm {alarm_id} is {found.state}: only a raised alarm is acknowledged")
    await _announce(state, change)
    return await _found(state, alarm_id)


@router.post("/alarms/{alarm_id}/clear", response_model=AlarmDetail)
async def clear(
    principal: Operator, state: StateDep, alarm_id: AlarmIdPath, body: AlarmNote
) -> AlarmDetail:
    """Clear an open alarm by hand (409 if it is cleared already). If its condition still
    holds, it is raised again: within the flapping window as the same alarm."""
    change = await store.clear_by_hand(
        state.pool,
        alarm_id,
        now=utc_now(),
        by=principal.username,
        note=body.note,
        outbox=state.alarm_outbox,
    )
    if change is None:
        await _found(state, alarm_id)
        raise Conflict(f"alarm {alarm_id} is cleared already")
    if change.alarm.type is AlarmType.NODE_GONE:
        details = change.alarm.details  # an operator let it go: not gone any more
        await store.forget_node(
            state.pool, str(details.get("cluster", "")), str(details.get("node_id", ""))
        )
    await _announce(state, change)
    return await _found(state, alarm_id)


@router.get("/alarm-types", response_model=list[AlarmTypePublic])
async def alarm_types(_: Reader) -> list[AlarmTypePublic]:
    """Every alarm source with its built-in severity and threshold (rules override them)."""
    return [
        AlarmTypePublic(
            type=t,
            severity=s.severity,
            threshold=s.threshold,
            unit=s.unit,
            description=s.description,
        )
        for t, s in SOURCES.items()
    ]


# -- rules -------------------------------------------------------------------------------------


async def _rule_target_exists(state: State, rule: Rule) -> None:
    if rule.scope is Scope.CHARGER:
        await existing(state.pool, rule.target)
    elif rule.scope is Scope.SITE and await sites_store.get_site(state.pool, rule.target) is None:
        raise NotFound(f"site {rule.target} not found")


@router.get("/alarm-rules", response_model=Page[RulePublic])
async def list_rules(
    _: Reader,
    state: StateDep,
    page: PageDep,
    type: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[RulePublic]:
    try:
        alarm_type = None if type is None else parse_type(type)
    except AlarmError as exc:
        raise InvalidInput(str(exc)) from None
    after = decode_cursor(page.cursor, int)
    rows = await store.list_rules(
        state.pool, after_id=after, limit=page.limit + 1, alarm_type=alarm_type
    )
    items, cursor = page_of(rows, page.limit, lambda r: r.id or 0)
    return Page(items=[RulePublic.of(r) for r in items], next_cursor=cursor)


@router.post("/alarm-rules", response_model=RulePublic, status_code=status.HTTP_201_CREATED)
async def create_rule(
    principal: Operator, state: StateDep, body: RuleCreate, response: Response
) -> RulePublic:
    """A rule for one type, for every charger (default), a site or a charger: severity,
    threshold, enabled. 409 if that type, scope and target has a rule already."""
    try:
        rule = validate_rule(
            Rule(
                parse_type(body.type),
                Scope(body.scope),
                body.target,
                enabled=body.enabled,
                severity=body.severity,
                threshold=body.threshold,
            )
        )
    except AlarmError as exc:
        raise InvalidInput(str(exc)) from None
    await _rule_target_exists(state, rule)
    created = await store.create_rule(state.pool, rule, principal.username)
    if created is None:
        raise Conflict(f"a {rule.scope} rule for {rule.type} {rule.target} exists already")
    response.headers["Location"] = f"{API}/alarm-rules/{created.id}"
    return RulePublic.of(created)


@router.get("/alarm-rules/{rule_id}", response_model=RulePublic)
async def get_rule(_: Reader, state: StateDep, rule_id: RuleIdPath) -> RulePublic:
    found = await store.get_rule(state.pool, rule_id)
    if found is None:
        raise NotFound(f"alarm rule {rule_id} not found")
    return RulePublic.of(found)


@router.put("/alarm-rules/{rule_id}", response_model=RulePublic)
async def update_rule(
    principal: Operator, state: StateDep, rule_id: RuleIdPath, body: RuleUpdate
) -> RulePublic:
    found = await store.get_rule(state.pool, rule_id)
    if found is None:
        raise NotFound(f"alarm rule {rule_id} not found")
    try:
        rule = validate_rule(
            Rule(
                found.type,
                found.scope,
                found.target,
                enabled=body.enabled,
                severity=body.severity,
                threshold=body.threshold,
            )
        )
    except AlarmError as exc:
        raise InvalidInput(str(exc)) from None
    updated = await store.update_rule(state.pool, rule_id, rule, principal.username)
    if updated is None:
        raise NotFound(f"alarm rule {rule_id} not found")
    return RulePublic.of(updated)


@router.delete("/alarm-rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_rule(_: Operator, state: StateDep, rule_id: RuleIdPath) -> None:
    if not await store.delete_rule(state.pool, rule_id):
        raise NotFound(f"alarm rule {rule_id} not found")


# -- maintenance -------------------------------------------------------------------------------


@router.get("/chargers/{charge_point_id}/maintenance", response_model=MaintenancePublic)
async def charger_maintenance(
    _: Reader, state: StateDep, charge_point_id: ChargePointIdPath
) -> MaintenancePublic:
    await existing(state.pool, charge_point_id)
    found = await store.get_maintenance(state.pool, Scope.CHARGER, charge_point_id)
    return MaintenancePublic.of(Scope.CHARGER, charge_point_id, found)


@router.put("/chargers/{charge_point_id}/maintenance", response_model=MaintenancePublic)
async def set_charger_maintenance(
    principal: Operator, state: StateDep, charge_point_id: ChargePointIdPath, body: MaintenanceSet
) -> MaintenancePublic:
    """In maintenance a charger raises no alarm (open ones stay until cleared)."""
    await existing(state.pool, charge_point_id)
    await store.set_maintenance(
        state.pool,
        Scope.CHARGER,
        charge_point_id,
        enabled=body.enabled,
        note=body.note,
        by=principal.username,
    )
    found = await store.get_maintenance(state.pool, Scope.CHARGER, charge_point_id)
    return MaintenancePublic.of(Scope.CHARGER, charge_point_id, found)


@router.get("/sites/{site_id}/maintenance", response_model=MaintenancePublic)
async def site_maintenance(_: Reader, state: StateDep, site_id: SiteIdPath) -> MaintenancePublic:
    if await sites_store.get_site(state.pool, site_id) is None:
        raise NotFound(f"site {site_id} not found")
    found = await store.get_maintenance(state.pool, Scope.SITE, site_id)
    return MaintenancePublic.of(Scope.SITE, site_id, found)


@router.put("/sites/{site_id}/maintenance", response_model=MaintenancePublic)
async def set_site_maintenance(
    principal: Operator, state: StateDep, site_id: SiteIdPath, body: MaintenanceSet
) -> MaintenancePublic:
    """In maintenance every charger of the site raises no alarm."""
    if await sites_store.get_site(state.pool, site_id) is None:
        raise NotFound(f"site {site_id} not found")
    await store.set_maintenance(
        state.pool, Scope.SITE, site_id, enabled=body.enabled, note=body.note, by=principal.username
    )
    found = await store.get_maintenance(state.pool, Scope.SITE, site_id)
    return MaintenancePublic.of(Scope.SITE, site_id, found)
