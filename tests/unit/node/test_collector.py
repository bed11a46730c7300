"""Garbage-collector pauses timed per generation (served at /metrics)."""

from __future__ import annotations

import asyncio
import gc

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from csms.node.collector import BUCKETS, GcPauseCollector, GcPauses, StormFreezer, gc_pauses


def test_a_collection_is_timed_under_its_generation() -> None:
    pauses = GcPauses()
    pauses.callback("start", {"generation": 1})
    pauses.callback("stop", {"generation": 1})
    one = pauses.generations[1]
    assert one.count == 1 and one.seconds >= 0 and one.longest == one.seconds
    assert sum(one.buckets) == 1
    assert (pauses.generations[0].count, pauses.generations[2].count) == (0, 0)


def test_a_stop_without_its_start_is_ignored() -> None:
    # installed between the start and the stop of a collection: that one is not timed
    pauses = GcPauses()
    pauses.callback("stop", {"generation": 2})
    assert pauses.total_seconds() == 0 and pauses.generations[2].count == 0


def test_pauses_land_in_the_first_bucket_that_holds_them() -> None:
    pauses = GcPauses().generations[0]
    for seconds in (0.0005, 0.02, 0.02, 3.0):
        pauses.add(seconds)
    assert pauses.buckets[0] == 1
    assert pauses.buckets[BUCKETS.index(0.025)] == 2
    assert sum(pauses.buckets) == 3  # 3 s is past every bound: only in +Inf
    assert (pauses.count, pauses.longest) == (4, 3.0)


def test_installed_once_and_counts_real_collections() -> None:
    first = gc_pauses()
    assert gc_pauses() is first
    assert gc.callbacks.count(first.callback) == 1
    before = first.generations[2].count
    gc.collect()
    assert first.generations[2].count == before + 1


def test_exported_as_a_histogram_per_generation() -> None:
    pauses = GcPauses()
    for seconds in (0.002, 0.3):
        pauses.generations[1].add(seconds)
    registry = CollectorRegistry()
    registry.register(GcPauseCollector(pauses))
    text = generate_latest(registry).decode()
    assert 'csms_gc_pause_seconds_count{generation="1"} 2.0' in text
    assert 'csms_gc_pause_seconds_bucket{generation="1",le="0.005"} 1.0' in text
    assert 'csms_gc_pause_seconds_bucket{generation="1",le="0.5"} 2.0' in text
    assert 'csms_gc_pause_seconds_bucket{generation="1",le="+Inf"} 2.0' in text
    assert 'csms_gc_pause_max_seconds{generation="1"} 0.3' in text
    assert 'csms_gc_pause_seconds_count{generation="0"} 0.0' in text


class Counting:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def freeze(self) -> None:
        self.calls.append("freeze")

    def unfreeze(self) -> None:
        self.calls.append("unfreeze")


def freezer(connected: list[int], now: list[float], gc_: Counting) -> StormFreezer:
    return StormFreezer(
        lambda: connected[0],
        growth=200,
        settle=10.0,
        clock=lambda: now[0],
        freeze=gc_.freeze,
        unfreeze=gc_.unfreeze,
    )


def test_a_storm_freezes_at_every_check_and_thaws_once_it_settles() -> None:
    connected, now, gc_ = [0], [0.0], Counting()
    storm = freezer(connected, now, gc_)
    for _ in range(4):  # 400 connections per check: a storm
        connected[0] += 400
        now[0] += 0.5
        storm.check()
    assert gc_.calls == ["freeze"] * 4 and storm.frozen
    connected[0] += 50  # a trickle is not a storm, and 9.5 s is not settled
    for _ in range(19):
        now[0] += 0.5
        storm.check()
    assert gc_.calls == ["freeze"] * 4
    now[0] += 0.5  # 10 s after the last storm check
    storm.check()
    assert gc_.calls == ["freeze"] * 4 + ["unfreeze"] and not storm.frozen
    now[0] += 60
    storm.check()  # quiet and already thawed: nothing more
    assert (storm.freezes, storm.unfreezes) == (4, 1)


def test_steady_arrivals_and_departures_never_freeze() -> None:
    connected, now, gc_ = [5000], [0.0], Counting()
    storm = freezer(connected, now, gc_)
    for step in range(100):
        connected[0] += 199 if step % 2 else -300  # churn, never 200 up in one check
        now[0] += 0.5
        storm.check()
    assert gc_.calls == [] and not storm.frozen


def test_release_thaws_what_a_stopping_node_froze() -> None:
    connected, now, gc_ = [0], [0.0], Counting()
    storm = freezer(connected, now, gc_)
    storm.release()
    assert gc_.calls == []  # nothing frozen: nothing to hand back
    connected[0] = 1000
    storm.check()
    storm.release()
    assert gc_.calls == ["freeze", "unfreeze"] and not storm.frozen


async def test_the_task_checks_until_cancelled_then_thaws() -> None:
    connected, now, gc_ = [0], [0.0], Counting()
    storm = freezer(connected, now, gc_)
    task = asyncio.create_task(storm.run(interval=0))
    connected[0] = 1000
    while not storm.frozen:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gc_.calls == ["freeze", "unfreeze"]


def test_a_real_freeze_keeps_objects_out_of_collections_until_thawed() -> None:
    connected, now = [0], [0.0]
    storm = StormFreezer(lambda: connected[0], growth=1, settle=0.0, clock=lambda: now[0])
    kept = [[i] for i in range(1000)]  # what connections keep: tracked containers
    try:
        connected[0] = 1
        storm.check()
        assert gc.get_freeze_count() >= len(kept)
    finally:
        storm.check()  # settled at once: handed back
    assert not storm.frozen
    del kept
