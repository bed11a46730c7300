"""Worked examples of the cost engine beyond the OCPI specification's, hand computed.

Local times are Europe/Amsterdam unless a test says otherwise. 2024-06-07 is a Friday,
2024-06-03 a Monday; in 2024 the clocks went forward on 31 March (02:00 CET -> 03:00 CEST,
01:00 UTC) and back on 27 October (03:00 CEST -> 02:00 CET, 01:00 UTC).
"""

from __future__ import annotations

import decimal
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from cost_helpers import (
    AMSTERDAM,
    amounts,
    at,
    charge,
    component,
    line,
    minutes,
    park,
    price,
    session,
)

from csms.domain.cost import CostBreakdown, Reading, StateChange, Timeline, cost
from csms.domain.tariffs import Dimension, parse_tariff


def hours_by_element(breakdown: CostBreakdown) -> dict[int, Decimal]:
    return {x.element: minutes(x.volume) / 60 for x in breakdown.lines}


# ---- across midnight --------------------------------------------------------------------


def test_energy_across_midnight_into_the_weekend_is_split_linearly() -> None:
    tariff = {
        "currency": "EUR",
        "elements": [
            {
                "price_components": [component("ENERGY", 0.20)],
                "restrictions": {"day_of_week": ["SATURDAY", "SUNDAY"]},
            },
            {"price_components": [component("ENERGY", 0.30)]},
        ],
    }
    # Friday 23:00 -> Saturday 01:00, 4 kWh read only at both ends: 2 kWh each side of
    # midnight. Friday 2 x 0.30 = 0.60, Saturday 2 x 0.20 = 0.40
    breakdown = price(tariff, session(at("2024-06-07 23:00"), charge(120, 4)))
    assert [(x.element, f"{x.volume}", f"{x.excl_vat}") for x in breakdown.lines] == [
        (1, "2", "0.60"),
        (0, "2", "0.40"),
    ]
    assert breakdown.total_excl_vat == Decimal("1.00")


OFF_PEAK_NIGHT = {
    "currency": "EUR",
    "elements": [
        {
            "price_components": [component("TIME", 1.00)],
            "restrictions": {"start_time": "22:00", "end_time": "06:00"},
        },
        {"price_components": [component("TIME", 3.00)]},
    ],
}


def test_a_window_that_wraps_over_midnight() -> None:
    # 21:00 -> 07:00: 21-22 at 3.00, 22-06 (8 h) at 1.00, 06-07 at 3.00 = 14.00
    breakdown = price(OFF_PEAK_NIGHT, session(at("2024-06-03 21:00"), charge(600, 20)))
    assert hours_by_element(breakdown) == {1: 2, 0: 8}
    assert breakdown.total_excl_vat == Decimal("14.00")


def test_weekday_and_time_of_day_are_checked_each_on_its_own() -> None:
    tariff = {
        "currency": "EUR",
        "elements": [
            {
                "price_components": [component("TIME", 1.00)],
                "restrictions": {
                    "start_time": "22:00",
                    "end_time": "06:00",
                    "day_of_week": ["MONDAY"],
                },
            },
            {"price_components": [component("TIME", 3.00)]},
        ],
    }
    # Monday 21:00 -> Tuesday 07:00: only Monday 22-24 is "22:00-06:00 on a Monday"
    # 2 h x 1.00 + 8 h x 3.00 = 26.00
    breakdown = price(tariff, session(at("2024-06-03 21:00"), charge(600, 20)))
    assert hours_by_element(breakdown) == {1: 8, 0: 2}
    assert breakdown.total_excl_vat == Decimal("26.00")


# ---- across DST -------------------------------------------------------------------------

NIGHT_PEAK = {
    "currency": "EUR",
    "elements": [
        {
            "price_components": [component("TIME", 6.00)],
            "restrictions": {"start_time": "01:00", "end_time": "03:00"},
        },
        {"price_components": [component("TIME", 1.00)]},
    ],
}


