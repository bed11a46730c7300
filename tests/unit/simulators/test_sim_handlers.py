"""Handlers of CSMS-initiated CALLs, run against a fake station context (no network)."""

from __future__ import annotations

import json
import logging
from importlib.resources import files
from typing import Any

import pytest
from sim_fake_context import FakeContext
from sim_fake_csms import schema_errors

from simulators.adapter import adapter_for
from simulators.dispatcher import Dispatcher
from simulators.firmware import Fetched
from simulators.framing import Call, CallErrorFrame, CallResult
from simulators.transaction import Transaction


def _schema(version: str, name: str) -> dict[str, Any]:
    directory = "v16" if version == "1.6" else "v201"
    text = files("ocpp").joinpath(directory, "schemas", f"{name}.json").read_text("utf-8-sig")
    schema: dict[str, Any] = json.loads(text)
    return schema


def minimal(schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """The smallest instance of ``schema``: required fields only, first enum values."""
    if "$ref" in schema:
        return minimal(root["definitions"][schema["$ref"].rsplit("/", 1)[-1]], root)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: minimal(props[name], root) for name in schema.get("required", [])}
    if kind == "array":
        return [minimal(schema["items"], root) for _ in range(max(1, schema.get("minItems", 0)))]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    if schema.get("format") == "date-time":
        return "2030-01-01T00:00:00Z"
    if schema.get("format") == "uri":
        return "https://example.com/file"
    return "x"


def minimal_request(version: str, action: str) -> dict[str, Any]:
    suffix = "" if version == "1.6" else "Request"
    schema = _schema(version, action + suffix)
    request: dict[str, Any] = minimal(schema, schema)
    return request


LOG = logging.getLogger("test")
LATER = "2030-01-01T00:00:00Z"
ROUTED = [
    (version, action) for version in ("1.6", "2.0.1") for action in adapter_for(version).routes
]


@pytest.mark.parametrize(("version", "action"), ROUTED)
@pytest.mark.parametrize("display", [False, True])
async def test_every_route_answers_a_schema_valid_response(
    version: str, action: str, display: bool
) -> None:
    ctx = FakeContext(version, display_cost_and_price=display)
    request = minimal_request(version, action)
    if "Firmware" in action:  # a download scheduled for 2030 would be waited for
        request = json.loads(json.dumps(request).replace(LATER, "2020-01-01T00:00:00Z"))
    dispatcher = Dispatcher(ctx.adapter, ctx, LOG)

    answer = dispatcher.answer(Call("m1", action, request))

    assert isinstance(answer, CallResult), answer
    assert schema_errors(version, 3, action, answer.payload) == []
    await ctx.run_after()  # follow-up messages are schema-valid too (checked in call)


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_unknown_action_is_not_implemented(version: str) -> None:
    ctx = FakeContext(version)
    dispatcher = Dispatcher(ctx.adapter, ctx, LOG)

    answer = dispatcher.answer(Call("m1", "Teleport", {}))

    assert isinstance(answer, CallErrorFrame)
    assert answer.code == "NotImplemented"


@pytest.mark.parametrize(
    ("version", "payload", "code"),
    [
        ("1.6", {}, "OccurenceConstraintViolation"),  # sic, OCPP-J 1.6
        ("1.6", {"type": "Warm"}, "PropertyConstraintViolation"),
        ("1.6", {"type": 1}, "TypeConstraintViolation"),
        ("1.6", {"type": "Hard", "extra": 1}, "FormationViolation"),  # sic, OCPP-J 1.6
        ("2.0.1", {}, "OccurrenceConstraintViolation"),
        ("2.0.1", {"type": "Warm"}, "PropertyConstraintViolation"),
        ("2.0.1", {"type": 1}, "TypeConstraintViolation"),
        ("2.0.1", {"type": "OnIdle", "extra": 1}, "FormatViolation"),
    ],
)
def test_schema_violations_become_the_versions_callerror(
    version: str, payload: dict[str, Any], code: str
) -> None:
    ctx = FakeContext(version)
    dispatcher = Dispatcher(ctx.adapter, ctx, LOG)

    answer = dispatcher.answer(Call("m1", "Reset", payload))

    assert isinstance(answer, CallErrorFrame)
    assert answer.code == code


def test_v16_configuration_round_trip() -> None:
    ctx = FakeContext("1.6")
    routes = ctx.adapter.routes

    changed = routes["ChangeConfiguration"](ctx, {"key": "HeartbeatInterval", "value": "42"})
    read_only = routes["ChangeConfiguration"](ctx, {"key": "NumberOfConnectors", "value": "9"})
    unknown = routes["ChangeConfiguration"](ctx, {"key": "Nope", "value": "1"})
    got = routes["GetConfiguration"](ctx, {"key": ["HeartbeatInterval", "Nope"]})

    assert (changed, read_only, unknown) == (
        {"status": "Accepted"},
        {"status": "Rejected"},
        {"status": "NotSupported"},
    )
    assert got == {
        "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "42"}],
        "unknownKey": ["Nope"],
    }


