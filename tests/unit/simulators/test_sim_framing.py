"""OCPP-J framing and call correlation, without a network."""

from __future__ import annotations

import asyncio

import pytest

from simulators.correlation import CallTracker
from simulators.errors import CallError, ConnectionLostError, FramingError, OutstandingCallError
from simulators.framing import Call, CallErrorFrame, CallResult, encode, parse
from simulators.meter import decimal_string


def test_frames_round_trip() -> None:
    frames = [
        Call("1", "Heartbeat", {}),
        CallResult("1", {"currentTime": "2030-01-01T00:00:00Z"}),
        CallErrorFrame("1", "NotImplemented", "no", {"a": 1}),
    ]
    assert [parse(encode(frame)) for frame in frames] == frames


@pytest.mark.parametrize(
    ("text", "message_id"),
    [
        ("not json", None),
        ('{"a": 1}', None),
        ("[2]", None),
        ('[2, "7", "Heartbeat"]', "7"),
        ('[2, "7", "Heartbeat", []]', "7"),
        ('[9, "7", "Heartbeat", {}]', "7"),
        ('[3, "7"]', None),
        ('[4, "7", "GenericError", "", []]', None),
    ],
)
def test_malformed_frames(text: str, message_id: str | None) -> None:
    with pytest.raises(FramingError) as raised:
        parse(text)
    assert raised.value.message_id == message_id


async def test_tracker_allows_one_outstanding_call() -> None:
    tracker = CallTracker()
    first = Call("1", "Heartbeat", {})
    future = tracker.begin(first)

    with pytest.raises(OutstandingCallError):
        tracker.begin(Call("2", "Heartbeat", {}))
    assert tracker.resolve(CallResult("other", {})) is False
    assert tracker.resolve(CallResult("1", {"ok": True})) is True

    assert await future == {"ok": True}
    assert tracker.pending is None


async def test_tracker_turns_callerror_frames_into_exceptions() -> None:
    tracker = CallTracker()
    future = tracker.begin(Call("1", "Authorize", {}))

    tracker.resolve(CallErrorFrame("1", "FormatViolation", "bad", {"x": 1}))

    with pytest.raises(CallError) as raised:
        await future
    assert (raised.value.code, raised.value.description) == ("FormatViolation", "bad")
    assert raised.value.details == {"x": 1}


async def test_tracker_abort_and_finish() -> None:
    tracker = CallTracker()
    call = Call("1", "Heartbeat", {})
    future = tracker.begin(call)

    tracker.abort(ConnectionLostError("gone"))
    with pytest.raises(ConnectionLostError):
        await future

    late = Call("2", "Heartbeat", {})
    late_future = tracker.begin(late)
    tracker.finish(late)  # timed out: a late answer is ignored
    assert tracker.resolve(CallResult("2", {})) is False
    late_future.cancel()
    with pytest.raises(asyncio.CancelledError):
        await late_future


@pytest.mark.parametrize(
    ("value", "text"), [(0.0, "0"), (1234.5, "1234.5"), (123456.7, "123456.7"), (16.0, "16")]
)
def test_decimal_string(value: float, text: str) -> None:
    assert decimal_string(value) == text
