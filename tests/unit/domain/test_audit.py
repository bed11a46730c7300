"""The audit log's pure rules: redaction by key name, outcomes, targets, time bounds, CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from csms.domain.audit import (
    CSV_COLUMNS,
    MAX_TEXT,
    REDACTED,
    AuditEntry,
    csv_header,
    csv_row,
    outcome_of,
    parse_when,
    redact,
    sensitive_key,
    target_of,
)
from csms.errors import InvalidInput

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "key",
    [
        "password", "new_password", "currentPassword", "passwd", "refresh_token", "accessToken",
        "token", "webhook_secret", "hmacSecret", "client-secret", "api_key", "apiKey",
        "AuthorizationKey", "authorization", "private_key_pem", "signingKey", "card_number",
        "cardNumber", "cvv", "pan", "iban", "pin", "password_hash", "salt", "credentials",
        "BasicAuthPassword", "SESSION_COOKIE",
    ],
)  # fmt: skip
def test_secret_keys_are_redacted(key: str) -> None:
    assert sensitive_key(key)
    assert redact({key: "s3cr3t", "nested": [{key: {"deep": 1}}]}) == {
        key: REDACTED,
        "nested": [{key: REDACTED}],
    }


@pytest.mark.parametrize(
    "key",
    [
        "id_token", "idToken", "idTag", "parent_id_tag", "parentIdTag", "group_id_token",
        "token_type", "charge_point_id", "username", "role", "key", "value", "description",
        "spinning", "company", "option", "expiry_date", "status",
    ],
)  # fmt: skip
def test_identifiers_and_plain_fields_are_kept(key: str) -> None:
    assert not sensitive_key(key)
    assert redact({key: "v"}) == {key: "v"}


def test_a_secret_setting_written_by_name_is_redacted() -> None:
    assert redact({"key": "AuthorizationKey", "value": "abc"}) == {
        "key": "AuthorizationKey",
        "value": REDACTED,
    }
    assert redact({"key": "HeartbeatInterval", "value": "60"}) == {
        "key": "HeartbeatInterval",
        "value": "60",
    }
    data = {
        "setVariableData": [
            {
                "component": {"name": "SecurityCtrlr"},
                "variable": {"name": "BasicAuthPassword"},
                "attributeValue": "x" * 20,
            },
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
             "attributeValue": "60"},
        ]
    }  # fmt: skip
    redacted = redact(data)
    assert redacted["setVariableData"][0]["attributeValue"] == REDACTED
    assert redacted["setVariableData"][1]["attributeValue"] == "60"
    assert data["setVariableData"][0]["attributeValue"] == "x" * 20  # not changed in place


def test_long_text_is_cut_and_nul_made_storable() -> None:
    assert redact({"pem": "A" * (MAX_TEXT + 50)})["pem"] == "A" * MAX_TEXT + "..."
    assert redact({"a\x00": ["b\x00"]}) == {"a\ufffd": ["b\ufffd"]}
    assert redact({"n": 1.5, "b": True, "x": None, "o": object})["n"] == 1.5
    assert redact({"big": 10**30, "small": -(2**63)}) == {"big": str(10**30), "small": -(2**63)}


@pytest.mark.parametrize(
    ("status", "failed", "outcome"),
    [(200, False, "ok"), (204, False, "ok"), (302, False, "ok"), (401, False, "refused"),
     (403, False, "refused"), (404, False, "failed"), (422, False, "failed"),
     (409, False, "failed"), (500, False, "error"), (503, False, "error"),
     (200, True, "failed"), (None, False, "ok"), (None, True, "failed")],
)  # fmt: skip
def test_outcomes(status: int | None, failed: bool, outcome: str) -> None:
    assert outcome_of(status, failed=failed) == outcome


def test_targets() -> None:
    assert target_of({"charge_point_id": "CP1", "command": "reset"}, {}) == "CP1/reset"
    assert target_of({}, {"body": {"role": "x", "username": "bob"}}) == "bob"
    assert target_of({}, {"body": {"charge_point_id": "CP9", "username": "bob"}}) == "CP9"
    assert target_of({}, {"body": {"password": "x"}}) is None
    assert target_of({}, {"body": ["not", "a", "dict"]}) is None


def test_time_bounds() -> None:
    assert parse_when("15m", NOW, "since") == NOW - timedelta(minutes=15)
    assert parse_when("1h", NOW, "since") == NOW - timedelta(hours=1)
    assert parse_when("7D", NOW, "since") == NOW - timedelta(days=7)
    assert parse_when("2w", NOW, "since") == NOW - timedelta(weeks=2)
    assert parse_when("2026-11-01", NOW, "since") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_when("2026-11-01T06:00:00Z", NOW, "x") == datetime(2026, 11, 1, 6, tzinfo=UTC)
    assert parse_when("2026-11-01T07:00+01:00", NOW, "x") == datetime(2026, 11, 1, 6, tzinfo=UTC)
    for bad in ("yesterday", "", "1y", "-1h", "2026-13-01"):
        with pytest.raises(InvalidInput, match="since"):
            parse_when(bad, NOW, "since")


def test_csv_rows_are_formula_safe() -> None:
    entry = AuditEntry(
        id=7,
        at=NOW,
        source="api",
        actor_user_id=None,
        actor='=HYPERLINK("http://evil")',
        actor_role=None,
        action="chargers.create_charger",
        method="POST",
        route="/api/v1/chargers",
        target="@SUM(A1)",
        params={"body": {"note": "-2+3"}},
        status=201,
        result=None,
    )
    text = csv_header() + csv_row(entry)
    assert text.endswith("\r\n")
    header, row = list(csv.reader(io.StringIO(text)))
    assert tuple(header) == CSV_COLUMNS
    cells = dict(zip(header, row, strict=True))
    assert cells["actor"] == '\'=HYPERLINK("http://evil")'
    assert cells["target"] == "'@SUM(A1)"
    assert cells["at"] == "2026-12-05T12:00:00Z"
    assert cells["params"] == '{"body":{"note":"-2+3"}}'
    assert cells["actor_user_id"] == "" and cells["result"] == ""
