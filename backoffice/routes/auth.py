"""Login (OAuth2 password grant), token refresh, logout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from backoffice import audit
from backoffice.deps import AnyUser, Public, StateDep
from backoffice.routes import API
from backoffice.schemas.auth import LogoutRequest, RefreshRequest, TokenResponse
from backoffice.services import sessions
from csms.store import users

router = APIRouter(prefix=f"{API}/auth", tags=["auth"])


async def _note_holder(request: Request, state: StateDep, answer: TokenResponse) -> None:
    """The user the new access token is for, as the actor of the audit row."""
    claims = state.tokens.verify(answer.access_token)
    user = await users.get_user(state.pool, claims.user_id)
    audit.note(
        request,
        actor_user_id=claims.user_id,
        actor_role=claims.role,
        **({"actor": user.username} if user is not None else {}),
    )


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/token", response_model=TokenResponse)
async def token(
    _: Public,
    state: StateDep,
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> TokenResponse:
    """Log in with username and password (form fields, OAuth2 password grant).

    Failed attempts are rate-limited per username and client address (429 with
    Retry-After).
    """
    # the attempted username is the actor of the audit row, success or not (never the password)
    audit.note(request, action="auth.login", actor=form.username[:200], actor_role=None)
    answer = await sessions.login(state, form.username, form.password, _address(request))
    await _note_holder(request, state, answer)
    return answer


@router.post("/refresh", response_model=TokenResponse)
async def refresh(
    _: Public, state: StateDep, request: Request, body: RefreshRequest
) -> TokenResponse:
    """Trade a refresh token for a new access token and the next refresh token. Each
    refresh token works once; presenting a used one again revokes its whole session.

    A refused refresh counts as a failed login of the client address, and an address at
    its limit gets 429 with Retry-After here too.
    """
    audit.note(request, action="auth.refresh")
    answer = await sessions.refresh(state, body.refresh_token, _address(request))
    await _note_holder(request, state, answer)
    return answer


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(user: AnyUser, state: StateDep, body: LogoutRequest | None = None) -> None:
    """Revoke this access token, and the session of ``refresh_token`` if given (or every
    session of the user with ``everywhere``)."""
    body = body or LogoutRequest()
    await sessions.logout(state, user, body.refresh_token, everywhere=body.everywhere)
