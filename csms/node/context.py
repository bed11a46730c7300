"""What a handler gets: the charger's session state and the node's shared services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from csms.cluster.events import EventPublisher
from csms.domain.clock import Clock
from csms.logs import ChargerLog
from csms.node.batches import NodeBatches
from csms.node.metrics import NodeMetrics
from csms.settings import NodeSettings
from csms.store.batching import BatchWriter

Payload = dict[str, Any]


@dataclass(slots=True)
class NodeServices:
    """Shared by every connection of a node; passed in so tests can replace any of them."""

    settings: NodeSettings
    pool: asyncpg.Pool
    clock: Clock
    meter_writer: BatchWriter
    journal_writer: BatchWriter | None
    events: EventPublisher | None = None
    # Heartbeats are batched fire-and-forget: losing one on a crash loses nothing of value.
    heartbeat_writer: BatchWriter | None = None
    metrics: NodeMetrics | None = None
    # per-connection lookups and writes, batched across chargers (connect/boot storms)
    batches: NodeBatches = field(init=False)

    def __post_init__(self) -> None:
        self.batches = NodeBatches(self.pool)


@dataclass(slots=True)
class Session:
    """One charger's connection state as handlers see it."""

    charge_point_id: str
    subprotocol: str
    services: NodeServices
    log: ChargerLog
    registration_status: str | None = None
    # 2.0.1: evse id -> connector ids seen, used to fill in omitted ids. Grows with the
    # charger's hardware, not with traffic.
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.registration_status == "Accepted"

    @property
    def pool(self) -> asyncpg.Pool:
        return self.services.pool

    def publish(self, event_type: str, **data: Any) -> None:
        """A live event about this charger (dropped when the node runs without Redis)."""
        if self.services.events is not None:
            self.services.events.publish(event_type, self.charge_point_id, **data)


Handler = Callable[[Session, Payload], Awaitable[Payload]]