def test_spring_forward_the_skipped_hour_is_not_there() -> None:
    # 00:00 CET for 3 real hours: 00-01 at 1.00, 01-02 at 6.00, the clock jumps to 03:00,
    # 03-04 CEST at 1.00 = 8.00. The window 01:00-03:00 lasts one hour that night.
    start = at("2024-03-31 00:00")
    assert start.astimezone(UTC) == datetime(2024, 3, 30, 23, 0, tzinfo=UTC)
    breakdown = price(NIGHT_PEAK, session(start, charge(180, 10)))
    assert hours_by_element(breakdown) == {1: 2, 0: 1}
    assert breakdown.total_excl_vat == Decimal("8.00")


def test_spring_forward_a_window_inside_the_gap_never_applies() -> None:
    tariff = {
        "currency": "EUR",
        "elements": [
            {
                "price_components": [component("TIME", 10.00)],
                "restrictions": {"start_time": "02:00", "end_time": "03:00"},
            },
            {"price_components": [component("TIME", 1.00)]},
        ],
    }
    # 01:00 CET -> 04:00 CEST is 2 real hours, none of them at 02:xx
    breakdown = price(tariff, session(at("2024-03-31 01:00"), charge(120, 10)))
    assert hours_by_element(breakdown) == {1: 2}
    assert breakdown.total_excl_vat == Decimal("2.00")


def test_fall_back_the_repeated_hour_is_priced_twice_by_its_wall_time() -> None:
    # 00:00 CEST for 5 real hours: 00-01 at 1.00, 01-02 at 6.00, 02-03 CEST at 6.00, 02-03
    # CET (again) at 6.00, 03-04 CET at 1.00 = 2.00 + 18.00 = 20.00
    start = at("2024-10-27 00:00")
    assert start.astimezone(UTC) == datetime(2024, 10, 26, 22, 0, tzinfo=UTC)
    breakdown = price(NIGHT_PEAK, session(start, charge(300, 10)))
    assert hours_by_element(breakdown) == {1: 2, 0: 3}
    assert breakdown.total_excl_vat == Decimal("20.00")
    peak = line(breakdown, Dimension.TIME, 0)
    assert (peak.started_at, peak.ended_at) == (
        datetime(2024, 10, 26, 23, 0, tzinfo=UTC),  # 01:00 CEST
        datetime(2024, 10, 27, 2, 0, tzinfo=UTC),  # 03:00 CET
    )


def test_a_timeline_in_local_datetimes_is_priced_by_elapsed_time() -> None:
    """Datetimes of one ZoneInfo subtract as wall-clock times in Python; the engine must not:
    the fall-back night from 00:00 to 04:00 local lasts 5 hours."""
    utc_timeline = session(at("2024-10-27 00:00"), charge(300, 10))

    def local(moment: datetime) -> datetime:
        return moment.astimezone(AMSTERDAM)

    local_timeline = Timeline(
        local(utc_timeline.started_at),
        local(utc_timeline.ended_at),
        utc_timeline.meter_start_wh,
        tuple(Reading(local(r.at), r.energy_wh) for r in utc_timeline.readings),
        tuple(StateChange(local(s.at), s.charging) for s in utc_timeline.states),
    )
    assert local_timeline.ended_at - local_timeline.started_at == timedelta(hours=4)  # Python
    tariff = parse_tariff(NIGHT_PEAK)
    assert cost(tariff, local_timeline, time_zone=AMSTERDAM) == cost(
        tariff, utc_timeline, time_zone=AMSTERDAM
    )


def test_a_site_far_from_utc_uses_its_own_wall_clock() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    # 22:00-06:00 Tokyo is 13:00-21:00 UTC; a session 12:00-14:00 UTC is 21:00-23:00 there
    start = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)
    breakdown = price(OFF_PEAK_NIGHT, session(start, charge(120, 10)), zone=tokyo)
    assert hours_by_element(breakdown) == {1: 1, 0: 1}


# ---- currencies, VAT, rounding ----------------------------------------------------------


def test_yen_have_no_minor_unit() -> None:
    tariff = {
        "currency": "JPY",
        "elements": [
            {"price_components": [component("FLAT", 100, 1, 10), component("ENERGY", 30, 1, 10)]}
        ],
    }
    breakdown = price(tariff, session(at("2024-06-03 10:00"), charge(60, "12.345")))
    # FLAT 100 (+10); ENERGY 12.345 x 30 = 370.35 -> 370 (+37.0 -> 37): 470 / 47 / 517
    assert amounts(breakdown) == ("470", "47", "517")


