"""Where a site's local wall-clock time crosses given times of day, DST included.

Tariff restrictions speak local wall-clock time (08:00-18:00, MONDAY, 2025-01-01); sessions
are instants. :func:`wall_clock_boundaries` lists the instants in a span at which a local
time-of-day, weekday or date predicate can change its value, so that between two of them
every such predicate is constant:

- each given time of day on each local date, both occurrences when the clock repeats it
  (the fall-back hour) and its neighbours when the clock skips it (spring forward: 02:30
  does not exist; ``fold`` 0 and 1 give the instants around the gap);
- every change of the UTC offset (the moment the clock jumps), found by bisection to the
  second, since a jump carries the wall clock over times of day without crossing them.

Pure: no I/O (the IANA rules come from zoneinfo/tzdata, as data).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

_PROBE = timedelta(hours=6)  # no zone changes its offset twice within six hours


def offset_transitions(start: datetime, end: datetime, zone: ZoneInfo) -> list[datetime]:
    """The instants in ``(start, end)`` (UTC) at which ``zone``'s UTC offset changes."""
    found: list[datetime] = []
    low = start.astimezone(UTC).replace(microsecond=0)
    stop = end.astimezone(UTC)
    while low < stop:
        high = min(low + _PROBE, stop + timedelta(seconds=1))
        if low.astimezone(zone).utcoffset() != high.astimezone(zone).utcoffset():
            a, b = low, high  # invariant: offset(a) != offset(b); b - a in whole seconds
            while b - a > timedelta(seconds=1):
                middle = a + timedelta(seconds=(b - a).total_seconds() // 2)
                if middle.astimezone(zone).utcoffset() == a.astimezone(zone).utcoffset():
                    a = middle
                else:
                    b = middle
            if start < b < end:
                found.append(b)
        low = high
    return found


def wall_clock_boundaries(
    start: datetime, end: datetime, zone: ZoneInfo, times: Iterable[time]
) -> list[datetime]:
    """Sorted instants in ``(start, end)`` (UTC) where the local wall clock of ``zone``
    reaches one of ``times`` (midnight is always one: dates and weekdays change there), or
    jumps."""
    wanted = set(times) | {time(0, 0)}
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    found: set[datetime] = set(offset_transitions(start, end, zone))
    day = first
    while day <= last:
        for moment in wanted:
            for fold in (0, 1):
                local = datetime.combine(day, moment, tzinfo=zone).replace(fold=fold)
                instant = local.astimezone(UTC)
                if start < instant < end:
                    found.add(instant)
        day += timedelta(days=1)
    return sorted(found)
