"""Id tokens (RFID cards, app tokens): register, block, bind to a driver."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status

from backoffice.deps import AnyUser, Operator, PageDep, PoolDep
from backoffice.pagination import Page, decode_cursor, page_of
from backoffice.permissions import Principal
from backoffice.routes import API
from backoffice.schemas.id_tokens import IdTokenCreate, IdTokenPublic, IdTokenUpdate
from csms.domain.id_tokens import IdToken
from csms.errors import NotFound
from csms.store import id_tokens, token_owners, users
from csms.store.executor import Executor

router = APIRouter(prefix=f"{API}/id-tokens", tags=["id-tokens"])

IdTokenPath = Annotated[str, Path(min_length=1, max_length=36)]


def token_public(token: IdToken, user_id: int | None) -> IdTokenPublic:
    return IdTokenPublic(
        id_token=token.id_token,
        token_type=token.token_type,
        status=token.status,
        expiry_date=token.expiry_date,
        parent_id_token=token.parent_id_token,
        allow_concurrent=token.allow_concurrent,
        description=token.description,
        user_id=user_id,
    )


async def _visible(db: Executor, caller: Principal, id_token: str) -> tuple[IdToken, int | None]:
    """The token and its owner, if the caller may see it; NotFound otherwise (a driver
    cannot tell another driver's token from one that does not exist)."""
    token = await id_tokens.get_id_token(db, id_token)
    owner = await token_owners.owner_of(db, id_token) if token else None
    if token is None or (caller.is_driver and owner != caller.user_id):
        raise NotFound(f"id token {id_token} not found")
    return token, owner


async def _check_user(db: Executor, user_id: int | None) -> None:
    if user_id is not None and await users.get_user(db, user_id) is None:
        raise NotFound(f"user {user_id} not found")


@router.get("", response_model=Page[IdTokenPublic])
async def list_id_tokens(caller: AnyUser, pool: PoolDep, page: PageDep) -> Page[IdTokenPublic]:
    """By id token. A driver sees only their own."""
    after = decode_cursor(page.cursor, str) or ""
    if caller.is_driver:
        rows = await token_owners.list_tokens_of_user(
            pool, caller.user_id, limit=page.limit + 1, after=after
        )
    else:
        rows = await id_tokens.list_id_tokens(pool, limit=page.limit + 1, after=after)
    items, cursor = page_of(rows, page.limit, lambda t: t.id_token)
    owners = await token_owners.owners_of(pool, [t.id_token for t in items])
    return Page(items=[token_public(t, owners.get(t.id_token)) for t in items], next_cursor=cursor)


@router.post("", response_model=IdTokenPublic, status_code=status.HTTP_201_CREATED)
async def create_id_token(
    _: Operator, pool: PoolDep, body: IdTokenCreate, response: Response
) -> IdTokenPublic:
    """Register a token, optionally bound to a driver (``user_id``)."""
    async with pool.acquire() as connection, connection.transaction():
        await _check_user(connection, body.user_id)
        token = await id_tokens.add_id_token(
            connection,
            body.id_token,
            token_type=body.token_type,
            status=body.status,
            expiry_date=body.expiry_date,
            parent_id_token=body.parent_id_token,
            allow_concurrent=body.allow_concurrent,
            description=body.description,
        )
        if body.user_id is not None:
            await token_owners.set_owner(connection, token.id_token, body.user_id)
    response.headers["Location"] = f"/api/v1/id-tokens/{token.id_token}"
    return token_public(token, body.user_id)


@router.get("/{id_token}", response_model=IdTokenPublic)
async def get_id_token(caller: AnyUser, pool: PoolDep, id_token: IdTokenPath) -> IdTokenPublic:
    """One token (case insensitive). Another driver's token answers 404."""
    token, owner = await _visible(pool, caller, id_token)
    return token_public(token, owner)


@router.patch("/{id_token}", response_model=IdTokenPublic)
async def update_id_token(
    _: Operator, pool: PoolDep, id_token: IdTokenPath, body: IdTokenUpdate
) -> IdTokenPublic:
    """Change status (block/unblock), expiry, ...; ``user_id`` binds the token to a driver,
    ``user_id: null`` unbinds it."""
    changes: dict[str, Any] = {
        name: getattr(body, name)
        for name in body.model_fields_set - {"user_id"}
        if getattr(body, name) is not None or name in ("expiry_date", "parent_id_token")
    }
    async with pool.acquire() as connection, connection.transaction():
        if changes:
            token = await id_tokens.update_id_token(connection, id_token, **changes)
        else:
            found = await id_tokens.get_id_token(connection, id_token)
            if found is None:
                raise NotFound(f"id token {id_token} not found")
            token = found
        if "user_id" in body.model_fields_set:
            await _check_user(connection, body.user_id)
            await token_owners.set_owner(connection, token.id_token, body.user_id)
        owner = await token_owners.owner_of(connection, token.id_token)
    return token_public(token, owner)


@router.delete("/{id_token}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_id_token(_: Operator, pool: PoolDep, id_token: IdTokenPath) -> None:
    await id_tokens.remove_id_token(pool, id_token)
