"""BootNotification and the registration status, both versions, over real WebSockets.

2.0.1: B01.FR.10 / B02.FR.09 / B03.FR.07 (SecurityError while not Accepted), B02.FR.06 (the
channel stays open when Pending). 1.6: section 4.2 (Pending / Rejected, then only
BootNotification).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from ocpp_client import (
    CALL,
    CALLERROR,
    CALLRESULT,
    OCPP16,
    OCPP201,
    OcppClient,
    RegisterCharger,
    boot_16,
    boot_201,
    boot_payload,
    eventually,
    ocpp_connect,
)
from timeouts import TIMEOUT

from csms.node.server import Node
from csms.store import chargers

pytestmark = pytest.mark.integration

BOTH = pytest.mark.parametrize("subprotocol", [OCPP16, OCPP201])


def assert_security_error(reply: list[object]) -> None:
    assert reply[0] == CALLERROR, reply
    assert reply[2] == "SecurityError", reply
    assert isinstance(reply[3], str) and isinstance(reply[4], dict)


async def assert_not_accepted_calls_refused(client: OcppClient) -> None:
    assert_security_error(await client.call("Heartbeat", {}))
    if client.subprotocol == OCPP16:
        status = {"connectorId": 0, "errorCode": "NoError", "status": "Available"}
    else:
        status = {
            "timestamp": "2025-01-01T00:00:00Z",
            "connectorStatus": "Available",
            "evseId": 1,
            "connectorId": 1,
        }
    assert_security_error(await client.call("StatusNotification", status))


@BOTH
async def test_calls_before_any_boot_get_security_error(
    url: str, register_charger: RegisterCharger, subprotocol: str
) -> None:
    """B01.FR.08 / 1.6 4.2: nothing but BootNotification before the charger is accepted."""
    charger = await register_charger()
    async with ocpp_connect(
        url, charger.charge_point_id, password=charger.password, subprotocols=[subprotocol]
    ) as client:
        await assert_not_accepted_calls_refused(client)
        result = await client.result("BootNotification", boot_payload(subprotocol))
        assert result["status"] == "Accepted"
        assert "currentTime" in await client.result("Heartbeat", {})


@BOTH
async def test_security_error_still_checks_action_first(
    url: str, register_charger: RegisterCharger, subprotocol: str
) -> None:
    """An unknown action is NotImplemented whatever the registration status."""
    charger = await register_charger()
    async with ocpp_connect(
        url, charger.charge_point_id, password=charger.password, subprotocols=[subprotocol]
    ) as client:
        reply = await client.call("NoSuchAction", {})
        assert reply[0] == CALLERROR and reply[2] == "NotImplemented", reply


@BOTH
async def test_accepted_boot_answers_interval_and_time(
    url: str, node: Node, register_charger: RegisterCharger, subprotocol: str
) -> None:
    """B01.FR.02 / B01.FR.04: Accepted with the heartbeat interval and the current time."""
    charger = await register_charger()
    async with ocpp_connect(
        url, charger.charge_point_id, password=charger.password, subprotocols=[subprotocol]
    ) as client:
        before = datetime.now(UTC)
        result = await client.result("BootNotification", boot_payload(subprotocol))
        assert result["status"] == "Accepted"
        assert result["interval"] == node.settings.heartbeat_interval
        now = datetime.fromisoformat(result["currentTime"])
        assert before - timedelta(seconds=1) <= now <= datetime.now(UTC) + timedelta(seconds=1)


@BOTH
async def test_pending_boot_answers_retry_interval_and_keeps_refusing(
    url: str, node: Node, pool: asyncpg.Pool, register_charger: RegisterCharger, subprotocol: str
) -> None:
    """B02.FR.09: Pending, then SecurityError to other CALLs; B02.FR.06: the socket stays open
    and a later boot is Accepted once the operator accepts the charger."""
    charger = await register_charger(boot_policy="pending")
    async with ocpp_connect(
        url, charger.charge_point_id, password=charger.password, subprotocols=[subprotocol]
    ) as client:
        result = await client.result("BootNotification", boot_payload(subprotocol))
        assert result["status"] == "Pending"
        assert result["interval"] == node.settings.boot_retry_interval
        assert "currentTime" in result
        await assert_not_accepted_calls_refused(client)
        row = await chargers.get_charger(pool, charger.charge_point_id)
        assert row is not None and row.registration_status == "Pending"

        await chargers.update_charger(pool, charger.charge_point_id, boot_policy="accept")
        result = await client.result("BootNotification", boot_payload(subprotocol))
        assert result["status"] == "Accepted"
        assert "currentTime" in await client.result("Heartbeat", {})


@BOTH
async def test_rejected_boot_then_security_error(
    url: str, pool: asyncpg.Pool, register_charger: RegisterCharger, subprotocol: str
) -> None:
    """B03.FR.07: after Rejected, anything but BootNotification gets SecurityError."""
    charger = await register_charger(boot_policy="reject")
    async with ocpp_connect(
        url, charger.charge_point_id, password=charger.password, subprotocols=[subprotocol]
    ) as client:
        result = await client.result("BootNotification", boot_payload(subprotocol))
        assert result["status"] == "Rejected"
        assert result["interval"] > 0
        await assert_not_accepted_calls_refused(client)
        row = await chargers.get_charger(pool, charger.charge_point_id)
        assert row is not None and row.registration_status == "Rejected"


@BOTH
async def test_not_accepted_status_survives_a_reconnect(
    url: str, register_charger: RegisterCharger, subprotocol: str
) -> None:
    """A Pending charger that reconnects is still not accepted until it boots again."""
    charger = await register_charger(boot_policy="pending")
    cid, password = charger.charge_point_id, charger.password
    async with ocpp_connect(url, cid, password=password, subprotocols=[subprotocol]) as client:
        result = await client.result("BootNotification", boot_payload(subprotocol))
        assert result["status"] == "Pending"
    async with ocpp_connect(url, cid, password=password, subprotocols=[subprotocol]) as client:
        assert_security_error(await client.call("Heartbeat", {}))


async def test_registration_is_persisted_16(
    url: str, pool: asyncpg.Pool, register_charger: RegisterCharger
) -> None:
    charger = await register_charger()
    payload = boot_16(
        vendor="VendorX",
        model="ModelY",
        chargePointSerialNumber="SN-16-1",
        firmwareVersion="1.2.3",
        iccid="8931000000000000001",
        imsi="262010000000001",
        meterType="MT-1",
        meterSerialNumber="MSN-1",
    )
    async with ocpp_connect(url, charger.charge_point_id, password=charger.password) as client:
        reply = await client.call("BootNotification", payload)
        assert reply[0] == CALLRESULT
    row = await chargers.get_charger(pool, charger.charge_point_id)
    assert row is not None
    assert row.registration_status == "Accepted"
    assert (row.vendor, row.model, row.serial_number, row.firmware_version) == (
        "VendorX",
        "ModelY",
        "SN-16-1",
        "1.2.3",
    )
    assert (row.iccid, row.imsi, row.meter_type, row.meter_serial_number) == (
        "8931000000000000001",
        "262010000000001",
        "MT-1",
        "MSN-1",
    )
    assert row.last_boot_at is not None


async def test_charge_box_serial_number_is_the_fallback_serial_16(
    url: str, pool: asyncpg.Pool, register_charger: RegisterCharger
) -> None:
    charger = await register_charger()
    async with ocpp_connect(url, charger.charge_point_id, password=charger.password) as client:
        await client.result("BootNotification", boot_16(chargeBoxSerialNumber="BOX-1"))
    row = await chargers.get_charger(pool, charger.charge_point_id)
    assert row is not None and row.serial_number == "BOX-1"


async def test_registration_is_persisted_201(
    url: str, pool: asyncpg.Pool, register_charger: RegisterCharger
) -> None:
    charger = await register_charger()
    payload = boot_201(vendor="VendorZ", model="ModelW", serialNumber="SN-2", firmwareVersion="9")
    payload["chargingStation"]["modem"] = {"iccid": "8931000000000000002", "imsi": "26201002"}
    async with ocpp_connect(
        url, charger.charge_point_id, password=charger.password, subprotocols=[OCPP201]
    ) as client:
        result = await client.result("BootNotification", payload)
        assert result["status"] == "Accepted"
    row = await chargers.get_charger(pool, charger.charge_point_id)
    assert row is not None
    assert (row.vendor, row.model, row.serial_number, row.firmware_version) == (
        "VendorZ",
        "ModelW",
        "SN-2",
        "9",
    )
    assert (row.iccid, row.imsi) == ("8931000000000000002", "26201002")
    assert row.registration_status == "Accepted"


@BOTH
async def test_heartbeat_is_recorded(
    url: str, pool: asyncpg.Pool, register_charger: RegisterCharger, subprotocol: str
) -> None:
    charger = await register_charger()
    async with ocpp_connect(
        url, charger.charge_point_id, password=charger.password, subprotocols=[subprotocol]
    ) as client:
        await client.result("BootNotification", boot_payload(subprotocol))
        result = await client.result("Heartbeat", {})

    async def heartbeat_stored() -> chargers.Charger | None:
        # heartbeats are written in batches, fire-and-forget
        found = await chargers.get_charger(pool, charger.charge_point_id)
        return found if found is not None and found.last_heartbeat_at is not None else None

    row = await eventually(heartbeat_stored)
    answered = datetime.fromisoformat(result["currentTime"])
    assert abs(row.last_heartbeat_at - answered) < timedelta(milliseconds=1)


@BOTH
async def test_message_triggered_while_pending_is_answered(
    url: str, node: Node, register_charger: RegisterCharger, subprotocol: str
) -> None:
    """B02.FR.09 (2.0.1) and 1.6 section 4.2: while Pending, the charger may send what the
    CSMS asked for with TriggerMessage; only other CALLs get SecurityError."""
    charger = await register_charger(boot_policy="pending")
    cid = charger.charge_point_id
    async with ocpp_connect(
        url, cid, password=charger.password, subprotocols=[subprotocol]
    ) as client:
        result = await client.result("BootNotification", boot_payload(subprotocol))
        assert result["status"] == "Pending"
        trigger = node.connections[cid].call(
            "TriggerMessage", {"requestedMessage": "Heartbeat"}, TIMEOUT
        )
        triggering = asyncio.ensure_future(trigger)
        frame = await client.recv()
        assert frame[0] == CALL and frame[2] == "TriggerMessage", frame
        await client.send_only(json.dumps([CALLRESULT, frame[1], {"status": "Accepted"}]))
        assert await asyncio.wait_for(triggering, TIMEOUT) == {"status": "Accepted"}
        reply = await client.call("Heartbeat", {})
        assert reply[0] == CALLRESULT, reply
