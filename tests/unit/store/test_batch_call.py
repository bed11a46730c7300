"""BatchCall with a fake ``run``: no database, no timing.

A fake run records every batch it is given and can hold it until the test releases it, so a
test decides exactly which requests are in flight when the next ones arrive. ``sleep(0)``
only lets tasks that are ready take their next step (make their request); nothing waits for
time to pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence

import pytest
from timeouts import TIMEOUT

from csms.store.batching import BatchCall


class FakeRun:
    """Answers ``item -> f"r{item}"``; fails every batch containing ``bad``; with ``hold``,
    each batch waits until the test releases it (one at a time, in order)."""

    def __init__(self, *, hold: bool = False, bad: object = None) -> None:
        self.batches: list[list[object]] = []
        self.hold = hold
        self.bad = bad
        self.running = 0
        self.most_running = 0
        self._arrived: asyncio.Queue[list[object]] = asyncio.Queue()
        self._gates: list[asyncio.Event] = []

    async def __call__(self, items: Sequence[object]) -> list[str]:
        batch = list(items)
        self.batches.append(batch)
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            self._arrived.put_nowait(batch)
            if self.hold:
                gate = asyncio.Event()
                self._gates.append(gate)
                await gate.wait()
            if self.bad is not None and self.bad in batch:
                raise ValueError(f"bad item {self.bad!r}")
            return [f"r{item}" for item in batch]
        finally:
            self.running -= 1

    async def arrived(self) -> list[object]:
        """The next batch that started running."""
        return await asyncio.wait_for(self._arrived.get(), TIMEOUT)

    def nothing_arrived(self) -> bool:
        return self._arrived.empty()

    def release(self) -> None:
        """Let the oldest held batch finish (and stop holding new ones)."""
        self._gates.pop(0).set()

    def release_all(self) -> None:
        self.hold = False
        for gate in self._gates:
            gate.set()
        self._gates.clear()


def request(batch: BatchCall[object, str], item: object) -> asyncio.Task[str]:
    return asyncio.ensure_future(batch(item))


async def turns(count: int = 3) -> None:
    """Let every ready task take ``count`` steps (make its request, start a batch)."""
    for _ in range(count):
        await asyncio.sleep(0)


async def answered(*waiting: Awaitable[str]) -> list[str | BaseException]:
    return await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), TIMEOUT)


async def test_an_idle_request_runs_at_once_as_a_batch_of_one() -> None:
    run = FakeRun()
    batch: BatchCall[object, str] = BatchCall(run)
    assert await asyncio.wait_for(batch(7), TIMEOUT) == "r7"
    assert run.batches == [[7]]
    assert (batch.batches, batch.items) == (1, 1)


async def test_requests_of_one_loop_turn_share_a_batch_in_arrival_order() -> None:
    run = FakeRun()
    batch: BatchCall[object, str] = BatchCall(run)
    results = await answered(*(batch(i) for i in range(4)))
    assert results == ["r0", "r1", "r2", "r3"]
    assert run.batches == [[0, 1, 2, 3]]


async def test_requests_made_while_max_inflight_batches_run_join_the_next_batch() -> None:
    run = FakeRun(hold=True)
    batch: BatchCall[object, str] = BatchCall(run, max_inflight=2)
    first = request(batch, "a")
    assert await run.arrived() == ["a"]
    second = request(batch, "b")  # one batch in flight: a second one may start
    assert await run.arrived() == ["b"]
    later = [request(batch, item) for item in ("c", "d", "e")]
    await turns()
    assert run.nothing_arrived()  # both slots taken: c, d, e wait
    run.release()
    assert await run.arrived() == ["c", "d", "e"]
    run.release_all()
    assert await answered(first, second, *later) == ["ra", "rb", "rc", "rd", "re"]
    assert run.batches == [["a"], ["b"], ["c", "d", "e"]]
    assert (batch.batches, batch.items) == (3, 5)


async def test_max_items_splits_a_batch() -> None:
    run = FakeRun()
    batch: BatchCall[object, str] = BatchCall(run, max_items=2, max_inflight=2)
    results = await answered(*(batch(i) for i in range(5)))
    assert results == ["r0", "r1", "r2", "r3", "r4"]
    assert run.batches == [[0, 1], [2, 3], [4]]


async def test_results_reach_their_own_callers_across_batches() -> None:
    run = FakeRun(hold=True)
    batch: BatchCall[object, str] = BatchCall(run, max_items=3, max_inflight=1)
    waiting = {item: request(batch, item) for item in range(7)}
    await run.arrived()
    run.release_all()
    await answered(*waiting.values())
    assert {item: task.result() for item, task in waiting.items()} == {
        item: f"r{item}" for item in range(7)
    }
    assert run.batches == [[0, 1, 2], [3, 4, 5], [6]]


async def test_a_failed_batch_is_retried_item_by_item_so_only_the_bad_caller_fails() -> None:
    run = FakeRun(bad="bad")
    batch: BatchCall[object, str] = BatchCall(run)
    results = await answered(batch("a"), batch("bad"), batch("b"))
    assert results[0] == "ra" and results[2] == "rb"
    assert isinstance(results[1], ValueError)
    assert run.batches == [["a", "bad", "b"], ["a"], ["bad"], ["b"]]


async def test_a_failed_batch_of_one_is_not_retried() -> None:
    run = FakeRun(bad="bad")
    batch: BatchCall[object, str] = BatchCall(run)
    with pytest.raises(ValueError, match="bad item"):
        await asyncio.wait_for(batch("bad"), TIMEOUT)
    assert run.batches == [["bad"]]


async def test_batch_call_works_after_a_failed_batch() -> None:
    run = FakeRun(bad="bad")
    batch: BatchCall[object, str] = BatchCall(run)
    await answered(batch("bad"), batch("x"))
    assert await answered(batch("y"), batch("z")) == ["ry", "rz"]
    assert run.batches[-1] == ["y", "z"]


async def test_max_inflight_one_runs_batches_one_after_another_in_order() -> None:
    run = FakeRun(hold=True)
    batch: BatchCall[object, str] = BatchCall(run, max_inflight=1)
    waiting = [request(batch, 1)]
    assert await run.arrived() == [1]
    waiting += [request(batch, 2), request(batch, 3)]
    await turns()
    assert run.nothing_arrived()
    run.release()
    assert await run.arrived() == [2, 3]
    waiting.append(request(batch, 4))
    await turns()
    assert run.nothing_arrived()
    run.release()
    assert await run.arrived() == [4]
    run.release()
    assert await answered(*waiting) == ["r1", "r2", "r3", "r4"]
    assert run.most_running == 1


async def test_max_inflight_one_keeps_order_under_many_callers() -> None:
    run = FakeRun()
    batch: BatchCall[object, str] = BatchCall(run, max_items=4, max_inflight=1)
    waiting = []
    for item in range(20):
        waiting.append(request(batch, item))
        if item % 3 == 0:
            await asyncio.sleep(0)  # spread the requests over several loop turns
    await answered(*waiting)
    assert [item for one in run.batches for item in one] == list(range(20))
    assert run.most_running == 1


async def test_a_cancelled_caller_does_not_break_its_batch() -> None:
    """A charger that disconnects while its request runs stops waiting; the others of the
    batch still get their results, and later requests are served."""
    run = FakeRun(hold=True)
    batch: BatchCall[object, str] = BatchCall(run)
    leaving, staying = request(batch, 1), request(batch, 2)
    assert await run.arrived() == [1, 2]
    leaving.cancel()
    run.release_all()
    assert await answered(staying) == ["r2"]
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert await asyncio.wait_for(batch(3), TIMEOUT) == "r3"


async def test_a_caller_cancelled_before_its_batch_starts_does_not_break_the_next() -> None:
    run = FakeRun(hold=True)
    batch: BatchCall[object, str] = BatchCall(run, max_inflight=1)
    first = request(batch, 1)
    assert await run.arrived() == [1]
    leaving, staying = request(batch, 2), request(batch, 3)
    await turns()
    leaving.cancel()
    run.release_all()
    assert await answered(first, staying) == ["r1", "r3"]
    assert leaving.cancelled()


async def test_drain_waits_for_everything_submitted() -> None:
    run = FakeRun(hold=True)
    batch: BatchCall[object, str] = BatchCall(run, max_inflight=1)
    waiting = [request(batch, 1)]
    assert await run.arrived() == [1]
    waiting += [request(batch, 2), request(batch, 3)]  # queued behind the running batch
    await turns()
    draining = asyncio.ensure_future(batch.drain())
    await turns()
    assert not draining.done()
    run.release()
    assert await run.arrived() == [2, 3]
    await turns()
    assert not draining.done()
    run.release()
    await asyncio.wait_for(draining, TIMEOUT)
    assert run.batches == [[1], [2, 3]]
    await turns(1)
    assert all(task.done() for task in waiting)


async def test_drain_includes_requests_not_yet_started() -> None:
    run = FakeRun()
    batch: BatchCall[object, str] = BatchCall(run)
    waiting = [request(batch, i) for i in range(3)]
    await turns(1)  # the requests are made; their batch is only scheduled
    await asyncio.wait_for(batch.drain(), TIMEOUT)
    assert run.batches == [[0, 1, 2]]
    assert await answered(*waiting) == ["r0", "r1", "r2"]


async def test_drain_when_idle_returns() -> None:
    batch: BatchCall[object, str] = BatchCall(FakeRun())
    await asyncio.wait_for(batch.drain(), TIMEOUT)


class WrongCount(FakeRun):
    """Breaks the contract: one result too few for a batch of several."""

    async def __call__(self, items: Sequence[object]) -> list[str]:
        results = await super().__call__(items)
        return results[:-1] if len(results) > 1 else results


async def test_a_run_returning_too_few_results_fails_its_callers_instead_of_hanging() -> None:
    run = WrongCount()
    batch: BatchCall[object, str] = BatchCall(run)
    waiting = [request(batch, 1), request(batch, 2)]
    await turns(1)
    await asyncio.wait_for(batch.drain(), TIMEOUT)
    await turns(1)
    try:
        assert all(task.done() for task in waiting)
    finally:
        for task in waiting:  # leave no task pending, whatever happened
            task.cancel()


async def test_an_outage_fails_the_whole_batch_at_once_without_retrying_each_item() -> None:
    calls: list[list[int]] = []

    async def run(items: Sequence[int]) -> list[int]:
        calls.append(list(items))
        raise ConnectionRefusedError("database down")

    call: BatchCall[int, int] = BatchCall(run)
    results = await asyncio.wait_for(
        asyncio.gather(*(call(i) for i in range(5)), return_exceptions=True), TIMEOUT
    )
    assert all(isinstance(r, ConnectionRefusedError) for r in results)
    assert calls == [[0, 1, 2, 3, 4]]
