"""OCPP 1.6 California Pricing (docs/reference/california-pricing.md) on the simulated station.

Handlers against a fake context, then a whole session against the fake CSMS over a socket.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from sim_fake_context import FakeContext
from sim_fake_csms import TIMEOUT, FakeCsms

from simulators.scenarios import run_session
from simulators.station import Station, StationConfig
from simulators.transaction import Transaction
from simulators.v16.costmsg import VENDOR_ID

# The examples of the note and of EVerest's tests (the reference page's sources).
USER_PRICE = {
    "idToken": "TAG-1",
    "priceText": "GBP 0.12/kWh, no idle fee",
    "priceTextExtra": [
        {"format": "UTF8", "language": "nl", "content": "€0.12/kWh, geen idle fee"},
        {"format": "UTF8", "language": "de", "content": "€0,12/kWh, keine Leerlaufgebühr"},
    ],
}
RUNNING_COST = {
    "transactionId": 100,
    "timestamp": "2021-03-19T12:00:00Z",
    "meterValue": 1234000,
    "cost": 1.345,
    "state": "Charging",
    "chargingPrice": {"kWhPrice": 0.123, "hourPrice": 2.00, "flatFee": 42.42},
    "idlePrice": {"graceMinutes": 30, "hourPrice": 1.00},
    "nextPeriod": {
        "atTime": "2021-03-19T19:00:00Z",
        "chargingPrice": {"kWhPrice": 0.100, "hourPrice": 4.00, "flatFee": 84.84},
        "idlePrice": {"hourPrice": 0.50},
    },
    "triggerMeterValue": {
        "atTime": "2021-03-19T23:00:00Z",
        "atEnergykWh": 5.0,
        "atPowerkW": 8.0,
        "atCPStatus": ["Finishing", "SuspendedEV"],
    },
}
FINAL_COST = {
    "transactionId": 100,
    "cost": 3.31,
    "priceText": "GBP 2.81 @ 0.12/kWh, GBP 0.50 @ 1/h, TOTAL KWH: 23.4 TIME: 03.50 COST: GBP 3.31.",
    "priceTextExtra": [{"format": "UTF8", "language": "nl", "content": "€3.31 in totaal"}],
    "qrCodeText": "https://www.cpo.com/invoices/13546",
}


def cost_message(message_id: str, data: Any, *, vendor_id: str = VENDOR_ID) -> dict[str, Any]:
    """A DataTransfer request; ``data`` is serialized unless it is already text."""
    payload = {"vendorId": vendor_id, "messageId": message_id}
    payload["data"] = data if isinstance(data, str) else json.dumps(data)
    return payload


def pricing_station(**config: Any) -> FakeContext:
    ctx = FakeContext("1.6", display_cost_and_price=True, **config)
    ctx.state.transactions[1] = Transaction(1, "TAG-1", transaction_id=100)
    return ctx


def transfer(ctx: FakeContext, payload: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = ctx.adapter.routes["DataTransfer"](ctx, payload)
    return answer


def test_set_user_price_is_accepted_and_shown_in_every_language() -> None:
    ctx = FakeContext("1.6", display_cost_and_price=True)

    answer = transfer(ctx, cost_message("SetUserPrice", USER_PRICE))

    assert answer == {"status": "Accepted"}
    assert ctx.display.price_text == "GBP 0.12/kWh, no idle fee"
    assert [(t.language, t.format) for t in ctx.display.price_texts] == [
        ("en", None),  # the station's Language
        ("nl", "UTF8"),
        ("de", "UTF8"),
    ]
    assert ctx.display.price_for == "TAG-1"  # no transaction yet: the id token
    assert ctx.display.lines[0] == "tariff for TAG-1 [en]: GBP 0.12/kWh, no idle fee"


def test_set_user_price_during_a_transaction_is_for_that_transaction() -> None:
    ctx = pricing_station()

    transfer(ctx, cost_message("SetUserPrice", {"idToken": "TAG-1", "priceText": "0.30/kWh"}))

    assert ctx.display.price_for == "100"


def test_running_cost_keeps_the_cost_and_unit_prices_as_decimals() -> None:
    ctx = pricing_station()

    answer = transfer(ctx, cost_message("RunningCost", RUNNING_COST))

    assert answer == {"status": "Accepted"}
    assert ctx.display.running_cost(100) == Decimal("1.345")
    cost = ctx.display.cost("100")
    assert cost is not None
    assert (cost.state, cost.meter_wh, cost.updates) == ("Charging", 1234000, 1)
    assert cost.prices["chargingPrice"]["kWhPrice"] == Decimal("0.123")
    assert cost.prices["nextPeriod"]["atTime"] == "2021-03-19T19:00:00Z"
    assert ctx.display.lines == [
        "transaction 100: 1.345 so far "
        "(Charging; 0.123/kWh, 2.0/h, flat 42.42, idle 1.0/h after 30 min)"
    ]


def test_idle_running_cost_after_the_stop_needs_no_charging_price() -> None:
    """The note's idle-fee-after-stop example: only the idle price applies."""
    ctx = pricing_station()
    ended = ctx.state.transactions.pop(1)
    ctx.state.ended_transactions.append(ended)
    data = {k: RUNNING_COST[k] for k in ("transactionId", "timestamp", "meterValue", "idlePrice")}

    answer = transfer(ctx, cost_message("RunningCost", {**data, "cost": 3.50, "state": "Idle"}))

    assert answer == {"status": "Accepted"}
    assert ctx.display.running_cost(100) == Decimal("3.50")


