"""OCPP-J framing without a network: parse, BadFrame, and the error names of each dialect.

OCPP-J 1.6 section 4 (4.1.3: an unknown message type is ignored; 4.2.3 error codes) and
OCPP 2.0.1 part 4 section 4 (4.2.3: "-1" when the message id cannot be read; 4.3 codes).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from csms.errors import (
    ErrorKind,
    FormatViolation,
    InternalFailure,
    NotImplementedAction,
    OccurrenceViolation,
    PropertyViolation,
)
from csms.node import rpc, v16, v201
from csms.node.rpc import BadFrame, Dialect
from csms.node.versions import BY_SUBPROTOCOL

OCPP16, OCPP201 = v16.DIALECT, v201.DIALECT

DIALECTS = pytest.mark.parametrize("dialect", [OCPP16, OCPP201], ids=["1.6", "2.0.1"])


def bad(data: str | bytes, dialect: Dialect) -> BadFrame:
    with pytest.raises(BadFrame) as info:
        rpc.parse(data, dialect)
    return info.value


@DIALECTS
def test_parse_call(dialect: Dialect) -> None:
    frame = rpc.parse('[2, "19223201", "BootNotification", {"a": 1}]', dialect)
    assert frame == rpc.Call("19223201", "BootNotification", {"a": 1})


@DIALECTS
def test_parse_call_from_bytes(dialect: Dialect) -> None:
    assert rpc.parse(b'[2, "1", "Heartbeat", {}]', dialect) == rpc.Call("1", "Heartbeat", {})


@DIALECTS
def test_parse_call_result(dialect: Dialect) -> None:
    assert rpc.parse('[3, "x", {"status": "Accepted"}]', dialect) == rpc.CallResult(
        "x", {"status": "Accepted"}
    )


@DIALECTS
def test_parse_call_error(dialect: Dialect) -> None:
    frame = rpc.parse('[4, "x", "NotSupported", "no", {"k": 1}]', dialect)
    assert frame == rpc.CallError("x", "NotSupported", "no", {"k": 1})


@DIALECTS
def test_call_error_with_non_object_details_keeps_empty_details(dialect: Dialect) -> None:
    frame = rpc.parse('[4, "x", "GenericError", "", null]', dialect)
    assert isinstance(frame, rpc.CallError) and frame.details == {}


UNREADABLE = [
    pytest.param("[2, 'x', 'Heartbeat', {}]", id="not-json"),
    pytest.param('[2, "x", "Heartbeat", {}', id="truncated-json"),
    pytest.param("", id="empty"),
    pytest.param('{"messageId": "x"}', id="object"),
    pytest.param('"text"', id="string"),
    pytest.param("[]", id="empty-array"),
    pytest.param("[2]", id="one-element"),
    pytest.param("[2, 3]", id="numeric-id-only"),
    pytest.param('[2, 17, "Heartbeat", {}]', id="numeric-id"),
    pytest.param('[2, null, "Heartbeat", {}]', id="null-id"),
    pytest.param('[2, "", "Heartbeat", {}]', id="empty-id"),
    pytest.param(json.dumps([2, "x" * 37, "Heartbeat", {}]), id="id-of-37"),
]


@DIALECTS
@pytest.mark.parametrize("data", UNREADABLE)
def test_unreadable_message_id_is_answered_with_minus_one(data: str, dialect: Dialect) -> None:
    """2.0.1 part 4 4.2.3: "-1" as message id; the error is an RPC framework error."""
    error = bad(data, dialect)
    assert error.message_id == rpc.UNREADABLE_ID == "-1"
    assert error.error.kind is ErrorKind.RPC_FRAMEWORK
    assert not error.silent


@DIALECTS
def test_message_id_of_36_characters_is_readable(dialect: Dialect) -> None:
    message_id = "y" * rpc.MAX_MESSAGE_ID_LENGTH
    frame = rpc.parse(json.dumps([2, message_id, "Heartbeat", {}]), dialect)
    assert isinstance(frame, rpc.Call) and frame.message_id == message_id


@DIALECTS
@pytest.mark.parametrize(
    "frame",
    [
        pytest.param([2, "id"], id="call-with-only-an-id"),
        pytest.param([3, "id"], id="result-with-only-an-id"),
        pytest.param([2, "id", "Heartbeat"], id="call-without-payload"),
        pytest.param([2, "id", "Heartbeat", {}, {}], id="call-with-5-elements"),
        pytest.param([2, "id", 7, {}], id="call-action-not-string"),
        pytest.param([3, "id", []], id="result-payload-not-object"),
        pytest.param([3, "id", {}, {}], id="result-with-4-elements"),
        pytest.param([4, "id", "GenericError", ""], id="error-with-4-elements"),
        pytest.param([4, "id", 1, "", {}], id="error-code-not-string"),
        pytest.param(["2", "id", "Heartbeat", {}], id="type-as-string"),
        pytest.param([True, "id", "Heartbeat", {}], id="type-as-bool"),
        pytest.param([None, "id", "Heartbeat", {}], id="type-null"),
    ],
)
def test_bad_structure_keeps_the_readable_message_id(frame: list[Any], dialect: Dialect) -> None:
    """2.0.1 part 4 table 7: MessageId "must be the exact same id that is in the call
    request"; "-1" only "when also the MessageId cannot be read"."""
    error = bad(json.dumps(frame), dialect)
    assert error.message_id == "id"
    assert error.error.kind is ErrorKind.RPC_FRAMEWORK
    assert not error.silent


