from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from backoffice.permissions import Role
from backoffice.schemas.common import Input, Text

Username = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@+-]+$")]
Password = Annotated[Text, Field(min_length=12, max_length=128)]


class UserCreate(Input):
    username: Username
    password: Password
    role: Role


class UserUpdate(Input):
    """Changing role, password or disabled revokes the user's tokens."""

    role: Role | None = None
    password: Password | None = None
    disabled: bool | None = None


class PasswordChange(Input):
    current_password: Annotated[str, Field(max_length=128)]
    new_password: Password


class UserPublic(BaseModel):
    id: int
    username: str
    role: Role
    disabled: bool
    created_at: datetime
    updated_at: datetime
