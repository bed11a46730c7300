"""Building sessions for cost tests in a few words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from csms.domain.cost import (
    CostBreakdown,
    CostLine,
    CurrentSample,
    Reading,
    StateChange,
    Timeline,
    cost,
)
from csms.domain.tariffs import Dimension, parse_tariff

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
UTC_ZONE = ZoneInfo("UTC")


def at(text: str, zone: ZoneInfo = AMSTERDAM) -> datetime:
    """A local wall-clock time at the site ("2024-06-03 09:30"); fold 0 when it repeats."""
    return datetime.fromisoformat(text).replace(tzinfo=zone)


@dataclass(frozen=True)
class Leg:
    """``minutes`` of charging (or not), during which ``kwh`` flow, at ``amperes``."""

    minutes: float
    kwh: float | str = 0
    charging: bool = True
    amperes: float | None = None


def charge(minutes: float, kwh: float | str = 0, amperes: float | None = None) -> Leg:
    return Leg(minutes, kwh, True, amperes)


def park(minutes: float) -> Leg:
    return Leg(minutes, 0, False)


def session(start: datetime, *legs: Leg) -> Timeline:
    """A session of consecutive legs, with a register reading at every leg's end (elapsed
    time: a leg of 60 minutes is 60 real minutes, whatever the wall clock does)."""
    start = start.astimezone(UTC)  # aware + timedelta is wall-clock arithmetic otherwise
    moment, wh = start, Decimal(0)
    readings, states, currents = [Reading(start, wh)], [], []
    for leg in legs:
        states.append(StateChange(moment, leg.charging))
        if leg.amperes is not None:
            currents.append(CurrentSample(moment, Decimal(str(leg.amperes))))
        moment = moment + timedelta(minutes=leg.minutes)
        wh += Decimal(str(leg.kwh)) * 1000
        readings.append(Reading(moment, wh))
    return Timeline(start, moment, Decimal(0), tuple(readings), tuple(states), tuple(currents))


def price(
    tariff: dict[str, Any], timeline: Timeline, zone: ZoneInfo = AMSTERDAM, **options: Any
) -> CostBreakdown:
    return cost(parse_tariff(tariff), timeline, time_zone=zone, **options)


def line(breakdown: CostBreakdown, dimension: Dimension, element: int) -> CostLine:
    found = [x for x in breakdown.lines if x.dimension is dimension and x.element == element]
    assert len(found) == 1, breakdown.lines
    return found[0]


def amounts(breakdown: CostBreakdown) -> tuple[str, str, str]:
    """(total excl. VAT, VAT, incl. VAT) as text, for compact assertions."""
    return (
        f"{breakdown.total_excl_vat:f}",
        f"{breakdown.total_vat:f}",
        f"{breakdown.total_incl_vat:f}",
    )


def component(kind: str, price: float | str, step: int = 1, vat: float | None = None) -> Any:
    out: dict[str, Any] = {"type": kind, "price": price, "step_size": step}
    if vat is not None:
        out["vat"] = vat
    return out


def minutes(hours: Decimal) -> Decimal:
    """A line's hours as minutes (its 9 decimals of an hour are 3.6 us)."""
    return (hours * 60).quantize(Decimal("0.000001")).normalize()
