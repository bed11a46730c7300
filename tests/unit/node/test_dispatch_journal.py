"""The journal rows of a charger's CALL and of our answer to it are queued together, in one
submission (so an idle node writes one journal statement per message, not two); a CALL
whose handling is cancelled is still journaled."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, cast

import orjson
from fake_charger import CHARGE_POINT_ID, NOW, run
from websockets.asyncio.server import ServerConnection

from csms.logs import ChargerLog
from csms.node import rpc, v16
from csms.node.connection import ChargerConnection
from csms.node.context import Context
from csms.node.journal import JournalRow
from csms.node.version import OcppVersion
from csms.services import Services
from csms.services.link import ChargerLink
from csms.store.memory import MemoryStores


class Sink:
    def __init__(self) -> None:
        self.submissions: list[list[JournalRow]] = []

    def add(self, rows: Sequence[JournalRow]) -> None:
        self.submissions.append(list(rows))


async def _connection(version: OcppVersion, sink: Sink) -> ChargerConnection:
    memory = MemoryStores(clock=lambda: NOW)
    await memory.chargers.add(CHARGE_POINT_ID, password_hash=None)
    log = ChargerLog(logging.getLogger("tests.journal"), CHARGE_POINT_ID)
    link = ChargerLink(CHARGE_POINT_ID, version.subprotocol, log, registration_status="Accepted")
    return ChargerConnection(
        cast(ServerConnection, None),
        Context(link, Services(memory, clock=lambda: NOW)),
        version,
        journal=sink,
    )


def _shape(rows: list[JournalRow]) -> list[tuple[Any, ...]]:
    """(direction, message type, message id, action) of each row."""
    return [(r[2], r[3], r[4], r[5]) for r in rows]


def test_a_call_and_its_answer_are_one_journal_submission() -> None:
    async def scenario() -> None:
        sink = Sink()
        connection = await _connection(v16.VERSION, sink)
        call = orjson.dumps([2, "h1", "Heartbeat", {}])
        reply = await connection.handle(call)
        assert reply is not None and reply.startswith(b'[3,"h1"')
        assert [_shape(s) for s in sink.submissions] == [
            [("in", rpc.CALL, "h1", "Heartbeat"), ("out", rpc.CALLRESULT, "h1", "Heartbeat")]
        ]
        (call_row, answer_row) = sink.submissions[0]
        assert call_row[0] == answer_row[0] == CHARGE_POINT_ID
        assert (call_row[6], answer_row[6]) == (call.decode(), reply.decode())  # as sent

    run(scenario)


def test_a_refused_call_and_its_callerror_are_one_journal_submission() -> None:
    async def scenario() -> None:
        sink = Sink()
        connection = await _connection(v16.VERSION, sink)
        reply = await connection.handle(orjson.dumps([2, "s1", "StatusNotification", {}]))
        assert reply is not None and reply.startswith(b'[4,"s1"')
        assert [_shape(s) for s in sink.submissions] == [
            [
                ("in", rpc.CALL, "s1", "StatusNotification"),
                ("out", rpc.CALLERROR, "s1", "StatusNotification"),
            ]
        ]
        # 1.6 spells it so (OCPP-J 1.6 section 4.2.3)
        assert orjson.loads(sink.submissions[0][1][6])[2] == "OccurenceConstraintViolation"
        assert sink.submissions[0][1][6] == reply.decode()

    run(scenario)


def test_a_call_whose_handling_is_cancelled_is_still_journaled() -> None:
    started = asyncio.Event()

    async def hangs(ctx: Context, payload: dict[str, Any]) -> dict[str, Any]:
        started.set()
        await asyncio.Future()  # never answers
        raise AssertionError("unreachable")

    version = replace(v16.VERSION, routes={**v16.VERSION.routes, "Heartbeat": hangs})

    async def scenario() -> None:
        sink = Sink()
        connection = await _connection(version, sink)
        handling = asyncio.create_task(connection.handle(orjson.dumps([2, "h2", "Heartbeat", {}])))
        await started.wait()
        assert sink.submissions == []  # queued with the answer, which has not come yet
        handling.cancel()
        await asyncio.gather(handling, return_exceptions=True)
        assert [_shape(s) for s in sink.submissions] == [[("in", rpc.CALL, "h2", "Heartbeat")]]

    run(scenario)