def test_v16_authorization_key_is_write_only() -> None:
    ctx = FakeContext("1.6")
    routes = ctx.adapter.routes

    answer = routes["ChangeConfiguration"](ctx, {"key": "AuthorizationKey", "value": "s3cr3t"})
    got = routes["GetConfiguration"](ctx, {})

    assert answer == {"status": "Accepted"}
    assert "s3cr3t" not in json.dumps(got)


def test_v201_variables_round_trip() -> None:
    ctx = FakeContext("2.0.1")
    routes = ctx.adapter.routes
    interval = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    model = {"component": {"name": "ChargingStation"}, "variable": {"name": "Model"}}
    unknown = {"component": {"name": "Nope"}, "variable": {"name": "X"}}

    set_result = routes["SetVariables"](
        ctx,
        {
            "setVariableData": [
                {**interval, "attributeValue": "42"},
                {**model, "attributeValue": "Other"},
                {**unknown, "attributeValue": "1"},
            ]
        },
    )
    get_result = routes["GetVariables"](ctx, {"getVariableData": [interval, unknown]})

    statuses = [r["attributeStatus"] for r in set_result["setVariableResult"]]
    assert statuses == ["Accepted", "Rejected", "UnknownComponent"]
    assert get_result["getVariableResult"][0]["attributeValue"] == "42"
    assert get_result["getVariableResult"][1]["attributeStatus"] == "UnknownComponent"


@pytest.mark.parametrize(
    ("version", "action", "payload", "token"),
    [
        ("1.6", "RemoteStartTransaction", {"idTag": "TAG-9", "connectorId": 2}, "TAG-9"),
        (
            "2.0.1",
            "RequestStartTransaction",
            {"idToken": {"idToken": "TAG-9", "type": "eMAID"}, "remoteStartId": 7, "evseId": 2},
            "TAG-9",
        ),
    ],
)
async def test_remote_start_claims_the_connector_then_charges(
    version: str, action: str, payload: dict[str, Any], token: str
) -> None:
    ctx = FakeContext(version)

    first = ctx.adapter.routes[action](ctx, payload)
    second = ctx.adapter.routes[action](ctx, payload)
    await ctx.run_after()

    assert (first, second) == ({"status": "Accepted"}, {"status": "Rejected"})
    assert ctx.state.claimed == {2}
    assert [e[:3] for e in ctx.events] == [("charge", 2, token)]


@pytest.mark.parametrize(
    ("version", "action", "payload"),
    [
        ("1.6", "RemoteStopTransaction", {"transactionId": 100}),
        ("2.0.1", "RequestStopTransaction", {"transactionId": "tx-1"}),
    ],
)
async def test_remote_stop_ends_the_matching_transaction(
    version: str, action: str, payload: dict[str, Any]
) -> None:
    ctx = FakeContext(version)
    tx = Transaction(1, "TAG-1", transaction_id=payload["transactionId"])
    ctx.state.transactions[1] = tx

    accepted = ctx.adapter.routes[action](ctx, payload)
    rejected = ctx.adapter.routes[action](ctx, {"transactionId": 999 if version == "1.6" else "no"})
    await ctx.run_after()

    assert (accepted, rejected) == ({"status": "Accepted"}, {"status": "Rejected"})
    assert ctx.events == [("end_charging", tx, "Remote")]


V16_UPDATE = {"location": "https://x/fw", "retrieveDate": "2020-01-01T00:00:00Z"}
V201_UPDATE = {
    "requestId": 3,
    "firmware": {"location": "https://x/fw", "retrieveDateTime": "2020-01-01T00:00:00Z"},
}


@pytest.mark.parametrize(
    ("version", "payload", "expected"),
    [
        # 1.6 5.19: Installed, then the reboot into the new firmware
        ("1.6", V16_UPDATE, ["Downloading", "Downloaded", "Installing", "Installed"]),
        # 2.0.1 L02 with L01.FR.32 (a): InstallRebooting, the reboot, Installed by the new image
        (
            "2.0.1",
            V201_UPDATE,
            ["Downloading", "Downloaded", "Installing", "InstallRebooting", "Installed"],
        ),
    ],
)
@pytest.mark.parametrize("fail", [False, True])
async def test_update_firmware_walks_the_statuses(
    version: str, payload: dict[str, Any], expected: list[str], fail: bool
) -> None:
    ctx = FakeContext(version, fail_firmware=fail)

    ctx.adapter.routes["UpdateFirmware"](ctx, payload)
    await ctx.run_after()

    statuses = [p["status"] for a, p in ctx.sent if a == "FirmwareStatusNotification"]
    assert statuses == (["Downloading", "DownloadFailed"] if fail else expected)
    restarted = [e for e in ctx.events if e[0] == "restart"]
    assert restarted == ([] if fail else [("restart", "2.3.1")])
    if version == "2.0.1":
        sent = [p for a, p in ctx.sent if a == "FirmwareStatusNotification"]
        assert {p["requestId"] for p in sent} == {3}  # L02.FR.06


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_injected_failures(version: str) -> None:
    payload = V16_UPDATE if version == "1.6" else V201_UPDATE
    download = FakeContext(version, fail_download=1.0)
    download.adapter.routes["UpdateFirmware"](download, payload)
    await download.run_after()
    install = FakeContext(version, fail_install=1.0)
    install.adapter.routes["UpdateFirmware"](install, payload)
    await install.run_after()
    broken = FakeContext(version)
    broken.fetched = Fetched(False, reason="HTTP 403")
    broken.adapter.routes["UpdateFirmware"](broken, payload)
    await broken.run_after()

    def statuses(ctx: FakeContext) -> list[str]:
        return [p["status"] for a, p in ctx.sent if a == "FirmwareStatusNotification"]

    assert statuses(download) == ["Downloading", "DownloadFailed"]
    assert statuses(install)[-2:] == ["Installing", "InstallationFailed"]
    assert statuses(broken) == ["Downloading", "DownloadFailed"]
    assert not [e for e in install.events if e[0] == "restart"]


