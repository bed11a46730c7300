"""The garbage collector in a node: its pauses, timed, and connect storms kept out of it.

A node holds tens of thousands of long-lived connection objects; every collection of an
older generation walks them all while the event loop stands still. Those pauses are
invisible in a CPU profile (they land in whatever allocation triggered them), so the node
times them and serves them at ``/metrics`` as ``csms_gc_pause_seconds`` and
``csms_gc_pause_max_seconds`` (per generation). The callback is process-wide and installed
once however many nodes a process runs (tests run several); it costs two clock reads per
collection.

:class:`StormFreezer` keeps what a connect storm leaves behind out of the older generations:
each connection keeps ~100 tracked objects for as long as it lives, and CPython walks every
one of them again in the first generation-1 pass (measured: one pass of 0.83 s after 8,000
connections, ~100 us per connecting charger; ``bench/storm.py``). While connections arrive
fast it moves everything alive into the permanent generation (``gc.freeze()``), which no
collection walks; once arrivals have been quiet for a while it hands them back
(``gc.unfreeze()``, into the oldest generation), so cyclic garbage among them, such as a
closed connection's, is collected again by the next full pass and never held for good.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

GENERATIONS = (0, 1, 2)
BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


@dataclass
class GenerationPauses:
    count: int = 0
    seconds: float = 0.0
    longest: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))

    def add(self, seconds: float) -> None:
        self.count += 1
        self.seconds += seconds
        self.longest = max(self.longest, seconds)
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.buckets[i] += 1
                break


class GcPauses:
    """Totals per generation since the process started timing."""

    def __init__(self) -> None:
        self.generations = {g: GenerationPauses() for g in GENERATIONS}
        self._started: float | None = None

    def callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            self.generations[info["generation"]].add(time.perf_counter() - self._started)
            self._started = None

    def total_seconds(self) -> float:
        return sum(g.seconds for g in self.generations.values())


_PAUSES = GcPauses()


def gc_pauses() -> GcPauses:
    """The process's pauses, timing from the first call on."""
    if _PAUSES.callback not in gc.callbacks:
        gc.callbacks.append(_PAUSES.callback)
    return _PAUSES


class GcPauseCollector(Collector):
    """Exports the process's pauses into a node's registry."""

    def __init__(self, pauses: GcPauses) -> None:
        self._pauses = pauses

    def collect(self) -> Iterator[Any]:
        histogram = HistogramMetricFamily(
            "csms_gc_pause_seconds",
            "Garbage-collector pauses of the node's process (the event loop stands still), "
            "by generation",
            labels=["generation"],
        )
        longest = GaugeMetricFamily(
            "csms_gc_pause_max_seconds",
            "Longest garbage-collector pause of the node's process, by generation",
            labels=["generation"],
        )
        for generation, pauses in self._pauses.generations.items():
            label = str(generation)
            cumulative, buckets = 0, []
            for bound, count in zip(BUCKETS, pauses.buckets, strict=True):
                cumulative += count
                buckets.append((repr(bound), float(cumulative)))
            buckets.append(("+Inf", float(pauses.count)))
            histogram.add_metric([label], buckets, pauses.seconds)
            longest.add_metric([label], pauses.longest)
        yield histogram
        yield longest


# Connections gained within one check that make a storm (200 in 0.5 s: 400/s), how often
# the check runs, and how long arrivals must stay under that before the objects go back.
STORM_GROWTH = 200
CHECK_SECONDS = 0.5
SETTLE_SECONDS = 10.0


class StormFreezer:
    """Freezes the collector's view of the heap while connections arrive faster than
    ``growth`` per check, and unfreezes it ``settle`` seconds after the last such check."""

    def __init__(
        self,
        connected: Callable[[], int],
        *,
        growth: int = STORM_GROWTH,
        settle: float = SETTLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        freeze: Callable[[], None] = gc.freeze,
        unfreeze: Callable[[], None] = gc.unfreeze,
    ) -> None:
        self._connected = connected
        self._growth = growth
        self._settle = settle
        self._clock = clock
        self._freeze = freeze
        self._unfreeze = unfreeze
        self._last = connected()
        self._stormed_at: float | None = None  # the last check that saw a storm, while frozen
        self.freezes = 0
        self.unfreezes = 0

    @property
    def frozen(self) -> bool:
        return self._stormed_at is not None

    def check(self) -> None:
        now, count = self._clock(), self._connected()
        gained, self._last = count - self._last, count
        if gained >= self._growth:
            self._freeze()
            self.freezes += 1
            self._stormed_at = now
        elif self._stormed_at is not None and now - self._stormed_at >= self._settle:
            self._unfreeze()
            self.unfreezes += 1
            self._stormed_at = None

    def release(self) -> None:
        """Hand back what is frozen now (the node is stopping)."""
        if self._stormed_at is not None:
            self._unfreeze()
            self.unfreezes += 1
            self._stormed_at = None

    async def run(self, interval: float = CHECK_SECONDS) -> None:
        try:
            while True:
                await asyncio.sleep(interval)
                self.check()
        finally:
            self.release()
