"""The journal keeps frames as text: exactly as received or sent, except a CALL that sets a
charger's password, re-serialised with the password masked (2.0.1 A01.FR.09; 1.6 security
whitepaper A01: AuthorizationKey)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from csms.node.journal import JournalRecorder, JournalRow, redact_frame
from csms.store.journal import frame_of, payload_of

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
SECRET = "0123456789abcdef0123456789abcdef01234567"


class Sink:
    def __init__(self) -> None:
        self.rows: list[JournalRow] = []

    def add(self, rows: list[JournalRow]) -> None:
        self.rows.extend(rows)


def recorded(*args: object) -> str:
    sink = Sink()
    JournalRecorder("CP-1", lambda: NOW, sink).record(*args)  # type: ignore[arg-type]
    [row] = sink.rows
    assert row[:6] == ("CP-1", NOW, *args[:4])
    text = row[6]
    assert isinstance(text, str)
    return text


def test_a_frame_is_kept_byte_for_byte() -> None:
    frame = '[2 , "m-1","DataTransfer", {"vendorId":"acmé","data":"a\\u0000b \\"q\\""} ]'
    assert recorded("in", 2, "m-1", "DataTransfer", frame) == frame
    assert recorded("in", 2, "m-1", "DataTransfer", frame.encode()) == frame


def test_1_6_authorization_key_is_masked() -> None:
    frame = orjson.dumps(
        [2, "m-2", "ChangeConfiguration", {"key": "AuthorizationKey", "value": SECRET}]
    ).decode()
    text = recorded("out", 2, "m-2", "ChangeConfiguration", frame)
    assert SECRET not in text
    assert orjson.loads(text) == [
        2,
        "m-2",
        "ChangeConfiguration",
        {"key": "AuthorizationKey", "value": "***"},
    ]


def test_2_0_1_basic_auth_password_is_masked_and_the_rest_kept() -> None:
    other = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    password = {
        "component": {"name": "SecurityCtrlr"},
        "variable": {"name": "BasicAuthPassword"},
        "attributeValue": SECRET,
    }
    payload = {"setVariableData": [{**other, "attributeValue": "60"}, password]}
    text = recorded(
        "out", 2, "m-3", "SetVariables", orjson.dumps([2, "m-3", "SetVariables", payload])
    )
    assert SECRET not in text
    data = orjson.loads(text)[3]["setVariableData"]
    assert data[0]["attributeValue"] == "60" and data[1]["attributeValue"] == "***"


@pytest.mark.parametrize(
    "frame",
    [
        '[2, "m", "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}]',
        '[2, "m", "ChangeConfiguration", {',  # not JSON: as it came
        '[2, "m", "ChangeConfiguration"]',
    ],
)
def test_a_frame_that_sets_no_password_is_not_reserialised(frame: str) -> None:
    assert redact_frame("ChangeConfiguration", frame) is frame


def test_only_calls_are_redacted() -> None:
    """A CALLRESULT names no action of its own; nothing in it is re-serialised."""
    frame = '[3, "m", {"status": "Accepted"}]'
    assert recorded("in", 3, "m", None, frame) is frame


@pytest.mark.parametrize(
    ("message_type", "frame", "payload"),
    [
        (2, '[2,"a","Heartbeat",{}]', {}),
        (3, '[3, "a", {"currentTime": "x"}]', {"currentTime": "x"}),
        (
            4,
            '[4,"a","NotSupported","no",{"k":1}]',
            {"errorCode": "NotSupported", "errorDescription": "no", "errorDetails": {"k": 1}},
        ),
        (0, '[2, "g", {', {"raw": '[2, "g", {'}),
        (2, "[2,", {"raw": "[2,"}),
    ],
)
def test_payload_of_a_frame(message_type: int, frame: str, payload: object) -> None:
    assert payload_of(message_type, frame) == payload


def test_an_old_rows_payload_gives_back_its_frame() -> None:
    for message_type, payload, action in [
        (2, {"a": [1, "é"]}, "DataTransfer"),
        (3, {"status": "Accepted"}, None),
        (4, {"errorCode": "E", "errorDescription": "d", "errorDetails": {}}, None),
    ]:
        frame = frame_of(message_type, "id-1", action, payload)
        assert payload_of(message_type, frame) == payload
    assert frame_of(0, "-1", None, {"raw": "garbage{"}) == "garbage{"
