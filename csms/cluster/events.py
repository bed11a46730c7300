"""Live events: nodes publish to a bounded Redis stream; consumers read from it.

PostgreSQL stays the record; the stream is for live views (SSE) and webhooks, so a full
queue or a Redis outage drops events (counted and logged) rather than slowing chargers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from csms.cluster.keys import Keys

log = logging.getLogger(__name__)

STREAM_MAXLEN = 100_000
QUEUE_LIMIT = 10_000
BATCH = 500
GATHER_SECONDS = 0.005

# Event types
CHARGER_CONNECTED = "charger.connected"
CHARGER_DISCONNECTED = "charger.disconnected"
STATUS_CHANGED = "charger.status"
TRANSACTION_STARTED = "transaction.started"
TRANSACTION_UPDATED = "transaction.updated"
TRANSACTION_ENDED = "transaction.ended"


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: str
    charge_point_id: str
    at: float
    node_id: str
    data: dict[str, Any]


class EventPublisher:
    """Queue events without waiting; a background task writes them with pipelined XADDs."""

    def __init__(self, redis: Redis, keys: Keys, node_id: str) -> None:
        self.redis = redis
        self.keys = keys
        self.node_id = node_id
        self._queue: asyncio.Queue[dict[str, str]] = asyncio.Queue(QUEUE_LIMIT)
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def publish(self, event_type: str, charge_point_id: str, **data: Any) -> None:
        fields = {
            "type": event_type,
            "cp": charge_point_id,
            "at": repr(time.time()),
            "node": self.node_id,
            "data": orjson.dumps(data, default=str).decode(),
        }
        try:
            self._queue.put_nowait(fields)
        except asyncio.QueueFull:
            self.dropped += 1

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="event-publisher")

    async def close(self) -> None:
        if self._task is None:
            return
        # give queued events a moment to go out, then stop
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                while not self._queue.empty():
                    await asyncio.sleep(0.01)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        stream = self.keys.events()
        while True:
            batch = [await self._queue.get()]
            await asyncio.sleep(GATHER_SECONDS)  # one pipeline for many events, not one each
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for fields in batch:
                        pipe.xadd(stream, fields, maxlen=STREAM_MAXLEN, approximate=True)  # type: ignore[arg-type]
                    await pipe.execute()
            except (RedisError, OSError) as exc:
                self.dropped += len(batch)
                log.warning("dropped %d live events: %s", len(batch), exc)


async def read_events(
    redis: Redis, keys: Keys, *, last_id: str = "$", block_ms: int = 5000
) -> AsyncIterator[Event]:
    """Follow the stream from ``last_id`` ("$": only new events) until cancelled."""
    stream = keys.events()
    while True:
        entries: Any = await redis.xread({stream: last_id}, block=block_ms, count=500)
        for _stream, items in entries or []:
            for entry_id, fields in items:
                last_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                yield _event(last_id, fields)


def _event(entry_id: str, fields: dict[Any, Any]) -> Event:
    text = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in fields.items()
    }
    return Event(
        id=entry_id,
        type=text.get("type", ""),
        charge_point_id=text.get("cp", ""),
        at=float(text.get("at", "0")),
        node_id=text.get("node", ""),
        data=orjson.loads(text.get("data", "{}")),
    )
