"""CDRs: an ended, priced session as an OCPI 2.2.1 CDR object and as an accounting CSV row."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import fastjsonschema
import orjson
import pytest

from csms.domain import cdr_csv
from csms.domain.cdrs import (
    CdrCharge,
    CdrSession,
    ConnectorDefaults,
    Party,
    dumps,
    ocpi_datetime,
    to_ocpi,
)
from csms.domain.cost_periods import Timeline
from csms.domain.sites import Site
from tests.ocpi_cdr import validate_cdr
from tests.unit.domain.cost_helpers import AMSTERDAM, at, charge, park, price, session

PARTY = Party("NL", "CSM")


def component(kind: str, price: str, vat: str) -> dict[str, Any]:
    return {"type": kind, "price": price, "vat": vat, "step_size": 1}


SITE = Site(
    id="AMS-1",
    name="Harbour",
    time_zone="Europe/Amsterdam",
    address="Kade 1",
    city="Amsterdam",
    postal_code="1011AA",
    country="NLD",
    latitude=Decimal("52.370216"),
    longitude=Decimal("4.895168"),
)
ENERGY = {
    "currency": "EUR",
    "elements": [{"price_components": [component("ENERGY", "0.40", vat="25")]}],
}
PUBLISHED = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)


def cdr_session(
    tariff: dict[str, Any], timeline: Timeline, *, site: Site | None = SITE, **changes: Any
) -> CdrSession:
    """A stored session as the store gives it: the cost the engine computed, frozen."""
    breakdown = price(tariff, timeline, site.zone if site is not None else ZoneInfo("UTC"))
    readings = tuple((r.at, r.energy_wh) for r in timeline.readings)
    stop = timeline.readings[-1].energy_wh if timeline.readings else None
    fields: dict[str, Any] = {
        "id": 42,
        "charge_point_id": "CP-7",
        "transaction_id": "tx-1",
        "evse_id": 1,
        "connector_id": 1,
        "id_token": "04A2B3C4",
        "id_token_type": "ISO14443",
        "remote_start_id": None,
        "started_at": timeline.started_at,
        "ended_at": timeline.ended_at,
        "meter_start_wh": timeline.meter_start_wh,
        "meter_stop_wh": stop,
        "energy_wh": (stop or Decimal(0)) - (timeline.meter_start_wh or Decimal(0)),
        "stop_reason": "Local",
        "meter_id": "MTR-1",
        "site": site,
        "tariff_id": "T1",
        "tariff_version": 3,
        "tariff_definition": tariff,
        "tariff_published_at": PUBLISHED,
        "currency": breakdown.currency,
        "excl_vat": breakdown.total_excl_vat,
        "vat": breakdown.total_vat,
        "incl_vat": breakdown.total_incl_vat,
        "breakdown": breakdown.to_json(),
        "cost_at": timeline.ended_at,
        "readings": readings[:-1],  # the stop reading is the session's meter_stop_wh
        "states": tuple((s.at, s.charging) for s in timeline.states),
        "account_id": 9,
    }
    fields.update(changes)
    return CdrSession(**fields)


def valid(cdr: dict[str, Any]) -> dict[str, Any]:
    """``cdr`` after checking its JSON against the OCPI 2.2.1 CDR object definitions."""
    validate_cdr(orjson.loads(dumps(cdr)))
    return cdr


def periods(cdr: dict[str, Any]) -> list[tuple[str, dict[str, str], str | None]]:
    return [
        (
            p["start_date_time"],
            {d["type"]: f"{d['volume']:f}" for d in p["dimensions"]},
            p.get("tariff_id"),
        )
        for p in cdr["charging_periods"]
    ]


def test_a_simple_session_maps_every_required_field() -> None:
    s = cdr_session(ENERGY, session(at("2026-11-03 09:00"), charge(60, kwh=10)))
    cdr = valid(to_ocpi(s, party=PARTY))
    assert cdr["country_code"] == "NL" and cdr["party_id"] == "CSM" and cdr["id"] == "42"
    assert cdr["start_date_time"] == "2026-11-03T08:00:00Z"
    assert cdr["end_date_time"] == "2026-11-03T09:00:00Z"
    assert cdr["session_id"] == "42"
    assert cdr["cdr_token"] == {
        "country_code": "NL",
        "party_id": "CSM",
        "uid": "04A2B3C4",
        "type": "RFID",
        "contract_id": "04A2B3C4",
    }
    assert cdr["auth_method"] == "WHITELIST"
    assert cdr["cdr_location"] == {
        "id": "AMS-1",
        "name": "Harbour",
        "address": "Kade 1",
        "city": "Amsterdam",
        "postal_code": "1011AA",
        "country": "NLD",
        "coordinates": {"latitude": "52.370216", "longitude": "4.895168"},
        "evse_uid": "CP-7*1",
        "evse_id": "NL*CSM*ECP7*1",
        "connector_id": "1",
        "connector_standard": "IEC_62196_T2",
        "connector_format": "SOCKET",
        "connector_power_type": "AC_3_PHASE",
    }
    assert cdr["meter_id"] == "MTR-1" and cdr["currency"] == "EUR"
    (tariff,) = cdr["tariffs"]
    assert tariff["id"] == "T1" and tariff["last_updated"] == "2026-10-01T08:00:00Z"
    assert tariff["elements"][0]["price_components"][0] == {
        "type": "ENERGY",
        "price": Decimal("0.40"),
        "vat": Decimal("25"),
        "step_size": 1,
    }
    assert periods(cdr) == [("2026-11-03T08:00:00Z", {"ENERGY": "10.0000", "TIME": "1.0000"}, "T1")]
    # 10 kWh x 0.40 = 4.00 + 25 % = 5.00
    assert cdr["total_cost"] == {"excl_vat": Decimal("4.00"), "incl_vat": Decimal("5.00")}
    assert cdr["total_energy_cost"] == cdr["total_cost"]
    assert "total_time_cost" not in cdr and "total_fixed_cost" not in cdr
    assert (cdr["total_energy"], cdr["total_time"], cdr["total_parking_time"]) == (
        Decimal("10.0000"),
        Decimal("1.0000"),
        Decimal("0.0000"),
    )
    assert cdr["remark"] == "stop reason: Local"
    assert cdr["last_updated"] == "2026-11-03T09:00:00Z"


def test_amounts_are_json_numbers_with_their_exact_decimal_text() -> None:
    s = cdr_session(ENERGY, session(at("2026-11-03 09:00"), charge(60, kwh="10.1234")))
    text = dumps(to_ocpi(s, party=PARTY))
    # 10.1234 x 0.40 = 4.04936 -> 4.05; VAT 1.0125 -> 1.01
    assert b'"total_cost":{"excl_vat":4.05,"incl_vat":5.06}' in text
    assert b'"price":0.40' in text and b'"total_energy":10.1234' in text
    assert orjson.loads(text)["total_cost"]["incl_vat"] == 5.06  # valid JSON


def test_dumps_refuses_floats_and_non_finite_numbers() -> None:
    assert dumps({"a": [Decimal("1.10"), None, True, 'x"y']}) == b'{"a":[1.10,null,true,"x\\"y"]}'
    with pytest.raises(TypeError):
        dumps({"a": 0.1})
    with pytest.raises(ValueError):
        dumps(Decimal("NaN"))


SATURDAY_RATE: dict[str, Any] = {
    "currency": "EUR",
    "elements": [
        {
            "price_components": [component("ENERGY", "0.50", vat="21")],
            "restrictions": {"day_of_week": ["SATURDAY"]},
        },
        {"price_components": [component("ENERGY", "0.30", vat="21")]},
    ],
}


def test_a_session_across_midnight_on_the_night_dst_ends() -> None:
    # Saturday 24 Oct 2026 22:00 CEST to Sunday 04:00 CET: 7 real hours (03:00 comes twice)
    timeline = session(at("2026-10-24 22:00"), charge(120, kwh=4), charge(300, kwh=10))
    s = cdr_session(SATURDAY_RATE, timeline)
    cdr = valid(to_ocpi(s, party=PARTY))
    assert cdr["start_date_time"] == "2026-10-24T20:00:00Z"
    assert cdr["end_date_time"] == "2026-10-25T03:00:00Z"
    assert cdr["total_time"] == Decimal("7.0000")
    # a new period at local midnight (22:00Z), where the Saturday element stops applying
    assert periods(cdr) == [
        ("2026-10-24T20:00:00Z", {"ENERGY": "4.0000", "TIME": "2.0000"}, "T1"),
        ("2026-10-24T22:00:00Z", {"ENERGY": "10.0000", "TIME": "5.0000"}, "T1"),
    ]
    # 4 kWh x 0.50 + 10 kWh x 0.30 = 5.00; VAT 21 % per line: 0.42 + 0.63
    assert cdr["total_cost"] == {"excl_vat": Decimal("5.00"), "incl_vat": Decimal("6.05")}
    assert (
        cdr["total_cost"]["excl_vat"] == s.excl_vat and cdr["total_cost"]["incl_vat"] == s.incl_vat
    )
    row = dict(zip(cdr_csv.COLUMNS, cdr_csv.row(s, ZoneInfo("UTC")), strict=True))
    assert row["start_local"] == "2026-10-24T22:00:00+02:00"
    assert row["end_local"] == "2026-10-25T04:00:00+01:00"
    assert (row["start_utc"], row["end_utc"]) == ("2026-10-24T20:00:00Z", "2026-10-25T03:00:00Z")
    assert (row["duration_hours"], row["energy_kwh"], row["vat_rates"]) == (
        "7.0000",
        "14.0000",
        "21",
    )


IDLE: dict[str, Any] = {
    "currency": "EUR",
    "idle_grace_minutes": 30,
    "elements": [
        {
            "price_components": [
                component("FLAT", "1.00", vat="20"),
                component("ENERGY", "0.25", vat="20"),
                component("PARKING_TIME", "6.00", vat="20"),
            ]
        }
    ],
}


def test_a_session_with_idle_time_has_parking_periods_and_cost() -> None:
    timeline = session(at("2026-11-03 09:00"), charge(60, kwh=10), park(90))
    s = cdr_session(IDLE, timeline)
    cdr = valid(to_ocpi(s, party=PARTY))
    # charging; then 30 minutes of grace (not charging, not billed); then billed parking
    assert periods(cdr) == [
        ("2026-11-03T08:00:00Z", {"ENERGY": "10.0000", "TIME": "1.0000"}, "T1"),
        ("2026-11-03T09:00:00Z", {"PARKING_TIME": "0.5000"}, "T1"),
        ("2026-11-03T09:30:00Z", {"PARKING_TIME": "1.0000"}, "T1"),
    ]
    assert cdr["total_parking_time"] == Decimal("1.5000")  # all the time not charging
    assert cdr["total_time"] == Decimal("2.5000")
    assert cdr["total_fixed_cost"] == {"excl_vat": Decimal("1.00"), "incl_vat": Decimal("1.20")}
    assert cdr["total_energy_cost"] == {"excl_vat": Decimal("2.50"), "incl_vat": Decimal("3.00")}
    assert cdr["total_parking_cost"] == {"excl_vat": Decimal("6.00"), "incl_vat": Decimal("7.20")}
    assert cdr["total_cost"] == {"excl_vat": Decimal("9.50"), "incl_vat": Decimal("11.40")}
    row = dict(zip(cdr_csv.COLUMNS, cdr_csv.row(s, ZoneInfo("UTC")), strict=True))
    assert (row["charging_hours"], row["parking_hours"]) == ("1.0000", "1.5000")
    assert (row["excl_vat"], row["vat"], row["incl_vat"]) == ("9.50", "1.90", "11.40")


def test_energy_set_in_review_is_spread_evenly_over_the_session() -> None:
    # the readings say 10 kWh; an operator set 6 kWh (the meter was wrong)
    timeline = session(at("2026-11-03 09:00"), charge(30, kwh=5), charge(30, kwh=5))
    s = cdr_session(ENERGY, timeline, energy_wh=Decimal(6000), meter_stop_wh=None)
    cdr = valid(to_ocpi(s, party=PARTY))
    assert cdr["total_energy"] == Decimal("6.0000")
    assert sum(
        d["volume"]
        for p in cdr["charging_periods"]
        for d in p["dimensions"]
        if d["type"] == "ENERGY"
    ) == Decimal("6.0000")


def test_a_remote_start_a_charger_at_no_site_and_token_types() -> None:
    timeline = session(at("2026-11-03 09:00", ZoneInfo("UTC")), charge(15, kwh=1))
    s = cdr_session(
        ENERGY,
        timeline,
        site=None,
        remote_start_id=7,
        id_token_type="Central",
        charge_point_id="cp:π-long",
        evse_id=0,
        connector_id=2,
    )
    cdr = to_ocpi(s, party=PARTY, connector=ConnectorDefaults("CHADEMO", "CABLE", "DC"))
    assert cdr["auth_method"] == "COMMAND" and cdr["cdr_token"]["type"] == "APP_USER"
    location = cdr["cdr_location"]
    assert location["id"] == "cp:π-long" and "coordinates" not in location
    # 1.6: no EVSE, the connector is one
    assert (location["evse_uid"], location["evse_id"], location["connector_id"]) == (
        "cp:π-long*2",
        "NL*CSM*ECPLONG*2",
        "2",
    )
    assert (location["connector_standard"], location["connector_power_type"]) == ("CHADEMO", "DC")
    long_site = Site(
        "L", "n" * 300, "UTC", "a" * 60, "c" * 50, "p" * 20, "DEU", Decimal(1), Decimal(2)
    )
    other = valid(
        to_ocpi(cdr_session(ENERGY, timeline, site=long_site, id_token_type="KeyCode"), party=PARTY)
    )
    assert [len(other["cdr_location"][k]) for k in ("name", "address", "city", "postal_code")] == [
        255,
        45,
        45,
        10,
    ]
    assert other["cdr_token"]["type"] == "OTHER"


def test_datetimes_are_utc_with_at_most_milliseconds() -> None:
    assert ocpi_datetime(datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)) == (
        "2026-01-02T03:04:05.678Z"
    )
    assert ocpi_datetime(at("2026-07-01 12:00")) == "2026-07-01T10:00:00Z"


def test_csv_rows_are_rfc_4180_and_formula_safe() -> None:
    timeline = session(at("2026-11-03 09:00"), charge(60, kwh=10))
    s = cdr_session(
        ENERGY,
        timeline,
        id_token='=HYPERLINK("x","y")',
        stop_reason='said "stop", twice\nthen left',
        charge=CdrCharge(
            5, 9, "EUR", Decimal("4.00"), Decimal("1.00"), Decimal("5.00"), "INV-000001"
        ),
    )
    text = cdr_csv.header() + cdr_csv.csv_line(cdr_csv.row(s, AMSTERDAM))
    assert text.endswith("\r\n") and text.startswith("cdr_id,transaction_id,charge_point_id,")
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed[0] == list(cdr_csv.COLUMNS)
    row = dict(zip(cdr_csv.COLUMNS, parsed[1], strict=True))
    assert row["id_token"] == '\'=HYPERLINK("x","y")'
    assert row["stop_reason"] == 'said "stop", twice\nthen left'
    assert (row["charge_id"], row["charged_incl_vat"], row["invoice_number"]) == (
        "5",
        "5.00",
        "INV-000001",
    )
    assert (row["tariff_id"], row["tariff_version"], row["currency"]) == ("T1", "3", "EUR")
    assert (row["site_id"], row["time_zone"], row["account_id"]) == (
        "AMS-1",
        "Europe/Amsterdam",
        "9",
    )
    for start in "=+-@":
        assert cdr_csv.csv_line([f"{start}1+1"]) == f"'{start}1+1\r\n"
    assert cdr_csv.csv_line(["a,b", "plain"]) == '"a,b",plain\r\n'


def test_the_schema_refuses_what_ocpi_refuses() -> None:
    cdr = valid(
        to_ocpi(cdr_session(ENERGY, session(at("2026-11-03 09:00"), charge(5))), party=PARTY)
    )
    for broken in (
        {**cdr, "total_cost": {"incl_vat": 1}},
        {**cdr, "charging_periods": []},
        {**cdr, "auth_method": "RFID"},
        {**cdr, "unknown": 1},
        {
            **cdr,
            "cdr_location": {k: v for k, v in cdr["cdr_location"].items() if k != "coordinates"},
        },
    ):
        with pytest.raises(fastjsonschema.JsonSchemaException):
            validate_cdr(orjson.loads(dumps(broken)))
