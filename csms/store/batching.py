"""Gather rows from many connections into one write; callers wait until theirs is durable.

A charger is only answered after its rows are committed, so an acknowledged message is
never lost, yet PostgreSQL sees one statement per batch instead of one per row.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)

Row = tuple[Any, ...]
Flush = Callable[[Sequence[Row]], Awaitable[None]]


class BatchWriter:
    """Collect rows for up to ``max_delay`` seconds or ``max_rows`` rows, then ``flush`` them."""

    def __init__(self, flush: Flush, *, max_rows: int = 500, max_delay: float = 0.005) -> None:
        self._flush = flush
        self._max_rows = max_rows
        self._max_delay = max_delay
        self._rows: list[Row] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self.rows_written = 0

    async def write(self, rows: Sequence[Row]) -> None:
        """Queue ``rows`` and return once they are committed (or raise the flush error)."""
        if not rows:
            return
        waiter = self.submit(rows)
        await waiter

    def submit(self, rows: Sequence[Row]) -> asyncio.Future[None]:
        """Queue ``rows`` without waiting; the future resolves when they are committed."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._rows.extend(rows)
        self._waiters.append(waiter)
        if len(self._rows) >= self._max_rows:
            self._start_flush()
        elif self._timer is None:
            self._timer = loop.call_later(self._max_delay, self._start_flush)
        return waiter

    def add(self, rows: Sequence[Row]) -> None:
        """Queue ``rows`` fire-and-forget: a failure is logged, nobody waits (the journal)."""
        if not rows:
            return
        self._rows.extend(rows)
        if len(self._rows) >= self._max_rows:
            self._start_flush()
        elif self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._max_delay, self._start_flush)

    def _start_flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._rows:
            return
        rows, waiters = self._rows, self._waiters
        self._rows, self._waiters = [], []
        task = asyncio.get_running_loop().create_task(self._run(rows, waiters))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _run(self, rows: list[Row], waiters: list[asyncio.Future[None]]) -> None:
        try:
            await self._flush(rows)
        except Exception as exc:  # every waiter gets the failure; the callers answer it
            log.exception("batch write of %d rows failed", len(rows))
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(exc)
            return
        self.rows_written += len(rows)
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def close(self) -> None:
        """Flush what is queued and wait for every write in flight."""
        self._start_flush()
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)
