"""Configuration baselines: profiles of desired values, applies with per-key outcomes,
drift (reported vs desired), each charger's configuration history and reads on demand
(docs/topics/fleet-operations.md)."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response, status

from backoffice.deps import Operator, PageDep, Reader, StateDep
from backoffice.pagination import Page, decode_cursor, page_of
from backoffice.routes import API
from backoffice.routes.chargers import ChargePointIdPath, existing
from backoffice.schemas.fleet import (
    PROFILE_EXAMPLE,
    ApplyAnswer,
    ApplyItemPublic,
    ApplyPublic,
    DriftPublic,
    DriftReport,
    HistoryPublic,
    PlannedItem,
    ProfilePublic,
    RefreshPublic,
)
from csms.domain.fleet_config import DRIFT, DriftItem

router = APIRouter(prefix=f"{API}/config", tags=["configuration"])

ProfileIdPath = Annotated[str, Path(min_length=1, max_length=64)]
ApplyIdPath = Annotated[int, Path(ge=1, le=2**63 - 1)]
States = Annotated[
    list[str] | None,
    Query(max_length=4, description="Only these states: in_sync, drift, not_supported, unknown"),
]


@router.get("/profiles", response_model=list[ProfilePublic])
async def list_profiles(_: Reader, state: StateDep) -> list[ProfilePublic]:
    """Every profile, by id."""
    return [ProfilePublic.of(p) for p in await state.services.config.profiles()]


@router.post("/profiles", response_model=ProfilePublic, status_code=status.HTTP_201_CREATED)
async def create_profile(
    principal: Operator,
    state: StateDep,
    response: Response,
    body: Annotated[
        dict[str, Any],
        Body(
            description="id, ocpp_version (1.6 / 2.0.1), settings ({key: value} or a list of "
            "{key, value, evse_id, connector_id}), selector (site, vendor, model, "
            "firmware_version, chargers), priority, description, reapply_on_boot",
            examples=[PROFILE_EXAMPLE],
        ),
    ],
) -> ProfilePublic:
    """Add a profile. A 1.6 key in a 2.0.1 profile (or a Component.Variable in a 1.6 one), a
    malformed name, an unknown field: 422 naming it, nothing stored."""
    profile = await state.services.config.add_profile(body, by=principal.username)
    response.headers["Location"] = f"{API}/config/profiles/{profile.id}"
    return ProfilePublic.of(profile)


@router.get("/profiles/{profile_id}", response_model=ProfilePublic)
async def get_profile(_: Reader, state: StateDep, profile_id: ProfileIdPath) -> ProfilePublic:
    return ProfilePublic.of(await state.services.config.profile(profile_id))


@router.patch("/profiles/{profile_id}", response_model=ProfilePublic)
async def update_profile(
    principal: Operator,
    state: StateDep,
    profile_id: ProfileIdPath,
    body: Annotated[
        dict[str, Any],
        Body(
            description="Fields to replace; `set` ({key: value}) and `unset` ([key]) change "
            "single settings",
            examples=[{"priority": 20, "set": {"HeartbeatInterval": "600"}}],
        ),
    ],
) -> ProfilePublic:
    updated = await state.services.config.update_profile(profile_id, body, by=principal.username)
    return ProfilePublic.of(updated)


@router.delete("/profiles/{profile_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_profile(_: Operator, state: StateDep, profile_id: ProfileIdPath) -> None:
    """Remove the profile and its applies (values already on chargers stay)."""
    await state.services.config.remove_profile(profile_id)


@router.post("/profiles/{profile_id}/apply", response_model=ApplyAnswer)
async def apply_profile(
    principal: Operator,
    state: StateDep,
    profile_id: ProfileIdPath,
    response: Response,
    dry_run: Annotated[bool, Query(description="Only say what would be sent")] = False,
) -> ApplyAnswer:
    """Apply the profile to the chargers it selects: recorded, then sent by `csms worker`
    (ChangeConfiguration / SetVariables), offline chargers when they connect. 202 with the
    apply; 200 for a dry run; 422 when it selects no charger."""
    asked = await state.services.config.request_apply(
        profile_id, by=principal.username, dry_run=dry_run
    )
    if not dry_run:
        response.status_code = status.HTTP_202_ACCEPTED
    plan = [
        PlannedItem(
            charge_point_id=p.charge_point_id,
            setting=setting,
            value=value,
            outcome=outcome,
            detail=detail,
        )
        for p in asked.plan
        for setting, value, outcome, detail in p.items
    ]
    return ApplyAnswer(
        dry_run=dry_run,
        apply=None if asked.apply is None else ApplyPublic.of(asked.apply),
        chargers=len(asked.plan),
        connected=sum(p.connected for p in asked.plan),
        plan=plan,
    )


@router.get("/applies", response_model=Page[ApplyPublic])
async def list_applies(
    _: Reader,
    state: StateDep,
    page: PageDep,
    profile: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[ApplyPublic]:
    """Newest first, with the count of each outcome."""
    before = decode_cursor(page.cursor, int)
    rows = await state.services.config.applies(
        profile_id=profile, before_id=before, limit=page.limit + 1
    )
    items, cursor = page_of(rows, page.limit, lambda a: a.id)
    return Page(items=[ApplyPublic.of(a) for a in items], next_cursor=cursor)


@router.get("/applies/{apply_id}", response_model=ApplyPublic)
async def get_apply(_: Reader, state: StateDep, apply_id: ApplyIdPath) -> ApplyPublic:
    return ApplyPublic.of(await state.services.config.apply(apply_id))


@router.get("/applies/{apply_id}/items", response_model=Page[ApplyItemPublic])
async def apply_items(
    _: Reader,
    state: StateDep,
    apply_id: ApplyIdPath,
    page: PageDep,
    charger: Annotated[str | None, Query(max_length=48)] = None,
) -> Page[ApplyItemPublic]:
    """Per charger and setting: Pending, Offline (sent when it connects), Accepted, Rejected,
    RebootRequired (rebooted_at once the reboot was seen), NotSupported, Failed, Unchanged,
    Superseded; by charger, then setting."""
    after = decode_cursor(page.cursor, str)
    rows = [
        ApplyItemPublic.of(i)
        for i in await state.services.config.apply_items(apply_id, charge_point_id=charger)
    ]
    rows = [r for r in rows if after is None or _item_key(r) > after]
    items, cursor = page_of(rows, page.limit, _item_key)
    return Page(items=items, next_cursor=cursor)


def _item_key(item: ApplyItemPublic) -> str:
    return f"{item.charge_point_id}\x00{item.setting}"


def drift_report(items: list[DriftItem], states: list[str] | None) -> DriftReport:
    counts = Counter(i.state for i in items)
    drifted = {i.charge_point_id for i in items if i.state == DRIFT}
    shown = [i for i in items if not states or i.state in states]
    return DriftReport(
        chargers=len({i.charge_point_id for i in items}),
        drifted_chargers=len(drifted),
        states=dict(sorted(counts.items())),
        items=[DriftPublic.of(i) for i in shown],
    )


@router.get("/drift", response_model=DriftReport)
async def fleet_drift(
    _: Reader,
    state: StateDep,
    site: Annotated[str | None, Query(max_length=36)] = None,
    charger: Annotated[str | None, Query(max_length=48)] = None,
    profile: Annotated[str | None, Query(max_length=64)] = None,
    state_: Annotated[
        list[str] | None,
        Query(alias="state", max_length=4, description="Only items in these states"),
    ] = None,
) -> DriftReport:
    """Desired (the winning profile's value) vs reported, per charger and setting."""
    items = await state.services.config.drift(
        site=site, charge_point_id=charger, profile_id=profile
    )
    return drift_report(items, state_)


@router.get("/chargers/{charge_point_id}/drift", response_model=DriftReport)
async def charger_drift(
    _: Reader, state: StateDep, charge_point_id: ChargePointIdPath, state_: States = None
) -> DriftReport:
    items = await state.services.config.drift(charge_point_id=charge_point_id)
    return drift_report(items, state_)


@router.get("/chargers/{charge_point_id}/history", response_model=Page[HistoryPublic])
async def charger_history(
    _: Reader,
    state: StateDep,
    charge_point_id: ChargePointIdPath,
    page: PageDep,
    setting: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[HistoryPublic]:
    """Every change of a reported value, newest first: from what to what, when, why
    (reported by the charger, applied by the CSMS, removed) and who asked."""
    await existing(state.pool, charge_point_id)
    before = decode_cursor(page.cursor, int)
    rows = await state.services.config.history(
        charge_point_id, setting=setting, before_id=before, limit=page.limit + 1
    )
    items, cursor = page_of(rows, page.limit, lambda h: h.id)
    return Page(items=[HistoryPublic.of(h) for h in items], next_cursor=cursor)


@router.post("/chargers/{charge_point_id}/refresh", response_model=RefreshPublic)
async def refresh_charger(
    principal: Operator, state: StateDep, charge_point_id: ChargePointIdPath
) -> RefreshPublic:
    """Read the charger's whole configuration now (1.6 GetConfiguration; 2.0.1
    GetBaseReport FullInventory, whose report follows). 409 when it is not connected."""
    await existing(state.pool, charge_point_id)
    result = await state.services.config.refresh(
        state.commands, charge_point_id, by=principal.username
    )
    return RefreshPublic(
        charge_point_id=result.charge_point_id,
        status=result.status,
        request_id=result.request_id,
        settings=result.settings,
    )
