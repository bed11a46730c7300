"""What the app holds: made by ``create_app`` (settings, token codec, metrics) and opened by
the lifespan (pool, Redis, command client, the services over the pool)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg
from fastapi import Request

from backoffice.metrics import Metrics
from backoffice.security import TokenCodec
from backoffice.services.status import StatusProviders
from csms.cluster.bus import CommandClient
from csms.cluster.connect import RedisClient
from csms.cluster.keys import Keys
from csms.services import Services
from csms.services.payments import PaymentService
from csms.settings import BackofficeSettings
from csms.store import notifications
from csms.store.alarms import Outbox, count_open_by_severity
from csms.store.notifications import count_deliveries_by_state


@dataclass(slots=True)
class Resources:
    pool: asyncpg.Pool
    redis: RedisClient
    commands: CommandClient
    services: Services
    payments: PaymentService | None = None


class State:
    def __init__(self, settings: BackofficeSettings) -> None:
        self.settings = settings
        self.keys = Keys(settings.redis_prefix)
        self.tokens = TokenCodec(settings)
        self.metrics = Metrics()
        self.streams = asyncio.Semaphore(settings.sse_max_streams)
        # log uploads into PostgreSQL hold a pooled connection each: at most half the pool
        self.uploads = asyncio.Semaphore(max(1, settings.db_pool_max // 2))
        self._resources: Resources | None = None
        # the notifications' outbox for alarm transitions (csms.store.alarms.Outbox)
        self.alarm_outbox: Outbox | None = notifications.enqueue
        # counts other features own, shown by GET /api/v1/status and /metrics
        self.status_providers = StatusProviders(
            delivery_counts=count_deliveries_by_state, alarm_counts=count_open_by_severity
        )

    def open(self, resources: Resources) -> None:
        self._resources = resources

    def close(self) -> None:
        self._resources = None

    @property
    def resources(self) -> Resources:
        if self._resources is None:
            raise RuntimeError("the backoffice is not started (lifespan not run)")
        return self._resources

    @property
    def pool(self) -> asyncpg.Pool:
        return self.resources.pool

    @property
    def redis(self) -> RedisClient:
        return self.resources.redis

    @property
    def commands(self) -> CommandClient:
        return self.resources.commands

    @property
    def services(self) -> Services:
        return self.resources.services

    @property
    def payments(self) -> PaymentService:
        payments = self.resources.payments
        if payments is None:
            raise RuntimeError("the backoffice was started without payments")
        return payments

    def redis_key(self, *parts: str) -> str:
        """A key of the backoffice's own (rate limits, revoked tokens)."""
        return f"{self.settings.redis_prefix}backoffice:{':'.join(parts)}"


def get_state(request: Request) -> State:
    state: State = request.app.state.backoffice
    return state
