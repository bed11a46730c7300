"""The fleet's stats: spans (first/last times) merge across processes and survive deltas."""

from __future__ import annotations

from simulators.fleet.stats import Span, Stats
from simulators.fleet.worker import _delta


def test_span_marks_first_and_last() -> None:
    span = Span()
    assert span.seconds is None
    span.mark(10.0)
    span.mark(12.5)
    assert (span.first, span.last, span.seconds) == (10.0, 12.5, 2.5)


def test_spans_merge_by_min_and_max_across_processes() -> None:
    # two fleet processes booting interleaved chargers: the window is the union, not a sum
    one, two, total = Stats(), Stats(), Stats()
    for at in (1.0, 3.0, 5.0):
        one.boot.mark(at)
    for at in (1.5, 5.5):
        two.boot.mark(at)
    total.merge(one)
    total.merge(two)
    assert (total.boot.first, total.boot.last) == (1.0, 5.5)
    total.merge(one)  # a delta carrying the same span again changes nothing
    assert total.boot.seconds == 4.5
    assert total.connect.seconds is None


def test_delta_carries_the_span_whole_while_counters_difference() -> None:
    before, now = Stats(), Stats()
    now.boots, now.answered = 3, 7
    now.boot.mark(2.0)
    now.boot.mark(4.0)
    before.boots = 1
    delta = _delta(now, before)
    assert (delta.boots, delta.answered) == (2, 7)
    assert (delta.boot.first, delta.boot.last) == (2.0, 4.0)
    # the parent merges successive deltas: the window grows with the last one
    parent = Stats()
    parent.merge(delta)
    now.boot.mark(6.0)
    parent.merge(_delta(now, now.snapshot()))
    assert parent.boot.seconds == 4.0
