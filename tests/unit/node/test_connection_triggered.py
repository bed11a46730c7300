"""A Pending charger may send what we asked it to send (2.0.1 B02.FR.09 ff., 1.6 section
4.2): a NotifyReport after an accepted GetBaseReport, a StatusNotification after an accepted
TriggerMessage; otherwise a SecurityError. Through ChargerConnection, its Dispatcher and an
in-memory socket (fake_charger.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from fake_charger import FakeCharger, run, serving

from csms.node import rpc, v16, v201
from csms.node.connection import ChargerConnection
from csms.node.version import OcppVersion
from tests.timeouts import TIMEOUT


@dataclass(frozen=True)
class Case:
    version: OcppVersion
    request: str  # what the CSMS asks
    payload: dict[str, Any]
    action: str  # what the charger may then send
    message: dict[str, Any]


CASES = [
    Case(
        v201.VERSION,
        "GetBaseReport",
        {"requestId": 1, "reportBase": "FullInventory"},
        "NotifyReport",
        {"requestId": 1, "generatedAt": "2026-01-01T12:00:00Z", "seqNo": 0, "tbc": False},
    ),
    Case(
        v16.VERSION,
        "TriggerMessage",
        {"requestedMessage": "StatusNotification", "connectorId": 1},
        "StatusNotification",
        {"connectorId": 1, "errorCode": "NoError", "status": "Available"},
    ),
]
BY_CASE = pytest.mark.parametrize("case", CASES, ids=lambda case: case.version.subprotocol)


async def charger_sends(charger: FakeCharger, case: Case, message_id: str) -> rpc.Frame:
    charger.write([rpc.CALL, message_id, case.action, case.message])
    return await charger.next_frame()


def ask(connection: ChargerConnection, case: Case) -> asyncio.Task[dict[str, Any]]:
    return asyncio.create_task(connection.call(case.request, case.payload, TIMEOUT))


@BY_CASE
def test_a_pending_charger_may_not_send_what_was_not_asked_for(case: Case) -> None:
    async def scenario() -> None:
        async with serving(case.version, registration_status="Pending") as (_, charger):
            reply = await charger_sends(charger, case, "c1")
            assert isinstance(reply, rpc.CallError)
            assert (reply.message_id, reply.error_code) == ("c1", "SecurityError")

    run(scenario)


@BY_CASE
def test_a_pending_charger_may_send_what_it_accepted_to_send(case: Case) -> None:
    async def scenario() -> None:
        async with serving(case.version, registration_status="Pending") as (connection, charger):
            asked = ask(connection, case)
            call = await charger.next_call()
            assert call.action == case.request
            charger.answer(call, {"status": "Accepted"})
            assert await asked == {"status": "Accepted"}
            assert await charger_sends(charger, case, "c1") == rpc.CallResult("c1", {})

    run(scenario)


@BY_CASE
def test_what_the_charger_sends_right_after_accepting(case: Case) -> None:
    """The answer and the message it announces arrive together (one TCP segment): the
    message is read before the caller of ``call`` runs again."""

    async def scenario() -> None:
        async with serving(case.version, registration_status="Pending") as (connection, charger):
            asked = ask(connection, case)
            charger.answer(await charger.next_call(), {"status": "Accepted"})
            assert await charger_sends(charger, case, "c1") == rpc.CallResult("c1", {})
            assert await asked == {"status": "Accepted"}

    run(scenario)


@BY_CASE
def test_a_rejected_request_lets_nothing_through(case: Case) -> None:
    async def scenario() -> None:
        async with serving(case.version, registration_status="Pending") as (connection, charger):
            asked = ask(connection, case)
            charger.answer(await charger.next_call(), {"status": "Rejected"})
            assert await asked == {"status": "Rejected"}
            reply = await charger_sends(charger, case, "c1")
            assert isinstance(reply, rpc.CallError)
            assert reply.error_code == "SecurityError"

    run(scenario)


@BY_CASE
@pytest.mark.parametrize("status", [None, "Rejected"])
def test_a_charger_not_booted_or_rejected_may_send_nothing_but_a_boot(
    case: Case, status: str | None
) -> None:
    """Never booted on this connection, or Rejected: not even what it was asked for."""

    async def scenario() -> None:
        async with serving(case.version, registration_status=status) as (connection, charger):
            asked = ask(connection, case)
            charger.answer(await charger.next_call(), {"status": "Accepted"})
            assert await asked == {"status": "Accepted"}
            reply = await charger_sends(charger, case, "c1")
            assert isinstance(reply, rpc.CallError)
            assert reply.error_code == "SecurityError"

    run(scenario)
