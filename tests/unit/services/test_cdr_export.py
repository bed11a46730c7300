"""The CDR export's range bounds and its chunks (csms.services.cdrs), without a database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from csms.domain import cdr_csv
from csms.domain.cdrs import CdrSession
from csms.errors import InvalidInput
from csms.services.cdrs import CdrOptions, check_range, export, parse_instant
from csms.settings import CommonSettings
from tests.unit.domain.cost_helpers import at, charge, session
from tests.unit.domain.test_cdrs import ENERGY, cdr_session


def test_dates_are_utc_unless_they_carry_an_offset() -> None:
    assert parse_instant("2026-11-01", "--from") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_instant("2026-11-01T06:30", "from") == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    plus_one = parse_instant("2026-11-01T00:00:00+01:00", "from")
    assert plus_one == datetime(2026, 10, 31, 23, tzinfo=UTC) and plus_one.tzinfo is UTC
    assert parse_instant("2026-11-01T00:00:00Z", "to") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_instant(" 2026-11-01 ", "to").tzinfo is UTC
    assert parse_instant("2026-11-01T00:00-05:00", "to").utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yesterday", "--from: 'yesterday' is not a date"),
        ("2026-02-30", "--from: '2026-02-30' is not a date"),
        ("2026-11-01T24:00", "is not a date"),
        ("", "is not a date"),
        ("0001-01-01T00:00+01:00", "--from: '0001-01-01T00:00+01:00' is out of range"),
        ("9999-12-31T23:00-05:00", "is out of range"),
    ],
)
def test_a_bad_bound_names_its_field(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace("+", r"\+")):
        parse_instant(text, "--from")


def test_to_must_come_after_from() -> None:
    day = datetime(2026, 11, 1, tzinfo=UTC)
    check_range(day, day + timedelta(microseconds=1))
    for end in (day, day - timedelta(days=1)):
        with pytest.raises(InvalidInput, match="to: must be after from"):
            check_range(day, end)


async def _sessions(*items: CdrSession) -> AsyncIterator[CdrSession]:
    for item in items:
        yield item


async def test_export_chunks_a_session_at_a_time() -> None:
    options = CdrOptions.from_settings(
        CommonSettings(ocpi_country_code="DE", ocpi_party_id="ABC", ocpi_power_type="DC")
    )
    one = cdr_session(ENERGY, session(at("2026-11-03 09:00"), charge(60, kwh=10)))
    two = cdr_session(ENERGY, session(at("2026-11-03 10:00"), charge(30, kwh=5)), id=43)
    rows = 0

    def counted() -> None:
        nonlocal rows
        rows += 1

    chunks = [c async for c in export(_sessions(one, two), "ocpi", options, on_row=counted)]
    assert rows == 2 and len(chunks) == 2 and all(c.endswith(b"\n") for c in chunks)
    first = orjson.loads(chunks[0])
    assert (first["country_code"], first["party_id"], first["id"]) == ("DE", "ABC", "42")
    assert first["cdr_location"]["connector_power_type"] == "DC"
    csv_chunks = [c async for c in export(_sessions(one, two), "csv", options)]
    assert csv_chunks[0] == cdr_csv.header().encode() and len(csv_chunks) == 3
    assert csv_chunks[2].startswith(b"43,")


def test_settings_refuse_what_ocpi_does_not_know() -> None:
    for field, value in (
        ("ocpi_country_code", "nl"),
        ("ocpi_party_id", "TOOLONG"),
        ("ocpi_connector_standard", "TYPE2"),
        ("ocpi_connector_format", "PLUG"),
        ("ocpi_power_type", "AC"),
    ):
        with pytest.raises(ValueError, match=field):
            CommonSettings(**{field: value})
