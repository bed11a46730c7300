"""A small Server-Sent Events client for the tests: collects events from a stream."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from tests.timeouts import TIMEOUT


@dataclass
class SseEvent:
    id: str
    type: str
    data: dict[str, Any]


@dataclass
class SseStream:
    status: int = 0
    events: list[SseEvent] = field(default_factory=list)
    comments: int = 0
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def _add(self, event: SseEvent | None) -> None:
        async with self._changed:
            if event is None:
                self.comments += 1
            else:
                self.events.append(event)
            self._changed.notify_all()

    async def wait_for(
        self, predicate: Callable[[SseEvent], bool], timeout: float = TIMEOUT
    ) -> SseEvent:
        async with asyncio.timeout(timeout), self._changed:
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                await self._changed.wait()

    async def wait_comments(self, count: int, timeout: float = TIMEOUT) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: self.comments >= count)


async def _read(response: httpx.Response, stream: SseStream) -> None:
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line.startswith(":"):
            await stream._add(None)
        elif line == "":
            if "event" in fields:
                data = orjson.loads(fields.get("data", "{}"))
                await stream._add(SseEvent(fields.get("id", ""), fields["event"], data))
            fields = {}
        else:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


@contextlib.asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    *,
    params: dict[str, str] | None = None,
    last_event_id: str | None = None,
) -> AsyncIterator[SseStream]:
    if last_event_id is not None:
        headers = {**headers, "Last-Event-ID": last_event_id}
    stream = SseStream()
    async with client.stream("GET", "/api/v1/events", headers=headers, params=params) as response:
        stream.status = response.status_code
        reader = asyncio.create_task(_read(response, stream))
        try:
            await stream.wait_comments(1)  # the stream is open
            yield stream
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await reader
