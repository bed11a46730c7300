"""The OCPI 2.2.1 specification's own tariff examples, priced by the engine.

Each test names the example (mod_tariffs "Examples", the TariffRestrictions examples, and the
CDR module's "Step_size" section) and computes the expected amounts by hand in its comments.
Where this engine's result differs from the number printed in the specification, the test
says why: the specification's worked examples and its normative ``step_size`` text do not
always agree (see docs/topics/tariffs-and-cost.md, "step_size").

Times are local (Europe/Amsterdam); 2024-06-03 is a Monday, 2024-06-08 a Saturday.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from cost_helpers import amounts, at, charge, component, line, minutes, park, price, session

from csms.domain.tariffs import Dimension, parse_tariff
from csms.errors import InvalidInput

MONDAY = "2024-06-03"
SATURDAY = "2024-06-08"


def test_simple_tariff_0_25_euro_per_kwh() -> None:
    """ "Simple Tariff example 0.25 euro per kWh": 20 kWh -> 5.00 excl., 5.50 incl. VAT."""
    tariff = {
        "currency": "EUR",
        "elements": [{"price_components": [component("ENERGY", 0.25, 1, 10)]}],
    }
    # 20 kWh x 0.25 = 5.00; VAT 10 % = 0.50; 5.50
    assert amounts(price(tariff, session(at(f"{MONDAY} 10:00"), charge(60, 20)))) == (
        "5.00",
        "0.50",
        "5.50",
    )


def test_0_25_euro_per_kwh_plus_start_fee() -> None:
    """ "Tariff example 0.25 euro per kWh + start fee": 5.50 excl., 6.10 incl. VAT."""
    tariff = {
        "currency": "EUR",
        "elements": [
            {"price_components": [component("FLAT", 0.50, 1, 20)]},
            {"price_components": [component("ENERGY", 0.25, 1, 10)]},
        ],
    }
    breakdown = price(tariff, session(at(f"{MONDAY} 10:00"), charge(60, 20)))
    # FLAT 0.50 + VAT 20 % 0.10; ENERGY 5.00 + VAT 10 % 0.50: 5.50 / 0.60 / 6.10
    assert amounts(breakdown) == ("5.50", "0.60", "6.10")
    assert [(x.dimension, x.element) for x in breakdown.lines] == [
        (Dimension.FLAT, 0),
        (Dimension.ENERGY, 1),
    ]


MIN_PRICE = {
    "currency": "EUR",
    "min_price": {"excl_vat": 0.50, "incl_vat": 0.55},
    "elements": [{"price_components": [component("ENERGY", 0.25, 1, 10)]}],
}


def test_0_25_euro_per_kwh_plus_minimum_price_above_the_minimum() -> None:
    """ "Tariff example 0.25 euro per kWh + minimum price": 20 kWh -> 5.00 / 5.50."""
    breakdown = price(MIN_PRICE, session(at(f"{MONDAY} 10:00"), charge(60, 20)))
    assert amounts(breakdown) == ("5.00", "0.50", "5.50")
    assert breakdown.capped is None


def test_0_25_euro_per_kwh_plus_minimum_price_below_the_minimum() -> None:
    """... "if less than 2 kWh is charged, 0.50 euro (excl. VAT) or 0.55 euro (incl. VAT)"."""
    breakdown = price(MIN_PRICE, session(at(f"{MONDAY} 10:00"), charge(10, 1)))
    # 1 kWh x 0.25 = 0.25 (VAT 0.025 -> 0.03): below the minimum, both totals lifted
    assert amounts(breakdown) == ("0.50", "0.05", "0.55")
    assert breakdown.capped == "min_price"
    assert line(breakdown, Dimension.ENERGY, 0).excl_vat == Decimal("0.25")  # lines stay


def test_0_25_euro_per_kwh_plus_parking_fee_plus_start_fee() -> None:
    """ "... + parking fee + start fee": 20 kWh, parked 40 min -> 7.00 / 7.90."""
    tariff = {
        "currency": "EUR",
        "elements": [
            {"price_components": [component("FLAT", 0.50, 1, 20)]},
            {"price_components": [component("ENERGY", 0.25, 1, 10)]},
            {"price_components": [component("PARKING_TIME", 2.00, 900, 20)]},
        ],
    }
    breakdown = price(tariff, session(at(f"{MONDAY} 10:00"), charge(60, 20), park(40)))
    # FLAT 0.50 (+0.10); ENERGY 5.00 (+0.50); parking 40 min billed per 15 -> 45 min =
    # 0.75 h x 2.00 = 1.50 (+0.30): 7.00 / 0.90 / 7.90
    assert amounts(breakdown) == ("7.00", "0.90", "7.90")
    parking = line(breakdown, Dimension.PARKING_TIME, 2)
    assert (parking.volume, parking.billed_volume) == (Decimal("0.666666667"), Decimal("0.75"))


MAX_PRICE = {
    "currency": "EUR",
    "max_price": {"excl_vat": 10.00, "incl_vat": 11.00},
    "elements": [
        {"price_components": [component("FLAT", 0.50, 1, 20)]},
        {"price_components": [component("ENERGY", 0.25, 1, 10)]},
    ],
}


def test_start_fee_plus_max_price_capped() -> None:
    """ "... + start fee + max price + tariff end date": 50 kWh -> 10.00 / 11.00."""
    breakdown = price(MAX_PRICE, session(at(f"{MONDAY} 10:00"), charge(120, 50)))
    # 0.50 + 12.50 = 13.00 excl., 0.10 + 1.25 VAT = 14.35 incl.: both capped
    assert amounts(breakdown) == ("10.00", "1.00", "11.00")
    assert breakdown.capped == "max_price"


def test_start_fee_plus_max_price_under_the_cap() -> None:
    """... "If only 30 kWh were charged, the costs would be 8.00 euro (excl. VAT) and 8.85"."""
    breakdown = price(MAX_PRICE, session(at(f"{MONDAY} 10:00"), charge(120, 30)))
    # 0.50 + 7.50 = 8.00; VAT 0.10 + 0.75 = 0.85
    assert amounts(breakdown) == ("8.00", "0.85", "8.85")
    assert breakdown.capped is None


TWO_EURO_PER_HOUR = {
    "currency": "EUR",
    "elements": [{"price_components": [component("TIME", 2.00, 60, 10)]}],
}


def test_simple_tariff_2_euro_per_hour() -> None:
    """ "Simple Tariff example 2 euro per hour": 2.5 hours -> 5.00 / 5.50."""
    breakdown = price(TWO_EURO_PER_HOUR, session(at(f"{MONDAY} 10:00"), charge(150, 11)))
    assert amounts(breakdown) == ("5.00", "0.50", "5.50")


def test_simple_tariff_2_euro_per_hour_does_not_bill_parking() -> None:
    """... "the driver will not be billed for time they are not charging: PARKING_TIME"."""
    breakdown = price(TWO_EURO_PER_HOUR, session(at(f"{MONDAY} 10:00"), charge(150, 11), park(50)))
    assert amounts(breakdown) == ("5.00", "0.50", "5.50")


def test_simple_tariff_3_euro_per_hour_5_euro_parking() -> None:
    """ "Simple Tariff example 3 euro per hour, 5 euro per hour parking": 150 min charging +
    42 min parking -> 11.25 / 12.75."""
    tariff = {
        "currency": "EUR",
        "elements": [
            {
                "price_components": [
                    component("TIME", 3.00, 60, 10),
                    component("PARKING_TIME", 5.00, 300, 20),
                ]
            }
        ],
    }
    breakdown = price(tariff, session(at(f"{MONDAY} 10:00"), charge(150, 20), park(42)))
    # TIME 2.5 h x 3 = 7.50 (+0.75); parking 42 -> 45 min x 5/h = 3.75 (+0.75)
    assert amounts(breakdown) == ("11.25", "1.50", "12.75")


def test_ad_hoc_simple_tariff_with_multiple_languages() -> None:
    """ "Ad-Hoc simple Tariff example with multiple languages": 2.5 h -> 4.75 / 5.00."""
    tariff = {
        "currency": "EUR",
        "tariff_alt_text": [
            {"language": "en", "text": "2.00 euro p/hour including VAT."},
            {"language": "nl", "text": "2.00 euro p/uur inclusief BTW."},
        ],
        "elements": [{"price_components": [component("TIME", 1.90, 300, 5.2)]}],
    }
    breakdown = price(tariff, session(at(f"{MONDAY} 10:00"), charge(150, 20)))
    # 2.5 h x 1.90 = 4.75; VAT 5.2 % = 0.247 -> 0.25; 5.00
    assert amounts(breakdown) == ("4.75", "0.25", "5.00")


def test_simple_tariff_with_alternative_url() -> None:
    """ "Simple Tariff example with alternative URL": 0.25/kWh billed per 100 Wh, 20.45 kWh.

    The specification prints 5.50 / 6.05, but its own sentence bills 20.5 kWh and
    20.5 x 0.25 = 5.125 (5.50 would be 22 kWh): we bill 5.125 -> 5.13, VAT 0.513 -> 0.51.
    """
    tariff = {
        "currency": "EUR",
        "elements": [{"price_components": [component("ENERGY", 0.25, 100, 10)]}],
    }
    breakdown = price(tariff, session(at(f"{MONDAY} 10:00"), charge(60, "20.45")))
    assert line(breakdown, Dimension.ENERGY, 0).billed_volume == Decimal("20.5")
    assert amounts(breakdown) == ("5.13", "0.51", "5.64")


COMPLEX = {
    "currency": "EUR",
    "elements": [
        {"price_components": [component("FLAT", 2.50, 1, 15)]},
        {
            "price_components": [component("TIME", 1.00, 900, 20)],
            "restrictions": {"max_current": 32.00},
        },
        {
            "price_components": [component("TIME", 2.00, 600, 20)],
            "restrictions": {
                "min_current": 32.00,
                "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"],
            },
        },
        {
            "price_components": [component("TIME", 1.25, 600, 20)],
            "restrictions": {"min_current": 32.00, "day_of_week": ["SATURDAY", "SUNDAY"]},
        },
        {
            "price_components": [component("PARKING_TIME", 5.00, 300, 10)],
            "restrictions": {
                "start_time": "09:00",
                "end_time": "18:00",
                "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"],
            },
        },
        {
            "price_components": [component("PARKING_TIME", 6.00, 300, 10)],
            "restrictions": {
                "start_time": "10:00",
                "end_time": "17:00",
                "day_of_week": ["SATURDAY"],
            },
        },
    ],
}


def test_complex_tariff_monday_morning() -> None:
    """ "Complex Tariff example", Monday 09:30, 2.45 h charging at 16 A, 42 min parking.

    The specification prints 8.75 / 10.00, billing 150 minutes of charging ("billed per 15
    min"). Its normative step_size text (CDR module) says that when TIME and PARKING_TIME are
    both used, step_size is only taken into account for the total parking duration, so we
    bill the 147 minutes of charging exactly: 0.05 less.
    """
    timeline = session(at(f"{MONDAY} 09:30"), charge(147, 10, amperes=16), park(42))
    breakdown = price(COMPLEX, timeline)
    # FLAT 2.50 (+15 % 0.375 -> 0.38)
    # TIME, elements[1] (16 A < 32 A): 2.45 h x 1.00 = 2.45 (+20 % 0.49)
    # PARKING_TIME 11:57-12:39 Monday, elements[4]: 42 -> 45 min x 5.00/h = 3.75 (+10 % 0.38)
    assert [(x.dimension, x.element, f"{x.excl_vat}") for x in breakdown.lines] == [
        (Dimension.FLAT, 0, "2.50"),
        (Dimension.TIME, 1, "2.45"),
        (Dimension.PARKING_TIME, 4, "3.75"),
    ]
    assert amounts(breakdown) == ("8.70", "1.25", "9.95")


def test_complex_tariff_saturday_afternoon() -> None:
    """ "Complex Tariff example", Saturday 13:30, 1.9 h charging at 43 A, 71 min parking.

    The specification prints 12.50 / 14.13 (120 minutes of charging); by the CDR module's
    step_size rule charging is billed exactly, 114 minutes.
    """
    timeline = session(at(f"{SATURDAY} 13:30"), charge(114, 20, amperes=43), park(71))
    breakdown = price(COMPLEX, timeline)
    # FLAT 2.50 (+0.38)
    # TIME, elements[3] (43 A, weekend): 1.9 h x 1.25 = 2.375 -> 2.38 (+20 % 0.476 -> 0.48)
    # PARKING_TIME 15:24-16:35 Saturday, elements[5]: 71 -> 75 min x 6.00/h = 7.50 (+0.75)
    assert [(x.dimension, x.element, f"{x.excl_vat}") for x in breakdown.lines] == [
        (Dimension.FLAT, 0, "2.50"),
        (Dimension.TIME, 3, "2.38"),
        (Dimension.PARKING_TIME, 5, "7.50"),
    ]
    assert amounts(breakdown) == ("12.38", "1.61", "13.99")


def test_complex_tariff_without_current_samples_charges_no_time() -> None:
    """Every TIME element of the complex example is restricted on current: where the
    current is not known, none of them applies, and charging time is free."""
    breakdown = price(COMPLEX, session(at(f"{MONDAY} 09:30"), charge(147, 10), park(42)))
    assert [x.dimension for x in breakdown.lines] == [Dimension.FLAT, Dimension.PARKING_TIME]


def test_free_of_charge_tariff() -> None:
    """ "Free of Charge Tariff example": FLAT 0.00 (its step_size is 0: FLAT has no unit)."""
    tariff = {"currency": "EUR", "elements": [{"price_components": [component("FLAT", 0, 0)]}]}
    breakdown = price(tariff, session(at(f"{MONDAY} 10:00"), charge(60, 20), park(30)))
    assert amounts(breakdown) == ("0.00", "0.00", "0.00")
    assert [(x.dimension, x.excl_vat) for x in breakdown.lines] == [
        (Dimension.FLAT, Decimal("0.00"))
    ]


FIRST_HOUR_FREE = {
    "currency": "EUR",
    "elements": [
        {
            "price_components": [component("PARKING_TIME", 0.0, 60)],
            "restrictions": {"min_duration": 0, "max_duration": 3600},
        },
        {
            "price_components": [component("PARKING_TIME", 2.0, 60)],
            "restrictions": {"min_duration": 3600, "max_duration": 10800},
        },
        {
            "price_components": [component("PARKING_TIME", 3.0, 60)],
            "restrictions": {"min_duration": 10800},
        },
        {"price_components": [component("ENERGY", 0.0, 1)], "restrictions": {"max_kwh": 1.0}},
        {"price_components": [component("ENERGY", 0.2, 1)], "restrictions": {"min_kwh": 1.0}},
    ],
}


def test_first_hour_free_energy_example_json_has_a_typo_we_refuse() -> None:
    """The specification's JSON for "First hour free energy example" names its restrictions
    ``tariff_restrictions``; unknown keys are errors here, so the typo cannot silently make
    every element unrestricted."""
    data = {
        "currency": "EUR",
        "elements": [
            {
                "price_components": [component("PARKING_TIME", 0.0, 60)],
                "tariff_restrictions": {"max_duration": 3600},
            }
        ],
    }
    with pytest.raises(InvalidInput, match=r"^elements\[0\]\.tariff_restrictions: unknown field$"):
        parse_tariff(data)


def test_first_hour_free_energy_example() -> None:
    """ "First hour free energy example": 20 kWh, then parked 2.75 h.

    The specification's 7.30 assumes the charging itself takes no time (min/max_duration
    count from the start of the session, so the free first hour is used up by charging
    first). Here 20 kWh are charged in 6 minutes, then the EV is parked 2.75 h (until 2.85 h
    after the start):
    """
    breakdown = price(FIRST_HOUR_FREE, session(at(f"{MONDAY} 10:00"), charge(6, 20), park(165)))
    # ENERGY: the first kWh free (elements[3]), 19 kWh x 0.20 = 3.80 (elements[4])
    # PARKING_TIME: 0.1 h -> 1 h free (elements[0], 0.9 h); 1 h -> 2.85 h at 2.00 (elements[1],
    # 1.85 h = 3.70); none after 3 h. Total 7.50 (no VAT given: incl. = excl.)
    assert [(x.dimension, x.element, f"{x.volume}", f"{x.excl_vat}") for x in breakdown.lines] == [
        (Dimension.ENERGY, 3, "1", "0.00"),
        (Dimension.ENERGY, 4, "19", "3.80"),
        (Dimension.PARKING_TIME, 0, "0.9", "0.00"),
        (Dimension.PARKING_TIME, 1, "1.85", "3.70"),
    ]
    assert amounts(breakdown) == ("7.50", "0.00", "7.50")


def test_tariff_with_max_power_restrictions() -> None:
    """ "Example: Tariff with max_power Tariff Restrictions": 1 kWh at 6 kW, 40 kWh at 48 kW,
    0.5 kWh at 4 kW -> 20.30 excl. VAT."""
    tariff = {
        "currency": "EUR",
        "elements": [
            {
                "price_components": [component("ENERGY", 0.20, 1, 20)],
                "restrictions": {"max_power": 16.00},
            },
            {
                "price_components": [component("ENERGY", 0.35, 1, 20)],
                "restrictions": {"max_power": 32.00},
            },
            {"price_components": [component("ENERGY", 0.50, 1, 20)]},
        ],
    }
    # 1 kWh in 10 min = 6 kW; 40 kWh in 50 min = 48 kW; 0.5 kWh in 7.5 min = 4 kW
    timeline = session(at(f"{MONDAY} 10:00"), charge(10, 1), charge(50, 40), charge(7.5, 0.5))
    breakdown = price(tariff, timeline)
    # elements[0]: 1.5 kWh x 0.20 = 0.30 (+0.06); elements[2]: 40 kWh x 0.50 = 20.00 (+4.00)
    assert [(x.element, f"{x.volume}", f"{x.excl_vat}") for x in breakdown.lines] == [
        (0, "1.5", "0.30"),
        (2, "40", "20.00"),
    ]
    assert amounts(breakdown) == ("20.30", "4.06", "24.36")


def test_tariff_with_max_duration_restrictions() -> None:
    """ "Example: Tariff with max_duration Tariff Restrictions": 40 min, 5 kWh in the first
    30 minutes, 1.2 kWh in the remaining 10 -> 0.30 excl. VAT."""
    tariff = {
        "currency": "EUR",
        "elements": [
            {
                "price_components": [component("ENERGY", 0.00, 1, 20)],
                "restrictions": {"max_duration": 1800},
            },
            {
                "price_components": [component("ENERGY", 0.25, 1, 20)],
                "restrictions": {"max_duration": 3600},
            },
            {"price_components": [component("ENERGY", 0.40, 1, 20)]},
        ],
    }
    breakdown = price(tariff, session(at(f"{MONDAY} 10:00"), charge(30, 5), charge(10, 1.2)))
    # 5 kWh free; 1.2 kWh x 0.25 = 0.30 (+20 % 0.06)
    assert amounts(breakdown) == ("0.30", "0.06", "0.36")


# ---- CDR module, "Step_size" -------------------------------------------------------------


def test_step_size_energy_is_rounded_once_on_the_session_total() -> None:
    """ "Energy costs 0.20 per kWh before 17:00 and 0.27 per kWh after 17:00. Both have a
    step_size of 500 Wh ... 4.3 kWh before 17:00 and 1.1 kWh after ... rounds this up to
    5.5 kWh total. It does NOT round the energy used after 17:00 to 1.5 kWh.\""""
    tariff = {
        "currency": "EUR",
        "elements": [
            {
                "price_components": [component("ENERGY", 0.20, 500)],
                "restrictions": {"end_time": "17:00"},
            },
            {"price_components": [component("ENERGY", 0.27, 500)]},
        ],
    }
    breakdown = price(tariff, session(at(f"{MONDAY} 16:00"), charge(60, 4.3), charge(60, 1.1)))
    # 4.3 kWh x 0.20 = 0.86; 1.1 + 0.1 = 1.2 kWh x 0.27 = 0.324 -> 0.32; total 1.18
    assert [(f"{x.volume}", f"{x.billed_volume}", f"{x.excl_vat}") for x in breakdown.lines] == [
        ("4.3", "4.3", "0.86"),
        ("1.1", "1.2", "0.32"),
    ]
    assert breakdown.total_excl_vat == Decimal("1.18")


def test_step_size_time_is_rounded_once_on_the_session_total() -> None:
    """ "Time costs 5 per hour before 17:00 and 7 per hour after 17:00. Both have a step_size
    of 10 minutes ... 6 minutes before 17:00 and 22 minutes after ... rounds this up to 30
    minutes total, so 24 minutes after 17:00 will be billed.\""""
    tariff = {
        "currency": "EUR",
        "elements": [
            {
                "price_components": [component("TIME", 5, 600)],
                "restrictions": {"end_time": "17:00"},
            },
            {"price_components": [component("TIME", 7, 600)]},
        ],
    }
    breakdown = price(tariff, session(at(f"{MONDAY} 16:54"), charge(28, 5)))
    # 6 min x 5/h = 0.50; 22 -> 24 min x 7/h = 2.80; 3.30
    assert [minutes(x.billed_volume) for x in breakdown.lines] == [6, 24]
    assert breakdown.total_excl_vat == Decimal("3.30")


def test_step_size_charging_followed_by_parking_rounds_only_parking() -> None:
    """ "Time spent charging costs 1.00 per hour and time spent parking 2.00 per hour. Both
    have a step_size of 10 minutes. If a driver charges 21 minutes, and keeps his EV
    connected while it is full for another 16 minutes, then the step_size rounds the parking
    duration up to 20 minutes, making it a total of 41 minutes.\""""
    tariff = {
        "currency": "EUR",
        "elements": [
            {"price_components": [component("TIME", 1, 600), component("PARKING_TIME", 2, 600)]}
        ],
    }
    breakdown = price(tariff, session(at(f"{MONDAY} 10:00"), charge(21, 5), park(16)))
    # TIME 21 min = 0.35; PARKING 20 min x 2/h = 0.666.. -> 0.67; 1.02
    time_line, parking = breakdown.lines
    assert (minutes(time_line.billed_volume), minutes(parking.billed_volume)) == (21, 20)
    assert breakdown.total_excl_vat == Decimal("1.02")


def test_step_size_not_applied_when_switching_from_charging_to_parking() -> None:
    """ "step_size for both charging (TIME) and parking is 5 minutes. After 21 minutes of
    charging, the EV is full but remains connected for 7 more minutes. The cost of charging
    will be calculated based on 21 minutes (not 25). The cost of parking will be calculated
    based on 10 minutes.\""""
    tariff = {
        "currency": "EUR",
        "elements": [
            {"price_components": [component("TIME", 1, 300), component("PARKING_TIME", 2, 300)]}
        ],
    }
    breakdown = price(tariff, session(at(f"{MONDAY} 10:00"), charge(21, 5), park(7)))
    time_line, parking = breakdown.lines
    assert (minutes(time_line.billed_volume), minutes(parking.billed_volume)) == (21, 10)
    # 21 min x 1/h = 0.35; 10 min x 2/h = 0.333.. -> 0.33
    assert breakdown.total_excl_vat == Decimal("0.68")


STEP_SIZE_SWITCHING = {
    "currency": "EUR",
    "elements": [
        {
            "price_components": [
                component("TIME", 1.20, 1800),
                component("PARKING_TIME", 1.00, 900),
            ],
            "restrictions": {"start_time": "00:00", "end_time": "17:00"},
        },
        {
            "price_components": [
                component("TIME", 2.40, 900),
                component("PARKING_TIME", 1.00, 900),
            ],
            "restrictions": {"start_time": "17:00", "end_time": "20:00"},
        },
        {
            "price_components": [component("TIME", 2.40, 900)],
            "restrictions": {"start_time": "20:00", "end_time": "23:59"},
        },
    ],
}


def test_step_size_switching_tariff_element_charging_only() -> None:
    """Tariff example "switching to different Tariff Element #2" (the step_size example
    tariff of later OCPI texts): 16:35, 35 minutes of charging -> 1.30."""
    breakdown = price(STEP_SIZE_SWITCHING, session(at(f"{MONDAY} 16:35"), charge(35, 5)))
    # 25 min x 1.20/h = 0.50; total 35 min -> 45 min with the last step (15 min): 20 min
    # after 17:00 x 2.40/h = 0.80; 1.30
    assert [f"{x.excl_vat}" for x in breakdown.lines] == ["0.50", "0.80"]
    assert breakdown.total_excl_vat == Decimal("1.30")


def test_step_size_switching_tariff_element_then_parking() -> None:
    """ "switching to different Tariff Element #1": 16:55, 10 min charging, 2 min parking.

    That text (OCPI 2.3) rounds the charging time to 15 minutes and lets the 2 parking
    minutes hide in it: 0.50. OCPI 2.2.1's rule, which we implement, rounds only the parking
    when both are used: charging 5 min x 1.20/h = 0.10 + 5 min x 2.40/h = 0.20, parking 2 ->
    15 min x 1.00/h = 0.25: 0.55.
    """
    breakdown = price(STEP_SIZE_SWITCHING, session(at(f"{MONDAY} 16:55"), charge(10, 2), park(2)))
    assert [(x.dimension, x.element, f"{x.excl_vat}") for x in breakdown.lines] == [
        (Dimension.TIME, 0, "0.10"),
        (Dimension.TIME, 1, "0.20"),
        (Dimension.PARKING_TIME, 1, "0.25"),
    ]
    assert breakdown.total_excl_vat == Decimal("0.55")
