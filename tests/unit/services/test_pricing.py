"""Pricing on the session hook points, through the version handlers, in memory.

Hand computations (tariff below, site time zone UTC): a session 10:00-11:00 that charges
5 kWh until 10:30 and is then idle (1.6 SuspendedEV / 2.0.1 chargingState SuspendedEV)
costs energy 5 x 0.20 = 1.00 + parking 0.5 h x 6.00 = 3.00 = 4.00 EUR excl. VAT; with 10 %
VAT on both, 0.40 VAT and 4.40 incl. VAT.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from csms.domain.id_tokens import IdToken
from csms.domain.price_display import DisplayCapability
from csms.domain.sites import Scope, Site
from csms.logs import ChargerLog
from csms.node import v16, v201
from csms.node.context import Context
from csms.services import PricingOptions, Services
from csms.services.hooks import Hooks, SessionCostComputed
from csms.services.link import ChargerLink
from csms.services.pricing import LATE_EVENT, PRICING_EVENT
from csms.store.memory import MemoryStores

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
CP = "CP-P"
TARIFF: dict[str, Any] = {
    "currency": "EUR",
    "elements": [
        {
            "price_components": [
                {"type": "ENERGY", "price": "0.20", "vat": "10", "step_size": 1},
                {"type": "PARKING_TIME", "price": "6.00", "vat": "10", "step_size": 1},
            ]
        }
    ],
}
GROUP_TARIFF: dict[str, Any] = {
    "currency": "EUR",
    "elements": [{"price_components": [{"type": "ENERGY", "price": "0.10", "step_size": 1}]}],
}
SHOWS_ALL = DisplayCapability(known=True, tariff=True, cost=True)


class Node:
    """One node's services over shared stores (two Nodes: a failover)."""

    def __init__(self, stores: MemoryStores, protocol: str) -> None:
        self.hooks = Hooks()
        self.costs: list[SessionCostComputed] = []
        self.hooks.subscribe(SessionCostComputed, self.costs.append)
        self.services = Services(
            stores,
            clock=lambda: NOW,
            hooks=self.hooks,
            pricing=PricingOptions(update_interval=0),
        )
        self.version = v16.VERSION if protocol == "ocpp1.6" else v201.VERSION
        link = ChargerLink(CP, protocol, ChargerLog(logging.getLogger("t"), CP), "Accepted")
        link.display = SHOWS_ALL
        self.ctx = Context(link, self.services)

    async def send(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.version.schemas.validate(action, payload)
        answer = await self.version.routes[action](self.ctx, payload)
        self.version.schemas.validate(action, answer, response=True)
        return answer


async def world(protocol: str) -> tuple[MemoryStores, Node]:
    stores = MemoryStores(clock=lambda: NOW)
    await stores.chargers.add(CP, password_hash=None)
    stores.tokens.add(IdToken("TAG", "ISO14443", "Accepted", None, "FLEET", False))
    node = Node(stores, protocol)
    tariffs = node.services.tariffs
    await tariffs.add_site(Site("S1", "Site one", "UTC"))
    await tariffs.assign_site(CP, "S1")
    await tariffs.add("T1", TARIFF, created_by="test")
    await tariffs.publish("T1", published_by="test")
    await tariffs.assign(Scope.SITE, "S1", "T1", created_by="test")
    return stores, node


def wh_16(wh: int, at: str) -> list[dict[str, Any]]:
    return [{"timestamp": at, "sampledValue": [{"value": str(wh), "unit": "Wh"}]}]


def event_201(
    kind: str, seq: int, at: str, *, wh: int | None = None, state: str | None = None
) -> dict[str, Any]:
    info: dict[str, Any] = {"transactionId": "TX-1"}
    if state is not None:
        info["chargingState"] = state
    payload: dict[str, Any] = {
        "eventType": kind,
        "timestamp": at,
        "triggerReason": {"Started": "Authorized", "Ended": "EVDeparted"}.get(
            kind, "ChargingStateChanged"
        ),
        "seqNo": seq,
        "transactionInfo": info,
        "evse": {"id": 1, "connectorId": 1},
    }
    if kind == "Started":
        payload["idToken"] = {"idToken": "TAG", "type": "ISO14443"}
    if wh is not None:
        context = {"Started": "Transaction.Begin", "Ended": "Transaction.End"}.get(
            kind, "Sample.Periodic"
        )
        payload["meterValue"] = [
            {
                "timestamp": at,
                "sampledValue": [
                    {"value": wh, "context": context, "unitOfMeasure": {"unit": "Wh"}}
                ],
            }
        ]
    return payload


async def stored(stores: MemoryStores) -> Any:
    (session,) = await stores.sessions.open_sessions(CP) or [None]
    return session


async def session_cost(stores: MemoryStores, pk: int) -> Any:
    return await stores.pricing.session_cost(pk)


async def test_1_6_idle_after_suspended_ev_is_billed_as_parking() -> None:
    stores, node = await world("ocpp1.6")
    start = {
        "connectorId": 1,
        "idTag": "TAG",
        "meterStart": 1000,
        "timestamp": "2026-01-01T10:00:00Z",
    }
    tx = (await node.send("StartTransaction", start))["transactionId"]
    status = {
        "connectorId": 1,
        "errorCode": "NoError",
        "status": "Charging",
        "timestamp": "2026-01-01T10:00:00Z",
    }
    await node.send("StatusNotification", status)
    await node.send(
        "MeterValues",
        {"connectorId": 1, "transactionId": tx, "meterValue": wh_16(6000, "2026-01-01T10:30:00Z")},
    )
    idle = {**status, "status": "SuspendedEV", "timestamp": "2026-01-01T10:30:00Z"}
    await node.send("StatusNotification", idle)
    (session,) = await stores.sessions.open_sessions(CP)
    running = await session_cost(stores, session.id)
    assert running.final is False and running.tariff_id == "T1"
    stop = {"transactionId": tx, "meterStop": 6000, "timestamp": "2026-01-01T11:00:00Z"}
    await node.send("StopTransaction", stop)

    cost = await session_cost(stores, session.id)
    assert cost.final is True
    assert (cost.excl_vat, cost.vat, cost.incl_vat) == (
        Decimal("4.00"),
        Decimal("0.40"),
        Decimal("4.40"),
    )
    lines = {line["dimension"]: line for line in cost.breakdown["lines"]}
    assert Decimal(lines["ENERGY"]["volume"]) == Decimal("5")
    assert Decimal(lines["PARKING_TIME"]["volume"]) == Decimal("0.5")
    assert [c.cost.final for c in node.costs][-1] is True

    # a replayed StopTransaction ends nothing; a late meter value changes nothing, noted
    await node.send("StopTransaction", stop)
    await node.send(
        "MeterValues",
        {"connectorId": 1, "transactionId": tx, "meterValue": wh_16(9000, "2026-01-01T11:05:00Z")},
    )
    assert await session_cost(stores, session.id) == cost
    notes = await stores.reports.list_notifications(CP, actions=[PRICING_EVENT])
    assert [n.kind for n in notes] == [LATE_EVENT]


async def test_2_0_1_shows_running_and_final_cost_and_a_replayed_end_changes_nothing() -> None:
    stores, node = await world("ocpp2.0.1")
    started = await node.send(
        "TransactionEvent",
        event_201("Started", 0, "2026-01-01T10:00:00Z", wh=1000, state="Charging"),
    )
    # I01: the tariff text in idTokenInfo.personalMessage
    assert started["idTokenInfo"]["personalMessage"]["content"] == "0.22 EUR/kWh + 6.60 EUR/h idle"
    updated = await node.send(
        "TransactionEvent",
        event_201("Updated", 1, "2026-01-01T10:30:00Z", wh=6000, state="SuspendedEV"),
    )
    assert updated["totalCost"] == pytest.approx(1.10)  # I02: 5 kWh so far, no idle yet
    ended = event_201("Ended", 2, "2026-01-01T11:00:00Z", wh=6000, state="SuspendedEV")
    answer = await node.send("TransactionEvent", ended)
    assert answer["totalCost"] == pytest.approx(4.40)  # I03
    again = await node.send("TransactionEvent", ended)  # the charger did not get the answer
    assert again["totalCost"] == pytest.approx(4.40)
    session = await stores.sessions.get(CP, "TX-1")
    assert session is not None
    cost = await session_cost(stores, session.id)
    assert (cost.incl_vat, cost.final) == (Decimal("4.40"), True)


async def test_a_charger_that_does_not_show_costs_gets_no_total_cost() -> None:
    stores, node = await world("ocpp2.0.1")
    node.ctx.link.display = DisplayCapability(known=True, tariff=False, cost=False)
    started = await node.send(
        "TransactionEvent", event_201("Started", 0, "2026-01-01T10:00:00Z", wh=1000)
    )
    assert "personalMessage" not in started["idTokenInfo"]  # I01.FR.02
    answer = await node.send(
        "TransactionEvent", event_201("Ended", 1, "2026-01-01T11:00:00Z", wh=6000)
    )
    assert "totalCost" not in answer
    session = await stores.sessions.get(CP, "TX-1")
    assert session is not None
    assert (await session_cost(stores, session.id)).incl_vat == Decimal("1.10")


async def test_a_failover_mid_session_keeps_the_total() -> None:
    stores, first = await world("ocpp2.0.1")
    await first.send(
        "TransactionEvent",
        event_201("Started", 0, "2026-01-01T10:00:00Z", wh=1000, state="Charging"),
    )
    await first.send("TransactionEvent", event_201("Updated", 1, "2026-01-01T10:15:00Z", wh=3500))
    second = Node(stores, "ocpp2.0.1")  # the charger reconnects to another node
    await second.send(
        "TransactionEvent",
        event_201("Updated", 2, "2026-01-01T10:30:00Z", wh=6000, state="SuspendedEV"),
    )
    answer = await second.send(
        "TransactionEvent", event_201("Ended", 3, "2026-01-01T11:00:00Z", wh=6000)
    )
    assert answer["totalCost"] == pytest.approx(4.40)


async def test_the_charger_s_own_stop_replaces_a_close_by_the_csms_once() -> None:
    stores, node = await world("ocpp2.0.1")
    await node.send(
        "TransactionEvent",
        event_201("Started", 0, "2026-01-01T10:00:00Z", wh=1000, state="Charging"),
    )
    await node.send(
        "TransactionEvent",
        event_201("Updated", 1, "2026-01-01T10:30:00Z", wh=6000, state="SuspendedEV"),
    )
    # closed at its last activity (10:30): the idle half hour after it is not known yet
    assert await node.services.sessions.not_ongoing(CP, "TX-1") == 1
    session = await stores.sessions.get(CP, "TX-1")
    assert session is not None
    closed = await session_cost(stores, session.id)
    assert (closed.final, closed.incl_vat) == (True, Decimal("1.10"))
    answer = await node.send(
        "TransactionEvent",
        event_201("Ended", 2, "2026-01-01T11:00:00Z", wh=6000, state="SuspendedEV"),
    )
    assert answer["totalCost"] == pytest.approx(4.40)  # the true end, with its idle half hour
    replaced = await session_cost(stores, session.id)
    assert (replaced.final, replaced.incl_vat) == (True, Decimal("4.40"))


async def test_a_driver_group_tariff_wins_over_the_site_s() -> None:
    stores, node = await world("ocpp2.0.1")
    tariffs = node.services.tariffs
    await tariffs.add("FLEET-T", GROUP_TARIFF, created_by="test")
    await tariffs.publish("FLEET-T", published_by="test")
    await tariffs.assign(Scope.GROUP, "fleet", "FLEET-T", created_by="test")
    answer = await tariffs.applicable(CP, id_token="TAG", parent_id_token="FLEET")
    assert answer.applicable is not None and answer.applicable.tariff_id == "FLEET-T"
    assert answer.applicable.reason == "assigned to group fleet"
    await node.send("TransactionEvent", event_201("Started", 0, "2026-01-01T10:00:00Z", wh=1000))
    answer_end = await node.send(
        "TransactionEvent", event_201("Ended", 1, "2026-01-01T11:00:00Z", wh=6000)
    )
    assert answer_end["totalCost"] == pytest.approx(0.50)  # 5 kWh x 0.10, no VAT
    session = await stores.sessions.get(CP, "TX-1")
    assert session is not None
    assert (await session_cost(stores, session.id)).tariff_id == "FLEET-T"


async def test_a_published_version_prices_the_sessions_that_started_under_it() -> None:
    stores, node = await world("ocpp2.0.1")
    await node.send("TransactionEvent", event_201("Started", 0, "2026-01-01T10:00:00Z", wh=1000))
    cheaper = {
        **TARIFF,
        "elements": [{"price_components": [{"type": "ENERGY", "price": "0.01", "step_size": 1}]}],
    }
    await node.services.tariffs.edit("T1", cheaper, created_by="test")
    await node.services.tariffs.publish("T1", published_by="test")  # version 2
    answer = await node.send(
        "TransactionEvent", event_201("Ended", 1, "2026-01-01T11:00:00Z", wh=6000)
    )
    assert answer["totalCost"] == pytest.approx(1.10)  # version 1: 5 kWh x 0.22
    session = await stores.sessions.get(CP, "TX-1")
    assert session is not None
    assert (await session_cost(stores, session.id)).tariff_version == 1
