"""Field types shared by the schemas."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MAX_BIGINT = 2**63 - 1
MAX_INT32 = 2**31 - 1


def _printable(value: str) -> str:
    if not value.isprintable():
        raise ValueError("must be printable text (no control characters)")
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
"""Free text (descriptions): anything but NUL, which PostgreSQL cannot store."""
Name = Annotated[str, AfterValidator(_printable)]
"""Identifiers: printable characters only."""
BigId = Annotated[int, Field(ge=1, le=MAX_BIGINT)]


class Input(BaseModel):
    """Request bodies: unknown fields are an error, never silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Status(BaseModel):
    status: str