@DIALECTS
@pytest.mark.parametrize("payload", [[], "x", 1, None], ids=["array", "string", "int", "null"])
def test_call_payload_that_is_not_an_object_is_a_format_violation(
    payload: object, dialect: Dialect
) -> None:
    error = bad(json.dumps([2, "id", "Heartbeat", payload]), dialect)
    assert error.message_id == "id"
    assert error.error.kind is ErrorKind.FORMAT


@pytest.mark.parametrize("type_id", [0, 1, 5, 6, 99, -2])
def test_unknown_message_type_is_ignored_in_16(type_id: int) -> None:
    """1.6 J 4.1.3: a server SHALL ignore a message with an unknown MessageTypeNumber."""
    error = bad(json.dumps([type_id, "id", "Heartbeat", {}]), OCPP16)
    assert error.silent
    assert error.error.kind is ErrorKind.MESSAGE_TYPE


@pytest.mark.parametrize("type_id", [0, 1, 5, 6, 99, -2])
def test_unknown_message_type_is_answered_in_201(type_id: int) -> None:
    """2.0.1 part 4 4.3: MessageTypeNotSupported, with the message id."""
    error = bad(json.dumps([type_id, "id", "Heartbeat", {}]), OCPP201)
    assert not error.silent
    assert error.message_id == "id"
    assert OCPP201.code(error.error.kind) == "MessageTypeNotSupported"


EXPECTED_CODES = {
    ErrorKind.FORMAT: ("FormationViolation", "FormatViolation"),
    ErrorKind.OCCURRENCE: ("OccurenceConstraintViolation", "OccurrenceConstraintViolation"),
    ErrorKind.TYPE: ("TypeConstraintViolation", "TypeConstraintViolation"),
    ErrorKind.PROPERTY: ("PropertyConstraintViolation", "PropertyConstraintViolation"),
    ErrorKind.PROTOCOL: ("ProtocolError", "ProtocolError"),
    ErrorKind.RPC_FRAMEWORK: ("FormationViolation", "RpcFrameworkError"),
    ErrorKind.MESSAGE_TYPE: ("NotSupported", "MessageTypeNotSupported"),
    ErrorKind.NOT_IMPLEMENTED: ("NotImplemented", "NotImplemented"),
    ErrorKind.NOT_SUPPORTED: ("NotSupported", "NotSupported"),
    ErrorKind.SECURITY: ("SecurityError", "SecurityError"),
    ErrorKind.INTERNAL: ("InternalError", "InternalError"),
    ErrorKind.GENERIC: ("GenericError", "GenericError"),
}

