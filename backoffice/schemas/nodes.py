from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class NodePublic(BaseModel):
    node_id: str
    address: str
    version: str
    connections: int = Field(description="Chargers connected to the node")
    started_at: datetime
    heartbeat_at: datetime
    messages_per_second: float = Field(
        default=0.0, description="OCPP messages per second over its last heartbeat interval"
    )
    breaker: str = Field(
        description="This backoffice's circuit breaker for the node: closed, open, half-open"
    )


class ReadyChecks(BaseModel):
    status: str
    postgres: str
    redis: str
