"""OCPP 1.6 StatusNotification, Authorize, DataTransfer and the status notifications of the
core and security-extension profiles, persisted (1.6 sections 4.1, 4.3, 4.4, 4.5, 4.9; security
whitepaper: SecurityEventNotification, LogStatusNotification, SignedFirmwareStatusNotification).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from ocpp_client import Connected, Fleet, RegisterCharger, RegisterToken

from csms.domain.clock import format_timestamp
from csms.store import charger_events, chargers

pytestmark = pytest.mark.integration

T0 = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
async def fleet(url: str, register_charger: RegisterCharger) -> AsyncIterator[Fleet]:
    async with contextlib.AsyncExitStack() as stack:
        yield Fleet(url, register_charger, stack)


@pytest.fixture
async def cp(fleet: Fleet) -> Connected:
    return await fleet.open()


async def events(pool: asyncpg.Pool, cp: Connected, action: str) -> list[dict[str, Any]]:
    found = await charger_events.list_events(pool, cp.charge_point_id, actions=[action])
    return [dataclasses.asdict(n) for n in found]


async def test_status_notification_is_persisted(pool: asyncpg.Pool, cp: Connected) -> None:
    payload = {
        "connectorId": 2,
        "errorCode": "GroundFailure",
        "status": "Faulted",
        "info": "RCD tripped",
        "vendorId": "acme",
        "vendorErrorCode": "E42",
        "timestamp": format_timestamp(T0),
    }
    assert await cp.client.result("StatusNotification", payload) == {}
    [status] = await chargers.list_connectors(pool, cp.charge_point_id)
    assert (status.evse_id, status.connector_id, status.status, status.error_code) == (
        0,
        2,
        "Faulted",
        "GroundFailure",
    )
    assert (status.info, status.vendor_id, status.vendor_error_code) == (
        "RCD tripped",
        "acme",
        "E42",
    )
    assert status.status_at == T0


async def test_older_status_does_not_override_a_newer_one(
    pool: asyncpg.Pool, cp: Connected
) -> None:
    """A status replayed after a newer one (queued offline) must not win."""
    newer = {"connectorId": 1, "errorCode": "NoError", "status": "Charging"}
    older = {**newer, "status": "Available", "timestamp": format_timestamp(T0)}
    newer["timestamp"] = format_timestamp(T0 + timedelta(minutes=5))
    await cp.client.result("StatusNotification", newer)
    await cp.client.result("StatusNotification", older)
    [status] = await chargers.list_connectors(pool, cp.charge_point_id)
    assert status.status == "Charging"


async def test_status_without_timestamp_uses_the_time_received(
    pool: asyncpg.Pool, cp: Connected
) -> None:
    before = datetime.now(UTC)
    payload = {"connectorId": 0, "errorCode": "NoError", "status": "Available"}
    await cp.client.result("StatusNotification", payload)
    [status] = await chargers.list_connectors(pool, cp.charge_point_id)
    assert before - timedelta(seconds=1) <= status.status_at <= datetime.now(UTC)


async def test_authorize_accepted_reports_expiry_and_parent(
    cp: Connected, register_token: RegisterToken
) -> None:
    expiry = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    tag = await register_token(expiry_date=expiry, parent_id_token="GROUP-7")
    result = await cp.client.result("Authorize", {"idTag": tag})
    info = result["idTagInfo"]
    assert info["status"] == "Accepted"
    assert info["parentIdTag"] == "GROUP-7"
    assert datetime.fromisoformat(info["expiryDate"]) == expiry


@pytest.mark.parametrize(
    ("registration", "expected"),
    [
        pytest.param({}, "Accepted", id="accepted"),
        pytest.param({"status": "Blocked"}, "Blocked", id="blocked"),
        pytest.param({"status": "Expired"}, "Expired", id="expired"),
        pytest.param({"status": "Invalid"}, "Invalid", id="invalid"),
        pytest.param(
            {"expiry_date": datetime(2020, 1, 1, tzinfo=UTC)}, "Expired", id="expired-by-date"
        ),
        pytest.param(None, "Invalid", id="unknown"),
    ],
)
async def test_authorize(
    cp: Connected,
    register_token: RegisterToken,
    registration: dict[str, Any] | None,
    expected: str,
) -> None:
    """1.6 has no Unknown: an id tag we do not know is Invalid (7.2 AuthorizationStatus)."""
    tag = "NOT-REGISTERED" if registration is None else await register_token(**registration)
    result = await cp.client.result("Authorize", {"idTag": tag})
    assert result["idTagInfo"]["status"] == expected


async def test_data_transfer_is_unknown_vendor_and_persisted(
    pool: asyncpg.Pool, cp: Connected
) -> None:
    payload = {"vendorId": "com.acme", "messageId": "hello", "data": '{"x": 1}'}
    assert await cp.client.result("DataTransfer", payload) == {"status": "UnknownVendorId"}
    [event] = await events(pool, cp, "DataTransfer")
    assert event["kind"] == "com.acme"
    assert event["payload"] == payload


@pytest.mark.parametrize(
    ("action", "payload", "column"),
    [
        ("DiagnosticsStatusNotification", {"status": "Uploading"}, "diagnostics_status"),
        ("FirmwareStatusNotification", {"status": "Downloading"}, "firmware_status"),
        (
            "SignedFirmwareStatusNotification",
            {"status": "SignatureVerified", "requestId": 3},
            "firmware_status",
        ),
    ],
)
async def test_status_notifications_update_charger_and_are_kept(
    pool: asyncpg.Pool, cp: Connected, action: str, payload: dict[str, Any], column: str
) -> None:
    assert await cp.client.result(action, payload) == {}
    row = await chargers.get_charger(pool, cp.charge_point_id)
    assert row is not None and getattr(row, column) == payload["status"]
    [event] = await events(pool, cp, action)
    assert (event["kind"], event["payload"]) == (payload["status"], payload)


async def test_firmware_and_diagnostics_status_are_independent(
    pool: asyncpg.Pool, cp: Connected
) -> None:
    await cp.client.result("FirmwareStatusNotification", {"status": "Installed"})
    await cp.client.result("DiagnosticsStatusNotification", {"status": "Uploaded"})
    await cp.client.result("FirmwareStatusNotification", {"status": "Idle"})
    row = await chargers.get_charger(pool, cp.charge_point_id)
    assert row is not None
    assert (row.firmware_status, row.diagnostics_status) == ("Idle", "Uploaded")
    assert len(await events(pool, cp, "FirmwareStatusNotification")) == 2


async def test_security_event_is_persisted_with_its_time(pool: asyncpg.Pool, cp: Connected) -> None:
    payload = {
        "type": "InvalidCentralSystemCertificate",
        "timestamp": format_timestamp(T0),
        "techInfo": "chain too short",
    }
    assert await cp.client.result("SecurityEventNotification", payload) == {}
    [event] = await events(pool, cp, "SecurityEventNotification")
    assert event["kind"] == "InvalidCentralSystemCertificate"
    assert event["occurred_at"] == T0
    assert event["payload"] == payload


async def test_log_status_is_persisted(pool: asyncpg.Pool, cp: Connected) -> None:
    payload = {"status": "Uploaded", "requestId": 7}
    assert await cp.client.result("LogStatusNotification", payload) == {}
    [event] = await events(pool, cp, "LogStatusNotification")
    assert (event["kind"], event["payload"]) == ("Uploaded", payload)


async def test_events_are_kept_per_charger(fleet: Fleet, pool: asyncpg.Pool) -> None:
    first, second = await fleet.open(), await fleet.open()
    await first.client.result("LogStatusNotification", {"status": "Idle"})
    assert await events(pool, second, "LogStatusNotification") == []
    assert len(await events(pool, first, "LogStatusNotification")) == 1


async def test_id_tag_is_case_insensitive(cp: Connected, register_token: RegisterToken) -> None:
    """1.6 IdToken is CiString20Type ("case insensitive"); 2.0.1 IdTokenType too."""
    tag = await register_token(status="Blocked")
    for variant in (tag.lower(), tag.upper(), tag.swapcase()):
        result = await cp.client.result("Authorize", {"idTag": variant})
        assert result["idTagInfo"]["status"] == "Blocked", variant


async def test_lower_case_rfc3339_timestamp_is_accepted(pool: asyncpg.Pool, cp: Connected) -> None:
    """RFC 3339 5.6 allows "t" and "z"; the schema's date-time format accepts them too, so
    the frame is valid and must not end in InternalError."""
    payload = {
        "connectorId": 1,
        "errorCode": "NoError",
        "status": "Available",
        "timestamp": "2025-06-01t08:00:00z",
    }
    assert await cp.client.result("StatusNotification", payload) == {}
    [status] = await chargers.list_connectors(pool, cp.charge_point_id)
    assert status.status_at == T0
