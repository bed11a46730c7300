from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from backoffice.schemas.common import Input


class TokenResponse(BaseModel):
    """An access token (JWT) and the refresh token that gets the next one."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds the access token is valid")
    refresh_token: str = Field(description="Use once with /auth/refresh; it rotates")
    refresh_expires_in: int = Field(description="Seconds the refresh token is valid")


class RefreshRequest(Input):
    refresh_token: Annotated[str, Field(min_length=1, max_length=256)]


class LogoutRequest(Input):
    refresh_token: Annotated[str | None, Field(max_length=256)] = Field(
        None, description="Also revoke this refresh token's session"
    )
    everywhere: bool = Field(
        False, description="Revoke every session of the user (all tokens ever issued)"
    )
