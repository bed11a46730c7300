"""OCPP-J framing: parse and build CALL / CALLRESULT / CALLERROR frames. No I/O.

A frame that cannot be parsed raises :class:`BadFrame`, which carries the message id to
answer with ("-1" when it cannot be read) and the OcppError to answer. The error code name
for each :class:`~csms.errors.ErrorKind` depends on the OCPP version: see :class:`Dialect`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from csms.errors import (
    ErrorKind,
    FormatViolation,
    MessageTypeNotSupported,
    OcppError,
    RpcFrameworkViolation,
)

CALL = 2
CALLRESULT = 3
CALLERROR = 4

UNREADABLE_ID = "-1"
MAX_MESSAGE_ID_LENGTH = 36
# How deep a frame may nest (the frame's array is level 1). OCPP's own structures stay under
# 16 (NotifyChargingLimit with a sales tariff: ~12); the rest is room for customData. The
# limit is checked once here, so nothing later (storage, the journal, jsonb) recurses
# further on charger input.
MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between OCPP-J versions at the framing level (each version package
    defines its own)."""

    subprotocol: str
    error_codes: dict[ErrorKind, str]
    # 1.6 J 4.1.3: an unknown message type is ignored; 2.0.1 answers MessageTypeNotSupported.
    answers_unknown_message_type: bool

    def code(self, kind: ErrorKind) -> str:
        return self.error_codes[kind]


@dataclass(slots=True)
class Call:
    message_id: str
    action: str
    payload: dict[str, Any]


@dataclass(slots=True)
class CallResult:
    message_id: str
    payload: dict[str, Any]


@dataclass(slots=True)
class CallError:
    message_id: str
    error_code: str
    description: str
    details: dict[str, Any]


Frame = Call | CallResult | CallError


class BadFrame(Exception):
    """A frame that must be answered with a CALLERROR (or, if ``silent``, ignored)."""

    def __init__(self, message_id: str, error: OcppError, *, silent: bool = False) -> None:
        super().__init__(error.description)
        self.message_id = message_id
        self.error = error
        self.silent = silent


def parse(data: str | bytes, dialect: Dialect) -> Frame:
    """Parse one WebSocket text frame into a Call, CallResult or CallError."""
    try:
        frame = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise BadFrame(UNREADABLE_ID, _framework("not valid JSON")) from None
    if not isinstance(frame, list) or len(frame) < 2:
        raise BadFrame(UNREADABLE_ID, _framework("not a JSON array [type, id, ...]"))
    type_id, message_id = frame[0], frame[1]
    if not isinstance(message_id, str) or not message_id:
        raise BadFrame(UNREADABLE_ID, _framework("message id is not a non-empty string"))
    if len(message_id) > MAX_MESSAGE_ID_LENGTH:
        raise BadFrame(UNREADABLE_ID, _framework(f"message id longer than {MAX_MESSAGE_ID_LENGTH}"))
    # fewer brackets than levels allowed: it cannot nest too deep (no walk, the usual case)
    if _brackets(data) > MAX_DEPTH and too_deep(frame, MAX_DEPTH):
        raise BadFrame(message_id, FormatViolation(f"nested deeper than {MAX_DEPTH} levels"))
    if type_id == CALL and not isinstance(type_id, bool):
        if len(frame) != 4 or not isinstance(frame[2], str):
            raise BadFrame(message_id, _framework("CALL must be [2, id, action, {payload}]"))
        if not isinstance(frame[3], dict):
            raise BadFrame(message_id, FormatViolation("payload must be a JSON object"))
        return Call(message_id, frame[2], frame[3])
    if type_id == CALLRESULT and not isinstance(type_id, bool):
        if len(frame) != 3 or not isinstance(frame[2], dict):
            raise BadFrame(message_id, _framework("CALLRESULT must be [3, id, {payload}]"))
        return CallResult(message_id, frame[2])
    if type_id == CALLERROR and not isinstance(type_id, bool):
        if len(frame) != 5 or not all(isinstance(x, str) for x in frame[2:4]):
            raise BadFrame(message_id, _framework("CALLERROR must be [4, id, code, text, {}]"))
        details = frame[4] if isinstance(frame[4], dict) else {}
        return CallError(message_id, frame[2], frame[3], details)
    if not isinstance(type_id, int) or isinstance(type_id, bool):
        raise BadFrame(message_id, _framework("message type id is not an integer"))
    raise BadFrame(
        message_id,
        MessageTypeNotSupported(f"message type {type_id} is not supported"),
        silent=not dialect.answers_unknown_message_type,
    )


def _brackets(data: str | bytes) -> int:
    if isinstance(data, str):
        return data.count("[") + data.count("{")
    return data.count(b"[") + data.count(b"{")


def too_deep(value: Any, limit: int) -> bool:
    """Whether ``value`` nests more than ``limit`` levels of arrays and objects (without
    recursion: the value is what a charger sent)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def _framework(description: str) -> OcppError:
    return RpcFrameworkViolation(description)


def call(message_id: str, action: str, payload: dict[str, Any]) -> bytes:
    return orjson.dumps([CALL, message_id, action, payload])


def call_result(message_id: str, payload: dict[str, Any]) -> bytes:
    return orjson.dumps([CALLRESULT, message_id, payload])


def call_error(message_id: str, error: OcppError, dialect: Dialect) -> bytes:
    description = error.description[:255]
    return orjson.dumps(
        [CALLERROR, message_id, dialect.code(error.kind), description, error.details]
    )
