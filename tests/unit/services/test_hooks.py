"""The hook points: each service emits one typed event per thing that happened, after it is
stored, the same for both OCPP versions; replays emit nothing; a failing subscriber never
fails the charger's message. In memory, through the version handlers."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from csms.domain.id_tokens import IdToken
from csms.logs import ChargerLog
from csms.node import v16, v201
from csms.node.context import Context
from csms.services import Services
from csms.services.hooks import (
    ChargerBooted,
    ChargerConnected,
    ChargerDisconnected,
    ConnectorStatusChanged,
    FirmwareStatusReported,
    Hooks,
    LogStatusReported,
    NotificationReceived,
    SecurityEventReported,
    SessionEnded,
    SessionStarted,
    SessionUpdated,
)
from csms.services.link import ChargerLink
from csms.store.memory import MemoryStores

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
T = "2026-01-01T10:00:00Z"
T_END = "2026-01-01T11:00:00Z"
ALL = (
    ChargerBooted, ChargerConnected, ChargerDisconnected, ConnectorStatusChanged,
    FirmwareStatusReported, LogStatusReported, NotificationReceived, SecurityEventReported,
    SessionEnded, SessionStarted, SessionUpdated,
)  # fmt: skip


class World:
    def __init__(self, protocol: str) -> None:
        self.stores = MemoryStores(clock=lambda: NOW)
        self.hooks = Hooks()
        self.seen: list[Any] = []
        for event_type in ALL:
            self.hooks.subscribe(event_type, self.seen.append)
        self.services = Services(self.stores, clock=lambda: NOW, hooks=self.hooks)
        self.version = v16.VERSION if protocol == "ocpp1.6" else v201.VERSION
        log = ChargerLog(logging.getLogger("tests.hooks"), "CP-H")
        self.ctx = Context(ChargerLink("CP-H", protocol, log, "Accepted"), self.services)

    async def start(self) -> None:
        await self.stores.chargers.add("CP-H", password_hash=None)
        self.stores.tokens.add(IdToken("TAG", "ISO14443", "Accepted", None, None, False))

    async def send(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.version.schemas.validate(action, payload)
        return await self.version.routes[action](self.ctx, payload)

    def types(self) -> list[str]:
        return [type(e).__name__ for e in self.seen]


@pytest.fixture
async def world16() -> World:
    world = World("ocpp1.6")
    await world.start()
    return world


@pytest.fixture
async def world201() -> World:
    world = World("ocpp2.0.1")
    await world.start()
    return world


def energy_16(wh: int, at: str) -> list[dict[str, Any]]:
    return [{"timestamp": at, "sampledValue": [{"value": str(wh), "unit": "Wh"}]}]


def energy_201(wh: int, at: str, context: str) -> list[dict[str, Any]]:
    sampled = {"value": wh, "context": context, "unitOfMeasure": {"unit": "Wh"}}
    return [{"timestamp": at, "sampledValue": [sampled]}]


async def test_a_1_6_charger_s_day(world16: World) -> None:
    w = world16
    await w.services.chargers.connected(w.ctx.link, "n1", 7)
    await w.send("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
    status = {"connectorId": 1, "errorCode": "GroundFailure", "status": "Faulted"}
    await w.send("StatusNotification", status)
    start = {"connectorId": 1, "idTag": "TAG", "meterStart": 1000, "timestamp": T}
    started = await w.send("StartTransaction", start)
    tx = started["transactionId"]
    await w.send("StartTransaction", start)  # a replay: nothing new
    await w.send(
        "MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": energy_16(1500, T)}
    )
    stop = {"transactionId": tx, "meterStop": 3000, "timestamp": T_END, "reason": "EVDisconnected"}
    await w.send("StopTransaction", stop)
    await w.send("StopTransaction", stop)  # a replay: nothing new
    await w.send("FirmwareStatusNotification", {"status": "Installed"})
    await w.send("DiagnosticsStatusNotification", {"status": "Uploaded"})
    await w.send("SecurityEventNotification", {"type": "MemoryExhaustion", "timestamp": T})
    await w.services.chargers.disconnected(w.ctx.link, "n1", 7)
    assert w.types() == [
        "ChargerConnected", "ChargerBooted", "ConnectorStatusChanged", "SessionStarted",
        "SessionUpdated", "SessionEnded",
        "NotificationReceived", "FirmwareStatusReported",
        "NotificationReceived", "LogStatusReported",
        "NotificationReceived", "SecurityEventReported", "ChargerDisconnected",
    ]  # fmt: skip
    connected, booted, faulted, began, updated, ended = w.seen[:6]
    assert (connected.node_id, connected.epoch, connected.protocol) == ("n1", 7, "ocpp1.6")
    assert (booted.registration_status, booted.identity["vendor"]) == ("Accepted", "V")
    assert (faulted.status.status, faulted.status.error_code) == ("Faulted", "GroundFailure")
    assert began.session.transaction_id == str(tx) and began.authorization.accepted
    assert [s.value for s in updated.samples] == [Decimal(1500)]
    assert (ended.energy_wh, ended.stop_reason, ended.ended_at) == (
        Decimal(2000),
        "EVDisconnected",
        datetime(2026, 1, 1, 11, 0, tzinfo=UTC),
    )
    assert w.seen[-2].type == "MemoryExhaustion"


async def test_a_2_0_1_session_and_reports(world201: World) -> None:
    w = world201

    def event(kind: str, seq: int, trigger: str, **fields: Any) -> dict[str, Any]:
        return {
            "eventType": kind,
            "timestamp": T,
            "triggerReason": trigger,
            "seqNo": seq,
            "transactionInfo": {"transactionId": "tx-1"},
            **fields,
        }

    tag = {"idToken": "TAG", "type": "ISO14443"}
    evse = {"id": 1, "connectorId": 1}
    await w.send(
        "TransactionEvent",
        event("Started", 0, "Authorized", idToken=tag, evse=evse,
              meterValue=energy_201(1000, T, "Transaction.Begin")),
    )  # fmt: skip
    periodic = event(
        "Updated", 1, "MeterValuePeriodic", meterValue=energy_201(1200, T, "Sample.Periodic")
    )
    await w.send("TransactionEvent", periodic)
    await w.send("TransactionEvent", periodic)  # a replayed seqNo: nothing new
    ended = event("Ended", 2, "EVDeparted", meterValue=energy_201(4000, T_END, "Transaction.End"))
    await w.send("TransactionEvent", ended)
    await w.send("TransactionEvent", ended)
    notify = {
        "generatedAt": T,
        "seqNo": 0,
        "eventData": [
            {
                "eventId": 1,
                "timestamp": T,
                "trigger": "Delta",
                "actualValue": "Faulted",
                "component": {"name": "Connector", "evse": evse},
                "variable": {"name": "AvailabilityState"},
                "eventNotificationType": "HardWiredNotification",
            }
        ],
    }
    await w.send("NotifyEvent", notify)
    await w.send("FirmwareStatusNotification", {"status": "Downloading", "requestId": 5})
    await w.send("LogStatusNotification", {"status": "Uploading", "requestId": 6})
    assert w.types() == [
        "SessionStarted", "SessionUpdated", "SessionEnded",
        "NotificationReceived", "ConnectorStatusChanged",
        "NotificationReceived", "FirmwareStatusReported",
        "NotificationReceived", "LogStatusReported",
    ]  # fmt: skip
    began, updated, finished = w.seen[:3]
    assert (began.session.evse_id, began.session.connector_id) == (1, 1)
    assert began.event.seq_no == 0 and began.authorization.accepted
    assert updated.event.trigger_reason == "MeterValuePeriodic"
    assert (finished.meter_start_wh, finished.meter_stop_wh, finished.energy_wh) == (
        Decimal(1000),
        Decimal(4000),
        Decimal(3000),
    )
    assert w.seen[4].status.status == "Faulted"
    assert (w.seen[6].status, w.seen[6].request_id) == ("Downloading", 5)
    assert (w.seen[8].status, w.seen[8].request_id) == ("Uploading", 6)


async def test_a_failing_subscriber_does_not_fail_the_message(
    world16: World, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: ChargerBooted) -> None:
        raise RuntimeError("a bug in a feature")

    w = world16
    w.hooks.subscribe(ChargerBooted, broken)
    answer = await w.send("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
    assert answer["status"] == "Accepted"
    assert (await w.stores.chargers.get("CP-H")).vendor == "V"  # type: ignore[union-attr]
    [record] = [r for r in caplog.records if "hook" in r.getMessage()]
    assert record.levelno == logging.ERROR and record.charge_point_id == "CP-H"  # type: ignore[attr-defined]


async def test_async_subscribers_are_awaited_in_order(world16: World) -> None:
    order: list[str] = []

    async def first(event: ChargerBooted) -> None:
        order.append("first")

    def second(event: ChargerBooted) -> None:
        order.append("second")

    hooks = Hooks()
    hooks.subscribe(ChargerBooted, first)
    hooks.subscribe(ChargerBooted, second)
    await hooks.emit(ChargerBooted("CP", "Accepted", {}))
    assert order == ["first", "second"]
    assert hooks.wants(ChargerBooted) and not hooks.wants(SessionEnded)
