"""One fleet charger against the fake CSMS (a real `websockets` server on port 0), which
checks every frame against the ocpp package's schemas."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sim_fake_csms import DROP, SILENT, TIMEOUT, FakeCsms

from simulators.fleet.charger import CALL_TIMEOUT, Charger, Shared
from simulators.fleet.connection import Endpoint
from simulators.fleet.profile import FleetProfile
from simulators.fleet.stats import Stats

STOP = {"1.6": "StopTransaction", "2.0.1": "TransactionEvent"}


@pytest.fixture(params=["1.6", "2.0.1"])
async def csms(request: pytest.FixtureRequest) -> AsyncIterator[FakeCsms]:
    async with FakeCsms(request.param, password="fleet-secret") as server:
        yield server
    assert server.violations == []


def make_shared(csms: FakeCsms, **overrides: Any) -> Shared:
    settings: dict[str, Any] = {
        "url": csms.url,
        "chargers": 1,
        "id_prefix": "CP-",
        "password": "fleet-secret",
        "heartbeat": TIMEOUT,
        "meter_interval": TIMEOUT / 500,
        "session_share": 0.0,
        "session_meter_values": 2,
        "v201_share": 1.0 if csms.version == "2.0.1" else 0.0,
        "spread_addresses": False,
    }
    profile = FleetProfile(**(settings | overrides))
    far = time.monotonic() + 100 * TIMEOUT
    return Shared(profile, Endpoint.parse(profile.url), Stats(), stop_at=far, measure_from=0.0)


def start(shared: Shared) -> tuple[Charger, asyncio.Task[None]]:
    charger = Charger(shared, 0)
    shared.chargers.append(charger)
    return charger, asyncio.create_task(charger.run())


async def stop(charger: Charger, task: asyncio.Task[None]) -> None:
    """End the charger's life and wait for its socket to close."""
    charger.stop()
    await asyncio.wait_for(task, TIMEOUT)
    assert charger.stats.connected == 0


def counters(stats: Stats) -> dict[str, int]:
    names = ("boots", "sent", "answered", "call_errors", "timeouts", "disconnects")
    return {name: getattr(stats, name) for name in names}


async def test_a_charging_life_speaks_valid_ocpp(csms: FakeCsms) -> None:
    shared = make_shared(csms, session_share=1.0, session_meter_values=3)
    charger, task = start(shared)
    assert charger.version == csms.version
    await csms.wait_for(
        lambda: any(p.get("eventType") in (None, "Ended") for p in csms.calls(STOP[csms.version]))
    )
    await stop(charger, task)

    actions = csms.actions()
    assert actions[:2] == ["BootNotification", "StatusNotification"]
    assert csms.paths == ["/ocpp/CP-0"]
    if csms.version == "1.6":
        # session_meter_values 3: in_session counts the start too (as the fleet always did)
        assert actions[2:6] == ["StartTransaction", "MeterValues", "MeterValues", STOP["1.6"]]
        assert csms.calls("MeterValues")[0]["transactionId"] == 100  # from the answer
    else:
        events = [p["eventType"] for p in csms.calls("TransactionEvent")][:4]
        assert events == ["Started", "Updated", "Updated", "Ended"]
    stats = shared.stats
    assert stats.sent == stats.answered == len(actions)
    assert counters(stats) | {"sent": 0, "answered": 0} == {
        "boots": 1, "sent": 0, "answered": 0, "call_errors": 0, "timeouts": 0, "disconnects": 0,
    }  # fmt: skip
    assert sum(stats.boot_histogram.values()) == 1
    assert sum(stats.histogram.values()) == stats.answered - 1


async def test_heartbeats_come_at_the_interval(csms: FakeCsms) -> None:
    shared = make_shared(csms, heartbeat=TIMEOUT / 100)
    charger, task = start(shared)
    await csms.wait_for_calls("Heartbeat", 3)
    await stop(charger, task)
    assert set(csms.actions()[2:]) == {"Heartbeat"}


