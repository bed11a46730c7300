"""Chargers: register (the generated password is shown once), read live, change, remove;
what they reported (configuration, availability answers, events)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status

from backoffice.deps import Operator, PageDep, PoolDep, Reader, ServicesDep, StateDep
from backoffice.pagination import Page, decode_cursor, page_of
from backoffice.routes import API
from backoffice.routes.transactions import transactions_public
from backoffice.schemas.chargers import (
    AvailabilityPublic,
    ChargerCreate,
    ChargerCreated,
    ChargerEventPublic,
    ChargerPublic,
    ChargerStatus,
    ChargerUpdate,
    ConfigurationValuePublic,
    ConnectorPublic,
)
from backoffice.schemas.firmware import (
    ChargerFirmwarePublic,
    ChargerUpdatePublic,
    FirmwareStatusPublic,
)
from backoffice.services import live
from csms.cluster.routing import Owner
from csms.domain.charge_points import MAX_CHARGE_POINT_ID
from csms.domain.chargers import Charger, ConnectorStatus
from csms.domain.reports import Availability
from csms.errors import NotFound
from csms.store import chargers, firmware, transactions
from csms.store.executor import Executor

router = APIRouter(prefix=f"{API}/chargers", tags=["chargers"])

ChargePointIdPath = Annotated[str, Path(min_length=1, max_length=MAX_CHARGE_POINT_ID)]


def charger_public(charger: Charger, owner: Owner | None) -> ChargerPublic:
    return ChargerPublic(
        **charger.public(),
        owner_node=owner.node_id if owner else None,
        connected=owner is not None,
    )


async def existing(db: Executor, charge_point_id: str) -> Charger:
    charger = await chargers.get_charger(db, charge_point_id)
    if charger is None:
        raise NotFound(f"charger {charge_point_id} not found")
    return charger


@router.get("", response_model=Page[ChargerPublic])
async def list_chargers(_: Reader, state: StateDep, page: PageDep) -> Page[ChargerPublic]:
    """Every charger with its live owner node, by id."""
    after = decode_cursor(page.cursor, str) or ""
    rows = await chargers.list_chargers(state.pool, limit=page.limit + 1, after=after)
    items, cursor = page_of(rows, page.limit, lambda c: c.charge_point_id)
    owners = await live.owners(state, [c.charge_point_id for c in items])
    return Page(
        items=[charger_public(c, owners.get(c.charge_point_id)) for c in items],
        next_cursor=cursor,
    )


@router.post("", response_model=ChargerCreated, status_code=status.HTTP_201_CREATED)
async def create_charger(
    _: Operator, services: ServicesDep, body: ChargerCreate, response: Response
) -> ChargerCreated:
    """Register a charger. Without a password one is generated and returned once, in this
    response only; only its Argon2id hash is kept."""
    registered = await services.chargers.register(
        body.charge_point_id,
        auth=body.auth == "basic",
        password=body.password,
        boot_policy=body.boot_policy,
        ocpp_version=body.ocpp_version,
        description=body.description,
    )
    charger = registered.charger
    response.headers["Location"] = f"/api/v1/chargers/{charger.charge_point_id}"
    return ChargerCreated(**charger.public(), password=registered.generated_password)


@router.get("/{charge_point_id}", response_model=ChargerPublic)
async def get_charger(
    _: Reader, state: StateDep, charge_point_id: ChargePointIdPath
) -> ChargerPublic:
    charger = await existing(state.pool, charge_point_id)
    owners = await live.owners(state, [charge_point_id])
    return charger_public(charger, owners.get(charge_point_id))


@router.patch("/{charge_point_id}", response_model=ChargerCreated)
async def update_charger(
    _: Operator, state: StateDep, charge_point_id: ChargePointIdPath, body: ChargerUpdate
) -> ChargerCreated:
    """Change settings. ``regenerate_password`` answers the new password once."""
    changed = await state.services.chargers.change(
        charge_point_id,
        password=body.password,
        regenerate_password=body.regenerate_password,
        boot_policy=body.boot_policy,
        ocpp_version=body.ocpp_version,
        description=body.description,
    )
    owners = await live.owners(state, [charge_point_id])
    public = charger_public(changed.charger, owners.get(charge_point_id))
    return ChargerCreated(**public.model_dump(), password=changed.generated_password)


@router.delete("/{charge_point_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_charger(
    _: Operator, services: ServicesDep, charge_point_id: ChargePointIdPath
) -> None:
    """Delete the charger and all its data (sessions, meter values, events)."""
    await services.chargers.remove(charge_point_id)


@router.get("/{charge_point_id}/connectors", response_model=Page[ConnectorPublic])
async def list_connectors(
    _: Reader, pool: PoolDep, charge_point_id: ChargePointIdPath, page: PageDep
) -> Page[ConnectorPublic]:
    """Status and error code of every connector (1.6) / EVSE and connector (2.0.1)."""
    await existing(pool, charge_point_id)
    after = decode_cursor(page.cursor, str)
    rows = [
        ConnectorPublic(**_fields(c))
        for c in await chargers.list_connectors(pool, charge_point_id)
        if after is None or _connector_key(c) > after
    ]
    items, cursor = page_of(rows, page.limit, _connector_key)
    return Page(items=items, next_cursor=cursor)


def _fields(record: Any) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}


def _connector_key(c: ConnectorStatus | ConnectorPublic | Availability) -> str:
    return f"{c.evse_id:010d}.{c.connector_id:010d}"


@router.get("/{charge_point_id}/status", response_model=ChargerStatus)
async def charger_status(
    _: Reader, state: StateDep, charge_point_id: ChargePointIdPath
) -> ChargerStatus:
    """Live: the node holding the charger (Redis), connectors and active sessions."""
    charger = await existing(state.pool, charge_point_id)
    owner, alive = await live.owner(state, charge_point_id)
    connectors = await chargers.list_connectors(state.pool, charge_point_id)
    active = await transactions.list_transactions(
        state.pool, charge_point_id=charge_point_id, active=True, limit=100
    )
    return ChargerStatus(
        charge_point_id=charge_point_id,
        connected=owner is not None and alive,
        owner_node=owner.node_id if owner else None,
        epoch=owner.epoch if owner else None,
        node_alive=alive,
        connected_protocol=charger.connected_protocol,
        registration_status=charger.registration_status,
        last_heartbeat_at=charger.last_heartbeat_at,
        last_seen_at=charger.last_seen_at,
        connectors=[ConnectorPublic(**_fields(c)) for c in connectors],
        active_transactions=await transactions_public(state.pool, active),
    )


@router.get("/{charge_point_id}/configuration", response_model=Page[ConfigurationValuePublic])
async def charger_configuration(
    _: Reader, state: StateDep, charge_point_id: ChargePointIdPath, page: PageDep
) -> Page[ConfigurationValuePublic]:
    """Every configuration value the charger reported, with when: 1.6 keys (from
    `get_configuration`, and values it accepted from `set_configuration`), then the 2.0.1
    device model (`get_base_report`, `get_variables`, accepted `set_variables`). Read it
    afresh from the charger with those commands."""
    await existing(state.pool, charge_point_id)
    values = await state.services.reports.configuration(charge_point_id)
    keyed = sorted(((_configuration_key(v), v) for v in values), key=lambda kv: kv[0])
    after = decode_cursor(page.cursor, str)
    rows = [v for key, v in keyed if after is None or key > after]
    items, cursor = page_of(rows, page.limit, _configuration_key)
    return Page(items=[ConfigurationValuePublic(**_fields(v)) for v in items], next_cursor=cursor)


def _configuration_key(value: Any) -> str:
    """A total order over both versions' values: 1.6 keys by key, then the device model by
    key, EVSE, connector and attribute (NUL separates: a key sorts before its extensions)."""
    evse = -1 if value.evse_id is None else value.evse_id
    connector = -1 if value.connector_id is None else value.connector_id
    kind = "0" if value.component is None else "1"
    parts = (kind, value.key, f"{evse:011d}", f"{connector:011d}", value.attribute_type or "")
    return "\x00".join(parts)


@router.get("/{charge_point_id}/availability", response_model=Page[AvailabilityPublic])
async def charger_availability(
    _: Reader, state: StateDep, charge_point_id: ChargePointIdPath, page: PageDep
) -> Page[AvailabilityPublic]:
    """What the charger answered to the last `change_availability` per EVSE / connector."""
    await existing(state.pool, charge_point_id)
    after = decode_cursor(page.cursor, str)
    rows = [
        a
        for a in await state.services.reports.availability(charge_point_id)
        if after is None or _connector_key(a) > after
    ]
    items, cursor = page_of(rows, page.limit, _connector_key)
    return Page(items=[AvailabilityPublic(**_fields(a)) for a in items], next_cursor=cursor)


@router.get("/{charge_point_id}/events", response_model=Page[ChargerEventPublic])
async def charger_events(
    _: Reader,
    state: StateDep,
    charge_point_id: ChargePointIdPath,
    page: PageDep,
    action: Annotated[
        list[str] | None,
        Query(
            max_length=20,
            description="Only these actions, e.g. `SecurityEventNotification`, `NotifyEvent`",
        ),
    ] = None,
) -> Page[ChargerEventPublic]:
    """Messages the charger sent, newest first: security events, NotifyEvent alerts,
    firmware / diagnostics / log statuses, reports, DataTransfer, ..."""
    await existing(state.pool, charge_point_id)
    before = decode_cursor(page.cursor, int)
    rows = await state.services.reports.notifications(
        charge_point_id, actions=action, limit=page.limit + 1, before_id=before
    )
    items, cursor = page_of(rows, page.limit, lambda n: n.id)
    return Page(items=[ChargerEventPublic(**_fields(n)) for n in items], next_cursor=cursor)


FIRMWARE_STATUS_ACTIONS = ("FirmwareStatusNotification", "SignedFirmwareStatusNotification")
FIRMWARE_HISTORY_LIMIT = 50


def _request_id(payload: dict[str, Any]) -> int | None:
    value = payload.get("requestId")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@router.get("/{charge_point_id}/firmware", response_model=ChargerFirmwarePublic)
async def charger_firmware(
    _: Reader, state: StateDep, charge_point_id: ChargePointIdPath
) -> ChargerFirmwarePublic:
    """The charger's firmware history, newest first: its updates in firmware campaigns (the
    last 50) and the firmware status notifications it sent (the last 50)."""
    charger = await existing(state.pool, charge_point_id)
    updates = await firmware.charger_updates(
        state.pool, charge_point_id, limit=FIRMWARE_HISTORY_LIMIT
    )
    statuses = await state.services.reports.notifications(
        charge_point_id, actions=FIRMWARE_STATUS_ACTIONS, limit=FIRMWARE_HISTORY_LIMIT
    )
    return ChargerFirmwarePublic(
        charge_point_id=charge_point_id,
        firmware_version=charger.firmware_version,
        firmware_status=charger.firmware_status,
        updates=[ChargerUpdatePublic(**dataclasses.asdict(u)) for u in updates],
        statuses=[
            FirmwareStatusPublic(
                id=n.id,
                action=n.action,
                status=n.kind,
                request_id=_request_id(n.payload),
                occurred_at=n.occurred_at,
                received_at=n.received_at,
            )
            for n in statuses
        ],
    )