def test_kuwaiti_dinar_have_three_decimals() -> None:
    tariff = {"currency": "KWD", "elements": [{"price_components": [component("ENERGY", "0.125")]}]}
    breakdown = price(tariff, session(at("2024-06-03 10:00"), charge(60, "12.345")))
    # 12.345 x 0.125 = 1.543125 -> 1.543; no VAT applies
    assert amounts(breakdown) == ("1.543", "0.000", "1.543")
    assert breakdown.lines[0].vat_rate is None


def test_vat_per_component() -> None:
    tariff = {
        "currency": "EUR",
        "elements": [
            {
                "price_components": [
                    component("FLAT", 1.00, 1, 21),
                    component("ENERGY", 0.30, 1, 9),
                    component("PARKING_TIME", 2.00, 60),
                ]
            }
        ],
    }
    breakdown = price(tariff, session(at("2024-06-03 10:00"), charge(60, 10), park(30)))
    # FLAT 1.00 + 21 % 0.21; ENERGY 3.00 + 9 % 0.27; PARKING 0.5 h x 2 = 1.00, no VAT
    assert [(x.dimension, f"{x.vat}", x.vat_rate) for x in breakdown.lines] == [
        (Dimension.FLAT, "0.21", Decimal(21)),
        (Dimension.ENERGY, "0.27", Decimal(9)),
        (Dimension.PARKING_TIME, "0.00", None),
    ]
    assert amounts(breakdown) == ("5.00", "0.48", "5.48")


@pytest.mark.parametrize(
    ("rounding", "expected"),
    [
        (decimal.ROUND_HALF_UP, ("0.13", "0.03", "0.16")),
        (decimal.ROUND_HALF_EVEN, ("0.12", "0.02", "0.14")),
        (decimal.ROUND_DOWN, ("0.12", "0.02", "0.14")),
        (decimal.ROUND_CEILING, ("0.13", "0.03", "0.16")),
    ],
)
def test_the_rounding_mode_applies_to_amounts_and_vat(
    rounding: str, expected: tuple[str, str, str]
) -> None:
    tariff = {
        "currency": "EUR",
        "elements": [{"price_components": [component("ENERGY", 0.25, 1, 20)]}],
    }
    # 0.5 kWh x 0.25 = 0.125; its VAT 20 % of 0.13 = 0.026, of 0.12 = 0.024
    breakdown = price(tariff, session(at("2024-06-03 10:00"), charge(10, 0.5)), rounding=rounding)
    assert amounts(breakdown) == expected


def test_an_unknown_rounding_mode_is_refused() -> None:
    tariff = {"currency": "EUR", "elements": [{"price_components": [component("ENERGY", 0.25)]}]}
    with pytest.raises(ValueError, match="rounding"):
        price(tariff, session(at("2024-06-03 10:00"), charge(10, 0.5)), rounding="HALF_UP")


def test_both_caps_at_once_keep_vat_the_difference() -> None:
    tariff = {
        "currency": "EUR",
        "min_price": {"excl_vat": "4.00", "incl_vat": "4.00"},
        "max_price": {"excl_vat": "4.50", "incl_vat": "5.00"},
        "elements": [{"price_components": [component("ENERGY", 1.00, 1, 100)]}],
    }
    # 3 kWh: 3.00 excl. (below 4.00), 6.00 incl. (above 5.00): 4.00 / 1.00 / 5.00
    breakdown = price(tariff, session(at("2024-06-03 10:00"), charge(60, 3)))
    assert amounts(breakdown) == ("4.00", "1.00", "5.00")
    assert breakdown.capped == "min_price,max_price"


# ---- idle grace -------------------------------------------------------------------------

IDLE_FEE = {
    "currency": "EUR",
    "idle_grace_minutes": 30,
    "elements": [
        {"price_components": [component("ENERGY", 0.30), component("PARKING_TIME", 1.20, 60)]}
    ],
}


