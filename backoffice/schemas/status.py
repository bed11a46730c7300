from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class DependencyStatus(BaseModel):
    up: bool = Field(description="Whether it answered a ping within the probe timeout")
    latency_seconds: float | None = Field(description="Round trip of the ping (null: down)")
    error: str | None = Field(default=None, description="Why it is down")


class BreakerStatus(BaseModel):
    replica_id: str = Field(description="The backoffice replica whose breaker this is")
    state: str = Field(description="closed, open (commands fail fast with 503), half-open")
    failures: int = Field(description="Consecutive failures counted by the breaker")
    reported_at: datetime


class NodeStatus(BaseModel):
    node_id: str
    alive: bool = Field(description="Its registry heartbeat is live")
    address: str | None = None
    version: str | None = None
    chargers: int | None = Field(description="Charger sockets it holds (its last heartbeat)")
    chargers_recorded: int | None = Field(
        description="Chargers PostgreSQL records as connected to it (null: PostgreSQL down)"
    )
    messages_per_second: float | None = Field(
        description="OCPP messages (CALLs both ways) per second over its last heartbeat interval"
    )
    started_at: datetime | None = None
    heartbeat_at: datetime | None = None
    heartbeat_age_seconds: float | None = None
    breakers: list[BreakerStatus] = Field(
        description="Every backoffice replica's circuit breaker for the node"
    )


class QueueStatus(BaseModel):
    entrypoint: str
    status: str = Field(description="queued (waiting) or picked (a worker runs it)")
    jobs: int
    oldest_due_seconds: float = Field(description="How long the oldest due job has waited")


class ServiceStatusPublic(BaseModel):
    status: str = Field(
        description="ok, or degraded: a dependency down, a section unreadable, a live "
        "node's breaker not closed, or chargers recorded on a node that is gone"
    )
    checked_at: datetime
    replica_id: str = Field(description="The backoffice replica that answered")
    dependencies: dict[str, DependencyStatus] = Field(description="postgres and redis")
    nodes: list[NodeStatus] | None = Field(description="null: Redis could not be read")
    queues: list[QueueStatus] | None = Field(description="null: PostgreSQL could not be read")
    alarms: dict[str, int] | None = Field(
        description="Open alarms by severity (null: not available in this deployment or now)"
    )
    webhook_deliveries: dict[str, int] | None = Field(
        description="Webhook deliveries by state (null: not available)"
    )
    unavailable: list[str] = Field(description="Sections that could not be read now")
