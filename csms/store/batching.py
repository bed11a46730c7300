"""Gather rows from many connections into one write; callers wait until theirs is durable.

A charger is only answered after its rows are committed, so an acknowledged message is
never lost, yet PostgreSQL sees one statement per batch instead of one per row. If a batch
fails, each submission is retried on its own, so one bad row fails only its own writer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)

Row = tuple[Any, ...]
Flush = Callable[[Sequence[Row]], Awaitable[None]]
# rows of one submission, and who waits for them (None: fire-and-forget)
Submission = tuple[Sequence[Row], "asyncio.Future[None] | None"]


class BatchWriter:
    """Collect rows for up to ``max_delay`` seconds or ``max_rows`` rows, then ``flush`` them."""

    def __init__(self, flush: Flush, *, max_rows: int = 500, max_delay: float = 0.005) -> None:
        self._flush = flush
        self._max_rows = max_rows
        self._max_delay = max_delay
        self._submissions: list[Submission] = []
        self._row_count = 0
        self._timer: asyncio.TimerHandle | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self.rows_written = 0
        self.rows_failed = 0

    async def write(self, rows: Sequence[Row]) -> None:
        """Queue ``rows`` and return once they are committed (or raise the flush error)."""
        if not rows:
            return
        await self.submit(rows)

    def submit(self, rows: Sequence[Row]) -> asyncio.Future[None]:
        """Queue ``rows`` without waiting; the future resolves when they are committed."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue(rows, waiter)
        return waiter

    def add(self, rows: Sequence[Row]) -> None:
        """Queue ``rows`` fire-and-forget: a failure is logged, nobody waits (the journal)."""
        if rows:
            self._queue(rows, None)

    def _queue(self, rows: Sequence[Row], waiter: asyncio.Future[None] | None) -> None:
        self._submissions.append((rows, waiter))
        self._row_count += len(rows)
        if self._row_count >= self._max_rows:
            self._start_flush()
        elif self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._max_delay, self._start_flush)

    def _start_flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._submissions:
            return
        submissions = self._submissions
        self._submissions, self._row_count = [], 0
        task = asyncio.get_running_loop().create_task(self._run(submissions))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _run(self, submissions: list[Submission]) -> None:
        rows = [row for batch, _ in submissions for row in batch]
        try:
            await self._flush(rows)
        except Exception as exc:
            if len(submissions) == 1:
                self._fail(submissions[0], exc)
                return
            log.warning("batch write of %d rows failed; retrying each submission", len(rows))
            for submission in submissions:
                try:
                    await self._flush(submission[0])
                except Exception as one:
                    self._fail(submission, one)
                else:
                    self._succeed(submission)
            return
        for submission in submissions:
            self._succeed(submission)

    def _succeed(self, submission: Submission) -> None:
        rows, waiter = submission
        self.rows_written += len(rows)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, submission: Submission, exc: Exception) -> None:
        rows, waiter = submission
        self.rows_failed += len(rows)
        log.error("write of %d rows failed: %s", len(rows), exc)
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    async def flush(self) -> None:
        """Write what is queued now and wait for every write in flight (still usable)."""
        self._start_flush()
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)