def test_final_cost_of_an_ended_transaction_with_its_texts_and_qr_code() -> None:
    ctx = pricing_station()
    ctx.state.ended_transactions.append(ctx.state.transactions.pop(1))

    answer = transfer(ctx, cost_message("FinalCost", FINAL_COST))

    assert answer == {"status": "Accepted"}
    assert ctx.display.final_cost(100) == Decimal("3.31")
    cost = ctx.display.cost(100)
    assert cost is not None and cost.qr_code_text == "https://www.cpo.com/invoices/13546"
    assert [t.language for t in cost.texts] == ["en", "nl"]
    assert ctx.display.lines[0] == "transaction 100: total 3.31"
    assert ctx.display.lines[-1] == "transaction 100: QR code https://www.cpo.com/invoices/13546"


def _without(data: dict[str, Any], field: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != field}


@pytest.mark.parametrize(
    ("message_id", "data"),
    [
        ("SetUserPrice", None),  # no data at all
        ("SetUserPrice", "not json"),
        ("SetUserPrice", "[1, 2]"),
        ("SetUserPrice", _without(USER_PRICE, "idToken")),
        ("SetUserPrice", _without(USER_PRICE, "priceText")),
        ("SetUserPrice", {**USER_PRICE, "priceTextExtra": [{"language": "nl", "content": "x"}]}),
        ("SetUserPrice", {**USER_PRICE, "priceTextExtra": [{"format": "RTF", "content": "x"}]}),
        ("RunningCost", _without(RUNNING_COST, "cost")),
        ("RunningCost", _without(RUNNING_COST, "timestamp")),
        ("RunningCost", _without(RUNNING_COST, "meterValue")),
        ("RunningCost", _without(RUNNING_COST, "chargingPrice")),  # required while Charging
        ("RunningCost", {**RUNNING_COST, "cost": "1.345"}),  # a string, not a number
        ("RunningCost", {**RUNNING_COST, "cost": True}),
        ("RunningCost", {**RUNNING_COST, "transactionId": "100"}),
        ("RunningCost", {**RUNNING_COST, "meterValue": 12.5}),
        ("RunningCost", {**RUNNING_COST, "state": "Parking"}),
        ("RunningCost", {**RUNNING_COST, "timestamp": "yesterday"}),
        ("RunningCost", {**RUNNING_COST, "chargingPrice": {"kWhPrice": "0.12"}}),
        ("RunningCost", {**RUNNING_COST, "idlePrice": {"graceMinutes": -1}}),
        ("RunningCost", {**RUNNING_COST, "nextPeriod": {"atTime": "2021-03-19T19:00:00Z"}}),
        ("RunningCost", {**RUNNING_COST, "triggerMeterValue": {"atCPStatus": ["Faulted"]}}),
        ("RunningCost", {**RUNNING_COST, "transactionId": 999}),  # unknown transaction
        ("FinalCost", _without(FINAL_COST, "cost")),
        ("FinalCost", _without(FINAL_COST, "priceText")),
        ("FinalCost", {**FINAL_COST, "qrCodeText": 42}),
        ("FinalCost", {**FINAL_COST, "transactionId": 999}),  # unknown transaction
    ],
)
def test_malformed_cost_messages_are_rejected_and_not_shown(message_id: str, data: Any) -> None:
    ctx = pricing_station()
    payload = {"vendorId": VENDOR_ID, "messageId": message_id}
    if data is not None:
        payload["data"] = data if isinstance(data, str) else json.dumps(data)

    answer = transfer(ctx, payload)

    assert answer["status"] == "Rejected"
    assert answer["data"]  # the reason, for whoever reads the CSMS's logs
    assert ctx.display.lines == []


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"vendorId": VENDOR_ID, "messageId": "Teleport", "data": "{}"}, "UnknownMessageId"),
        ({"vendorId": VENDOR_ID, "data": "{}"}, "UnknownMessageId"),
        ({"vendorId": "com.example", "messageId": "RunningCost"}, "UnknownVendorId"),
        ({"vendorId": "SimVendor", "messageId": "Anything"}, "Accepted"),  # our own vendor
    ],
)
def test_other_messages_and_vendors(payload: dict[str, Any], status: str) -> None:
    assert transfer(pricing_station(), payload) == {"status": status}


