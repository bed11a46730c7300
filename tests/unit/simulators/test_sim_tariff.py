"""OCPP 2.0.1 Tariff and Cost (functional block I) on the simulated station.

Handlers and device-model variables against a fake context, then sessions against the fake
CSMS over a socket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from sim_fake_context import FakeContext
from sim_fake_csms import TIMEOUT, FakeCsms

from simulators.station import Station, StationConfig

TARIFF = "TariffCostCtrlr"


def variable(name: str, instance: str | None = None) -> dict[str, Any]:
    var: dict[str, Any] = {"name": name}
    if instance:
        var["instance"] = instance
    return {"component": {"name": TARIFF}, "variable": var}


TARIFF_VARIABLES = [
    (variable("Available", "Tariff"), "true"),
    (variable("Available", "Cost"), "true"),
    (variable("Enabled", "Tariff"), "true"),
    (variable("Enabled", "Cost"), "true"),
    (variable("TariffFallbackMessage"), "Ask the operator for the price"),
    (variable("TotalCostFallbackMessage"), "The total cost will be on your invoice"),
    (variable("Currency"), "USD"),
]


def test_the_tariff_cost_variables_are_readable() -> None:
    ctx = FakeContext("2.0.1", display_cost_and_price=True, currency="USD")

    got = ctx.adapter.routes["GetVariables"](
        ctx, {"getVariableData": [v for v, _ in TARIFF_VARIABLES]}
    )

    results = got["getVariableResult"]
    assert [r["attributeStatus"] for r in results] == ["Accepted"] * len(TARIFF_VARIABLES)
    assert [r["attributeValue"] for r in results] == [value for _, value in TARIFF_VARIABLES]
    assert results[0]["variable"] == {"name": "Available", "instance": "Tariff"}


def test_enabled_needs_its_instance() -> None:
    ctx = FakeContext("2.0.1", display_cost_and_price=True)

    got = ctx.adapter.routes["GetVariables"](ctx, {"getVariableData": [variable("Enabled")]})

    assert got["getVariableResult"][0]["attributeStatus"] == "UnknownVariable"


@pytest.mark.parametrize(
    ("item", "value", "status"),
    [
        (variable("Enabled", "Tariff"), "false", "Accepted"),
        (variable("Enabled", "Cost"), "false", "Accepted"),
        (variable("Enabled", "Cost"), "yes", "Rejected"),
        (variable("TariffFallbackMessage"), "0.25 EUR/kWh, 0.05 EUR/min idle", "Accepted"),
        (variable("TariffFallbackMessage"), "x" * 256, "Rejected"),  # maxLimit 255
        (variable("TotalCostFallbackMessage"), "See your invoice", "Accepted"),
        (variable("Currency"), "CHF", "Accepted"),
        (variable("Currency"), "euro", "Rejected"),
        (variable("Available", "Tariff"), "false", "Rejected"),  # read-only
        (variable("Available", "Parking"), "true", "UnknownVariable"),
    ],
)
def test_the_tariff_cost_variables_round_trip(
    item: dict[str, Any], value: str, status: str
) -> None:
    ctx = FakeContext("2.0.1", display_cost_and_price=True)
    routes = ctx.adapter.routes
    before = routes["GetVariables"](ctx, {"getVariableData": [item]})["getVariableResult"][0]

    answer = routes["SetVariables"](ctx, {"setVariableData": [{**item, "attributeValue": value}]})
    after = routes["GetVariables"](ctx, {"getVariableData": [item]})["getVariableResult"][0]

    assert answer["setVariableResult"][0]["attributeStatus"] == status
    assert answer["setVariableResult"][0]["variable"] == item["variable"]
    assert after.get("attributeValue") == (
        value if status == "Accepted" else before.get("attributeValue")
    )


async def test_reports_carry_the_instances() -> None:
    ctx = FakeContext("2.0.1", display_cost_and_price=True)
    routes = ctx.adapter.routes

    full = routes["GetBaseReport"](ctx, {"requestId": 1, "reportBase": "FullInventory"})
    one = routes["GetReport"](
        ctx, {"requestId": 2, "componentVariable": [variable("Enabled", "Cost")]}
    )
    await ctx.run_after()  # NotifyReport: checked against the schema by the fake context

    assert (full, one) == ({"status": "Accepted"}, {"status": "Accepted"})
    first = [m for _, m in ctx.sent if m["requestId"] == 1]  # in parts (B07.FR.10)
    [second] = [m for _, m in ctx.sent if m["requestId"] == 2]
    full_report = [e for part in first for e in part.get("reportData", [])]
    tariff = [e for e in full_report if e["component"]["name"] == TARIFF]
    assert {(e["variable"]["name"], e["variable"].get("instance")) for e in tariff} == {
        ("Available", "Tariff"), ("Available", "Cost"), ("Enabled", "Tariff"),
        ("Enabled", "Cost"), ("TariffFallbackMessage", None),
        ("TotalCostFallbackMessage", None), ("Currency", None),
    }  # fmt: skip
    modes = {e["variable"]["name"]: e["variableAttribute"][0]["mutability"] for e in tariff}
    assert (modes["Available"], modes["Currency"]) == ("ReadOnly", "ReadWrite")
    types = {e["variable"]["name"]: e["variableCharacteristics"]["dataType"] for e in tariff}
    assert (types["Enabled"], types["TariffFallbackMessage"]) == ("boolean", "string")
    [entry] = second["reportData"]
    assert entry["variable"] == {"name": "Enabled", "instance": "Cost"}


def test_cost_updated_is_answered_and_recorded() -> None:
    ctx = FakeContext("2.0.1", display_cost_and_price=True)

    answer = ctx.adapter.routes["CostUpdated"](ctx, {"totalCost": 1.345, "transactionId": "tx-1"})

    assert answer == {}
    assert ctx.display.running_cost("tx-1") == Decimal("1.345")
    assert ctx.display.lines == ["transaction tx-1: 1.345 EUR so far"]


def test_cost_display_switched_off_by_the_csms_shows_nothing() -> None:
    ctx = FakeContext("2.0.1", display_cost_and_price=True)
    routes = ctx.adapter.routes
    routes["SetVariables"](
        ctx, {"setVariableData": [{**variable("Enabled", "Cost"), "attributeValue": "false"}]}
    )

    assert routes["CostUpdated"](ctx, {"totalCost": 2, "transactionId": "tx-1"}) == {}
    assert ctx.display.lines == []


def test_without_the_option_there_is_no_tariff_cost_controller() -> None:
    ctx = FakeContext("2.0.1")
    routes = ctx.adapter.routes

    got = routes["GetVariables"](ctx, {"getVariableData": [variable("Enabled", "Tariff")]})
    answer = routes["CostUpdated"](ctx, {"totalCost": 1.5, "transactionId": "tx-1"})

    assert got["getVariableResult"][0]["attributeStatus"] == "UnknownComponent"
    assert not any(name.startswith(TARIFF) for name in ctx.state.configuration)
    assert answer == {}
    assert ctx.display.lines == []


# -- over a socket, against the fake CSMS -------------------------------------------------------

PERSONAL = {"format": "UTF8", "language": "en", "content": "0.25 EUR/kWh, idle 0.05 EUR/min"}
UPDATED = {"format": "UTF8", "language": "en", "content": "now 0.30 EUR/kWh"}


@pytest.fixture
async def csms() -> AsyncIterator[FakeCsms]:
    async with FakeCsms("2.0.1") as server:
        yield server
    assert server.violations == []


def make_station(csms: FakeCsms, **overrides: Any) -> Station:
    settings: dict[str, Any] = {
        "url": csms.url,
        "charge_point_id": "CP-1",
        "version": "2.0.1",
        "meter_interval": TIMEOUT / 500,
        "call_timeout": TIMEOUT,
        "display_cost_and_price": True,
    }
    return Station(StationConfig(**(settings | overrides)))


def pricing_csms(csms: FakeCsms) -> None:
    """Answers with a tariff text and totalCost: 0.50 per event so far, 2.50 at the end."""
    costs = iter(["0.00", "0.50", "1.00", "1.50"])

    async def authorize(payload: dict[str, Any]) -> dict[str, Any]:
        return {"idTokenInfo": {"status": "Accepted", "personalMessage": PERSONAL}}

    async def transaction_event(payload: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = {}
        if "idToken" in payload:
            answer["idTokenInfo"] = {"status": "Accepted", "personalMessage": PERSONAL}
        if payload["eventType"] == "Ended":
            answer["totalCost"] = 2.5
        else:
            answer["totalCost"] = float(next(costs))
        if payload["eventType"] == "Updated":
            answer["updatedPersonalMessage"] = UPDATED
        return answer

    csms.answers["Authorize"] = authorize
    csms.answers["TransactionEvent"] = transaction_event


async def test_tariff_running_and_final_cost_from_the_answers(csms: FakeCsms) -> None:
    pricing_csms(csms)
    station = make_station(csms)
    await station.connect()
    await station.boot()

    await station.authorize("TAG-1")
    assert station.display.price_text == PERSONAL["content"]
    tx = await station.start_transaction(1, "TAG-1")
    await station.send_meter_values(tx)
    running = station.display.running_cost(tx.transaction_id or "")
    updated_tariff = station.display.price_text
    await csms.call("CostUpdated", {"totalCost": 0.75, "transactionId": tx.transaction_id})
    after_cost_updated = station.display.running_cost(tx.transaction_id or "")
    await station.stop_transaction(tx)
    await station.disconnect()

    assert running == Decimal("0.5")
    assert after_cost_updated == Decimal("0.75")
    assert station.display.final_cost(tx.transaction_id or "") == Decimal("2.5")
    assert updated_tariff == UPDATED["content"]  # I06
    assert f"transaction {tx.transaction_id}: total 2.5 EUR" in station.display.lines


async def test_fallback_messages(csms: FakeCsms) -> None:
    """I04: an accepted token without a tariff; I05: the Ended event could not be sent."""
    station = make_station(csms)
    await station.connect()
    await station.boot()

    await station.authorize("TAG-1")
    tx = await station.start_transaction(1, "TAG-1")
    await station.drop()
    assert await station.stop_transaction(tx) is None  # queued

    assert station.display.price_text == "Ask the operator for the price"
    assert station.display.lines[-1] == (
        f"transaction {tx.transaction_id}: The total cost will be on your invoice"
    )
    assert station.display.final_cost(tx.transaction_id or "") is None


async def test_without_the_option_nothing_is_shown(csms: FakeCsms) -> None:
    pricing_csms(csms)
    station = make_station(csms, display_cost_and_price=False)
    await station.connect()
    await station.boot()

    await station.authorize("TAG-1")
    tx = await station.start_transaction(1, "TAG-1")
    await station.send_meter_values(tx)
    answer = await csms.call("CostUpdated", {"totalCost": 1, "transactionId": "x"})
    await station.stop_transaction(tx)
    await station.disconnect()

    assert answer[2] == {}  # answered as always (I02.FR.02), shown nowhere
    assert station.display.lines == []
