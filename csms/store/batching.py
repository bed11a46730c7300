"""Gather rows from many connections into one write; callers wait until theirs is durable.

A charger is only answered after its rows are committed, so an acknowledged message is
never lost, yet PostgreSQL sees one statement per batch instead of one per row. If a batch
fails for a bad row (a data or constraint error), each submission is retried on its own, so
one bad row fails only its own writer; an outage fails the batch's writers at once.
``BatchCall`` does the same for requests that return a result per item.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import asyncpg

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

Row = tuple[Any, ...]
Flush = Callable[[Sequence[Row]], Awaitable[None]]
# rows of one submission, and who waits for them (None: fire-and-forget)
Submission = tuple[Sequence[Row], "asyncio.Future[None] | None"]


def one_item_at_fault(exc: Exception) -> bool:
    """Whether a failed batch may have failed for one bad item, so retrying the items one
    by one is worth it: anything but a lost, refused or overloaded connection (a data or
    constraint error, a value a codec cannot encode, a recursion limit: whatever one
    charger's row did must not fail the others')."""
    if isinstance(exc, asyncpg.PostgresError):
        return not isinstance(
            exc, asyncpg.PostgresConnectionError | asyncpg.InsufficientResourcesError
        )
    return not isinstance(exc, OSError | TimeoutError | asyncpg.InterfaceError)


class BatchWriter:
    """Collect rows for up to ``max_delay`` seconds or ``max_rows`` rows, then ``flush`` them.

    At most ``max_inflight`` flushes run at once; rows queued meanwhile go out together when
    one finishes, so a slow database gets fewer, larger statements instead of a pile-up.

    Adaptive for awaited writes (``write``/``submit``): when no flush is running, nothing
    is gathering them, so the flush starts on the next loop turn (with whatever was queued in
    the same turn) instead of after ``max_delay``: an idle node adds no delay to an answer.
    Unless the last flush started less than ``min_interval`` ago: then it starts that long
    after the last, so at moderate rates (a write every millisecond or so) rows still share
    statements instead of each paying a round trip of its own, while a write that comes
    after a quiet moment goes at once. While a flush runs, rows gather until it finishes (or
    ``max_delay``, or ``max_rows``). Fire-and-forget rows (``add``: the journal, heartbeats)
    always wait ``max_delay``.
    """

    def __init__(
        self,
        flush: Flush,
        *,
        max_rows: int = 500,
        max_delay: float = 0.005,
        max_inflight: int = 2,
        min_interval: float = 0.0,
    ) -> None:
        self._flush = flush
        self._max_rows = max_rows
        self._max_delay = max_delay
        self._max_inflight = max_inflight
        self._min_interval = min_interval
        self._last_start = float("-inf")  # loop time the last flush started
        self._deferred = False
        self._submissions: list[Submission] = []
        self._row_count = 0
        self._timer: asyncio.TimerHandle | None = None
        self._soon = False  # a flush is scheduled for the next loop turn
        self._awaited = False  # someone waits for a queued submission
        self._inflight: set[asyncio.Task[None]] = set()
        self.rows_written = 0
        self.rows_failed = 0
        self.flushes = 0  # batches written (a retry of a failed batch's parts not counted)

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
        if waiter is not None:
            self._awaited = True
        if self._row_count >= self._max_rows:
            self._start_flush()
        elif waiter is not None and not self._inflight:
            self._flush_idle()
        elif self._timer is None and not self._soon:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._max_delay, self._start_flush)

    def _flush_idle(self) -> None:
        """Awaited rows and no flush running: go on the next loop turn, or ``min_interval``
        after the last flush started if that is later."""
        loop = asyncio.get_running_loop()
        wait = self._last_start + self._min_interval - loop.time()
        if wait <= 0:
            self._flush_soon()
        elif self._timer is None and not self._soon:
            self._timer = loop.call_later(wait, self._start_flush)

    def _flush_soon(self) -> None:
        """Start a flush on the next loop turn (the writes of this turn join it)."""
        if not self._soon:
            self._soon = True
            asyncio.get_running_loop().call_soon(self._start_flush)

    def _start_flush(self) -> None:
        self._soon = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._submissions:
            return
        if len(self._inflight) >= self._max_inflight:
            self._deferred = True  # the next flush to finish starts this one
            return
        self._deferred = False
        self._last_start = asyncio.get_running_loop().time()
        submissions = self._submissions
        self._submissions, self._row_count, self._awaited = [], 0, False
        self.flushes += 1
        task = asyncio.get_running_loop().create_task(self._run(submissions))
        self._inflight.add(task)
        task.add_done_callback(self._flushed)

    def _flushed(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        if self._deferred:
            self._start_flush()
        elif self._awaited and not self._inflight:
            # awaited rows gathered while the last flush ran: they go now (or once
            # min_interval has passed), not at the timer
            if self._last_start + self._min_interval <= asyncio.get_running_loop().time():
                self._start_flush()
            else:
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
                self._flush_idle()

    async def _run(self, submissions: list[Submission]) -> None:
        rows = [row for batch, _ in submissions for row in batch]
        try:
            await self._flush(rows)
        except Exception as exc:
            if len(submissions) == 1 or not one_item_at_fault(exc):
                for submission in submissions:
                    self._fail(submission, exc)
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
        owners = sorted({str(row[0]) for row in rows if row})  # the charger id leads a row
        log.warning(
            "write of %d rows failed (%s): %s: %s",
            len(rows),
            ", ".join(owners[:5]) + (" ..." if len(owners) > 5 else ""),
            type(exc).__name__,
            exc,
            extra={"charge_point_id": owners[0] if len(owners) == 1 else "-"},
        )
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    async def flush(self) -> None:
        """Write what is queued now and wait for every write in flight (still usable)."""
        self._start_flush()
        while self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)
            self._start_flush()


class BatchCall(Generic[T, R]):
    """Many callers' single-item requests answered by one call per batch (group commit).

    A request starts a batch on the next loop iteration, so an idle node adds no delay;
    while ``max_inflight`` batches run, new requests wait and join the next one, so under
    load each statement carries many items. ``run`` gets the items in arrival order and
    returns one result per item. If a batch fails, each item is retried alone, so one bad
    item fails only its own caller (only for errors ``isolate`` blames on an item: an outage
    fails the whole batch at once instead of once per item, in turn). With
    ``max_inflight=1`` batches run strictly in order.
    """

    def __init__(
        self,
        run: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
        *,
        max_items: int = 500,
        max_inflight: int = 2,
        isolate: Callable[[Exception], bool] | None = None,
    ) -> None:
        self._run_batch = run
        self._isolate = isolate or one_item_at_fault
        self._max_items = max_items
        self._max_inflight = max_inflight
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._scheduled = False
        self._inflight: set[asyncio.Task[None]] = set()
        self.batches = 0
        self.items = 0

    async def __call__(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, waiter))
        if not self._scheduled and len(self._inflight) < self._max_inflight:
            self._scheduled = True
            loop.call_soon(self._start)
        return await waiter

    def _start(self) -> None:
        self._scheduled = False
        loop = asyncio.get_running_loop()
        while self._pending and len(self._inflight) < self._max_inflight:
            batch = self._pending[: self._max_items]
            del self._pending[: self._max_items]
            task = loop.create_task(self._run(batch))
            self._inflight.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        if self._pending and not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._start)

    async def _run(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        self.batches += 1
        self.items += len(batch)
        try:
            await self._answer(batch)
        finally:  # cancelled, or a bug: nobody may wait forever
            for _, waiter in batch:
                if not waiter.done():
                    waiter.cancel()

    async def _answer(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._run_batch([item for item, _ in batch])
            if len(results) != len(batch):
                raise ValueError(f"{len(results)} results for {len(batch)} items")
        except Exception as exc:
            if len(batch) == 1 or not self._isolate(exc):
                for _, waiter in batch:
                    _settle(waiter, exc)
                return
            log.warning("batch of %d failed (%s); retrying each alone", len(batch), exc)
            for item, waiter in batch:
                try:
                    (result,) = await self._run_batch([item])
                except Exception as one:
                    _settle(waiter, one)
                else:
                    _settle(waiter, result)
            return
        for (_, waiter), result in zip(batch, results, strict=True):
            _settle(waiter, result)

    async def drain(self) -> None:
        """Wait until every request made so far has its answer."""
        while self._pending or self._inflight or self._scheduled:
            if self._inflight:
                await asyncio.gather(*self._inflight, return_exceptions=True)
            else:
                await asyncio.sleep(0)


def _settle(waiter: asyncio.Future[R], outcome: R | BaseException) -> None:
    if waiter.done():
        return
    if isinstance(outcome, BaseException):
        waiter.set_exception(outcome)
    else:
        waiter.set_result(outcome)
