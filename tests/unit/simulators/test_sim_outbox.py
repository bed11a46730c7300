"""The offline queue and its replay, with a fake call function (no network)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from simulators.adapter import adapter_for
from simulators.errors import CallError, ConnectionLostError
from simulators.meter import energy_reading
from simulators.outbox import Outbox


class FakeLink:
    """Answers calls like a CSMS would; can be switched off or made to fail."""

    def __init__(self) -> None:
        self.online = True
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.refuse: set[str] = set()
        self.next_id = 100

    def is_connected(self) -> bool:
        return self.online

    async def call(self, action: str, payload: dict[str, Any], message_id: str) -> dict[str, Any]:
        if not self.online:
            raise ConnectionLostError("offline")
        if action in self.refuse:
            raise CallError("GenericError", "refused")
        self.sent.append((action, payload))
        if action == "StartTransaction":
            self.next_id += 1
            return {"transactionId": self.next_id, "idTagInfo": {"status": "Accepted"}}
        return {}


def make(version: str) -> tuple[Outbox, FakeLink]:
    link = FakeLink()
    return Outbox(adapter_for(version), link.call, link.is_connected, logging.getLogger()), link


async def test_v16_replay_substitutes_the_transaction_id() -> None:
    outbox, link = make("1.6")
    adapter = adapter_for("1.6")
    link.online = False
    tx = adapter.new_transaction(1, "TAG-1", 1000)

    assert await outbox.submit(adapter.start_transaction(tx, "Authorized")) is None
    tx.meter_wh = 1500
    await outbox.submit(adapter.meter_values(tx, [energy_reading(tx)], "Sample.Periodic"))
    await outbox.submit(adapter.stop_transaction(tx, "Local"))
    assert (len(outbox), tx.transaction_id) == (3, None)

    link.online = True
    responses = await outbox.flush()

    assert len(responses) == 3 and len(outbox) == 0
    assert [action for action, _ in link.sent] == [
        "StartTransaction",
        "MeterValues",
        "StopTransaction",
    ]
    assert "transactionId" not in link.sent[0][1]
    assert [p["transactionId"] for _, p in link.sent[1:]] == [101, 101]
    assert tx.transaction_id == 101
    assert tx.start_response == responses[0]


async def test_v201_events_created_offline_carry_the_offline_flag() -> None:
    outbox, link = make("2.0.1")
    adapter = adapter_for("2.0.1")
    tx = adapter.new_transaction(1, "TAG-1", 0)
    await outbox.submit(adapter.start_transaction(tx, "Authorized"))
    link.online = False
    await outbox.submit(adapter.meter_values(tx, [energy_reading(tx)], "Sample.Periodic"))
    await outbox.submit(adapter.stop_transaction(tx, "Local"))

    link.online = True
    await outbox.flush()

    assert [p.get("offline", False) for _, p in link.sent] == [False, True, True]
    assert [p["seqNo"] for _, p in link.sent] == [0, 1, 2]


async def test_backlog_keeps_new_messages_queued_until_flush() -> None:
    outbox, link = make("2.0.1")
    adapter = adapter_for("2.0.1")
    tx = adapter.new_transaction(1, "TAG-1", 0)
    link.online = False
    await outbox.submit(adapter.start_transaction(tx, "Authorized"))
    link.online = True  # reconnected, but nobody replayed yet

    queued = await outbox.submit(adapter.stop_transaction(tx, "Local"))

    assert queued is None and len(outbox) == 2 and link.sent == []
    await outbox.flush()
    assert [p["eventType"] for _, p in link.sent] == ["Started", "Ended"]
    assert "offline" not in link.sent[1][1]  # created while connected


async def test_lost_connection_during_delivery_queues_the_message() -> None:
    outbox, link = make("1.6")
    adapter = adapter_for("1.6")
    tx = adapter.new_transaction(1, "TAG-1", 0)
    link.online = True

    async def lose(action: str, payload: dict[str, Any], message_id: str) -> dict[str, Any]:
        raise ConnectionLostError("dropped while waiting")

    outbox._call = lose
    assert await outbox.submit(adapter.start_transaction(tx, "Authorized")) is None
    assert len(outbox) == 1

    outbox._call = link.call
    await outbox.flush()
    assert tx.transaction_id == 101


async def test_refused_messages_raise_online_and_are_dropped_on_replay() -> None:
    outbox, link = make("1.6")
    adapter = adapter_for("1.6")
    tx = adapter.new_transaction(1, "TAG-1", 0)
    link.refuse.add("StartTransaction")

    with pytest.raises(CallError):
        await outbox.submit(adapter.start_transaction(tx, "Authorized"))

    link.online = False
    await outbox.submit(adapter.start_transaction(tx, "Authorized"))
    await outbox.submit(adapter.stop_transaction(tx, "Local"))
    link.online = True
    assert await outbox.flush() == []
    assert [e.code for e in outbox.errors] == ["GenericError"]
    assert len(outbox) == 0 and link.sent == []  # the stop had no id: dropped
