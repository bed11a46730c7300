"""Every CALLERROR a charger can provoke, per version, over a real socket; after each bad
frame the connection still answers a Heartbeat.

OCPP-J 1.6 section 4.2.3 (error codes as chargers spell them: FormationViolation,
OccurenceConstraintViolation) and 4.1.3 (an unknown message type is ignored); OCPP 2.0.1
part 4 sections 4.2.3 ("-1" when the message id cannot be read) and 4.3 (error codes).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from ocpp_client import (
    CALLERROR,
    CALLRESULT,
    OCPP16,
    OCPP201,
    OcppClient,
    RegisterCharger,
    booted,
    ocpp_connect,
)

pytestmark = pytest.mark.integration


@pytest.fixture(params=[OCPP16, OCPP201])
async def client(
    request: pytest.FixtureRequest, url: str, register_charger: RegisterCharger
) -> AsyncIterator[OcppClient]:
    charger = await register_charger()
    async with ocpp_connect(
        url, charger.charge_point_id, password=charger.password, subprotocols=[request.param]
    ) as connected:
        yield await booted(connected)


def per_version(client: OcppClient, v16: str, v201: str) -> str:
    return v16 if client.subprotocol == OCPP16 else v201


async def assert_still_serving(client: OcppClient) -> None:
    reply = await client.call("Heartbeat", {})
    assert reply[0] == CALLRESULT and "currentTime" in reply[2], reply


def assert_call_error(reply: list[Any], message_id: str, code: str) -> None:
    assert reply[0] == CALLERROR, reply
    assert reply[1] == message_id, reply
    assert reply[2] == code, reply
    assert isinstance(reply[3], str) and len(reply[3]) <= 255
    assert isinstance(reply[4], dict)
    assert len(reply) == 5


UNREADABLE = [
    pytest.param('[2, "m1", "Heartbeat", {', id="malformed-json"),
    pytest.param("not json at all", id="not-json"),
    pytest.param('{"messageTypeId": 2}', id="object-not-array"),
    pytest.param('"Heartbeat"', id="string-not-array"),
    pytest.param("[]", id="empty-array"),
    pytest.param('[2, 12345, "Heartbeat", {}]', id="numeric-message-id"),
    pytest.param(json.dumps([2, "x" * 37, "Heartbeat", {}]), id="message-id-too-long"),
]


@pytest.mark.parametrize("text", UNREADABLE)
async def test_unreadable_frame_is_answered_with_minus_one(client: OcppClient, text: str) -> None:
    """2.0.1 part 4 4.2.3: when the message id cannot be read the CALLERROR carries "-1"."""
    reply = await client.send_raw(text)
    assert_call_error(reply, "-1", per_version(client, "FormationViolation", "RpcFrameworkError"))
    await assert_still_serving(client)


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(["2", "bad-1", "Heartbeat", {}], id="type-id-string"),
        pytest.param([2, "bad-1", "Heartbeat"], id="call-of-3-elements"),
        pytest.param([2, "bad-1", 17, {}], id="action-not-string"),
    ],
)
async def test_bad_call_structure_keeps_the_message_id(
    client: OcppClient, frame: list[Any]
) -> None:
    reply = await client.send_raw(json.dumps(frame))
    assert_call_error(
        reply, "bad-1", per_version(client, "FormationViolation", "RpcFrameworkError")
    )
    await assert_still_serving(client)


async def test_payload_not_an_object(client: OcppClient) -> None:
    reply = await client.send_raw(json.dumps([2, "p-1", "Heartbeat", []]))
    assert_call_error(reply, "p-1", per_version(client, "FormationViolation", "FormatViolation"))
    await assert_still_serving(client)


@pytest.mark.parametrize("type_id", [5, 6, 0])
async def test_unknown_message_type(client: OcppClient, type_id: int) -> None:
    """1.6 J 4.1.3: ignored. 2.0.1 part 4 4.3: MessageTypeNotSupported."""
    frame = json.dumps([type_id, "t-1", "Heartbeat", {}])
    if client.subprotocol == OCPP16:
        await client.send_only(frame)
        # Frames are answered in order: the next reply is the Heartbeat's, so nothing was sent.
    else:
        assert_call_error(await client.send_raw(frame), "t-1", "MessageTypeNotSupported")
    await assert_still_serving(client)


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param([3, "nobody-asked", {}], id="callresult"),
        pytest.param([4, "nobody-asked", "GenericError", "", {}], id="callerror"),
    ],
)
async def test_reply_to_no_call_of_ours_is_ignored(client: OcppClient, frame: list[Any]) -> None:
    await client.send_only(json.dumps(frame))
    await assert_still_serving(client)


async def test_unknown_action_is_not_implemented(client: OcppClient) -> None:
    reply = await client.call("FlyToTheMoon", {}, message_id="u-1")
    assert_call_error(reply, "u-1", "NotImplemented")
    await assert_still_serving(client)


async def test_csms_initiated_action_sent_by_charger_is_not_supported(
    client: OcppClient,
) -> None:
    action = per_version(client, "RemoteStartTransaction", "RequestStartTransaction")
    reply = await client.call(action, {"idTag": "X"}, message_id="s-1")
    assert_call_error(reply, "s-1", "NotSupported")
    await assert_still_serving(client)


def boot(client: OcppClient, **changes: Any) -> dict[str, Any]:
    """A BootNotification of the client's version with ``changes`` applied (None deletes);
    1.6 keys are top level, 2.0.1 keys go into chargingStation except ``reason``."""
    if client.subprotocol == OCPP16:
        payload: dict[str, Any] = {"chargePointVendor": "Acme", "chargePointModel": "Wallbox"}
        target = payload
    else:
        payload = {"reason": "PowerUp", "chargingStation": {"vendorName": "Acme", "model": "W"}}
        target = payload if set(changes) == {"reason"} else payload["chargingStation"]
    for key, value in changes.items():
        if value is None:
            del target[key]
        else:
            target[key] = value
    return payload


VENDOR = {OCPP16: "chargePointVendor", OCPP201: "vendorName"}
MODEL = {OCPP16: "chargePointModel", OCPP201: "model"}


async def test_missing_required_field(client: OcppClient) -> None:
    assert client.subprotocol is not None
    payload = boot(client, **{MODEL[client.subprotocol]: None})
    reply = await client.call("BootNotification", payload, message_id="o-1")
    code = per_version(client, "OccurenceConstraintViolation", "OccurrenceConstraintViolation")
    assert_call_error(reply, "o-1", code)
    await assert_still_serving(client)


async def test_missing_required_top_level_field(client: OcppClient) -> None:
    """1.6 StatusNotification without status; 2.0.1 BootNotification without reason."""
    if client.subprotocol == OCPP16:
        action, payload = "StatusNotification", {"connectorId": 1, "errorCode": "NoError"}
    else:
        action, payload = "BootNotification", boot(client, reason=None)
    reply = await client.call(action, payload, message_id="o-2")
    code = per_version(client, "OccurenceConstraintViolation", "OccurrenceConstraintViolation")
    assert_call_error(reply, "o-2", code)
    await assert_still_serving(client)


@pytest.mark.parametrize("value", [5, None, True, ["Acme"], {"name": "Acme"}])
async def test_wrong_type(client: OcppClient, value: Any) -> None:
    assert client.subprotocol is not None
    payload = boot(client)
    target = payload if client.subprotocol == OCPP16 else payload["chargingStation"]
    target[VENDOR[client.subprotocol]] = value
    reply = await client.call("BootNotification", payload, message_id="y-1")
    assert_call_error(reply, "y-1", "TypeConstraintViolation")
    await assert_still_serving(client)


async def test_bad_enum_value(client: OcppClient) -> None:
    if client.subprotocol == OCPP16:
        action = "StatusNotification"
        payload: dict[str, Any] = {"connectorId": 1, "errorCode": "NoError", "status": "On fire"}
    else:
        action, payload = "BootNotification", boot(client, reason="Bored")
    reply = await client.call(action, payload, message_id="e-1")
    assert_call_error(reply, "e-1", "PropertyConstraintViolation")
    await assert_still_serving(client)


async def test_string_too_long(client: OcppClient) -> None:
    assert client.subprotocol is not None
    payload = boot(client, **{MODEL[client.subprotocol]: "M" * 21})
    reply = await client.call("BootNotification", payload, message_id="l-1")
    assert_call_error(reply, "l-1", "PropertyConstraintViolation")
    await assert_still_serving(client)


async def test_bad_date_time_format(client: OcppClient) -> None:
    """1.6 security extension and 2.0.1 A04: timestamp is a date-time."""
    payload = {"type": "StartupOfTheDevice", "timestamp": "yesterday"}
    reply = await client.call("SecurityEventNotification", payload, message_id="d-1")
    assert_call_error(reply, "d-1", "PropertyConstraintViolation")
    await assert_still_serving(client)


@pytest.mark.parametrize("action", ["Heartbeat", "BootNotification"])
async def test_extra_property(client: OcppClient, action: str) -> None:
    payload = {"colour": "red"} if action == "Heartbeat" else boot(client, colour="red")
    reply = await client.call(action, payload, message_id="x-1")
    assert_call_error(reply, "x-1", per_version(client, "FormationViolation", "FormatViolation"))
    await assert_still_serving(client)


async def test_message_id_of_36_characters_is_echoed(client: OcppClient) -> None:
    message_id = "i" * 36
    reply = await client.call("FlyToTheMoon", {}, message_id=message_id)
    assert_call_error(reply, message_id, "NotImplemented")


async def test_error_after_error_after_error(client: OcppClient) -> None:
    """A burst of bad frames is answered one by one, in order, and the socket survives."""
    for i in range(20):
        reply = await client.send_raw(f'[2, "burst-{i}", "Heartbeat", {{"n": {i}}}]')
        assert reply[1] == f"burst-{i}" and reply[0] == CALLERROR
    await assert_still_serving(client)