def test_idle_grace_is_not_billed() -> None:
    # parked 45 min, the first 30 free: 15 min x 1.20/h = 0.30; energy 10 x 0.30 = 3.00
    breakdown = price(IDLE_FEE, session(at("2024-06-03 10:00"), charge(60, 10), park(45)))
    parking = line(breakdown, Dimension.PARKING_TIME, 0)
    assert (minutes(parking.volume), f"{parking.excl_vat}") == (15, "0.30")
    assert breakdown.total_excl_vat == Decimal("3.30")


def test_idle_grace_starts_again_with_each_stretch_without_charging() -> None:
    # parked 20 min (all grace), charged again, parked 40 min (10 billed): 0.20
    timeline = session(at("2024-06-03 10:00"), charge(10, 2), park(20), charge(10, 2), park(40))
    parking = line(price(IDLE_FEE, timeline), Dimension.PARKING_TIME, 0)
    assert (minutes(parking.volume), f"{parking.excl_vat}") == (10, "0.20")
    assert parking.started_at == at("2024-06-03 11:10").astimezone(UTC)


# ---- restrictions that cut a reading interval -------------------------------------------


def test_a_kwh_threshold_inside_a_reading_interval_cuts_time_and_energy() -> None:
    tariff = {
        "currency": "EUR",
        "elements": [
            {
                "price_components": [component("ENERGY", 0.10), component("TIME", 2.00)],
                "restrictions": {"max_kwh": 5},
            },
            {"price_components": [component("ENERGY", 0.50)]},
        ],
    }
    # 10 kWh in one hour, read only at both ends: 5 kWh are reached at 30 minutes
    # ENERGY 5 x 0.10 + 5 x 0.50 = 3.00; TIME 0.5 h x 2.00 = 1.00 (none after)
    breakdown = price(tariff, session(at("2024-06-03 10:00"), charge(60, 10)))
    assert [(x.dimension, x.element, f"{x.excl_vat}") for x in breakdown.lines] == [
        (Dimension.ENERGY, 0, "0.50"),
        (Dimension.TIME, 0, "1.00"),
        (Dimension.ENERGY, 1, "2.50"),
    ]
    assert line(breakdown, Dimension.TIME, 0).ended_at == at("2024-06-03 10:30").astimezone(UTC)


def test_a_flat_fee_is_billed_once_when_its_restriction_first_matches() -> None:
    tariff = {
        "currency": "EUR",
        "elements": [
            {
                "price_components": [component("FLAT", 5.00, 0)],
                "restrictions": {"min_duration": 3600},
            },
            {"price_components": [component("ENERGY", 0.30)]},
        ],
    }
    short = price(tariff, session(at("2024-06-03 10:00"), charge(30, 5)))
    long = price(tariff, session(at("2024-06-03 10:00"), charge(90, 5), park(90)))
    assert [x.dimension for x in short.lines] == [Dimension.ENERGY]
    assert [(x.dimension, f"{x.excl_vat}") for x in long.lines] == [
        (Dimension.ENERGY, "1.50"),
        (Dimension.FLAT, "5.00"),
    ]
    assert line(long, Dimension.FLAT, 0).started_at == at("2024-06-03 11:00").astimezone(UTC)


# ---- what is known of a session ---------------------------------------------------------

SIMPLE = {
    "currency": "EUR",
    "elements": [{"price_components": [component("ENERGY", 0.30), component("TIME", 1.00)]}],
}


def test_a_running_session_knows_no_energy_after_its_last_reading() -> None:
    start = at("2024-06-03 10:00").astimezone(UTC)
    timeline = Timeline(
        started_at=start,
        ended_at=start + timedelta(minutes=45),  # now
        meter_start_wh=Decimal(0),
        readings=(Reading(start + timedelta(minutes=30), Decimal(5000)),),
        states=(),
    )
    # ENERGY 5 kWh x 0.30 = 1.50; TIME 45 min x 1.00/h = 0.75
    breakdown = cost(parse_tariff(SIMPLE), timeline, time_zone=AMSTERDAM)
    assert amounts(breakdown) == ("2.25", "0.00", "2.25")


