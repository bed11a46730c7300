"""Counters and a mergeable latency histogram (log buckets, 5 % wide)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

_BASE = math.log(1.05)
# The counters of Stats, merged and differenced by name.
COUNTERS = (
    "connected", "connect_failures", "disconnects", "sent", "answered", "call_errors",
    "timeouts", "commands_answered", "boots", "values_answered", "cpu_seconds",
)  # fmt: skip
# When things first and last happened (time.monotonic(), one clock for every process on
# Linux): merged by min and max, carried whole in every delta.
SPANS = ("connect", "boot")
# Latency histograms: answers to CALLs after the warm-up, BootNotification answers, and
# WebSocket opening handshakes (TCP connect to 101 response).
Histogram = Literal["histogram", "boot_histogram", "connect_histogram"]
HISTOGRAMS: tuple[Histogram, ...] = ("histogram", "boot_histogram", "connect_histogram")


@dataclass
class Span:
    first: float | None = None
    last: float | None = None

    def mark(self, at: float) -> None:
        if self.first is None:
            self.first = at
        self.last = at

    def merge(self, other: Span) -> None:
        if other.first is not None:
            self.first = other.first if self.first is None else min(self.first, other.first)
        if other.last is not None:
            self.last = other.last if self.last is None else max(self.last, other.last)

    @property
    def seconds(self) -> float | None:
        if self.first is None or self.last is None:
            return None
        return self.last - self.first


def _bucket(seconds: float) -> int:
    micros = max(seconds * 1e6, 1.0)
    return int(math.log(micros) / _BASE)


def _value(bucket: int) -> float:
    return math.exp((bucket + 0.5) * _BASE) / 1e6


@dataclass
class Stats:
    connected: int = 0
    connect_failures: int = 0
    disconnects: int = 0
    sent: int = 0
    answered: int = 0
    call_errors: int = 0
    timeouts: int = 0
    commands_answered: int = 0
    boots: int = 0
    values_answered: int = 0  # sampled values in meter-carrying CALLs the CSMS accepted
    cpu_seconds: float = 0.0  # the worker processes' CPU time from their first connection on
    histogram: dict[int, int] = field(default_factory=dict)
    boot_histogram: dict[int, int] = field(default_factory=dict)
    connect_histogram: dict[int, int] = field(default_factory=dict)
    connect: Span = field(default_factory=Span)  # connection attempts started
    boot: Span = field(default_factory=Span)  # BootNotifications answered

    def latency(self, seconds: float, *, of: Histogram = "histogram") -> None:
        target: dict[int, int] = getattr(self, of)
        bucket = _bucket(seconds)
        target[bucket] = target.get(bucket, 0) + 1

    def merge(self, other: Stats) -> None:
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in HISTOGRAMS:
            mine, theirs = getattr(self, name), getattr(other, name)
            for bucket, count in theirs.items():
                mine[bucket] = mine.get(bucket, 0) + count
        for name in SPANS:
            getattr(self, name).merge(getattr(other, name))

    def snapshot(self) -> Stats:
        copy = Stats()
        copy.merge(self)
        return copy

    @staticmethod
    def percentile(histogram: dict[int, int], fraction: float) -> float | None:
        total = sum(histogram.values())
        if total == 0:
            return None
        rank = fraction * total
        seen = 0
        for bucket in sorted(histogram):
            seen += histogram[bucket]
            if seen >= rank:
                return _value(bucket)
        return _value(max(histogram))
