"""Chargers: register (the generated password is shown once), read live, change, remove."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status

from backoffice.deps import Operator, PageDep, PoolDep, Reader, StateDep
from backoffice.pagination import Page, decode_cursor, page_of
from backoffice.routes import API
from backoffice.routes.transactions import transaction_public
from backoffice.schemas.chargers import (
    ChargerCreate,
    ChargerCreated,
    ChargerPublic,
    ChargerStatus,
    ChargerUpdate,
    ConnectorPublic,
)
from backoffice.services import live
from csms.cluster.routing import Owner
from csms.domain.charge_points import MAX_CHARGE_POINT_ID
from csms.errors import NotFound
from csms.passwords import generate_password, hash_password
from csms.store import chargers, transactions
from csms.store.executor import Executor

router = APIRouter(prefix=f"{API}/chargers", tags=["chargers"])

ChargePointIdPath = Annotated[str, Path(min_length=1, max_length=MAX_CHARGE_POINT_ID)]


def charger_public(charger: chargers.Charger, owner: Owner | None) -> ChargerPublic:
    return ChargerPublic(
        **charger.public(),
        owner_node=owner.node_id if owner else None,
        connected=owner is not None,
    )


async def existing(db: Executor, charge_point_id: str) -> chargers.Charger:
    charger = await chargers.get_charger(db, charge_point_id)
    if charger is None:
        raise NotFound(f"charger {charge_point_id} not found")
    return charger


def _protocol(version: str | None) -> str | None:
    return None if version is None else f"ocpp{version}"


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
    _: Operator, pool: PoolDep, body: ChargerCreate, response: Response
) -> ChargerCreated:
    """Register a charger. Without a password one is generated and returned once, in this
    response only; only its Argon2id hash is kept."""
    generated: str | None = None
    password_hash: str | None = None
    if body.auth == "basic":
        password = body.password
        if password is None:
            password = generated = generate_password()
        password_hash = await asyncio.to_thread(hash_password, password)
    charger = await chargers.add_charger(
        pool,
        body.charge_point_id,
        password_hash=password_hash,
        boot_policy=body.boot_policy,
        ocpp_version=_protocol(body.ocpp_version),
        description=body.description,
    )
    response.headers["Location"] = f"/api/v1/chargers/{charger.charge_point_id}"
    return ChargerCreated(**charger.public(), password=generated)


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
    changes: dict[str, Any] = {}
    generated: str | None = None
    password = body.password
    if body.regenerate_password:
        password = generated = generate_password()
    if password is not None:
        changes["password_hash"] = await asyncio.to_thread(hash_password, password)
        changes["auth_mode"] = "basic"
    if body.boot_policy is not None:
        changes["boot_policy"] = body.boot_policy
    if body.ocpp_version is not None:
        changes["ocpp_version"] = (
            None if body.ocpp_version == "any" else _protocol(body.ocpp_version)
        )
    if body.description is not None:
        changes["description"] = body.description
    if changes:
        charger = await chargers.update_charger(state.pool, charge_point_id, **changes)
    else:
        charger = await existing(state.pool, charge_point_id)
    owners = await live.owners(state, [charge_point_id])
    public = charger_public(charger, owners.get(charge_point_id))
    return ChargerCreated(**public.model_dump(), password=generated)


@router.delete("/{charge_point_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_charger(_: Operator, pool: PoolDep, charge_point_id: ChargePointIdPath) -> None:
    """Delete the charger and all its data (sessions, meter values, events)."""
    await chargers.remove_charger(pool, charge_point_id)


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


def _fields(connector: chargers.ConnectorStatus) -> dict[str, Any]:
    return {name: getattr(connector, name) for name in connector.__dataclass_fields__}


def _connector_key(c: chargers.ConnectorStatus | ConnectorPublic) -> str:
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
        active_transactions=[transaction_public(t) for t in active],
    )
