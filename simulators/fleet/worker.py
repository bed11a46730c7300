"""One fleet process: an event loop running many chargers, reporting stats every second."""

from __future__ import annotations

import asyncio
import time
from multiprocessing.queues import Queue
from typing import Any

from simulators.fleet.charger import Charger, Shared
from simulators.fleet.connection import Endpoint
from simulators.fleet.profile import FleetProfile, source_address
from simulators.fleet.stats import COUNTERS, HISTOGRAMS, SPANS, Stats

__all__ = ["FleetProfile", "source_address", "worker_main"]

CONNECT_TICK = 0.002


async def _run(profile: FleetProfile, indexes: range, queue: Queue[Stats], start_at: float) -> None:
    rate = profile.connect_rate / max(profile.processes, 1)
    ramp = len(indexes) / rate if rate > 0 else 0.0
    shared = Shared(
        profile=profile,
        endpoint=Endpoint.parse(profile.url),
        stats=Stats(),
        stop_at=start_at + ramp + profile.duration,
        measure_from=start_at + ramp + profile.warmup,
    )
    stats = shared.stats
    reported = Stats()

    cpu_from: float | None = None  # time.process_time() when the first charger started

    def measure_cpu() -> None:
        if cpu_from is not None:
            stats.cpu_seconds = time.process_time() - cpu_from

    async def report() -> None:
        nonlocal reported
        while True:
            await asyncio.sleep(1.0)
            shared.expire(time.monotonic())
            measure_cpu()
            snapshot = stats.snapshot()
            queue.put(_delta(snapshot, reported))
            reported = snapshot

    reporter = asyncio.create_task(report())
    tasks: list[asyncio.Task[None]] = []
    # Start every charger that is due, then sleep until the next one is: one timer per
    # batch of at least CONNECT_TICK, not per charger (uvloop's timers have 1 ms steps).
    started = 0
    while started < len(indexes):
        now = time.monotonic()
        due = len(indexes) if rate <= 0 else min(len(indexes), int((now - start_at) * rate) + 1)
        if cpu_from is None and due > started:
            cpu_from = time.process_time()
        for n in range(started, due):
            charger = Charger(shared, indexes[n])
            shared.chargers.append(charger)
            tasks.append(asyncio.create_task(charger.run()))
        started = max(started, due)
        if started < len(indexes):
            next_due = start_at + started / rate
            await asyncio.sleep(max(next_due - time.monotonic(), CONNECT_TICK))
    await asyncio.gather(*tasks)
    reporter.cancel()
    measure_cpu()
    queue.put(_delta(stats.snapshot(), reported))


def _delta(now: Stats, before: Stats) -> Stats:
    delta = Stats()
    for name in COUNTERS:
        setattr(delta, name, getattr(now, name) - getattr(before, name))
    for name in SPANS:
        getattr(delta, name).merge(getattr(now, name))
    for name in HISTOGRAMS:
        target, a, b = getattr(delta, name), getattr(now, name), getattr(before, name)
        for bucket, count in a.items():
            if count - b.get(bucket, 0):
                target[bucket] = count - b.get(bucket, 0)
    return delta


def worker_main(
    profile: FleetProfile, indexes: range, queue: Queue[Stats], start_at: float
) -> None:
    """Process entry point (spawned by the runner)."""
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    # start_at is a time.monotonic() value of the parent: the same clock on Linux
    runner(_run(profile, indexes, queue, start_at))
