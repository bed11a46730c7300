"""The CallCorrelator (csms/node/calls.py): one outstanding CALL (OCPP-J 1.6 4.1.1, 2.0.1
part 4 4.1.1), a bounded FIFO of waiting ones, replies by message id, the journal, and what
a Pending charger may send because we asked. Plain objects: no event loop, no socket."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from csms.errors import ChargerNotConnected, CommandRejected
from csms.node import rpc, v201
from csms.node.calls import MAX_QUEUED_CALLS, CallCorrelator, OutgoingCall
from csms.node.journal import JournalRecorder, JournalRow

CHARGE_POINT_ID = "CP-1"
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Sink:
    """A journal sink that keeps the rows."""

    def __init__(self) -> None:
        self.rows: list[JournalRow] = []

    def add(self, rows: Sequence[JournalRow]) -> None:
        self.rows.extend(rows)


def correlator(max_queued: int = MAX_QUEUED_CALLS, sink: Sink | None = None) -> CallCorrelator:
    """Message ids m0, m1, ... in request order."""
    counter = itertools.count()
    journal = None if sink is None else JournalRecorder(CHARGE_POINT_ID, lambda: NOW, sink)
    return CallCorrelator(
        CHARGE_POINT_ID,
        journal=journal,
        max_queued=max_queued,
        new_message_id=lambda: f"m{next(counter)}",
    )


def result(call: OutgoingCall, payload: dict[str, Any] | None = None) -> rpc.CallResult:
    return rpc.CallResult(call.message_id, {} if payload is None else payload)


def error(call: OutgoingCall) -> rpc.CallError:
    return rpc.CallError(call.message_id, "InternalError", "boom", {})


# -- order and the one outstanding slot --------------------------------------------------------


def test_a_request_is_framed_and_waits_its_turn() -> None:
    calls = correlator()
    call = calls.request("Reset", {"type": "Immediate"})
    assert call.message_id == "m0"
    assert rpc.parse(call.frame, v201.VERSION.dialect) == rpc.Call(
        "m0", "Reset", {"type": "Immediate"}
    )
    assert calls.outstanding is None
    assert calls.waiting == 1


def test_calls_go_out_one_at_a_time_in_request_order() -> None:
    calls = correlator()
    first, second, third = (calls.request("ClearCache", {}) for _ in range(3))
    assert calls.next_to_send() is first
    assert calls.next_to_send() is None  # the slot is taken
    assert calls.outstanding is first
    assert calls.waiting == 3

    assert calls.receive(result(first)) is first
    assert calls.outstanding is None
    assert calls.next_to_send() is second
    assert calls.receive(error(second)) is second  # a CALLERROR frees the slot too
    assert calls.next_to_send() is third
    assert calls.receive(result(third)) is third
    assert calls.next_to_send() is None
    assert calls.waiting == 0


def test_a_reply_to_another_id_is_ignored() -> None:
    calls = correlator()
    first, second = calls.request("ClearCache", {}), calls.request("ClearCache", {})
    assert calls.next_to_send() is first
    assert calls.receive(result(second)) is None  # queued, not sent: not the outstanding one
    assert calls.receive(rpc.CallResult("made-up", {})) is None
    assert calls.outstanding is first
    assert calls.receive(result(first)) is first


def test_a_reply_when_nothing_is_outstanding_is_ignored() -> None:
    calls = correlator()
    assert calls.receive(rpc.CallResult("m0", {})) is None
    call = calls.request("ClearCache", {})
    assert calls.receive(result(call)) is None  # queued, not yet sent
    assert calls.next_to_send() is call
    assert calls.receive(result(call)) is call
    assert calls.receive(result(call)) is None  # answered twice: the second is nobody's


# -- abandon (timeout, cancellation) -----------------------------------------------------------


def test_abandoning_a_queued_call_keeps_the_others_in_order() -> None:
    calls = correlator()
    first, second, third = (calls.request("ClearCache", {}) for _ in range(3))
    assert calls.next_to_send() is first
    calls.abandon(second)
    assert calls.waiting == 2
    assert calls.receive(result(first)) is first
    assert calls.next_to_send() is third


def test_abandoning_the_outstanding_call_frees_the_slot_and_its_late_reply_is_ignored() -> None:
    calls = correlator()
    first, second = calls.request("ClearCache", {}), calls.request("ClearCache", {})
    assert calls.next_to_send() is first
    calls.abandon(first)
    assert calls.outstanding is None
    assert calls.next_to_send() is second
    assert calls.receive(result(first)) is None  # late
    assert calls.outstanding is second
    assert calls.receive(result(second)) is second


def test_abandoning_an_answered_call_changes_nothing() -> None:
    calls = correlator()
    first, second = calls.request("ClearCache", {}), calls.request("ClearCache", {})
    assert calls.next_to_send() is first
    assert calls.receive(result(first)) is first
    assert calls.next_to_send() is second
    calls.abandon(first)
    calls.abandon(first)
    assert calls.outstanding is second
    assert calls.waiting == 1


# -- the queue limit and closing ---------------------------------------------------------------


def test_the_queue_limit_counts_the_outstanding_call() -> None:
    calls = correlator(max_queued=3)
    first = calls.request("ClearCache", {})
    assert calls.next_to_send() is first
    calls.request("ClearCache", {})
    calls.request("ClearCache", {})
    with pytest.raises(CommandRejected, match="CP-1 already has 3 commands waiting"):
        calls.request("ClearCache", {})
    assert calls.waiting == 3
    assert calls.receive(result(first)) is first  # one answered: room for one more
    calls.request("ClearCache", {})
    assert calls.waiting == 3


def test_the_default_limit() -> None:
    calls = correlator()
    for _ in range(MAX_QUEUED_CALLS):
        calls.request("ClearCache", {})
    with pytest.raises(CommandRejected, match=f"{MAX_QUEUED_CALLS} commands waiting"):
        calls.request("ClearCache", {})


def test_close_returns_every_unanswered_call_outstanding_first() -> None:
    calls = correlator()
    first, second, third, fourth = (calls.request("ClearCache", {}) for _ in range(4))
    assert calls.next_to_send() is first
    assert calls.receive(result(first)) is first
    assert calls.next_to_send() is second
    calls.abandon(third)
    assert calls.close() == [second, fourth]
    assert calls.closed
    assert calls.outstanding is None
    assert calls.waiting == 0
    assert calls.next_to_send() is None
    assert calls.receive(result(second)) is None
    assert calls.close() == []


def test_close_with_nothing_outstanding_returns_the_queue() -> None:
    calls = correlator()
    queued = [calls.request("ClearCache", {}) for _ in range(2)]
    assert calls.close() == queued


def test_a_closed_correlator_refuses_requests() -> None:
    calls = correlator()
    calls.close()
    with pytest.raises(ChargerNotConnected, match="CP-1 is not connected"):
        calls.request("ClearCache", {})


# -- the journal -------------------------------------------------------------------------------


def test_a_call_is_journaled_when_it_goes_out_and_only_then() -> None:
    sink = Sink()
    calls = correlator(sink=sink)
    first = calls.request("Reset", {"type": "Immediate"})
    second = calls.request("ClearCache", {})
    abandoned = calls.request("ClearCache", {})
    assert sink.rows == []
    assert calls.next_to_send() is first
    assert sink.rows == [
        (CHARGE_POINT_ID, NOW, "out", rpc.CALL, "m0", "Reset", first.frame.decode())
    ]
    assert calls.next_to_send() is None
    calls.abandon(abandoned)
    assert calls.receive(result(first)) is first  # replies are the dispatcher's to journal
    assert len(sink.rows) == 1
    assert calls.next_to_send() is second
    assert sink.rows[1] == (
        CHARGE_POINT_ID,
        NOW,
        "out",
        rpc.CALL,
        "m1",
        "ClearCache",
        '[2,"m1","ClearCache",{}]',
    )
    calls.close()
    assert len(sink.rows) == 2  # the abandoned call never went out


# -- what a Pending charger may send because we asked -----------------------------------------


@pytest.mark.parametrize(
    ("action", "payload", "expected"),
    [
        ("TriggerMessage", {"requestedMessage": "StatusNotification"}, {"StatusNotification"}),
        ("TriggerMessage", {"requestedMessage": "BootNotification"}, {"BootNotification"}),
        (
            "TriggerMessage",
            {"requestedMessage": "SignChargingStationCertificate"},
            {"SignCertificate"},
        ),
        ("TriggerMessage", {"requestedMessage": "SignV2GCertificate"}, {"SignCertificate"}),
        (
            "ExtendedTriggerMessage",
            {"requestedMessage": "SignChargePointCertificate"},
            {"SignCertificate"},
        ),
        ("ExtendedTriggerMessage", {"requestedMessage": "Heartbeat"}, {"Heartbeat"}),
        ("GetBaseReport", {"requestId": 1, "reportBase": "FullInventory"}, {"NotifyReport"}),
        ("GetReport", {"requestId": 2}, {"NotifyReport"}),
    ],
)
def test_an_accepted_request_lets_the_charger_send_what_it_asks_for(
    action: str, payload: dict[str, Any], expected: set[str]
) -> None:
    calls = correlator()
    call = calls.request(action, payload)
    calls.answered(call, {"status": "Accepted"})
    for requested in expected | _CHARGER_ACTIONS:
        assert calls.requested(requested) == (requested in expected), requested


@pytest.mark.parametrize("status", ["Rejected", "NotImplemented", "EmptyResultSet", None])
def test_only_an_accepted_answer_counts(status: str | None) -> None:
    calls = correlator()
    report = calls.request("GetBaseReport", {"requestId": 1, "reportBase": "FullInventory"})
    trigger = calls.request("TriggerMessage", {"requestedMessage": "StatusNotification"})
    answer = {} if status is None else {"status": status}
    calls.answered(report, answer)
    calls.answered(trigger, answer)
    assert not calls.requested("NotifyReport")
    assert not calls.requested("StatusNotification")


def test_other_accepted_actions_ask_for_nothing() -> None:
    calls = correlator()
    others: list[tuple[str, dict[str, Any]]] = [
        ("Reset", {"type": "Immediate"}),
        ("ChangeAvailability", {"operationalStatus": "Inoperative"}),
        ("GetVariables", {"getVariableData": []}),
        ("DataTransfer", {"vendorId": "v", "messageId": "NotifyReport"}),
    ]
    for action, payload in others:
        calls.answered(calls.request(action, payload), {"status": "Accepted"})
    assert not any(calls.requested(action) for action in _CHARGER_ACTIONS)


_CHARGER_ACTIONS = {
    "BootNotification",
    "Heartbeat",
    "StatusNotification",
    "NotifyReport",
    "SignCertificate",
    "MeterValues",
    "TransactionEvent",
}
