"""BatchWriter with a fake flush: no database, no sleeping for time to pass.

Rows submitted in the same event-loop turn share a batch whatever ``max_delay`` is (the timer
cannot fire before the loop runs again), so a batch is deterministic; a huge ``max_delay``
proves a flush was caused by size or close, not by the timer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import pytest
from timeouts import TIMEOUT

from csms.store.batching import BatchWriter, Row

NEVER = TIMEOUT * 100  # a delay no test lives to see


class FakeFlush:
    """Records every batch; can hold flushes at a gate and fail on demand."""

    def __init__(self) -> None:
        self.batches: list[list[Row]] = []
        self.gate: asyncio.Event | None = None
        self.failure: Exception | None = None
        self.started = asyncio.Event()

    async def __call__(self, rows: Sequence[Row]) -> None:
        self.batches.append(list(rows))
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.failure is not None:
            raise self.failure


async def settle(future: asyncio.Future[None]) -> None:
    await asyncio.wait_for(asyncio.shield(future), TIMEOUT)


async def test_rows_written_in_one_turn_share_one_flush() -> None:
    flush = FakeFlush()
    writer = BatchWriter(flush, max_rows=100, max_delay=0)
    waiters = [writer.submit([(i,)]) for i in range(3)]
    await asyncio.wait_for(asyncio.gather(*waiters), TIMEOUT)
    assert flush.batches == [[(0,), (1,), (2,)]]
    assert writer.rows_written == 3


async def test_write_returns_after_its_rows_are_flushed() -> None:
    flush = FakeFlush()
    writer = BatchWriter(flush, max_rows=100, max_delay=0)
    await asyncio.wait_for(writer.write([("a",), ("b",)]), TIMEOUT)
    assert flush.batches == [[("a",), ("b",)]]


async def test_empty_write_flushes_nothing() -> None:
    flush = FakeFlush()
    writer = BatchWriter(flush, max_rows=1, max_delay=0)
    await asyncio.wait_for(writer.write([]), TIMEOUT)
    writer.add([])
    await writer.flush()
    assert flush.batches == []


async def test_nothing_added_is_flushed_before_the_delay_or_size() -> None:
    flush = FakeFlush()
    writer = BatchWriter(flush, max_rows=10, max_delay=NEVER)
    writer.add([(1,)])  # fire-and-forget (the journal): gathers for the whole delay
    for _ in range(10):
        await asyncio.sleep(0)  # give the loop every chance to run a (wrong) early flush
    assert flush.batches == []
    await writer.flush()
    assert flush.batches == [[(1,)]]


async def test_an_awaited_write_on_an_idle_writer_does_not_wait_for_the_timer() -> None:
    flush = FakeFlush()
    writer = BatchWriter(flush, max_rows=10, max_delay=NEVER)
    waiters = [writer.submit([(1,)]), writer.submit([(2,)])]  # the same loop turn
    for _ in range(3):
        await asyncio.sleep(0)  # the next loop turns, nowhere near the timer
    assert flush.batches == [[(1,), (2,)]]  # one flush, started at once, both together
    assert all(w.done() for w in waiters)
    assert writer.flushes == 1


async def test_an_awaited_write_takes_along_rows_added_before_it() -> None:
    flush = FakeFlush()
    writer = BatchWriter(flush, max_rows=10, max_delay=NEVER)
    writer.add([("journal",)])
    waiter = writer.submit([("meter",)])
    await settle(waiter)
    assert flush.batches == [[("journal",), ("meter",)]]


async def test_awaited_writes_gather_while_a_flush_runs_and_go_when_it_ends() -> None:
    """Under load the batching stays: writes made while a flush is in flight wait for it
    (not for the timer) and then go out together, one statement for all of them."""
    flush = FakeFlush()
    flush.gate = asyncio.Event()
    writer = BatchWriter(flush, max_rows=1000, max_delay=NEVER, max_inflight=2)
    first = writer.submit([(0,)])
    await asyncio.wait_for(flush.started.wait(), TIMEOUT)
    later = [writer.submit([(i,)]) for i in range(1, 51)]
    for _ in range(10):
        await asyncio.sleep(0)
    assert writer.flushes == 1  # the 50 gather: no flush each, no second flush yet
    flush.gate.set()
    await settle(first)
    await asyncio.wait_for(asyncio.gather(*later), TIMEOUT)
    assert writer.flushes == 2
    assert flush.batches[1] == [(i,) for i in range(1, 51)]


async def test_under_steady_load_writes_share_few_flushes() -> None:
    """Many writers, each writing again as soon as its write returns (a fleet under load):
    the batches carry many writes each, counted, not timed."""
    flush = FakeFlush()
    writer = BatchWriter(flush, max_rows=10_000, max_delay=NEVER, max_inflight=2)

    async def charger(n: int) -> None:
        for round_ in range(20):
            await writer.write([(n, round_)])

    await asyncio.wait_for(asyncio.gather(*(charger(n) for n in range(100))), TIMEOUT)
    assert writer.rows_written == 2000
    assert writer.flushes <= 45  # ~100 writes a batch, against 2,000 flushes unbatched


async def test_delay_timer_flushes_without_more_rows() -> None:
    flush = FakeFlush()
    writer = BatchWriter(flush, max_rows=10, max_delay=TIMEOUT / 1000)
    await asyncio.wait_for(writer.write([(1,)]), TIMEOUT)
    assert flush.batches == [[(1,)]]


async def test_reaching_max_rows_flushes_at_once() -> None:
    flush = FakeFlush()
    writer = BatchWriter(flush, max_rows=2, max_delay=NEVER)
    first = writer.submit([(1,)])
    second = writer.submit([(2,)])
    await settle(first)
    await settle(second)
    assert flush.batches == [[(1,), (2,)]]


async def test_batches_split_by_size_and_the_rest_waits_for_the_timer() -> None:
    flush = FakeFlush()
    writer = BatchWriter(flush, max_rows=2, max_delay=NEVER)
    for i in range(5):
        writer.add([(i,)])
    for _ in range(10):
        await asyncio.sleep(0)
    assert flush.batches == [[(0,), (1,)], [(2,), (3,)]]
    await writer.flush()
    assert flush.batches[-1] == [(4,)]
    assert writer.rows_written == 5


async def test_awaited_rest_after_size_splits_goes_when_the_flushes_end() -> None:
    flush = FakeFlush()
    writer = BatchWriter(flush, max_rows=2, max_delay=NEVER)
    waiters = [writer.submit([(i,)]) for i in range(5)]
    await asyncio.wait_for(asyncio.gather(*waiters), TIMEOUT)  # not the timer: NEVER
    assert flush.batches == [[(0,), (1,)], [(2,), (3,)], [(4,)]]


async def test_one_write_larger_than_max_rows_is_not_split() -> None:
    flush = FakeFlush()
    writer = BatchWriter(flush, max_rows=2, max_delay=NEVER)
    await asyncio.wait_for(writer.write([(i,) for i in range(5)]), TIMEOUT)
    assert flush.batches == [[(i,) for i in range(5)]]


async def test_waiters_are_released_only_after_the_flush_completes() -> None:
    flush = FakeFlush()
    flush.gate = asyncio.Event()
    writer = BatchWriter(flush, max_rows=100, max_delay=0)
    waiters = [writer.submit([(1,)]), writer.submit([(2,)])]
    await asyncio.wait_for(flush.started.wait(), TIMEOUT)
    assert not any(w.done() for w in waiters)
    flush.gate.set()
    await asyncio.wait_for(asyncio.gather(*waiters), TIMEOUT)
    assert all(w.result() is None for w in waiters)


async def test_rows_added_during_a_flush_go_to_the_next_batch() -> None:
    flush = FakeFlush()
    flush.gate = asyncio.Event()
    writer = BatchWriter(flush, max_rows=100, max_delay=0)
    first = writer.submit([(1,)])
    await asyncio.wait_for(flush.started.wait(), TIMEOUT)
    second = writer.submit([(2,)])
    flush.gate.set()
    await asyncio.wait_for(asyncio.gather(first, second), TIMEOUT)
    assert flush.batches == [[(1,)], [(2,)]]


async def test_failure_reaches_every_waiter_of_the_batch(caplog: pytest.LogCaptureFixture) -> None:
    flush = FakeFlush()
    flush.failure = OSError("database went away")
    writer = BatchWriter(flush, max_rows=100, max_delay=0)
    waiters = [writer.submit([(i,)]) for i in range(3)]
    with caplog.at_level(logging.WARNING, logger="csms.store.batching"):
        results = await asyncio.wait_for(asyncio.gather(*waiters, return_exceptions=True), TIMEOUT)
    assert all(r is flush.failure for r in results)
    assert writer.rows_written == 0
    # an outage is no bad row: no retry of each submission, one after another
    assert flush.batches == [[(0,), (1,), (2,)]]
    # each failure names whose rows they were (the first column: the charger id)
    for owner in range(3):
        assert f"write of 1 rows failed ({owner}): OSError: database went away" in caplog.text


class FailOn(FakeFlush):
    """Fails any flush that contains ``bad``."""

    def __init__(self, bad: Row) -> None:
        super().__init__()
        self.bad = bad

    async def __call__(self, rows: Sequence[Row]) -> None:
        await super().__call__(rows)
        if self.bad in rows:
            raise ValueError("invalid byte sequence")


async def test_one_bad_submission_fails_only_its_own_waiter() -> None:
    flush = FailOn(("bad",))
    writer = BatchWriter(flush, max_rows=100, max_delay=0)
    good1, bad, good2 = (writer.submit(r) for r in ([("a",)], [("bad",)], [("b",)]))
    results = await asyncio.wait_for(
        asyncio.gather(good1, bad, good2, return_exceptions=True), TIMEOUT
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], ValueError)
    assert (writer.rows_written, writer.rows_failed) == (2, 1)


async def test_write_raises_the_flush_error() -> None:
    flush = FakeFlush()
    flush.failure = OSError("disk full")
    writer = BatchWriter(flush, max_rows=100, max_delay=0)
    with pytest.raises(OSError, match="disk full"):
        await asyncio.wait_for(writer.write([(1,)]), TIMEOUT)


async def test_writer_recovers_after_a_failed_batch() -> None:
    flush = FakeFlush()
    flush.failure = OSError("once")
    writer = BatchWriter(flush, max_rows=100, max_delay=0)
    with pytest.raises(OSError):
        await asyncio.wait_for(writer.write([(1,)]), TIMEOUT)
    flush.failure = None
    await asyncio.wait_for(writer.write([(2,)]), TIMEOUT)
    assert flush.batches == [[(1,)], [(2,)]]
    assert writer.rows_written == 1


async def test_add_is_fire_and_forget_and_a_failure_is_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    flush = FakeFlush()
    flush.failure = OSError("journal table locked")
    writer = BatchWriter(flush, max_rows=100, max_delay=0)
    with caplog.at_level(logging.WARNING, logger="csms.store.batching"):
        writer.add([(1,), (2,)])
        await writer.flush()
    assert flush.batches == [[(1,), (2,)]]
    assert "write of 2 rows failed (1, 2): OSError: journal table locked" in caplog.text


async def test_add_and_submit_share_a_batch() -> None:
    flush = FakeFlush()
    writer = BatchWriter(flush, max_rows=100, max_delay=0)
    writer.add([("journal",)])
    await asyncio.wait_for(writer.write([("meter",)]), TIMEOUT)
    assert flush.batches == [[("journal",), ("meter",)]]


async def test_add_reaching_max_rows_flushes_at_once() -> None:
    flush = FakeFlush()
    writer = BatchWriter(flush, max_rows=2, max_delay=NEVER)
    writer.add([(1,), (2,)])
    await asyncio.wait_for(flush.started.wait(), TIMEOUT)
    assert flush.batches == [[(1,), (2,)]]
    await writer.flush()


async def test_close_flushes_what_is_queued_and_waits_for_flushes_in_flight() -> None:
    flush = FakeFlush()
    flush.gate = asyncio.Event()
    writer = BatchWriter(flush, max_rows=1, max_delay=NEVER)
    in_flight = writer.submit([(1,)])
    await asyncio.wait_for(flush.started.wait(), TIMEOUT)
    writer.add([(2,)])  # max_rows=1: starts a second flush, also held at the gate
    closing = asyncio.ensure_future(writer.flush())
    await asyncio.sleep(0)
    assert not closing.done()
    flush.gate.set()
    await asyncio.wait_for(closing, TIMEOUT)
    assert in_flight.done()
    assert flush.batches == [[(1,)], [(2,)]]
    assert writer.rows_written == 2


async def test_close_without_rows_is_a_no_op() -> None:
    flush = FakeFlush()
    writer = BatchWriter(flush)
    await asyncio.wait_for(writer.flush(), TIMEOUT)
    assert flush.batches == []


async def test_close_cancels_the_pending_timer() -> None:
    flush = FakeFlush()
    writer = BatchWriter(flush, max_rows=100, max_delay=NEVER)
    writer.add([(1,)])
    await asyncio.wait_for(writer.flush(), TIMEOUT)
    assert writer._timer is None
    assert flush.batches == [[(1,)]]


async def test_close_does_not_raise_a_failed_flush() -> None:
    flush = FakeFlush()
    flush.failure = OSError("gone")
    writer = BatchWriter(flush, max_rows=100, max_delay=NEVER)
    waiter = writer.submit([(1,)])
    await asyncio.wait_for(writer.flush(), TIMEOUT)
    assert isinstance(waiter.exception(), OSError)


async def test_cancelled_writer_does_not_break_the_batch() -> None:
    """A charger that disconnects while its rows are being written cancels its wait; the
    others of the batch are still told the outcome."""
    flush = FakeFlush()
    flush.gate = asyncio.Event()
    writer = BatchWriter(flush, max_rows=100, max_delay=0)
    leaving = asyncio.ensure_future(writer.write([(1,)]))
    staying = writer.submit([(2,)])
    await asyncio.wait_for(flush.started.wait(), TIMEOUT)
    leaving.cancel()
    flush.gate.set()
    await settle(staying)
    assert leaving.cancelled()
    assert writer.rows_written == 2


async def test_flushes_in_flight_are_capped_and_the_rows_queued_meanwhile_go_together() -> None:
    flush = FakeFlush()
    flush.gate = asyncio.Event()
    writer = BatchWriter(flush, max_rows=1, max_delay=NEVER, max_inflight=2)
    waiters = [writer.submit([(i,)]) for i in range(6)]
    await asyncio.sleep(0)
    assert flush.batches == [[(0,)], [(1,)]]  # two in flight; the rest wait, no timer needed
    flush.gate.set()
    await asyncio.wait_for(asyncio.gather(*waiters), TIMEOUT)
    assert flush.batches == [[(0,)], [(1,)], [(2,), (3,), (4,), (5,)]]
    assert writer.rows_written == 6


async def test_min_interval_makes_writes_that_keep_coming_wait_for_the_next_start() -> None:
    """With ``min_interval`` a write right after a flush started waits until that long after
    it (so writes at a moderate rate share statements), while the first write goes at once."""
    flush = FakeFlush()
    writer = BatchWriter(flush, max_rows=100, max_delay=NEVER, min_interval=NEVER)
    await asyncio.wait_for(writer.write([(1,)]), TIMEOUT)  # idle: at once
    waiters = [writer.submit([(2,)]), writer.submit([(3,)])]
    for _ in range(10):
        await asyncio.sleep(0)
    assert flush.batches == [[(1,)]]  # the next ones wait for the interval
    await writer.flush()
    assert flush.batches == [[(1,)], [(2,), (3,)]]
    assert all(w.done() for w in waiters)


async def test_min_interval_adds_nothing_after_a_quiet_moment() -> None:
    flush = FakeFlush()
    writer = BatchWriter(flush, max_rows=100, max_delay=NEVER, min_interval=0.01)
    await asyncio.wait_for(writer.write([(1,)]), TIMEOUT)
    await asyncio.sleep(0.02)  # longer than the interval: the next write goes at once
    waiter = writer.submit([(2,)])
    for _ in range(3):
        await asyncio.sleep(0)
    assert waiter.done() and flush.batches == [[(1,)], [(2,)]]