# The only names a CALLERROR may carry (1.6 J table 7 as chargers spell it; 2.0.1 part 4 4.3).
VALID_16 = {
    "NotImplemented",
    "NotSupported",
    "InternalError",
    "ProtocolError",
    "SecurityError",
    "FormationViolation",
    "PropertyConstraintViolation",
    "OccurenceConstraintViolation",
    "TypeConstraintViolation",
    "GenericError",
}
VALID_201 = {
    "FormatViolation",
    "GenericError",
    "InternalError",
    "MessageTypeNotSupported",
    "NotImplemented",
    "NotSupported",
    "OccurrenceConstraintViolation",
    "PropertyConstraintViolation",
    "ProtocolError",
    "RpcFrameworkError",
    "SecurityError",
    "TypeConstraintViolation",
}


@pytest.mark.parametrize("kind", list(ErrorKind), ids=lambda k: k.value)
def test_every_kind_has_the_name_of_each_version(kind: ErrorKind) -> None:
    assert (OCPP16.code(kind), OCPP201.code(kind)) == EXPECTED_CODES[kind]


def test_dialects_use_only_valid_error_codes() -> None:
    assert set(OCPP16.error_codes.values()) <= VALID_16
    assert set(OCPP201.error_codes.values()) <= VALID_201
    assert set(OCPP16.error_codes) == set(OCPP201.error_codes) == set(ErrorKind)


def test_dialects_by_subprotocol() -> None:
    assert {s: v.dialect for s, v in BY_SUBPROTOCOL.items()} == {
        "ocpp1.6": OCPP16,
        "ocpp2.0.1": OCPP201,
    }
    assert not OCPP16.answers_unknown_message_type
    assert OCPP201.answers_unknown_message_type


def test_build_call_and_result() -> None:
    assert json.loads(rpc.call("a", "Reset", {"type": "Hard"})) == [
        2,
        "a",
        "Reset",
        {"type": "Hard"},
    ]
    assert json.loads(rpc.call_result("a", {})) == [3, "a", {}]


@pytest.mark.parametrize(
    ("error", "code_16", "code_201"),
    [
        (FormatViolation("bad"), "FormationViolation", "FormatViolation"),
        (
            OccurrenceViolation("missing"),
            "OccurenceConstraintViolation",
            "OccurrenceConstraintViolation",
        ),
        (PropertyViolation("enum"), "PropertyConstraintViolation", "PropertyConstraintViolation"),
        (NotImplementedAction("?"), "NotImplemented", "NotImplemented"),
        (InternalFailure("oops"), "InternalError", "InternalError"),
    ],
)
def test_call_error_names_the_code_of_the_dialect(
    error: Exception, code_16: str, code_201: str
) -> None:
    assert json.loads(rpc.call_error("m", error, OCPP16))[2] == code_16  # type: ignore[arg-type]
    assert json.loads(rpc.call_error("m", error, OCPP201))[2] == code_201  # type: ignore[arg-type]


def test_call_error_has_five_elements_and_details_object() -> None:
    frame = json.loads(rpc.call_error("m", PropertyViolation("x", {"field": "f"}), OCPP201))
    assert frame == [4, "m", "PropertyConstraintViolation", "x", {"field": "f"}]
    assert json.loads(rpc.call_error("m", InternalFailure(), OCPP16))[3:] == ["", {}]


def test_call_error_description_is_at_most_255_characters() -> None:
    """2.0.1 part 4 table 7: ErrorDescription is string[255]."""
    frame = json.loads(rpc.call_error("m", FormatViolation("d" * 1000), OCPP201))
    assert frame[3] == "d" * 255


@DIALECTS
def test_round_trip_of_what_we_build(dialect: Dialect) -> None:
    assert rpc.parse(rpc.call("q", "Reset", {"x": [1]}), dialect) == rpc.Call(
        "q", "Reset", {"x": [1]}
    )
    assert rpc.parse(rpc.call_result("q", {"y": 2}), dialect) == rpc.CallResult("q", {"y": 2})
    error = rpc.parse(rpc.call_error("q", FormatViolation("z"), dialect), dialect)
    assert isinstance(error, rpc.CallError) and error.description == "z"
