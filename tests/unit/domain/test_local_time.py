"""Wall-clock boundaries of a site's time zone, across DST."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from csms.domain.local_time import offset_transitions, wall_clock_boundaries

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_the_offset_transitions_of_a_year() -> None:
    assert offset_transitions(utc(2024, 1, 1), utc(2025, 1, 1), AMSTERDAM) == [
        utc(2024, 3, 31, 1, 0),
        utc(2024, 10, 27, 1, 0),
    ]
    assert offset_transitions(utc(2024, 1, 1), utc(2025, 1, 1), ZoneInfo("UTC")) == []


def test_a_time_the_clock_skips_gives_the_instants_around_the_jump() -> None:
    # 31 March 2024: 02:00 CET (01:00 UTC) becomes 03:00 CEST; 02:30 does not exist
    found = wall_clock_boundaries(
        utc(2024, 3, 30, 22, 0), utc(2024, 3, 31, 3, 0), AMSTERDAM, [time(2, 30)]
    )
    assert found == [
        utc(2024, 3, 30, 23, 0),  # midnight CET
        utc(2024, 3, 31, 0, 30),  # "02:30" read with the summer offset (fold=1)
        utc(2024, 3, 31, 1, 0),  # the jump
        utc(2024, 3, 31, 1, 30),  # "02:30" read with the winter offset (fold=0)
    ]


def test_a_time_the_clock_repeats_is_a_boundary_twice() -> None:
    # 27 October 2024: 03:00 CEST (01:00 UTC) becomes 02:00 CET; 02:30 happens twice
    found = wall_clock_boundaries(
        utc(2024, 10, 26, 23, 0), utc(2024, 10, 27, 3, 0), AMSTERDAM, [time(2, 30)]
    )
    assert found == [
        utc(2024, 10, 27, 0, 30),  # 02:30 CEST
        utc(2024, 10, 27, 1, 0),  # the jump back
        utc(2024, 10, 27, 1, 30),  # 02:30 CET
    ]


def test_midnights_are_always_boundaries_and_the_ends_never() -> None:
    found = wall_clock_boundaries(utc(2024, 6, 2, 22, 0), utc(2024, 6, 4, 22, 0), AMSTERDAM, [])
    assert found == [utc(2024, 6, 3, 22, 0)]