def test_readings_in_any_order_duplicates_and_a_meter_reset() -> None:
    start = at("2024-06-03 10:00").astimezone(UTC)

    def reading(minute: int, wh: int) -> Reading:
        return Reading(start + timedelta(minutes=minute), Decimal(wh))

    timeline = Timeline(
        started_at=start,
        ended_at=start + timedelta(minutes=60),
        meter_start_wh=None,
        # 10:30 twice (the higher counts), out of order, then the register drops (a new
        # meter): 0 -> 5000 -> (100: nothing) -> 2100 = 7 kWh
        readings=(
            reading(30, 4000),
            reading(0, 0),
            reading(30, 5000),
            reading(45, 100),
            reading(60, 2100),
        ),
        states=(),
    )
    breakdown = cost(parse_tariff(SIMPLE), timeline, time_zone=AMSTERDAM)
    assert line(breakdown, Dimension.ENERGY, 0).volume == Decimal(7)


def test_state_changes_before_the_start_and_at_one_instant() -> None:
    start = at("2024-06-03 10:00").astimezone(UTC)
    tariff = {
        "currency": "EUR",
        "elements": [
            {"price_components": [component("TIME", 1.00), component("PARKING_TIME", 2.00)]}
        ],
    }
    timeline = Timeline(
        started_at=start,
        ended_at=start + timedelta(hours=2),
        meter_start_wh=None,
        readings=(),
        states=(
            StateChange(start - timedelta(minutes=5), False),  # not charging from the start
            StateChange(start + timedelta(hours=1), False),
            StateChange(start + timedelta(hours=1), True),  # of two at one instant, the last
        ),
    )
    breakdown = cost(parse_tariff(tariff), timeline, time_zone=AMSTERDAM)
    assert [(x.dimension, f"{x.volume}") for x in breakdown.lines] == [
        (Dimension.PARKING_TIME, "1"),
        (Dimension.TIME, "1"),
    ]


def test_a_session_of_no_length_owes_its_flat_fee() -> None:
    tariff = {
        "currency": "EUR",
        "elements": [{"price_components": [component("FLAT", 1.00, 0), component("TIME", 1.00)]}],
    }
    start = at("2024-06-03 10:00")
    breakdown = price(tariff, Timeline(start, start, Decimal(0), (), ()))
    assert [(x.dimension, f"{x.excl_vat}") for x in breakdown.lines] == [(Dimension.FLAT, "1.00")]


def test_a_timeline_must_be_aware_and_in_order() -> None:
    tariff = parse_tariff(SIMPLE)
    naive = datetime(2024, 6, 3, 10, 0)
    with pytest.raises(ValueError, match="aware"):
        cost(tariff, Timeline(naive, naive, None, (), ()), time_zone=AMSTERDAM)
    start = at("2024-06-03 10:00")
    with pytest.raises(ValueError, match="end before"):
        cost(
            tariff, Timeline(start, start - timedelta(seconds=1), None, (), ()), time_zone=AMSTERDAM
        )


def test_the_breakdown_survives_json() -> None:
    breakdown = price(IDLE_FEE, session(at("2024-06-03 10:00"), charge(60, 10), park(45)))
    assert CostBreakdown.from_json(breakdown.to_json()) == breakdown


def test_the_worked_example_of_the_docs() -> None:
    """docs/topics/tariffs-and-cost.md, "A worked example"."""
    tariff = {
        "currency": "EUR",
        "idle_grace_minutes": 30,
        "elements": [
            {
                "price_components": [component("ENERGY", "0.40", 1, 21)],
                "restrictions": {"start_time": "17:00", "end_time": "21:00"},
            },
            {
                "price_components": [
                    component("ENERGY", "0.30", 1, 21),
                    component("PARKING_TIME", "2.00", 300, 21),
                ]
            },
        ],
    }
    timeline = session(at("2024-06-03 16:30"), charge(30, 6), charge(40, 8), park(57))
    breakdown = price(tariff, timeline)
    assert [
        (x.dimension.value, x.element, f"{x.billed_volume}", f"{x.excl_vat}", f"{x.vat}")
        for x in breakdown.lines
    ] == [
        ("ENERGY", 1, "6", "1.80", "0.38"),
        ("ENERGY", 0, "8", "3.20", "0.67"),
        ("PARKING_TIME", 1, "0.5", "1.00", "0.21"),
    ]
    assert amounts(breakdown) == ("6.00", "1.26", "7.26")
