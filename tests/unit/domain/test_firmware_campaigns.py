"""Campaign planning (csms.domain.firmware_campaigns) and signed firmware URLs and byte
ranges (csms.domain.firmware_urls)."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal

import pytest

from csms.domain import firmware_campaigns as fc
from csms.domain.firmware_campaigns import (
    CandidateCharger,
    WaveProgress,
    parse_target,
    parse_waves,
    parse_window,
    plan,
    wave_plan,
)
from csms.domain.firmware_urls import (
    ByteRange,
    UnsatisfiableRange,
    parse_range,
    signed_url,
    url_valid,
)
from csms.errors import InvalidInput


def test_target_terms() -> None:
    selector = parse_target(["model=Y", "site=AMS-1", "chargers=CP-1,CP-2"])
    assert selector.as_dict() == {"site": "AMS-1", "model": "Y", "chargers": ["CP-1", "CP-2"]}
    charger = CandidateCharger("CP-1", "X", "Y", "1.0.0", "AMS-1")
    assert selector.matches(charger)
    assert not selector.matches(CandidateCharger("CP-3", "X", "Y", "1.0.0", "AMS-1"))
    assert parse_target(["firmware-version=1.0.0"]).firmware_version == "1.0.0"
    for bad, message in (
        ([], "at least one"),
        (["colour=red"], "unknown key colour"),
        (["model"], "not KEY=VALUE"),
        (["model=A", "model=B"], "given twice"),
    ):
        with pytest.raises(InvalidInput, match=message):
            parse_target(bad)


def test_waves_are_cumulative_and_end_at_100() -> None:
    assert parse_waves(["10%", "50%", "100%"]) == [Decimal(10), Decimal(50), Decimal(100)]
    for bad, message in (
        (["50%", "10%", "100%"], "increase"),
        (["10%", "50%"], "last wave must be 100%"),
        (["0%", "100%"], "above 0%"),
        (["abc"], "not a percentage"),
        (["150%"], "between 0% and 100%"),
        ([], "at least one"),
    ):
        with pytest.raises(InvalidInput, match=message):
            parse_waves(bad)


def test_wave_plan() -> None:
    waves = parse_waves(["10%", "50%", "100%"])
    assert [(w.number, w.label, w.size) for w in wave_plan(50, 5, waves)] == [
        (0, "canary", 5),
        (1, "50%", 20),  # 10% of 50 is covered by the canary already
        (2, "100%", 25),
    ]
    assert [w.size for w in wave_plan(1000, 10, waves)] == [10, 90, 400, 500]
    assert [w.size for w in wave_plan(3, 10, waves)] == [3]
    assert [w.size for w in wave_plan(7, 0, waves)] == [1, 3, 3]
    assert sum(w.size for w in wave_plan(997, 13, waves)) == 997


def test_rollout_order_is_stable_and_not_by_id() -> None:
    ids = [f"CP-{i:03d}" for i in range(100)]
    order = fc.rollout_order("7", ids)
    assert order == fc.rollout_order("7", reversed(ids))
    assert sorted(order) == ids and order != ids
    assert fc.rollout_order("8", ids) != order


def test_windows() -> None:
    night = parse_window("22:00-05:00")
    assert night.contains(time(23, 30)) and night.contains(time(4, 59))
    assert not night.contains(time(5, 0)) and not night.contains(time(12, 0))
    day = parse_window("09:00-24:00")
    assert day.contains(time(23, 59)) and not day.contains(time(8, 59))
    assert str(day) == "09:00-24:00"
    assert fc.in_windows([], datetime(2027, 1, 1, 12, 0))
    assert fc.in_windows([night, day], datetime(2027, 1, 1, 10, 0))
    assert not fc.in_windows([night], datetime(2027, 1, 1, 10, 0))
    for bad in ("22-05", "25:00-01:00", "10:00-10:00", "10:00-24:30"):
        with pytest.raises(InvalidInput):
            parse_window(bad)


def test_options_refuse_nonsense() -> None:
    for kwargs, message in (
        ({"max_concurrent": 0}, "max_concurrent"),
        ({"canary": -1}, "canary"),
        ({"session_policy": "never"}, "session_policy"),
        ({"timeouts": {"download": -1}}, "positive"),
        ({"timeouts": {"bake": 10}}, "unknown phase"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"retrieve_at": datetime(2027, 1, 1)}, "time zone"),
    ):
        with pytest.raises(InvalidInput, match=message):
            fc.CampaignOptions(**kwargs)  # type: ignore[arg-type]


RATE = Decimal(5)


def test_plan_starts_the_next_wave_when_the_current_one_is_done() -> None:
    waves = [WaveProgress(0, 10, succeeded=10), WaveProgress(1, 40, pending=40)]
    assert plan(fc.RUNNING, 0, waves, RATE) == fc.Decision(start_wave=1)
    busy = [WaveProgress(0, 10, succeeded=9, in_flight=1), waves[1]]
    assert plan(fc.RUNNING, 0, busy, RATE) == fc.Decision()
    done = [WaveProgress(0, 10, succeeded=10), WaveProgress(1, 40, succeeded=39, failed=1)]
    assert plan(fc.RUNNING, 1, done, RATE) == fc.Decision(completed=True)
    assert plan(fc.PAUSED, 0, waves, RATE) == fc.Decision()


def test_plan_halts_a_wave_over_the_failure_rate_before_it_ends() -> None:
    waves = [WaveProgress(0, 10, failed=1, in_flight=9), WaveProgress(1, 40, pending=40)]
    decision = plan(fc.RUNNING, 0, waves, RATE)
    assert decision.halt_wave == 0
    assert decision.halt_reason == "wave 0: 1 of 10 chargers failed (10.0% > 5%)"
    assert plan(fc.RUNNING, 0, waves, Decimal(10)) == fc.Decision()  # exactly 10%: not over
    accepted = [WaveProgress(0, 10, failed=1, succeeded=9, failures_accepted=True), waves[1]]
    assert plan(fc.RUNNING, 0, accepted, RATE) == fc.Decision(start_wave=1)


SECRET = "s3cret-for-tests"


def test_signed_urls() -> None:
    url = signed_url(
        "http://csms.example:8000/",
        SECRET,
        artifact_id=7,
        file_name="fw 2.3.1.bin",
        charge_point_id="CP-1",
        expires=2_000,
    )
    assert url.startswith(
        "http://csms.example:8000/firmware/7/fw%202.3.1.bin?cp=CP-1&exp=2000&sig="
    )
    signature = url.rpartition("sig=")[2]
    good = {"artifact_id": 7, "charge_point_id": "CP-1", "expires": 2_000, "signature": signature}
    assert url_valid(SECRET, **good, now=1_999)
    assert not url_valid(SECRET, **good, now=2_000)  # expired
    assert not url_valid("other-secret", **good, now=1)
    assert not url_valid(SECRET, **(good | {"artifact_id": 8}), now=1)
    assert not url_valid(SECRET, **(good | {"charge_point_id": "CP-2"}), now=1)
    assert not url_valid(SECRET, **(good | {"expires": 3_000}), now=1)
    assert not url_valid(SECRET, **(good | {"signature": "0" * 64}), now=1)


def test_ranges() -> None:
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-9", 100) == ByteRange(0, 9)
    assert parse_range("bytes=90-", 100) == ByteRange(90, 99)
    assert parse_range("bytes=90-500", 100) == ByteRange(90, 99)
    assert parse_range("bytes=-10", 100) == ByteRange(90, 99)
    assert parse_range("bytes=-500", 100) == ByteRange(0, 99)
    assert parse_range("bytes=5-1", 100) is None  # unreadable: the whole file
    assert parse_range("bytes=0-1,5-9", 100) is None  # several: the whole file
    assert parse_range("items=0-1", 100) is None
    assert parse_range("bytes=a-b", 100) is None
    with pytest.raises(UnsatisfiableRange):
        parse_range("bytes=100-", 100)
    with pytest.raises(UnsatisfiableRange):
        parse_range("bytes=-0", 100)
    assert ByteRange(90, 99).length == 10
