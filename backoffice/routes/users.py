"""Backoffice users (admin only), and the caller's own account."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from backoffice.deps import Admin, AnyUser, PageDep, PoolDep
from backoffice.errors import Conflict, Unauthorized
from backoffice.pagination import Page, decode_cursor, page_of
from backoffice.permissions import Role
from backoffice.routes import API
from backoffice.schemas.common import MAX_BIGINT
from backoffice.schemas.users import PasswordChange, UserCreate, UserPublic, UserUpdate
from backoffice.services import sessions
from csms.errors import NotFound
from csms.passwords import hash_password
from csms.store import users
from csms.store.executor import Executor

router = APIRouter(prefix=f"{API}/users", tags=["users"])

UserId = Annotated[int, Path(ge=1, le=MAX_BIGINT)]


def public(user: users.User) -> UserPublic:
    return UserPublic(
        id=user.id,
        username=user.username,
        role=Role(user.role),
        disabled=user.disabled,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


async def _hash(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


@router.get("", response_model=Page[UserPublic])
async def list_users(
    _: Admin,
    pool: PoolDep,
    page: PageDep,
    role: Annotated[Role | None, Query()] = None,
) -> Page[UserPublic]:
    after = decode_cursor(page.cursor, int) or 0
    rows = await users.list_users(pool, limit=page.limit + 1, after_id=after, role=role)
    items, cursor = page_of(rows, page.limit, lambda u: u.id)
    return Page(items=[public(u) for u in items], next_cursor=cursor)


@router.post("", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
async def create_user(_: Admin, pool: PoolDep, body: UserCreate, response: Response) -> UserPublic:
    user = await users.add_user(
        pool, body.username, password_hash=await _hash(body.password), role=body.role.value
    )
    response.headers["Location"] = f"/api/v1/users/{user.id}"
    return public(user)


@router.get("/me", response_model=UserPublic)
async def me(caller: AnyUser, pool: PoolDep) -> UserPublic:
    """The caller's own account."""
    user = await users.get_user(pool, caller.user_id)
    if user is None:
        raise NotFound("user not found")
    return public(user)


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_own_password(caller: AnyUser, pool: PoolDep, body: PasswordChange) -> None:
    """Change the caller's password; every token of the caller stops working."""
    user = await users.get_user(pool, caller.user_id)
    if user is None or not await sessions.check_password(user.password_hash, body.current_password):
        raise Unauthorized("the current password is wrong")
    new_hash = await _hash(body.new_password)
    async with pool.acquire() as connection, connection.transaction():
        await users.update_user(connection, user.id, password_hash=new_hash)
        await sessions.revoke_user(connection, user.id)


@router.get("/{user_id}", response_model=UserPublic)
async def get_user(_: Admin, pool: PoolDep, user_id: UserId) -> UserPublic:
    user = await users.get_user(pool, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return public(user)


@router.patch("/{user_id}", response_model=UserPublic)
async def update_user(_: Admin, pool: PoolDep, user_id: UserId, body: UserUpdate) -> UserPublic:
    """Change role, password or disabled; any of those revokes the user's tokens."""
    changes: dict[str, object] = {}
    if body.role is not None:
        changes["role"] = body.role.value
    if body.password is not None:
        changes["password_hash"] = await _hash(body.password)
    if body.disabled is not None:
        changes["disabled"] = body.disabled
    async with pool.acquire() as connection, connection.transaction():
        await users.lock_users(connection)
        if not changes:
            user = await users.get_user(connection, user_id)
            if user is None:
                raise NotFound(f"user {user_id} not found")
            return public(user)
        user = await users.update_user(connection, user_id, **changes)
        await _keep_an_admin(connection)
        await sessions.revoke_user(connection, user_id)
    return public(user)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(_: Admin, pool: PoolDep, user_id: UserId) -> None:
    """Delete the user; their tokens stop working and their id tokens become unbound."""
    async with pool.acquire() as connection, connection.transaction():
        await users.lock_users(connection)
        await users.remove_user(connection, user_id)
        await _keep_an_admin(connection)


async def _keep_an_admin(db: Executor) -> None:
    if await users.count_admins(db) == 0:
        raise Conflict("this would leave no enabled admin")