def test_without_the_option_the_station_knows_nothing_of_it() -> None:
    ctx = FakeContext("1.6")
    routes = ctx.adapter.routes

    answer = transfer(ctx, cost_message("SetUserPrice", USER_PRICE))
    got = routes["GetConfiguration"](ctx, {"key": ["CustomDisplayCostAndPrice", "DefaultPrice"]})
    change = routes["ChangeConfiguration"](ctx, {"key": "DefaultPrice", "value": "{}"})

    assert answer == {"status": "UnknownVendorId"}
    assert got == {
        "configurationKey": [],
        "unknownKey": ["CustomDisplayCostAndPrice", "DefaultPrice"],
    }
    assert change == {"status": "NotSupported"}
    assert ctx.display.lines == []


def test_configuration_keys_are_reported() -> None:
    ctx = FakeContext("1.6", display_cost_and_price=True)

    got = ctx.adapter.routes["GetConfiguration"](ctx, {})

    keys = {k["key"]: (k["value"], k["readonly"]) for k in got["configurationKey"]}
    assert keys["CustomDisplayCostAndPrice"] == ("true", True)
    assert keys["CustomMultiLanguageMessages"] == ("true", True)
    assert keys["SupportedLanguages"] == ("en,de,nl", True)
    assert keys["NumberOfDecimalsForCostValues"] == ("3", True)
    assert keys["Language"] == ("en", False)
    assert keys["TimeOffset"] == ("+00:00", False)
    assert keys["CustomIdleFeeAfterStop"] == ("false", False)
    assert keys["DefaultPriceText,de"] == ("", False)
    assert json.loads(keys["DefaultPrice"][0])["priceText"]


DEFAULT_PRICE = {
    "priceText": "0.15 $/kWh, idle fee after charging: 1 $/hr",
    "priceTextOffline": "The station is offline. Charging is possible for 0.15 $/kWh.",
    "chargingPrice": {"kWhPrice": 0.15, "hourPrice": 0.00, "flatFee": 0.00},
}


@pytest.mark.parametrize(
    ("key", "value", "status"),
    [
        ("DefaultPrice", json.dumps(DEFAULT_PRICE), "Accepted"),
        ("DefaultPrice", json.dumps({"priceText": "free"}), "Accepted"),
        ("DefaultPrice", json.dumps({"priceTextOffline": "x"}), "Rejected"),
        ("DefaultPrice", "0.15 $/kWh", "Rejected"),
        ("DefaultPriceText,de", json.dumps({"priceText": "0,15 €/kWh"}), "Accepted"),
        ("DefaultPriceText,de", "", "Accepted"),
        ("DefaultPriceText,de", json.dumps({"text": "x"}), "Rejected"),
        ("DefaultPriceText,fr", json.dumps({"priceText": "0,15 €/kWh"}), "Rejected"),
        ("Language", "nl", "Accepted"),
        ("Language", "fr", "Rejected"),
        ("TimeOffset", "-05:00", "Accepted"),
        ("TimeOffset", "02:00", "Accepted"),  # libocpp's own example has no sign
        ("TimeOffset", "-5", "Rejected"),
        ("NextTimeOffsetTransitionDateTime", "2021-03-28T02:00:00+01:00", "Accepted"),
        ("NextTimeOffsetTransitionDateTime", "next spring", "Rejected"),
        ("TimeOffsetNextTransition", "-04:00", "Accepted"),
        ("CustomIdleFeeAfterStop", "true", "Accepted"),
        ("CustomIdleFeeAfterStop", "maybe", "Rejected"),
        ("CustomDisplayCostAndPrice", "false", "Rejected"),  # read-only
        ("SupportedLanguages", "en,fr", "Rejected"),  # read-only
    ],
)
def test_configuration_keys_round_trip(key: str, value: str, status: str) -> None:
    ctx = FakeContext("1.6", display_cost_and_price=True)
    routes = ctx.adapter.routes
    before = routes["GetConfiguration"](ctx, {"key": [key]})

    answer = routes["ChangeConfiguration"](ctx, {"key": key, "value": value})
    after = routes["GetConfiguration"](ctx, {"key": [key]})

    assert answer == {"status": status}
    expected = [{"key": key, "readonly": False, "value": value}] if status == "Accepted" else None
    assert after["configurationKey"] == (expected or before["configurationKey"])


