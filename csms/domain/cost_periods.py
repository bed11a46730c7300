"""A session's timeline cut into periods within which no tariff restriction can change.

The input is what a CSMS stores: energy register readings, charging/not-charging changes and
(optionally) current samples. A period ends at every reading, state change and current
sample, and wherever a restriction of the tariff can flip: local midnight and the tariff's
times of day (:mod:`csms.domain.local_time`, DST jumps included), min/max_duration after the
start, the instant the session's energy reaches a min/max_kwh, and the end of an idle grace.
Within a period every restriction is constant, so one look at its start decides it.

Energy is the register between readings, spread linearly over time: a period cut out of a
reading interval gets the interval's energy in proportion to its length. Before the first
and after the last reading no energy is known: it counts as zero and the power there is
unknown. A register that goes down (a replaced or reset meter) adds nothing for that
interval; readings at one instant count once, the highest.

Instants are exact: seconds since the session start as :class:`~fractions.Fraction` (the
moment a kWh threshold is reached rarely falls on a microsecond).

Pure: no I/O.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import TypeVar
from zoneinfo import ZoneInfo

from csms.domain.local_time import wall_clock_boundaries
from csms.domain.tariffs import Tariff

_MICRO = timedelta(microseconds=1)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Reading:
    """The energy import register at ``at`` (Wh)."""

    at: datetime
    energy_wh: Decimal


@dataclass(frozen=True, slots=True)
class StateChange:
    """From ``at`` on the EV is charging (``True``) or not (parked, idle, suspended)."""

    at: datetime
    charging: bool


@dataclass(frozen=True, slots=True)
class CurrentSample:
    """The charging current at ``at``, summed over phases (A); it holds until the next."""

    at: datetime
    amperes: Decimal


@dataclass(frozen=True, slots=True)
class Timeline:
    """What is known of a session. Before the first :class:`StateChange` it is charging; for
    a running session ``ended_at`` is now. Readings may come in any order."""

    started_at: datetime
    ended_at: datetime
    meter_start_wh: Decimal | None
    readings: tuple[Reading, ...]
    states: tuple[StateChange, ...]
    currents: tuple[CurrentSample, ...] = ()


@dataclass(frozen=True, slots=True)
class Period:
    """``[start, end)`` in seconds since the session start, and all a restriction can ask."""

    start: Fraction
    end: Fraction
    local: datetime  # the site's wall clock at the start
    charging: bool
    in_grace: bool  # not charging, within the idle grace of its not-charging stretch
    energy_wh: Fraction
    session_wh: Fraction  # energy of the session before this period
    power_kw: Fraction | None  # None: no readings around it
    current_a: Fraction | None  # None: no sample before it

    @property
    def hours(self) -> Fraction:
        return (self.end - self.start) / 3600


# Internally an instant is microseconds since the session start: an int, or a Fraction for
# the rare moment a kWh threshold is reached between two microseconds (ints compare fast).
Instant = int | Fraction
_SECOND = 1_000_000


class _Register:
    """The energy register as a non-decreasing piecewise-linear function of time."""

    def __init__(self, points: list[tuple[int, Fraction]]) -> None:
        self.times = [t for t, _ in points]
        self.cumulative: list[Fraction] = []
        total, previous = Fraction(0), None
        for _, value in points:
            if previous is not None:
                total += max(Fraction(0), value - previous)
            self.cumulative.append(total)
            previous = value

    def at(self, t: Instant) -> Fraction:
        return self._value(bisect.bisect_right(self.times, t), t)

    def at_each(self, edges: list[Instant]) -> list[Fraction]:
        """:meth:`at` for each of the sorted ``edges`` in one walk."""
        out, i, n = [], 0, len(self.times)
        for t in edges:
            while i < n and self.times[i] <= t:
                i += 1
            out.append(self._value(i, t))
        return out

    def _value(self, i: int, t: Instant) -> Fraction:
        """The register at ``t``, where ``i`` readings are at or before ``t``."""
        if i == 0:
            return self.cumulative[0] if self.times else Fraction(0)
        t0 = self.times[i - 1]
        if i == len(self.times) or t == t0:
            return self.cumulative[i - 1]
        t1, e0, e1 = self.times[i], self.cumulative[i - 1], self.cumulative[i]
        return e0 + (e1 - e0) * (t - t0) / (t1 - t0)

    def covers(self, start: Instant, end: Instant) -> bool:
        return len(self.times) >= 2 and self.times[0] <= start and end <= self.times[-1]

    def reaching(self, level: Fraction) -> Instant | None:
        """The first instant at which the cumulative energy reaches ``level``."""
        for i in range(1, len(self.times)):
            e0, e1 = self.cumulative[i - 1], self.cumulative[i]
            if e0 < level <= e1:
                t0, t1 = self.times[i - 1], self.times[i]
                moment = t0 + (level - e0) / (e1 - e0) * (t1 - t0)
                return int(moment) if moment.denominator == 1 else moment
        return None


def _steps_at_each(points: list[tuple[int, T]], edges: list[Instant], default: T) -> list[T]:
    """A step function (the value of the last point at or before an instant; of two at one
    instant, the later given) at each of the sorted ``edges``, in one walk."""
    out, i, n, value = [], 0, len(points), default
    for t in edges:
        while i < n and points[i][0] <= t:
            value = points[i][1]
            i += 1
        out.append(value)
    return out


def _not_charging_stretches(states: list[tuple[int, bool]], end: int) -> list[tuple[int, int]]:
    """``[start, end)`` of each stretch without charging (clipped to the session)."""
    stretches: list[tuple[int, int]] = []
    charging, since = True, 0
    for at, value in states:
        at = max(at, 0)
        if value == charging:
            continue
        if not value:
            since = at
        elif at > since:
            stretches.append((since, min(at, end)))
        charging = value
    if not charging and since < end:
        stretches.append((since, end))
    return [(a, b) for a, b in stretches if a < end]


def cut(timeline: Timeline, tariff: Tariff, zone: ZoneInfo) -> list[Period]:
    """The periods of ``timeline`` for pricing with ``tariff`` at a site in ``zone``."""
    for value in (timeline.started_at, timeline.ended_at):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("timeline datetimes must be aware")
    # in UTC: two datetimes of one ZoneInfo subtract (and add) as wall-clock times
    started, ended = timeline.started_at.astimezone(UTC), timeline.ended_at.astimezone(UTC)
    if ended < started:
        raise ValueError("a session cannot end before it starts")

    def offset(at: datetime) -> int:
        return (at.astimezone(UTC) - started) // _MICRO

    end = offset(ended)
    register_points: dict[int, Fraction] = {}
    raw = [(offset(r.at), Fraction(r.energy_wh)) for r in timeline.readings]
    if timeline.meter_start_wh is not None:
        raw.append((0, Fraction(timeline.meter_start_wh)))
    for at, wh in raw:
        register_points[at] = max(wh, register_points.get(at, wh))
    register = _Register(sorted(register_points.items()))
    states = sorted(((offset(s.at), s.charging) for s in timeline.states), key=lambda p: p[0])
    currents = sorted(
        ((offset(c.at), Fraction(c.amperes)) for c in timeline.currents), key=lambda p: p[0]
    )
    grace = tariff.idle_grace_minutes * 60 * _SECOND
    graces = [(a, min(a + grace, b)) for a, b in _not_charging_stretches(states, end)]

    cuts: set[Instant] = set(register_points)
    cuts.update(at for at, _ in states)
    cuts.update(at for at, _ in currents)
    cuts.update(b for _, b in graces)
    start_wh = register.at(0)
    times: set[time] = set()
    for element in tariff.elements:
        r = element.restrictions
        if r is None:
            continue
        times.update(t for t in (r.start_time, r.end_time) if t is not None)
        cuts.update(d * _SECOND for d in (r.min_duration, r.max_duration) if d is not None)
        for kwh in (r.min_kwh, r.max_kwh):
            if kwh is not None:
                reached = register.reaching(start_wh + Fraction(kwh) * 1000)
                if reached is not None:
                    cuts.add(reached)
    cuts.update(offset(at) for at in wall_clock_boundaries(started, ended, zone, times))
    edges: list[Instant] = sorted({0, end} | {c for c in cuts if 0 < c < end})

    energy = register.at_each(edges)
    charging_at = _steps_at_each(states, edges, True)
    current_at: list[Fraction | None] = _steps_at_each(list(currents), edges, None)
    grace_ends = _steps_at_each([(a, b) for a, b in graces], edges, 0)  # the grace around
    periods: list[Period] = []
    for k in range(len(edges) - 1):
        a, b = edges[k], edges[k + 1]
        delta = energy[k + 1] - energy[k]
        power = delta * Fraction(36, 10) * _SECOND / (b - a) if register.covers(a, b) else None
        local = (started + timedelta(microseconds=int(a))).astimezone(zone)
        periods.append(
            Period(
                start=Fraction(a, _SECOND),
                end=Fraction(b, _SECOND),
                local=local,
                charging=charging_at[k],
                in_grace=not charging_at[k] and a < grace_ends[k],
                energy_wh=delta,
                session_wh=energy[k] - start_wh,
                power_kw=power,
                current_a=current_at[k],
            )
        )
    return periods


def moment(timeline: Timeline, zone: ZoneInfo) -> Period:
    """The session's start as a period of no length (a session that has no periods yet still
    owes a flat fee)."""
    zero = Fraction(0)
    local = timeline.started_at.astimezone(UTC).astimezone(zone)
    return Period(zero, zero, local, True, False, zero, zero, None, None)
