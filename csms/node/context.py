"""What a handler gets: the charger's session state and the node's shared services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from csms.domain.clock import Clock
from csms.logs import ChargerLog
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


Handler = Callable[[Session, Payload], Awaitable[Payload]]
