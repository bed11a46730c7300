"""OCPP-J framing: parse and encode CALL, CALLRESULT and CALLERROR frames.

No I/O here: frames are text in, dataclasses out (and back).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from simulators.errors import FramingError

CALL = 2
CALLRESULT = 3
CALLERROR = 4


@dataclass(frozen=True)
class Call:
    """``[2, messageId, action, payload]``"""

    message_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class CallResult:
    """``[3, messageId, payload]``"""

    message_id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class CallErrorFrame:
    """``[4, messageId, errorCode, errorDescription, errorDetails]``"""

    message_id: str
    code: str
    description: str = ""
    details: dict[str, Any] = field(default_factory=dict)


Frame = Call | CallResult | CallErrorFrame


def new_message_id() -> str:
    """A fresh unique message id (a UUID4 string, 36 characters)."""
    return str(uuid.uuid4())


def encode(frame: Frame) -> str:
    """The JSON text of a frame."""
    body: list[Any]
    if isinstance(frame, Call):
        body = [CALL, frame.message_id, frame.action, frame.payload]
    elif isinstance(frame, CallResult):
        body = [CALLRESULT, frame.message_id, frame.payload]
    else:
        body = [CALLERROR, frame.message_id, frame.code, frame.description, frame.details]
    return json.dumps(body, separators=(",", ":"))


def parse_json_list(text: str | bytes) -> list[Any]:
    """Decode a frame's JSON and check it is an array."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FramingError(f"not valid JSON: {exc}") from exc
    if not isinstance(data, list):
        raise FramingError("frame is not a JSON array")
    return data


def parse(text: str | bytes) -> Frame:
    """Parse one OCPP-J frame.

    Raises :class:`FramingError`; its ``message_id`` is set when one could be read.
    """
    data = parse_json_list(text)
    if len(data) < 2 or not isinstance(data[1], str):
        raise FramingError("frame has no message id")
    message_type, message_id = data[0], data[1]
    if message_type == CALL:
        if len(data) != 4 or not isinstance(data[2], str) or not isinstance(data[3], dict):
            raise FramingError("CALL must be [2, id, action, {payload}]", message_id)
        return Call(message_id, data[2], data[3])
    if message_type == CALLRESULT:
        if len(data) != 3 or not isinstance(data[2], dict):
            raise FramingError("CALLRESULT must be [3, id, {payload}]")
        return CallResult(message_id, data[2])
    if message_type == CALLERROR:
        if len(data) != 5 or not isinstance(data[2], str) or not isinstance(data[4], dict):
            raise FramingError("CALLERROR must be [4, id, code, description, {details}]")
        return CallErrorFrame(message_id, data[2], str(data[3]), data[4])
    raise FramingError(f"unknown message type {message_type!r}", message_id)
