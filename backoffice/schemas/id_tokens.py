from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field

from backoffice.schemas.common import BigId, Input, Name, Text

IdTokenValue = Annotated[Name, Field(min_length=1, max_length=36)]
TokenStatus = Literal["Accepted", "Blocked", "Expired", "Invalid"]
TokenType = Annotated[Name, Field(min_length=1, max_length=20)]


class IdTokenCreate(Input):
    id_token: IdTokenValue
    token_type: TokenType = "ISO14443"
    status: TokenStatus = "Accepted"
    expiry_date: AwareDatetime | None = None
    parent_id_token: IdTokenValue | None = None
    allow_concurrent: bool = False
    description: Annotated[Text, Field(max_length=500)] = ""
    user_id: BigId | None = Field(None, description="The driver (user) this token belongs to")


class IdTokenUpdate(Input):
    """Only the fields given change; ``user_id: null`` unbinds the token from its driver."""

    token_type: TokenType | None = None
    status: TokenStatus | None = None
    expiry_date: AwareDatetime | None = None
    parent_id_token: IdTokenValue | None = None
    allow_concurrent: bool | None = None
    description: Annotated[Text, Field(max_length=500)] | None = None
    user_id: BigId | None = None


class IdTokenPublic(BaseModel):
    id_token: str
    token_type: str
    status: str
    expiry_date: AwareDatetime | None
    parent_id_token: str | None
    allow_concurrent: bool
    description: str
    user_id: int | None
