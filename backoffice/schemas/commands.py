from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class CommandInfo(BaseModel):
    name: str
    description: str
    params: list[str]


class CommandResult(BaseModel):
    """The charger's answer."""

    charge_point_id: str
    command: str
    action: str = Field(description="The OCPP action that was sent")
    protocol: str
    request: dict[str, Any] = Field(description="The OCPP payload sent")
    response: dict[str, Any] = Field(description="The charger's CALLRESULT payload")
