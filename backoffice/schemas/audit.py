from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class AuditEntryPublic(BaseModel):
    id: int
    at: datetime
    source: str = Field(description="api, cli or worker")
    actor_user_id: int | None = Field(description="The user's id (API calls with a token)")
    actor: str | None = Field(
        description="Username (the attempted one for a login), or the CLI's --actor / OS user"
    )
    actor_role: str | None
    action: str = Field(
        description="`<tag>.<endpoint>` (`chargers.add_charger`), `auth.login`, "
        "`command.<name>`, or the CLI's `cli.<noun>.<verb>`"
    )
    method: str | None
    route: str | None = Field(description="The route template (`/api/v1/chargers/{id}`)")
    target: str | None = Field(description="What it acted on: the path's ids joined with /")
    target_params: dict[str, Any]
    params: dict[str, Any] = Field(description="Query and body, secrets redacted by key")
    status: int | None = Field(description="HTTP status (the CLI's exit status)")
    outcome: str = Field(description="ok, refused (401/403), failed (other 4xx), error (5xx)")
    result: Any = Field(
        description="The response (redacted), or for a command the charger's answer or error"
    )
    client: str | None = Field(description="Client address, or cli:<OS user>@<host>")
    request_id: str | None