def test_language_decides_the_language_of_price_text() -> None:
    ctx = FakeContext("1.6", display_cost_and_price=True)
    ctx.adapter.routes["ChangeConfiguration"](ctx, {"key": "Language", "value": "de"})

    transfer(ctx, cost_message("SetUserPrice", {"idToken": "T", "priceText": "0,30 €/kWh"}))

    assert ctx.display.price_texts[0].language == "de"


# -- over a socket, against the fake CSMS -------------------------------------------------------


@pytest.fixture
async def csms() -> AsyncIterator[FakeCsms]:
    async with FakeCsms("1.6") as server:
        yield server
    assert server.violations == []


def make_station(csms: FakeCsms, **overrides: Any) -> Station:
    settings: dict[str, Any] = {
        "url": csms.url,
        "charge_point_id": "CP-1",
        "meter_interval": TIMEOUT / 500,
        "call_timeout": TIMEOUT,
        "display_cost_and_price": True,
    }
    return Station(StationConfig(**(settings | overrides)))


async def data_transfer(csms: FakeCsms, message_id: str, data: dict[str, Any]) -> str:
    frame = await csms.call("DataTransfer", cost_message(message_id, data))
    assert frame[0] == 3, frame
    status: str = frame[2]["status"]
    return status


async def test_a_priced_session_over_the_wire(csms: FakeCsms) -> None:
    station = make_station(csms)
    await station.connect()
    await station.boot()

    await station.authorize("TAG-1")
    assert await data_transfer(csms, "SetUserPrice", USER_PRICE) == "Accepted"
    tx = await station.start_transaction(1, "TAG-1")
    assert await data_transfer(csms, "RunningCost", {**RUNNING_COST, "cost": 0}) == "Accepted"
    await station.send_meter_values(tx)
    assert await data_transfer(csms, "RunningCost", RUNNING_COST) == "Accepted"
    await station.stop_transaction(tx)
    assert await data_transfer(csms, "FinalCost", FINAL_COST) == "Accepted"
    assert await data_transfer(csms, "FinalCost", {**FINAL_COST, "cost": "3.31"}) == "Rejected"
    await station.disconnect()

    display, cost = station.display, station.display.cost(100)
    assert tx.transaction_id == 100
    assert display.price_text == USER_PRICE["priceText"]
    assert display.running_cost(100) == Decimal("1.345")
    assert display.final_cost(100) == Decimal("3.31")
    assert cost is not None and cost.updates == 2


async def test_data_must_be_a_string(csms: FakeCsms) -> None:
    """The 1.6 schema types data as string: an object is a CALLERROR, not a Rejected."""
    station = make_station(csms)
    await station.connect()

    frame = await csms.call(
        "DataTransfer", {"vendorId": VENDOR_ID, "messageId": "FinalCost", "data": FINAL_COST}
    )
    await station.disconnect()

    assert frame[:3] == [4, frame[1], "TypeConstraintViolation"]


async def test_session_scenario_waits_for_the_final_cost(csms: FakeCsms) -> None:
    station = make_station(csms)
    session = asyncio.create_task(run_session(station, "TAG-1", 1))

    await csms.wait_for_calls("StartTransaction")
    await csms.wait_for_calls("StatusNotification", 3)  # Available, Preparing, Charging
    assert await data_transfer(csms, "RunningCost", {**RUNNING_COST, "cost": 0}) == "Accepted"
    await csms.wait_for_calls("StopTransaction")
    await csms.wait_for_calls("StatusNotification", 4)  # ... and Available after the stop
    assert await data_transfer(csms, "FinalCost", FINAL_COST) == "Accepted"
    summary = await asyncio.wait_for(session, TIMEOUT)

    assert summary["display"] == {
        "price_text": None,
        "running_cost": "0",
        "final_cost": "3.31",
    }


async def test_session_scenario_does_not_wait_for_a_csms_that_prices_nothing(
    csms: FakeCsms,
) -> None:
    station = make_station(csms, call_timeout=TIMEOUT * 10)  # a wait would fail the test

    summary = await asyncio.wait_for(run_session(station, "TAG-1", 1), TIMEOUT)

    assert summary["display"] == {"price_text": None, "running_cost": None, "final_cost": None}
