"""Properties of the cost engine (hypothesis).

Monotonicity holds only where OCPI's rules imply it, and the generators say so:

- no ``max_*`` restriction (a price that stops applying) and no cap (a maximum);
- no ``min_kwh``/``min_power``/``min_current`` either: with ``[TIME 0 min_kwh 5, TIME 1]``
  more energy reaches the free time sooner (see the counterexamples at the end);
- ``step_size`` 1 wherever a dimension has restricted elements, and for TIME and
  PARKING_TIME whenever both are priced: OCPI rounds a total with the step of the LAST
  component used and bills the extra at that component's price, and stops rounding charging
  time once parking is billed, so a session that runs on can cost less (counterexamples
  below).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from cost_helpers import at, charge, component, park, price, session
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from csms.domain.cost import CostBreakdown, Reading, StateChange, Timeline, cost
from csms.domain.money import minor_unit_places
from csms.domain.tariffs import Tariff, parse_tariff
from csms.errors import InvalidInput

ZONES = [
    ZoneInfo(z)
    for z in ("Europe/Amsterdam", "UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe")
]
INTERESTING_DAYS = [
    date(2024, 3, 31),
    date(2024, 10, 27),
    date(2024, 3, 10),
    date(2024, 11, 3),
    date(2024, 12, 31),
]
SLOW = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)

# ---- sessions ---------------------------------------------------------------------------

Leg = tuple[int, int, bool]  # seconds, Wh, charging

starts = st.one_of(
    st.datetimes(datetime(2024, 1, 1), datetime(2024, 12, 31)),
    st.builds(
        lambda day, minute: datetime.combine(day, datetime.min.time()) + timedelta(minutes=minute),
        st.sampled_from(INTERESTING_DAYS),
        st.integers(-180, 24 * 60),
    ),
).map(lambda moment: moment.replace(microsecond=0, tzinfo=UTC))
legs = st.lists(
    st.tuples(
        st.integers(1, 4 * 3600).map(lambda s: 2 * s),
        st.integers(0, 25_000).map(lambda w: 2 * w),
        st.booleans(),
    ),
    min_size=1,
    max_size=6,
)


def timeline_of(start: datetime, legs: list[Leg]) -> Timeline:
    moment, wh = start, 0
    readings, states = [Reading(start, Decimal(0))], []
    for seconds, energy, charging in legs:
        states.append(StateChange(moment, charging))
        moment += timedelta(seconds=seconds)
        wh += energy
        readings.append(Reading(moment, Decimal(wh)))
    return Timeline(start, moment, Decimal(0), tuple(readings), tuple(states))


# ---- tariffs ----------------------------------------------------------------------------

prices = st.decimals(min_value=0, max_value=50, places=3).map(str)
vats = st.one_of(st.none(), st.sampled_from(["0", "5.2", "9", "20", "21"]))
hhmm = st.builds(
    lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 15, 30, 45])
)
WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
safe_restrictions = st.fixed_dictionaries(
    {},
    optional={
        "start_time": hhmm,
        "end_time": hhmm,
        "day_of_week": st.lists(st.sampled_from(WEEKDAYS), min_size=1, unique=True),
        "start_date": st.sampled_from(["2024-03-31", "2024-06-01", "2024-10-27"]),
        "min_duration": st.integers(0, 6 * 3600),
    },
)
any_restrictions = st.fixed_dictionaries(
    {},
    optional={
        "start_time": hhmm,
        "end_time": hhmm,
        "day_of_week": st.lists(st.sampled_from(WEEKDAYS), min_size=1, unique=True),
        "min_kwh": st.integers(0, 40),
        "max_kwh": st.integers(41, 100),
        "min_power": st.integers(0, 20),
        "max_power": st.integers(21, 100),
        "min_duration": st.integers(0, 3 * 3600),
        "max_duration": st.integers(3 * 3600 + 1, 12 * 3600),
    },
)


@st.composite
def tariffs(
    draw: st.DrawFn, restrictions: st.SearchStrategy[dict[str, Any]], monotone: bool
) -> Tariff:
    elements = []
    for _ in range(draw(st.integers(1, 5))):
        kinds = draw(
            st.lists(
                st.sampled_from(["ENERGY", "FLAT", "TIME", "PARKING_TIME"]),
                min_size=1,
                max_size=4,
                unique=True,
            )
        )
        element: dict[str, Any] = {
            "price_components": [
                {
                    "type": kind,
                    "price": draw(prices),
                    "vat": draw(vats),
                    "step_size": draw(st.sampled_from([1, 60, 300, 500, 900])),
                }
                for kind in kinds
            ]
        }
        if draw(st.booleans()):
            element["restrictions"] = draw(restrictions)
        elements.append(element)
    data: dict[str, Any] = {
        "currency": draw(st.sampled_from(["EUR", "JPY", "KWD"])),
        "elements": elements,
        "idle_grace_minutes": draw(st.sampled_from([0, 0, 10, 30])),
    }
    if monotone:
        _make_step_sizes_monotone(elements)
    try:
        return parse_tariff(data)
    except InvalidInput:
        reject()


def _make_step_sizes_monotone(elements: list[dict[str, Any]]) -> None:
    def components(*kinds: str) -> list[dict[str, Any]]:
        return [c for e in elements for c in e["price_components"] if c["type"] in kinds]

    def restricted(*kinds: str) -> bool:
        return any(
            e.get("restrictions") and any(c["type"] in kinds for c in e["price_components"])
            for e in elements
        )

    if restricted("ENERGY") or len(components("ENERGY")) > 1:
        for c in components("ENERGY"):
            c["step_size"] = 1
    both = components("TIME") and components("PARKING_TIME")
    if both or restricted("TIME", "PARKING_TIME") or len(components("TIME", "PARKING_TIME")) > 1:
        for c in components("TIME", "PARKING_TIME"):
            c["step_size"] = 1


def totals(breakdown: CostBreakdown) -> tuple[Decimal, Decimal]:
    return breakdown.total_excl_vat, breakdown.total_incl_vat


# ---- properties -------------------------------------------------------------------------


@SLOW
@given(tariffs(safe_restrictions, monotone=True), starts, legs, legs, st.sampled_from(ZONES))
def test_cost_never_decreases_as_a_session_runs_on(
    tariff: Tariff, start: datetime, before: list[Leg], after: list[Leg], zone: ZoneInfo
) -> None:
    shorter = cost(tariff, timeline_of(start, before), time_zone=zone)
    longer = cost(tariff, timeline_of(start, before + after), time_zone=zone)
    assert totals(shorter) <= totals(longer)


@SLOW
@given(tariffs(safe_restrictions, monotone=True), starts, legs, st.data(), st.sampled_from(ZONES))
def test_cost_never_decreases_with_more_energy(
    tariff: Tariff, start: datetime, legs: list[Leg], data: st.DataObject, zone: ZoneInfo
) -> None:
    more = [(s, w + 2 * data.draw(st.integers(0, 5000)), c) for s, w, c in legs]
    less_cost = cost(tariff, timeline_of(start, legs), time_zone=zone)
    more_cost = cost(tariff, timeline_of(start, more), time_zone=zone)
    assert totals(less_cost) <= totals(more_cost)


@SLOW
@given(
    prices,
    st.integers(1, 5000),
    st.sampled_from(["EUR", "JPY", "KWD"]),
    starts,
    legs,
    st.sampled_from(ZONES),
)
def test_an_energy_only_tariff_costs_the_energy_rounded_up_to_its_step(
    unit_price: str, step: int, currency: str, start: datetime, legs: list[Leg], zone: ZoneInfo
) -> None:
    tariff = parse_tariff(
        {
            "currency": currency,
            "elements": [{"price_components": [component("ENERGY", unit_price, step)]}],
        }
    )
    breakdown = cost(tariff, timeline_of(start, legs), time_zone=zone)
    wh = sum(w for _, w, _ in legs)
    billed_kwh = Decimal(math.ceil(wh / step) * step) / 1000
    expected = (billed_kwh * Decimal(unit_price)).quantize(
        Decimal(1).scaleb(-minor_unit_places(currency)), rounding="ROUND_HALF_UP"
    )
    assert breakdown.total_excl_vat == expected


@SLOW
@given(tariffs(any_restrictions, monotone=False), starts, legs, st.sampled_from(ZONES))
def test_totals_are_the_sums_of_lines_and_rounding_moves_a_line_at_most_half_a_minor_unit(
    tariff: Tariff, start: datetime, legs: list[Leg], zone: ZoneInfo
) -> None:
    breakdown = cost(tariff, timeline_of(start, legs), time_zone=zone)
    assert breakdown.capped is None  # these tariffs have no caps
    assert breakdown.total_excl_vat == sum(x.excl_vat for x in breakdown.lines)
    assert breakdown.total_vat == sum(x.vat for x in breakdown.lines)
    assert breakdown.total_incl_vat == breakdown.total_excl_vat + breakdown.total_vat
    half = Fraction(1, 2 * 10 ** minor_unit_places(tariff.currency))
    for line in breakdown.lines:
        assert line.incl_vat == line.excl_vat + line.vat
        assert line.billed_volume >= line.volume or line.billed_volume == line.volume
        # the volume is shown to 9 decimals; the amount comes from the exact volume
        shown = Fraction(line.billed_volume) * Fraction(line.unit_price)
        assert abs(Fraction(line.excl_vat) - shown) <= half + Fraction(line.unit_price) / 10**9
        vat = Fraction(line.excl_vat) * Fraction(line.vat_rate or 0) / 100
        assert abs(Fraction(line.vat) - vat) <= half


@SLOW
@given(tariffs(any_restrictions, monotone=False), starts, legs, st.data(), st.sampled_from(ZONES))
def test_a_reading_on_the_line_between_two_others_changes_nothing(
    tariff: Tariff, start: datetime, legs: list[Leg], data: st.DataObject, zone: ZoneInfo
) -> None:
    timeline = timeline_of(start, legs)
    i = data.draw(st.integers(0, len(timeline.readings) - 2))
    a, b = timeline.readings[i], timeline.readings[i + 1]
    middle = Reading(a.at + (b.at - a.at) / 2, (a.energy_wh + b.energy_wh) / 2)
    shuffled = data.draw(st.permutations([*timeline.readings, middle]))
    earlier = [s.charging for s in timeline.states if s.at <= middle.at]
    repeated_state = StateChange(middle.at, earlier[-1] if earlier else True)  # no change
    finer = Timeline(
        timeline.started_at,
        timeline.ended_at,
        timeline.meter_start_wh,
        tuple(shuffled),
        tuple(sorted([*timeline.states, repeated_state], key=lambda s: s.at)),
    )
    assert cost(tariff, finer, time_zone=zone) == cost(tariff, timeline, time_zone=zone)


@SLOW
@given(tariffs(any_restrictions, monotone=False), starts, legs, st.sampled_from(ZONES))
def test_a_stored_breakdown_reads_back_equal(
    tariff: Tariff, start: datetime, legs: list[Leg], zone: ZoneInfo
) -> None:
    breakdown = cost(tariff, timeline_of(start, legs), time_zone=zone)
    assert CostBreakdown.from_json(breakdown.to_json()) == breakdown


# ---- where OCPI's rules are not monotone (documented, so nobody "fixes" them silently) ---


def test_counterexample_time_becomes_free_sooner_with_more_energy() -> None:
    tariff = {
        "currency": "EUR",
        "elements": [
            {"price_components": [component("TIME", 0)], "restrictions": {"min_kwh": 5}},
            {"price_components": [component("TIME", 6)]},
        ],
    }
    # slow: 5 kWh in 60 min, 60 min at 6/h = 6.00; fast: 10 kWh in 60 min, 30 min = 3.00
    slow = price(tariff, session(at("2024-06-03 10:00"), charge(60, 5)))
    fast = price(tariff, session(at("2024-06-03 10:00"), charge(60, 10)))
    assert (slow.total_excl_vat, fast.total_excl_vat) == (Decimal("6.00"), Decimal("3.00"))


def test_counterexample_step_size_extra_moves_to_a_cheaper_last_element() -> None:
    tariff = {
        "currency": "EUR",
        "elements": [
            {
                "price_components": [component("TIME", 10, 3600)],
                "restrictions": {"end_time": "17:00"},
            },
            {"price_components": [component("TIME", 1, 3600)]},
        ],
    }
    # 16:30-16:59: 29 min, rounded to 60 min at 10/h = 10.00
    # 16:30-17:01: 30 min at 10/h + 1 min at 1/h, rounded to 60 min: 5.00 + 0.50 = 5.50
    before = price(tariff, session(at("2024-06-03 16:30"), charge(29)))
    after = price(tariff, session(at("2024-06-03 16:30"), charge(31)))
    assert (before.total_excl_vat, after.total_excl_vat) == (Decimal("10.00"), Decimal("5.50"))


def test_counterexample_charging_time_is_no_longer_rounded_once_parking_is_billed() -> None:
    tariff = {
        "currency": "EUR",
        "elements": [
            {"price_components": [component("TIME", 6, 3600), component("PARKING_TIME", 0, 60)]}
        ],
    }
    # 10 min charging -> rounded to 1 h = 6.00; then 1 min free parking: charging exact 1.00
    charging = price(tariff, session(at("2024-06-03 10:00"), charge(10)))
    parked = price(tariff, session(at("2024-06-03 10:00"), charge(10), park(1)))
    assert (charging.total_excl_vat, parked.total_excl_vat) == (Decimal("6.00"), Decimal("1.00"))
