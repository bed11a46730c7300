"""Logins, rotating refresh tokens, logout and the bootstrap admin."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError

from backoffice.errors import ServiceUnavailable, TooManyRequests, Unauthorized
from backoffice.permissions import Principal, revoked_key
from backoffice.schemas.auth import TokenResponse
from backoffice.security import hash_refresh_token, new_family, new_refresh_token
from backoffice.services.ratelimit import LoginLimiter
from backoffice.state import State
from csms.errors import AlreadyExists
from csms.passwords import hash_password, verify_password
from csms.store import users
from csms.store.executor import Executor

log = logging.getLogger(__name__)

MAX_USERNAME = 64

# Verified when the username is unknown, so a miss costs the same time as a wrong password.
_DUMMY_HASH = hash_password("no such user: timing equaliser")


async def check_password(password_hash: str | None, password: str) -> bool:
    """Argon2 in a thread: the event loop keeps serving while it runs."""
    return await asyncio.to_thread(verify_password, password_hash or _DUMMY_HASH, password) and (
        password_hash is not None
    )


async def login(state: State, username: str, password: str, address: str) -> TokenResponse:
    limiter = _limiter(state)
    try:
        await limiter.check(username, address)
    except TooManyRequests:
        state.metrics.rate_limited.labels("login").inc()
        raise
    plausible = 0 < len(username) <= MAX_USERNAME and "\x00" not in username
    user = await users.get_user_by_username(state.pool, username) if plausible else None
    valid = await check_password(user.password_hash if user else None, password)
    if user is None or not valid or user.disabled:
        await limiter.failed(username, address)
        state.metrics.logins.labels("failed").inc()
        log.info("failed login for a user from %s", address)
        raise Unauthorized("wrong username or password")
    await limiter.succeeded(username, address)
    state.metrics.logins.labels("ok").inc()
    return await _issue(state, state.pool, user, new_family())


def _limiter(state: State) -> LoginLimiter:
    return LoginLimiter(state.redis, state.redis_key("login", ""), state.settings)


async def _issue(state: State, db: Executor, user: users.User, family: str) -> TokenResponse:
    access_token, _claims = state.tokens.issue(user.id, user.role, user.token_version)
    refresh_token, digest = new_refresh_token()
    lifetime = timedelta(days=state.settings.refresh_token_days)
    await users.add_refresh_token(
        db, user.id, family=family, token_hash=digest, expires_at=datetime.now(UTC) + lifetime
    )
    return TokenResponse(
        access_token=access_token,
        expires_in=state.tokens.lifetime,
        refresh_token=refresh_token,
        refresh_expires_in=int(lifetime.total_seconds()),
    )


@dataclass(frozen=True, slots=True)
class _Refused:
    reason: str
    revoked_family: bool = False


async def refresh(state: State, refresh_token: str, address: str) -> TokenResponse:
    """A new access token and the next refresh token of the same family.

    A refresh token works once. Presenting one that was used (or revoked) again means it was
    copied: the whole family is revoked, so neither the thief nor the owner can go on with
    it (the owner logs in again). A refused refresh counts as a failed login of
    ``address``; an address at its login limit gets 429 here too.
    """
    limiter = _limiter(state)
    try:
        await limiter.check_address(address)
    except TooManyRequests:
        state.metrics.rate_limited.labels("refresh").inc()
        raise
    digest = hash_refresh_token(refresh_token)
    outcome: TokenResponse | _Refused
    async with state.pool.acquire() as connection, connection.transaction():
        row = await users.lock_refresh_token(connection, digest)
        if row is None:
            outcome = _Refused("unknown refresh token")
        elif row.used_at is not None or row.revoked_at is not None:
            await users.revoke_refresh_family(connection, row.family)
            outcome = _Refused("refresh token reused or revoked", revoked_family=True)
        elif row.expires_at <= datetime.now(UTC):
            outcome = _Refused("refresh token expired")
        else:
            user = await users.get_user(connection, row.user_id)
            if user is None or user.disabled:
                await users.revoke_refresh_family(connection, row.family)
                outcome = _Refused("the user is gone or disabled")
            else:
                await users.mark_refresh_token_used(connection, row.id)
                outcome = await _issue(state, connection, user, row.family)
    if isinstance(outcome, _Refused):
        await limiter.failed_address(address)
        if outcome.revoked_family:
            log.warning("a used refresh token was presented again; its family is revoked")
        raise Unauthorized(outcome.reason)
    return outcome


async def logout(
    state: State, principal: Principal, refresh_token: str | None, *, everywhere: bool
) -> None:
    """Revoke the caller's access token, the session of ``refresh_token`` (if it is the
    caller's), or with ``everywhere`` every token of the caller."""
    if everywhere:
        async with state.pool.acquire() as connection, connection.transaction():
            await users.update_user(connection, principal.user_id)  # bumps token_version
            await users.revoke_user_refresh_tokens(connection, principal.user_id)
    elif refresh_token:
        async with state.pool.acquire() as connection, connection.transaction():
            row = await users.lock_refresh_token(connection, hash_refresh_token(refresh_token))
            if row is not None and row.user_id == principal.user_id:
                await users.revoke_refresh_family(connection, row.family)
    ttl = principal.claims.expires_at - int(time.time()) + 60
    try:
        await state.redis.set(revoked_key(state, principal.claims.jti), b"1", ex=max(ttl, 1))
    except (RedisError, OSError) as exc:
        raise ServiceUnavailable(f"cannot revoke the access token now: {exc}") from None


async def revoke_user(db: Executor, user_id: int) -> None:
    """After a role, password or disabled change: no refresh token of the user works."""
    await users.revoke_user_refresh_tokens(db, user_id)


async def ensure_bootstrap_admin(state: State) -> None:
    """Create CSMS_BOOTSTRAP_ADMIN if set and missing; an existing user is left alone."""
    settings = state.settings
    if not settings.bootstrap_admin or settings.bootstrap_admin_password is None:
        return
    if await users.get_user_by_username(state.pool, settings.bootstrap_admin) is not None:
        return
    password_hash = await asyncio.to_thread(
        hash_password, settings.bootstrap_admin_password.get_secret_value()
    )
    try:
        await users.add_user(
            state.pool, settings.bootstrap_admin, password_hash=password_hash, role="admin"
        )
    except AlreadyExists:
        return  # another replica made it first
    log.info("bootstrap admin %s created", settings.bootstrap_admin)


async def purge_expired(state: State) -> None:
    await users.purge_refresh_tokens(state.pool, expired_before=datetime.now(UTC))
