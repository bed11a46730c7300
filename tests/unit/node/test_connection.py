"""ChargerConnection.call: concurrent commands to one charger go out one at a time, in the
order asked, each caller getting its own answer or its own error. An in-memory socket on a
virtual clock (fake_charger.py): no network, no sleeping."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fake_charger import idle, run, serving

from csms.errors import (
    ChargerCallError,
    ChargerNotConnected,
    CommandError,
    CommandRejected,
    CommandTimeout,
)
from csms.node import rpc, v16, v201
from csms.node.calls import MAX_QUEUED_CALLS
from csms.node.version import OcppVersion
from tests.timeouts import TIMEOUT

VERSIONS = pytest.mark.parametrize(
    "version", [v16.VERSION, v201.VERSION], ids=lambda v: v.subprotocol
)
SHORT = TIMEOUT / 10


def transfer(n: int) -> dict[str, Any]:
    """A DataTransfer request (both versions, both directions) that says which it is."""
    return {"vendorId": "org.example", "messageId": f"q{n}", "data": str(n)}


def answer_to(call: rpc.Call) -> dict[str, Any]:
    return {"status": "Accepted", "data": f"answer to {call.payload['messageId']}"}


@VERSIONS
def test_concurrent_calls_go_out_one_at_a_time_in_the_order_asked(version: OcppVersion) -> None:
    async def scenario() -> None:
        async with serving(version) as (connection, charger):
            callers = asyncio.gather(
                *(connection.call("DataTransfer", transfer(n), TIMEOUT) for n in range(5))
            )
            seen: list[str] = []
            previous: rpc.Call | None = None
            for _ in range(5):
                call = await charger.next_call()
                await idle()
                assert charger.unread == []  # the next waits for this one's answer
                seen.append(call.payload["messageId"])
                if previous is not None:  # a duplicate of the last answer, and a made-up one
                    charger.answer(previous, {"status": "Rejected", "data": "stale"})
                charger.answer("not-a-call-of-ours", {"status": "Rejected"})
                charger.answer(call, answer_to(call))
                previous = call
            assert seen == ["q0", "q1", "q2", "q3", "q4"]
            assert await callers == [
                {"status": "Accepted", "data": f"answer to q{n}"} for n in range(5)
            ]

    run(scenario)


def test_a_queued_call_that_times_out_never_goes_out_and_holds_nobody_up() -> None:
    async def scenario() -> None:
        async with serving(v201.VERSION) as (connection, charger):
            first = asyncio.create_task(connection.call("DataTransfer", transfer(0), TIMEOUT))
            hasty = asyncio.create_task(connection.call("DataTransfer", transfer(1), SHORT))
            last = asyncio.create_task(connection.call("DataTransfer", transfer(2), TIMEOUT))
            call = await charger.next_call()
            with pytest.raises(CommandTimeout, match=r"CP-7 did not answer DataTransfer"):
                await hasty
            assert not first.done() and not last.done()
            charger.answer(call, answer_to(call))
            assert await first == answer_to(call)
            call = await charger.next_call()
            assert call.payload["messageId"] == "q2"
            charger.answer(call, answer_to(call))
            assert await last == answer_to(call)
            assert connection.calls.waiting == 0

    run(scenario)


def test_a_reply_after_its_call_timed_out_does_not_answer_the_next() -> None:
    async def scenario() -> None:
        async with serving(v201.VERSION) as (connection, charger):
            hasty = asyncio.create_task(connection.call("DataTransfer", transfer(0), SHORT))
            patient = asyncio.create_task(connection.call("DataTransfer", transfer(1), TIMEOUT))
            late = await charger.next_call()
            with pytest.raises(CommandTimeout):
                await hasty
            call = await charger.next_call()  # the slot is free: the next one goes
            assert call.payload["messageId"] == "q1"
            charger.answer(late, answer_to(late))
            await idle()
            assert not patient.done()
            charger.answer(call, answer_to(call))
            assert await patient == {"status": "Accepted", "data": "answer to q1"}

    run(scenario)


def test_the_outstanding_call_times_out_after_its_own_deadline() -> None:
    async def scenario() -> None:
        async with serving(v201.VERSION) as (connection, charger):
            loop = asyncio.get_running_loop()
            started = loop.time()
            call = asyncio.create_task(connection.call("DataTransfer", transfer(0), 30.0))
            await charger.next_call()
            with pytest.raises(CommandTimeout, match=r"within 30\.0 s"):
                await call
            assert loop.time() - started == pytest.approx(30.0)

    run(scenario)


@VERSIONS
@pytest.mark.parametrize("abruptly", [False, True], ids=["clean", "abrupt"])
def test_the_socket_closing_fails_every_waiting_caller(
    version: OcppVersion, abruptly: bool
) -> None:
    async def scenario() -> None:
        async with serving(version) as (connection, charger):
            callers = asyncio.gather(
                *(connection.call("DataTransfer", transfer(n), TIMEOUT) for n in range(5)),
                return_exceptions=True,
            )
            await charger.next_call()
            charger.hang_up(abruptly=abruptly)
            outcomes = await callers
            assert all(isinstance(outcome, ChargerNotConnected) for outcome in outcomes), outcomes
            with pytest.raises(ChargerNotConnected, match="CP-7 is not connected"):
                await connection.call("DataTransfer", transfer(5), TIMEOUT)

    run(scenario)


def test_the_socket_closing_as_the_next_call_gets_its_turn() -> None:
    """The charger answers and hangs up at once: the next call, let go but not yet sent,
    fails once (and its reply's error is not left unretrieved)."""

    async def scenario() -> None:
        async with serving(v201.VERSION) as (connection, charger):
            callers = asyncio.gather(
                *(connection.call("DataTransfer", transfer(n), TIMEOUT) for n in range(3)),
                return_exceptions=True,
            )
            call = await charger.next_call()
            charger.answer(call, answer_to(call))
            charger.hang_up()
            answered, *failed = await callers
            assert answered == answer_to(call)
            assert all(isinstance(outcome, ChargerNotConnected) for outcome in failed), failed

    run(scenario)


def test_a_cancelled_caller_gives_up_its_place() -> None:
    """The caller of a command went away (e.g. the API request was dropped)."""

    async def scenario() -> None:
        async with serving(v201.VERSION) as (connection, charger):
            callers = [
                asyncio.create_task(connection.call("DataTransfer", transfer(n), TIMEOUT))
                for n in range(4)
            ]
            await charger.next_call()  # q0
            callers[0].cancel()
            callers[1].cancel()
            call = await charger.next_call()
            assert call.payload["messageId"] == "q2"
            charger.answer(call, answer_to(call))
            call = await charger.next_call()
            charger.answer(call, answer_to(call))
            outcomes = await asyncio.gather(*callers, return_exceptions=True)
            assert [type(outcome) for outcome in outcomes[:2]] == [asyncio.CancelledError] * 2
            assert outcomes[2:] == [
                {"status": "Accepted", "data": f"answer to q{n}"} for n in (2, 3)
            ]

    run(scenario)


@VERSIONS
def test_a_callerror_answer(version: OcppVersion) -> None:
    async def scenario() -> None:
        async with serving(version) as (connection, charger):
            caller = asyncio.create_task(connection.call("DataTransfer", transfer(0), TIMEOUT))
            charger.fail(await charger.next_call(), "NotImplemented", "no such vendor")
            with pytest.raises(ChargerCallError, match="NotImplemented: no such vendor") as info:
                await caller
            assert info.value.extra == {
                "error_code": "NotImplemented",
                "description": "no such vendor",
                "details": {"why": "test"},
            }

    run(scenario)


@VERSIONS
def test_an_invalid_response(version: OcppVersion) -> None:
    async def scenario() -> None:
        async with serving(version) as (connection, charger):
            caller = asyncio.create_task(connection.call("DataTransfer", transfer(0), TIMEOUT))
            charger.answer(await charger.next_call(), {"status": "Perhaps"})
            with pytest.raises(ChargerCallError, match="invalid DataTransfer response") as info:
                await caller
            assert info.value.extra == {"response": {"status": "Perhaps"}}

    run(scenario)


def test_an_invalid_request_is_rejected_unless_checked() -> None:
    async def scenario() -> None:
        async with serving(v201.VERSION) as (connection, charger):
            invalid = {"vendorId": 7}
            with pytest.raises(CommandRejected, match="invalid DataTransfer request"):
                await connection.call("DataTransfer", invalid, TIMEOUT)
            await idle()
            assert charger.unread == []
            caller = asyncio.create_task(
                connection.call("DataTransfer", invalid, TIMEOUT, checked=True)
            )
            call = await charger.next_call()
            assert call.payload == invalid  # sent as given: a command adapter checked it
            charger.answer(call, {"status": "Accepted"})
            assert await caller == {"status": "Accepted"}

    run(scenario)


@VERSIONS
def test_an_action_the_charger_sends_is_rejected(version: OcppVersion) -> None:
    async def scenario() -> None:
        async with serving(version) as (connection, charger):
            with pytest.raises(CommandRejected, match="BootNotification is not a CSMS-initiated"):
                await connection.call("BootNotification", {}, TIMEOUT, checked=True)
            with pytest.raises(CommandRejected, match="NoSuchAction is not a CSMS-initiated"):
                await connection.call("NoSuchAction", {}, TIMEOUT, checked=True)
            await idle()
            assert charger.unread == []

    run(scenario)


def test_the_queue_limit() -> None:
    async def scenario() -> None:
        async with serving(v201.VERSION) as (connection, charger):
            callers = [
                asyncio.create_task(connection.call("DataTransfer", transfer(n), TIMEOUT))
                for n in range(MAX_QUEUED_CALLS)
            ]
            await charger.next_call()
            with pytest.raises(CommandRejected, match=f"{MAX_QUEUED_CALLS} commands waiting"):
                await connection.call("DataTransfer", transfer(99), TIMEOUT)
            charger.hang_up()
            outcomes = await asyncio.gather(*callers, return_exceptions=True)
            assert {type(outcome) for outcome in outcomes} == {ChargerNotConnected}

    run(scenario)


def test_errors_are_command_errors() -> None:
    """What the command bus turns into an outcome (csms/errors.py COMMAND_OUTCOMES)."""
    for error in (ChargerCallError, ChargerNotConnected, CommandRejected, CommandTimeout):
        assert issubclass(error, CommandError)
