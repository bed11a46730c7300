"""Alarm rules, dedupe keys, lifecycle decisions and sources (csms.domain.alarms)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from csms.domain.alarms import (
    Alarm,
    AlarmError,
    AlarmState,
    AlarmType,
    Change,
    Raise,
    Rule,
    Scope,
    Severity,
    alarm_payload,
    can_acknowledge,
    can_clear,
    connector_faulted,
    counts_by_severity,
    dedupe_key,
    effective_rule,
    energy_above_max,
    in_maintenance,
    notify_event_conditions,
    on_raise,
    parse_severity,
    parse_type,
    register_backwards,
    security_alarm,
    validate_rule,
)

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)


def alarm(state: AlarmState, cleared_at: datetime | None = None) -> Alarm:
    return Alarm(
        id=1,
        type=AlarmType.CONNECTOR_FAULTED,
        severity=Severity.MAJOR,
        state=state,
        dedupe_key="connector_faulted:CP1:0/1",
        charge_point_id="CP1",
        site_id=None,
        subject="0/1",
        message="m",
        details={},
        count=1,
        raised_at=T0,
        last_raised_at=T0,
        cleared_at=cleared_at,
    )


def test_effective_rule_charger_overrides_site_overrides_default() -> None:
    rules = [
        Rule(AlarmType.CHARGER_OFFLINE, Scope.DEFAULT, "", threshold=600),
        Rule(AlarmType.CHARGER_OFFLINE, Scope.SITE, "S1", severity=Severity.CRITICAL),
        Rule(AlarmType.CHARGER_OFFLINE, Scope.CHARGER, "CP1", threshold=60),
        Rule(AlarmType.CHARGER_OFFLINE, Scope.CHARGER, "CP2", enabled=False),
        Rule(AlarmType.CONNECTOR_FAULTED, Scope.DEFAULT, "", severity=Severity.MINOR),
    ]
    cp1 = effective_rule(AlarmType.CHARGER_OFFLINE, rules, charge_point_id="CP1", site_id="S1")
    assert (cp1.enabled, cp1.severity, cp1.threshold) == (True, Severity.CRITICAL, 60)
    cp2 = effective_rule(AlarmType.CHARGER_OFFLINE, rules, charge_point_id="CP2", site_id="S9")
    assert (cp2.enabled, cp2.severity, cp2.threshold) == (False, Severity.MAJOR, 600)
    cp3 = effective_rule(AlarmType.CHARGER_OFFLINE, rules, charge_point_id="CP3", site_id=None)
    assert (cp3.severity, cp3.threshold) == (Severity.MAJOR, 600)


def test_settings_default_threshold_sits_under_every_rule() -> None:
    none = effective_rule(AlarmType.CHARGER_OFFLINE, [], default_threshold=30)
    assert none.threshold == 30
    builtin = effective_rule(AlarmType.CHARGER_OFFLINE, [])
    assert builtin.threshold == 300
    ruled = effective_rule(
        AlarmType.CHARGER_OFFLINE,
        [Rule(AlarmType.CHARGER_OFFLINE, Scope.DEFAULT, "", threshold=90)],
        default_threshold=30,
    )
    assert ruled.threshold == 90


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (Rule(AlarmType.CHARGER_OFFLINE, Scope.DEFAULT, "", threshold=-1), "negative"),
        (Rule(AlarmType.CONNECTOR_FAULTED, Scope.DEFAULT, "", threshold=5), "no threshold"),
        (Rule(AlarmType.CHARGER_OFFLINE, Scope.DEFAULT, "CP1"), "no target"),
        (Rule(AlarmType.CHARGER_OFFLINE, Scope.SITE, ""), "needs a target"),
        (Rule(AlarmType.NODE_GONE, Scope.CHARGER, "CP1"), "platform alarm"),
    ],
)
def test_bad_rules_are_refused(rule: Rule, message: str) -> None:
    with pytest.raises(AlarmError, match=message):
        validate_rule(rule)


def test_unknown_type_and_severity_are_refused() -> None:
    with pytest.raises(AlarmError, match="unknown alarm type"):
        parse_type("volcano")
    with pytest.raises(AlarmError, match="unknown severity"):
        parse_severity("apocalyptic")
    assert parse_type("charger_offline") is AlarmType.CHARGER_OFFLINE


def test_dedupe_keys_name_type_charger_and_subject() -> None:
    assert dedupe_key(AlarmType.CONNECTOR_FAULTED, "CP1", "0/1") == "connector_faulted:CP1:0/1"
    assert dedupe_key(AlarmType.NODE_GONE, None, "n1") == "node_gone::n1"
    assert dedupe_key(AlarmType.CHARGER_OFFLINE, "CP1") != dedupe_key(
        AlarmType.CHARGER_OFFLINE, "CP2"
    )


def test_lifecycle_raise_decisions_and_flapping() -> None:
    assert on_raise(None, T0, WINDOW) is Raise.NEW
    assert on_raise(alarm(AlarmState.RAISED), T0, WINDOW) is Raise.NONE
    assert on_raise(alarm(AlarmState.ACKNOWLEDGED), T0, WINDOW) is Raise.NONE
    recently = alarm(AlarmState.CLEARED, cleared_at=T0)
    assert on_raise(recently, T0 + timedelta(minutes=4), WINDOW) is Raise.REOPEN
    assert on_raise(recently, T0 + timedelta(minutes=6), WINDOW) is Raise.NEW


def test_ack_and_clear_need_the_right_state() -> None:
    assert can_acknowledge(alarm(AlarmState.RAISED))
    assert not can_acknowledge(alarm(AlarmState.ACKNOWLEDGED))
    assert can_clear(alarm(AlarmState.ACKNOWLEDGED))
    assert not can_clear(alarm(AlarmState.CLEARED, cleared_at=T0))


def test_maintenance_on_charger_or_its_site_silences() -> None:
    flags = [(Scope.CHARGER, "CP1"), (Scope.SITE, "S2")]
    assert in_maintenance("CP1", None, flags)
    assert in_maintenance("CP9", "S2", flags)
    assert not in_maintenance("CP9", "S1", flags)
    assert not in_maintenance(None, None, flags)


@pytest.mark.parametrize(
    ("status", "error_code", "faulted"),
    [
        ("Faulted", "NoError", True),  # 1.6 / 2.0.1 Faulted
        ("Available", "GroundFailure", True),  # 1.6: an error code other than NoError
        ("Available", "NoError", False),
        ("Occupied", "", False),  # 2.0.1 has no error code
        ("Charging", None, False),
    ],
)
def test_connector_fault(status: str, error_code: str | None, faulted: bool) -> None:
    assert connector_faulted(status, error_code) is faulted


def test_security_events_from_the_appendix() -> None:
    # OCPP 2.0.1 appendix security events, Critical = Yes
    assert security_alarm("TamperDetectionActivated") is Severity.CRITICAL
    assert security_alarm("InvalidFirmwareSignature") is Severity.CRITICAL
    assert security_alarm("InvalidCentralSystemCertificate") is Severity.CRITICAL  # 1.6 name
    # critical but routine: recorded as info
    assert security_alarm("StartupOfTheDevice") is Severity.INFO
    # Critical = No
    assert security_alarm("FailedToAuthenticateAtCsms") is None
    assert security_alarm("InvalidMessages") is None


def test_notify_event_alerting_and_cleared() -> None:
    """N07: a monitor's Alerting event raises; cleared: true ends it. AvailabilityState is
    a connector status, never a problem here."""
    payload = {
        "generatedAt": "2026-12-05T12:00:00Z",
        "seqNo": 0,
        "eventData": [
            {
                "eventId": 1,
                "timestamp": "2026-12-05T12:00:00Z",
                "trigger": "Alerting",
                "actualValue": "95",
                "eventNotificationType": "CustomMonitor",
                "component": {"name": "EVSE", "evse": {"id": 1}},
                "variable": {"name": "Temperature"},
            },
            {
                "eventId": 2,
                "timestamp": "2026-12-05T12:00:00Z",
                "trigger": "Delta",
                "actualValue": "Faulted",
                "eventNotificationType": "HardWiredNotification",
                "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
                "variable": {"name": "AvailabilityState"},
            },
            {
                "eventId": 3,
                "timestamp": "2026-12-05T12:00:00Z",
                "trigger": "Delta",
                "actualValue": "false",
                "eventNotificationType": "HardWiredNotification",
                "component": {"name": "ChargingStation"},
                "variable": {"name": "Problem"},
            },
            {
                "eventId": 4,
                "timestamp": "2026-12-05T12:00:00Z",
                "trigger": "Delta",
                "actualValue": "1",
                "techCode": "E42",
                "eventNotificationType": "HardWiredNotification",
                "component": {"name": "PowerModule"},
                "variable": {"name": "State"},
            },
            {
                "eventId": 5,
                "timestamp": "2026-12-05T12:00:00Z",
                "trigger": "Periodic",
                "actualValue": "20",
                "eventNotificationType": "CustomMonitor",
                "component": {"name": "EVSE"},
                "variable": {"name": "Power"},
            },
        ],
    }
    found = notify_event_conditions(payload)
    assert [(f.subject, f.active) for f in found] == [
        ("EVSE//1//Temperature/", True),
        ("ChargingStation////Problem/", False),
        ("PowerModule////State/", True),
    ]
    assert "E42" in found[2].message
    cleared = {**payload["eventData"][0], "cleared": True}  # type: ignore[index, dict-item]
    again = notify_event_conditions({"eventData": [cleared]})
    assert [(f.subject, f.active) for f in again] == [("EVSE//1//Temperature/", False)]
    assert notify_event_conditions({"eventData": "nonsense"}) == []
    # one eventData with the request's header, as the node records each event
    flat = {"generatedAt": "2026-12-05T12:00:00Z", "seqNo": 0, **payload["eventData"][3]}  # type: ignore[index, dict-item]
    assert [(f.subject, f.active) for f in notify_event_conditions(flat)] == [
        ("PowerModule////State/", True)
    ]


def test_register_backwards_and_energy_above_max() -> None:
    assert register_backwards(Decimal(1000), Decimal(999))
    assert not register_backwards(Decimal(1000), Decimal(1000))
    # 22 kW for 10 minutes is ~3.7 kWh; 50 kWh in 10 minutes is not possible at 22 kW
    later = T0 + timedelta(minutes=10)
    assert energy_above_max(Decimal(0), T0, Decimal(50_000), later, 22_000)
    assert not energy_above_max(Decimal(0), T0, Decimal(3_600), later, 22_000)


def test_counts_by_severity_has_every_severity() -> None:
    assert counts_by_severity([("major", 2), ("info", 1)]) == {
        "critical": 0,
        "major": 2,
        "minor": 0,
        "warning": 0,
        "info": 1,
    }


def test_payload_of_a_transition() -> None:
    change = Change(alarm(AlarmState.ACKNOWLEDGED), "acknowledged", "alice", "on it")
    data = alarm_payload(change)
    assert change.event_type == "alarm.acknowledged"
    assert data["by"] == "alice" and data["note"] == "on it" and data["alarm_id"] == 1
    assert Change(alarm(AlarmState.RAISED), "reraised", None, None).event_type == "alarm.raised"
