"""OCPP dateTime (RFC 3339) in and out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from csms.domain.clock import format_timestamp, parse_timestamp, utc_now


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-06-01T12:00:00Z", datetime(2025, 6, 1, 12, tzinfo=UTC)),
        ("2025-06-01T12:00:00.250Z", datetime(2025, 6, 1, 12, 0, 0, 250000, tzinfo=UTC)),
        ("2025-06-01T14:00:00+02:00", datetime(2025, 6, 1, 12, tzinfo=UTC)),
        ("2025-06-01T12:00:00", datetime(2025, 6, 1, 12, tzinfo=UTC)),
        # RFC 3339 section 5.6: "T" and "Z" may be lower case; the schema's date-time
        # format accepts them, so a charger may send them.
        ("2025-06-01t12:00:00z", datetime(2025, 6, 1, 12, tzinfo=UTC)),
        ("2025-06-01T12:00:00z", datetime(2025, 6, 1, 12, tzinfo=UTC)),
    ],
)
def test_parse_timestamp(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed.tzinfo is not None


def test_format_timestamp_is_utc_with_milliseconds_and_z() -> None:
    value = datetime(2025, 6, 1, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert format_timestamp(value) == "2025-06-01T12:00:00.123Z"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # truncated to the millisecond, never rounded up into the next second
        (datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "2025-12-31T23:59:59.999Z"),
        (datetime(2025, 6, 1, 12, tzinfo=UTC), "2025-06-01T12:00:00.000Z"),
        (datetime(999, 1, 2, 3, 4, 5, 6000, tzinfo=UTC), "0999-01-02T03:04:05.006Z"),
    ],
)
def test_format_timestamp_edges(value: datetime, expected: str) -> None:
    assert format_timestamp(value) == expected


def test_format_then_parse_round_trips_to_the_millisecond() -> None:
    now = utc_now()
    assert abs(parse_timestamp(format_timestamp(now)) - now) < timedelta(milliseconds=1)


def test_utc_now_is_aware() -> None:
    assert utc_now().utcoffset() == timedelta(0)