async def test_a_csms_call_is_answered_while_the_charger_awaits_its_own(csms: FakeCsms) -> None:
    answers: list[list[Any]] = []

    async def boot(payload: dict[str, Any]) -> dict[str, Any]:
        # the charger's BootNotification is outstanding while the CSMS calls it twice
        answers.append(await csms.call("TriggerMessage", {"requestedMessage": "Heartbeat"}))
        answers.append(await csms.call("UnlockConnector", {"connectorId": 1, "evseId": 1}))
        return {"status": "Accepted", "currentTime": "2024-01-01T00:00:00Z", "interval": 60}

    csms.answers["BootNotification"] = boot
    shared = make_shared(csms)
    charger, task = start(shared)
    await csms.wait_for_calls("StatusNotification")
    await stop(charger, task)

    assert answers[0][0] == 3 and answers[0][2] == {"status": "Accepted"}
    assert answers[1][0] == 4 and answers[1][2] == "NotImplemented"
    assert shared.stats.commands_answered == 2
    assert (shared.stats.boots, shared.stats.answered) == (1, 2)


async def test_an_unanswered_call_times_out_and_life_goes_on(csms: FakeCsms) -> None:
    async def silent(payload: dict[str, Any]) -> object:
        return SILENT

    csms.answers["StatusNotification"] = silent
    shared = make_shared(csms, heartbeat=TIMEOUT / 100)
    charger, task = start(shared)
    await csms.wait_for_calls("StatusNotification")
    shared.expire(time.monotonic() + CALL_TIMEOUT / 2)
    assert shared.stats.timeouts == 0
    shared.expire(time.monotonic() + CALL_TIMEOUT)
    assert shared.stats.timeouts == 1 and charger.pending_id is None
    await csms.wait_for_calls("Heartbeat")  # the life went on
    await stop(charger, task)
    assert shared.stats.answered == shared.stats.sent - 1


async def test_a_callerror_is_counted(csms: FakeCsms) -> None:
    async def refuse(payload: dict[str, Any]) -> object:
        return ("InternalError", "no")

    csms.answers["StatusNotification"] = refuse
    shared = make_shared(csms)
    charger, task = start(shared)
    await stop(charger, task)
    assert counters(shared.stats) == {
        "boots": 1, "sent": 2, "answered": 1, "call_errors": 1, "timeouts": 0, "disconnects": 0,
    }  # fmt: skip


async def test_a_rejected_boot_ends_the_life(csms: FakeCsms) -> None:
    async def reject(payload: dict[str, Any]) -> dict[str, Any]:
        return {"status": "Rejected", "currentTime": "2024-01-01T00:00:00Z", "interval": 60}

    csms.answers["BootNotification"] = reject
    shared = make_shared(csms)
    charger, task = start(shared)
    await asyncio.wait_for(task, TIMEOUT)  # without being told to stop
    assert csms.actions() == ["BootNotification"]
    assert (shared.stats.boots, shared.stats.connected) == (1, 0)


async def test_a_dropped_connection_is_a_disconnect(csms: FakeCsms) -> None:
    async def drop(payload: dict[str, Any]) -> object:
        return DROP

    csms.answers["StatusNotification"] = drop
    shared = make_shared(csms)
    charger, task = start(shared)
    await asyncio.wait_for(task, TIMEOUT)
    assert counters(shared.stats) == {
        "boots": 1, "sent": 2, "answered": 1, "call_errors": 0, "timeouts": 0, "disconnects": 1,
    }  # fmt: skip


async def test_a_wrong_password_is_a_connect_failure(csms: FakeCsms) -> None:
    shared = make_shared(csms, password="wrong")
    charger, task = start(shared)
    await asyncio.wait_for(task, TIMEOUT)
    assert (shared.stats.connect_failures, shared.stats.connected, shared.stats.sent) == (1, 0, 0)
    assert csms.connections == []