async def test_a_signed_update_with_a_bad_signature_is_refused() -> None:
    """1.6 security whitepaper L01 step 5 / L01.FR.03: InvalidSignature and the security
    event InvalidFirmwareSignature."""
    ctx = FakeContext("1.6", bad_signature=True)
    payload = {
        "requestId": 4,
        "firmware": {
            "location": "https://x/fw",
            "retrieveDateTime": "2020-01-01T00:00:00Z",
            "signingCertificate": "-----BEGIN CERTIFICATE-----",
            "signature": "c2ln",
        },
    }
    assert ctx.adapter.routes["SignedUpdateFirmware"](ctx, payload) == {"status": "Accepted"}
    await ctx.run_after()
    sent = [(a, p.get("status") or p.get("type")) for a, p in ctx.sent]
    assert sent == [
        ("SignedFirmwareStatusNotification", "Downloading"),
        ("SignedFirmwareStatusNotification", "Downloaded"),
        ("SignedFirmwareStatusNotification", "InvalidSignature"),
        ("SecurityEventNotification", "InvalidFirmwareSignature"),
    ]


@pytest.mark.parametrize(
    ("version", "payload"),
    [
        ("1.6", {"requestedMessage": "StatusNotification", "connectorId": 2}),
        ("2.0.1", {"requestedMessage": "StatusNotification", "evse": {"id": 2}}),
    ],
)
async def test_trigger_message_sends_the_message_after_answering(
    version: str, payload: dict[str, Any]
) -> None:
    ctx = FakeContext(version)

    answer = ctx.adapter.routes["TriggerMessage"](ctx, payload)
    assert ctx.sent == []  # nothing is sent before the answer
    await ctx.run_after()

    assert answer == {"status": "Accepted"}
    assert [action for action, _ in ctx.sent] == ["StatusNotification"]


@pytest.mark.parametrize(
    ("version", "action", "requested"),
    [
        ("1.6", "ExtendedTriggerMessage", "SignChargePointCertificate"),
        ("2.0.1", "TriggerMessage", "SignV2GCertificate"),
    ],
)
def test_trigger_message_for_unsupported_message(version: str, action: str, requested: str) -> None:
    ctx = FakeContext(version)

    answer = ctx.adapter.routes[action](ctx, {"requestedMessage": requested})

    assert answer == {"status": "NotImplemented"}
    assert ctx.actions == []


async def test_v201_get_base_report_sends_notify_report() -> None:
    ctx = FakeContext("2.0.1")

    answer = ctx.adapter.routes["GetBaseReport"](
        ctx, {"requestId": 5, "reportBase": "FullInventory"}
    )
    await ctx.run_after()

    assert answer == {"status": "Accepted"}
    [(action, report)] = ctx.sent
    assert action == "NotifyReport"
    assert report["requestId"] == 5 and report["seqNo"] == 0
    assert len(report["reportData"]) == len(ctx.state.configuration)


@pytest.mark.parametrize(
    ("version", "reset_type", "reason"),
    [("1.6", "Hard", "HardReset"), ("1.6", "Soft", "SoftReset"),
     ("2.0.1", "Immediate", "HardReset"), ("2.0.1", "OnIdle", "SoftReset")],
)  # fmt: skip
async def test_accepted_reset_reboots_after_answering(
    version: str, reset_type: str, reason: str
) -> None:
    """1.6 section 5.14 / 2.0.1 B11-B12: an accepted Reset makes the station reboot."""
    ctx = FakeContext(version)
    answer = ctx.adapter.routes["Reset"](ctx, {"type": reset_type})
    assert answer == {"status": "Accepted"}
    assert ("reboot", reason) not in ctx.events  # only after the answer is sent
    await ctx.run_after()
    assert ("reboot", reason) in ctx.events
