"""Server-Sent Events from the cluster's live event stream, filtered per caller.

Staff see every event; a driver sees only the events of sessions started with their own id
tokens. A stream ends when the caller's access token expires (the client reconnects with a
fresh token and ``Last-Event-ID``, and misses nothing the Redis stream still holds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import anyio
import orjson
from redis.exceptions import RedisError

from backoffice.permissions import Principal
from backoffice.state import State
from csms.cluster.events import Event, read_events
from csms.store import token_owners

log = logging.getLogger(__name__)

QUEUE_SIZE = 1000
BLOCK_MS = 1000
NOT_OWNED_TTL = 5.0  # a session's id token may be learnt after its first event
TRANSACTION_EVENTS = "transaction."
STOP_ATTEMPTS = 10
STOP_WAIT = 0.5


class EventFilter:
    def __init__(
        self,
        state: State,
        caller: Principal,
        *,
        types: tuple[str, ...] = (),
        charge_point_id: str | None = None,
    ) -> None:
        self.state = state
        self.caller = caller
        self.types = types
        self.charge_point_id = charge_point_id
        self._owned: set[tuple[str, str]] = set()
        self._not_owned: dict[tuple[str, str], float] = {}

    def _wanted(self, event: Event) -> bool:
        if self.charge_point_id is not None and event.charge_point_id != self.charge_point_id:
            return False
        return not self.types or any(
            event.type == t or event.type.startswith(t.rstrip(".") + ".") for t in self.types
        )

    async def allows(self, event: Event) -> bool:
        if not self._wanted(event):
            return False
        if not self.caller.is_driver:
            return True
        transaction_id = event.data.get("transaction_id")
        if not event.type.startswith(TRANSACTION_EVENTS) or transaction_id is None:
            return False
        key = (event.charge_point_id, str(transaction_id))
        if key in self._owned:
            return True
        checked = self._not_owned.get(key)
        if checked is not None and time.monotonic() - checked < NOT_OWNED_TTL:
            return False
        if await token_owners.user_owns_transaction(self.state.pool, self.caller.user_id, *key):
            self._owned.add(key)
            self._not_owned.pop(key, None)
            return True
        self._not_owned[key] = time.monotonic()
        return False


def format_event(event: Event, *, with_node: bool = True) -> str:
    body = {
        "id": event.id,
        "type": event.type,
        "charge_point_id": event.charge_point_id,
        "at": datetime.fromtimestamp(event.at, UTC).isoformat(),
        "data": event.data,
    }
    if with_node:
        body["node_id"] = event.node_id
    data = orjson.dumps(body, default=str).decode()
    return f"id: {event.id}\nevent: {event.type}\ndata: {data}\n\n"


async def _pump(state: State, last_id: str, queue: asyncio.Queue[Event | None]) -> None:
    try:
        async for event in read_events(state.redis, state.keys, last_id=last_id, block_ms=BLOCK_MS):
            await queue.put(event)
    except (RedisError, OSError) as exc:
        log.warning("event stream interrupted (Redis: %s)", exc)
    await queue.put(None)


async def stream(state: State, event_filter: EventFilter, last_id: str) -> AsyncIterator[str]:
    """The SSE body: events, keep-alive comments, and an end when the token expires."""
    keepalive = state.settings.sse_keepalive_seconds
    expires_at = event_filter.caller.claims.expires_at
    async with state.streams:
        state.metrics.event_streams.inc()
        queue: asyncio.Queue[Event | None] = asyncio.Queue(QUEUE_SIZE)
        reader = asyncio.create_task(_pump(state, last_id, queue), name="sse-reader")
        try:
            yield "retry: 2000\n: stream open\n\n"
            while True:
                remaining = expires_at - time.time()
                if remaining <= 0:
                    yield "event: token-expired\ndata: {}\n\n"
                    return
                try:
                    async with asyncio.timeout(min(keepalive, remaining)):
                        event = await queue.get()
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if event is None:
                    yield "event: stream-error\ndata: {}\n\n"
                    return
                if await event_filter.allows(event):
                    yield format_event(event, with_node=not event_filter.caller.is_driver)
        finally:
            # shielded: the server cancels this generator when the client goes away, and the
            # reader must still be stopped (not left reading Redis forever)
            with anyio.CancelScope(shield=True):
                await _stop(reader)
            state.metrics.event_streams.dec()


async def _stop(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` until it ends. On Python 3.11 a cancellation can be lost inside a
    blocking Redis read whose own timeout fires at the same moment (the read then returns
    "nothing yet" and the loop goes on), so one ``cancel()`` is not always enough."""
    for _ in range(STOP_ATTEMPTS):
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=STOP_WAIT)
        if done:
            with contextlib.suppress(asyncio.CancelledError):
                task.result()
            return
    log.warning("event stream reader did not stop")
