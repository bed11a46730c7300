"""Property-based fuzzing of parse -> validate -> store (issue 11): valid messages of both
versions, mutated the way a hostile charger would (extreme numbers, impossible dates, NULs,
deep nesting, wrong types), go through a node's real connection handling and its PostgreSQL
stores. Every one is answered with a CALLRESULT or the right kind of CALLERROR, never
InternalError, and nothing is logged as an error."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csms.logs import ChargerLog
from csms.node import v16, v201
from csms.node.connection import ChargerConnection
from csms.node.context import Context
from csms.node.server import Node
from csms.services.link import ChargerLink
from csms.store import chargers

pytestmark = pytest.mark.integration

T = "2026-01-01T10:00:00Z"
VALID: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "ocpp1.6": [
        ("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}),
        (
            "MeterValues",
            {
                "connectorId": 1,
                "meterValue": [
                    {"timestamp": T, "sampledValue": [{"value": "12.5", "unit": "kWh"}]}
                ],
            },
        ),
        ("StartTransaction", {"connectorId": 1, "idTag": "T1", "meterStart": 0, "timestamp": T}),
        ("DataTransfer", {"vendorId": "v", "data": "x"}),
        ("SecurityEventNotification", {"type": "X", "timestamp": T}),
    ],
    "ocpp2.0.1": [
        (
            "StatusNotification",
            {"timestamp": T, "connectorStatus": "Available", "evseId": 1, "connectorId": 1},
        ),
        (
            "TransactionEvent",
            {
                "eventType": "Started",
                "timestamp": T,
                "triggerReason": "CablePluggedIn",
                "seqNo": 0,
                "transactionInfo": {"transactionId": "fz"},
                "evse": {"id": 1, "connectorId": 1},
                "meterValue": [
                    {
                        "timestamp": T,
                        "sampledValue": [{"value": 1.5, "unitOfMeasure": {"multiplier": 3}}],
                    }
                ],
            },
        ),
        ("MeterValues",
         {"evseId": 0, "meterValue": [{"timestamp": T, "sampledValue": [{"value": 1}]}]}),
        ("DataTransfer", {"vendorId": "v", "data": {"a": [1, 2]}}),
        ("NotifyEvent", {"generatedAt": T, "seqNo": 0, "eventData": [{
            "eventId": 1, "timestamp": T, "trigger": "Alerting", "actualValue": "x",
            "eventNotificationType": "HardWiredMonitor", "component": {"name": "C"},
            "variable": {"name": "V"}}]}),
    ],
}  # fmt: skip

EXTREMES = st.sampled_from(
    [2**31, -(2**31) - 1, 2**63, 2**64, -1, 1e300, -1e300, 1.0, -0.0, 0.5, "1", True, None]
)
BAD_STRINGS = st.sampled_from(
    [
        "0000-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-23:59",
        "2026-02-30T00:00:00Z",
        "2026-01-01T00:00:60Z",
        "-1e999999",
        "NaN",
        "a\x00b",
        "x" * 3000,
        "",
    ]
)


def nest(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


@st.composite
def mutated(draw: st.DrawFn, version: str) -> tuple[str, dict[str, Any]]:
    action, payload = draw(st.sampled_from(VALID[version]))
    payload = orjson.loads(orjson.dumps(payload))
    paths: list[tuple[Any, Any]] = []
    stack: list[Any] = [payload]
    while stack:  # every (container, key) of the payload
        item = stack.pop()
        keys = item.keys() if isinstance(item, dict) else range(len(item))
        for key in list(keys):
            paths.append((item, key))
            if isinstance(item[key], dict | list):
                stack.append(item[key])
    for _ in range(draw(st.integers(1, 3))):
        container, key = draw(st.sampled_from(paths))
        if isinstance(container, dict) and key not in container:
            continue  # dropped by an earlier mutation
        kind = draw(st.sampled_from(["extreme", "string", "nest", "drop"]))
        if kind == "extreme":
            container[key] = draw(EXTREMES)
        elif kind == "string":
            container[key] = draw(BAD_STRINGS)
        elif kind == "nest":
            container[key] = nest(container[key], draw(st.integers(1, 300)))
        elif isinstance(container, dict):
            container.pop(key, None)
    return action, payload


@pytest.fixture
async def connections(node: Node) -> AsyncIterator[dict[str, ChargerConnection]]:
    """One accepted connection per version, driven in process (no socket)."""
    stores = node.services.stores
    found: dict[str, ChargerConnection] = {}
    for version in (v16.VERSION, v201.VERSION):
        cp = f"FUZZ-{version.subprotocol}"
        if await chargers.get_charger(stores.pool, cp) is None:  # type: ignore[attr-defined]
            await chargers.add_charger(stores.pool, cp, password_hash=None)  # type: ignore[attr-defined]
        link = ChargerLink(
            cp, version.subprotocol, ChargerLog(logging.getLogger("fuzz"), cp), "Accepted"
        )
        found[version.subprotocol] = ChargerConnection(
            None,  # type: ignore[arg-type]
            Context(link, node.services),
            version,
            journal=node.deps.journal,
        )
    yield found


def check(reply: bytes | None) -> None:
    assert reply is not None
    frame = orjson.loads(reply)
    assert frame[0] in (3, 4), frame
    if frame[0] == 4:
        assert frame[2] != "InternalError", frame


FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


async def send(connection: ChargerConnection, action: str, payload: dict[str, Any]) -> None:
    try:
        frame = orjson.dumps([2, "fz", action, payload])
    except TypeError:  # deeper than the encoder goes: as text
        frame = b'[2,"fz","' + action.encode() + b'",{"x":' + b"[" * 400 + b"]" * 400 + b"}]"
    check(await connection.handle(frame))
    errors = [r for r in CAPTURED.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == [], [r.getMessage() for r in errors[:5]]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


CAPTURED = _Records()


@pytest.fixture(autouse=True)
def captured() -> Any:
    root = logging.getLogger()
    CAPTURED.records.clear()
    root.addHandler(CAPTURED)
    yield
    root.removeHandler(CAPTURED)


@FUZZ
@given(message=mutated("ocpp1.6"))
async def test_mutated_1_6_messages_never_fail_inside(
    connections: dict[str, ChargerConnection], message: tuple[str, dict[str, Any]]
) -> None:
    await send(connections["ocpp1.6"], *message)


@FUZZ
@given(message=mutated("ocpp2.0.1"))
async def test_mutated_2_0_1_messages_never_fail_inside(
    connections: dict[str, ChargerConnection], message: tuple[str, dict[str, Any]]
) -> None:
    await send(connections["ocpp2.0.1"], *message)
