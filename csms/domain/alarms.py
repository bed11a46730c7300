"""Alarms: what the operators must learn about, as pure rules (docs/topics/alarms.md).

An alarm has a type, a severity and a dedupe key (one open alarm per key, cluster-wide:
the store's partial unique index). Its lifecycle::

    raised ──ack──> acknowledged
      │                 │
      └──── clear ──────┴──> cleared ──(raised again within the flapping window)──> raised
                                                                          (same alarm, count + 1)

A clear is automatic when the condition ends, or by hand (by whom, with a note). A charger
or a site in maintenance raises nothing. Rules (severity, threshold, enabled) come from a
built-in default, overridden by a global rule, a site's rule, then a charger's rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"
    INFO = "info"


class AlarmState(StrEnum):
    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


OPEN_STATES = (AlarmState.RAISED, AlarmState.ACKNOWLEDGED)


class AlarmType(StrEnum):
    CHARGER_OFFLINE = "charger_offline"
    CONNECTOR_FAULTED = "connector_faulted"
    CHARGER_PROBLEM = "charger_problem"  # 2.0.1 NotifyEvent: Alerting trigger / Problem
    SECURITY_EVENT = "security_event"
    BOOT_LOOP = "boot_loop"
    FIRMWARE_FAILED = "firmware_failed"
    LOG_UPLOAD_FAILED = "log_upload_failed"
    CAMPAIGN_HALTED = "campaign_halted"
    CERTIFICATE_RENEWAL_FAILED = "certificate_renewal_failed"
    SESSION_STUCK = "session_stuck"
    METER_BACKWARDS = "meter_backwards"
    ENERGY_ABOVE_MAX = "energy_above_max"
    NODE_GONE = "node_gone"
    QUEUE_BACKLOG = "queue_backlog"
    BREAKER_OPEN = "breaker_open"


class Scope(StrEnum):
    DEFAULT = "default"
    SITE = "site"
    CHARGER = "charger"


@dataclass(frozen=True, slots=True)
class Source:
    """A type's built-in rule: severity, threshold (None: the type has none) and its unit."""

    severity: Severity
    threshold: int | None
    unit: str | None
    description: str


SOURCES: Mapping[AlarmType, Source] = {
    AlarmType.CHARGER_OFFLINE: Source(
        Severity.MAJOR, 300, "seconds", "no socket and no heartbeat for threshold seconds"
    ),
    AlarmType.CONNECTOR_FAULTED: Source(
        Severity.MAJOR, None, None, "StatusNotification Faulted, or a 1.6 errorCode not NoError"
    ),
    AlarmType.CHARGER_PROBLEM: Source(
        Severity.MAJOR, None, None, "2.0.1 NotifyEvent: an Alerting event or a Problem variable"
    ),
    AlarmType.SECURITY_EVENT: Source(
        Severity.CRITICAL, None, None, "a SecurityEventNotification of a critical type"
    ),
    AlarmType.BOOT_LOOP: Source(
        Severity.MAJOR, 3, "boots", "threshold boots in a row answered Pending or Rejected"
    ),
    AlarmType.FIRMWARE_FAILED: Source(
        Severity.MAJOR, None, None, "a firmware status of download/install/signature failure"
    ),
    AlarmType.LOG_UPLOAD_FAILED: Source(
        Severity.MINOR, None, None, "a diagnostics or log upload failed"
    ),
    AlarmType.CAMPAIGN_HALTED: Source(
        Severity.MAJOR, None, None, "a firmware campaign halted on its failure rate"
    ),
    AlarmType.CERTIFICATE_RENEWAL_FAILED: Source(
        Severity.MAJOR, None, None, "a charger certificate due for renewal was not renewed"
    ),
    AlarmType.SESSION_STUCK: Source(
        Severity.MINOR, 30, "minutes", "a charging session with no meter values for threshold"
    ),
    AlarmType.METER_BACKWARDS: Source(
        Severity.MAJOR, None, None, "the energy register of a session went backwards"
    ),
    AlarmType.ENERGY_ABOVE_MAX: Source(
        Severity.MAJOR,
        350_000,
        "watts",
        "energy between two readings above what threshold watts can deliver",
    ),
    AlarmType.NODE_GONE: Source(
        Severity.CRITICAL, None, None, "a node left the registry without deregistering"
    ),
    AlarmType.QUEUE_BACKLOG: Source(
        Severity.MAJOR, 1000, "jobs", "more than threshold jobs queued in the worker queue"
    ),
    AlarmType.BREAKER_OPEN: Source(
        Severity.MAJOR, None, None, "a circuit breaker towards a node is open"
    ),
}

# Which types a charger's condition ending clears (the others clear by hand, or by a
# success that undoes them: an Installed firmware, an Accepted boot, an issued certificate).
CHARGER_TYPES = frozenset(
    {
        AlarmType.CHARGER_OFFLINE,
        AlarmType.CONNECTOR_FAULTED,
        AlarmType.CHARGER_PROBLEM,
        AlarmType.SECURITY_EVENT,
        AlarmType.BOOT_LOOP,
        AlarmType.FIRMWARE_FAILED,
        AlarmType.LOG_UPLOAD_FAILED,
        AlarmType.CERTIFICATE_RENEWAL_FAILED,
        AlarmType.SESSION_STUCK,
        AlarmType.METER_BACKWARDS,
        AlarmType.ENERGY_ABOVE_MAX,
    }
)


class AlarmError(ValueError):
    """A rule or a transition that cannot be (the service turns it into InvalidInput)."""


def parse_type(value: str) -> AlarmType:
    try:
        return AlarmType(value)
    except ValueError:
        known = ", ".join(t.value for t in AlarmType)
        raise AlarmError(f"unknown alarm type {value!r} (one of {known})") from None


def parse_severity(value: str) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        known = ", ".join(s.value for s in Severity)
        raise AlarmError(f"unknown severity {value!r} (one of {known})") from None


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule row: ``target`` is "" for the default scope, else a site or charger id.
    ``severity``/``threshold`` None: inherit from the wider scope."""

    type: AlarmType
    scope: Scope
    target: str
    enabled: bool = True
    severity: Severity | None = None
    threshold: int | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Effective:
    """The rule in force for one alarm type at one charger (or platform-wide)."""

    type: AlarmType
    enabled: bool
    severity: Severity
    threshold: int | None


def validate_rule(rule: Rule) -> Rule:
    """A rule an operator may store; AlarmError says what is wrong."""
    if rule.threshold is not None:
        if rule.threshold < 0:
            raise AlarmError("threshold must not be negative")
        if SOURCES[rule.type].threshold is None:
            raise AlarmError(f"{rule.type} alarms have no threshold")
    if rule.scope is Scope.DEFAULT and rule.target != "":
        raise AlarmError("a default rule has no target")
    if rule.scope is not Scope.DEFAULT and not rule.target:
        raise AlarmError(f"a {rule.scope} rule needs a target (the {rule.scope} id)")
    if rule.scope is not Scope.DEFAULT and rule.type not in CHARGER_TYPES:
        raise AlarmError(f"{rule.type} is a platform alarm: only a default rule applies")
    return rule


def effective_rule(
    alarm_type: AlarmType,
    rules: Iterable[Rule],
    *,
    charge_point_id: str | None = None,
    site_id: str | None = None,
    default_threshold: int | None = None,
) -> Effective:
    """Built-in (its threshold replaced by ``default_threshold`` from the settings, if
    given) < default rule < site rule < charger rule; each sets what it names."""
    source = SOURCES[alarm_type]
    threshold = source.threshold if default_threshold is None else default_threshold
    result = Effective(alarm_type, True, source.severity, threshold)
    ranked = {Scope.DEFAULT: 0, Scope.SITE: 1, Scope.CHARGER: 2}
    applicable = [
        r
        for r in rules
        if r.type is alarm_type
        and (
            r.scope is Scope.DEFAULT
            or (r.scope is Scope.SITE and site_id is not None and r.target == site_id)
            or (r.scope is Scope.CHARGER and r.target == charge_point_id)
        )
    ]
    for rule in sorted(applicable, key=lambda r: ranked[r.scope]):
        result = replace(
            result,
            enabled=rule.enabled,
            severity=rule.severity or result.severity,
            threshold=rule.threshold if rule.threshold is not None else result.threshold,
        )
    return result


def dedupe_key(alarm_type: AlarmType, charge_point_id: str | None, subject: str = "") -> str:
    """One open alarm per key: the type, where (a charger, or "" for the platform) and what
    (a connector, a component, a node, ...)."""
    return f"{alarm_type}:{charge_point_id or ''}:{subject}"


@dataclass(frozen=True, slots=True)
class Condition:
    """A condition that holds: what would be raised (severity and enabled from the rule)."""

    type: AlarmType
    charge_point_id: str | None
    subject: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return dedupe_key(self.type, self.charge_point_id, self.subject)


@dataclass(frozen=True, slots=True)
class Alarm:
    id: int
    type: AlarmType
    severity: Severity
    state: AlarmState
    dedupe_key: str
    charge_point_id: str | None
    site_id: str | None
    subject: str
    message: str
    details: Mapping[str, Any]
    count: int
    raised_at: datetime
    last_raised_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    ack_note: str | None = None
    cleared_at: datetime | None = None
    cleared_by: str | None = None
    clear_note: str | None = None

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of an alarm's history."""

    alarm_id: int
    at: datetime
    action: str  # raised / reraised / acknowledged / cleared
    by: str | None
    note: str | None
    state: AlarmState


class Raise(StrEnum):
    NEW = "new"  # insert a new alarm
    REOPEN = "reopen"  # the same alarm again (flapping): count + 1
    NONE = "none"  # already open: nothing


def on_raise(latest: Alarm | None, now: datetime, flapping_window: timedelta) -> Raise:
    """What raising a condition does given the latest alarm of its key (open or not)."""
    if latest is None:
        return Raise.NEW
    if latest.open:
        return Raise.NONE
    if latest.cleared_at is not None and now - latest.cleared_at <= flapping_window:
        return Raise.REOPEN
    return Raise.NEW


def can_acknowledge(alarm: Alarm) -> bool:
    return alarm.state is AlarmState.RAISED


def can_clear(alarm: Alarm) -> bool:
    return alarm.open


def in_maintenance(
    charge_point_id: str | None, site_id: str | None, flags: Iterable[tuple[Scope, str]]
) -> bool:
    """A charger in maintenance, or at a site in maintenance, raises nothing."""
    if charge_point_id is None:
        return False
    for scope, target in flags:
        if scope is Scope.CHARGER and target == charge_point_id:
            return True
        if scope is Scope.SITE and site_id is not None and target == site_id:
            return True
    return False


# -- sources: which reports are conditions ----------------------------------------------------

FAULTED = "Faulted"
NO_ERROR = "NoError"


def connector_faulted(status: str, error_code: str | None) -> bool:
    """1.6: Faulted or an errorCode other than NoError; 2.0.1: Faulted (no error code)."""
    return status == FAULTED or (error_code not in (None, "", NO_ERROR))


def connector_subject(evse_id: int, connector_id: int) -> str:
    return f"{evse_id}/{connector_id}"


# OCPP 2.0.1 appendix 1 "Security Events" (Appendices_CSV security_events.csv, Critical=Yes)
# and the 1.6 security whitepaper's list of the same events.
CRITICAL_SECURITY_EVENTS = frozenset(
    {
        "FirmwareUpdated",
        "SettingSystemTime",
        "StartupOfTheDevice",
        "ResetOrReboot",
        "SecurityLogWasCleared",
        "MemoryExhaustion",
        "TamperDetectionActivated",
        "InvalidFirmwareSignature",
        "InvalidFirmwareSigningCertificate",
        "InvalidCsmsCertificate",
        "InvalidCentralSystemCertificate",  # 1.6 whitepaper's name for the one above
        "InvalidChargingStationCertificate",
        "InvalidChargePointCertificate",  # 1.6 whitepaper's name
        "InvalidTLSVersion",
        "InvalidTLSCipherSuite",
        "MaintenanceLoginAccepted",
        "MaintenanceLoginFailed",
    }
)
# Critical by the appendix yet part of normal operation: raised only as info, never paging.
ROUTINE_SECURITY_EVENTS = frozenset(
    {"FirmwareUpdated", "StartupOfTheDevice", "ResetOrReboot", "SettingSystemTime"}
)


def security_alarm(event_type: str) -> Severity | None:
    """The severity an alarm for this security event gets at most (None: no alarm).

    Every critical type raises; the routine ones (a reboot, a firmware update, a clock
    change: what a healthy charger reports) only at ``info``, so a default rule keeps them
    out of the operators' way while they remain on record."""
    if event_type not in CRITICAL_SECURITY_EVENTS:
        return None
    return Severity.INFO if event_type in ROUTINE_SECURITY_EVENTS else Severity.CRITICAL


FIRMWARE_FAILURES = frozenset(
    {
        "DownloadFailed",
        "InstallationFailed",
        "InstallVerificationFailed",
        "InvalidSignature",
    }
)
FIRMWARE_SUCCESS = frozenset({"Installed"})
LOG_FAILURES = frozenset(
    {"UploadFailed", "UploadFailure", "BadMessage", "NotSupportedOperation", "PermissionDenied"}
)
LOG_SUCCESS = frozenset({"Uploaded"})
BOOT_REFUSED = frozenset({"Pending", "Rejected"})


@dataclass(frozen=True, slots=True)
class EventCondition:
    """What one NotifyEvent eventData says: a problem raised (``active``) or cleared."""

    subject: str
    active: bool
    message: str
    details: Mapping[str, Any]


def notify_event_conditions(payload: Mapping[str, Any]) -> list[EventCondition]:
    """The alerting/problem events of a 2.0.1 NotifyEventRequest (N07, N08), or of one of
    its eventData (with the request's header fields) as the node records each.

    An event is a problem when its trigger is ``Alerting`` (a monitor's threshold crossed,
    N07.FR.*), when the variable is ``Problem`` or ``Fault``, or when it carries a
    ``techCode``; it ends with ``cleared: true`` (N07.FR.17: the monitor returned to normal)
    or a ``Problem`` variable reading false. AvailabilityState events are connector
    statuses (handled as such) and never problems here."""
    found: list[EventCondition] = []
    data = payload.get("eventData")
    if data is None and "component" in payload:
        data = [payload]  # the node keeps each eventData as its own notification
    if not isinstance(data, list):
        return found
    for item in data:
        if not isinstance(item, Mapping):
            continue
        component = item.get("component") or {}
        variable = item.get("variable") or {}
        variable_name = str(variable.get("name", ""))
        if variable_name == "AvailabilityState":
            continue
        evse = component.get("evse") or {}
        subject = "/".join(
            str(part)
            for part in (
                component.get("name", ""),
                component.get("instance", ""),
                evse.get("id", ""),
                evse.get("connectorId", ""),
                variable_name,
                variable.get("instance", ""),
            )
        )
        actual = str(item.get("actualValue", ""))
        problem_variable = variable_name in ("Problem", "Fault")
        alerting = (
            item.get("trigger") == "Alerting" or problem_variable or bool(item.get("techCode"))
        )
        if not alerting:
            continue
        active = not bool(item.get("cleared", False))
        if problem_variable and actual.lower() == "false":
            active = False
        details = {
            k: item[k]
            for k in (
                "eventId",
                "trigger",
                "eventNotificationType",
                "actualValue",
                "techCode",
                "techInfo",
                "severity",
                "variableMonitoringId",
            )
            if k in item
        }
        message = f"{component.get('name', '?')}.{variable_name or '?'} = {actual}"
        if item.get("techCode"):
            message += f" ({item['techCode']})"
        found.append(EventCondition(subject, active, message, details))
    return found


def energy_above_max(
    previous_wh: Decimal, previous_at: datetime, wh: Decimal, at: datetime, max_watts: int
) -> bool:
    """Whether the energy between two register readings is more than ``max_watts`` could
    deliver in the time between them (with 10 % and one minute of slack for clocks and
    rounding)."""
    seconds = (at - previous_at).total_seconds() + 60
    if seconds <= 0:
        return False
    allowed = Decimal(max_watts) * Decimal(seconds) / Decimal(3600) * Decimal("1.1")
    return wh - previous_wh > allowed


def register_backwards(previous_wh: Decimal, wh: Decimal) -> bool:
    return wh < previous_wh


def over_threshold(value: int | float, effective: Effective) -> bool:
    return effective.threshold is not None and value > effective.threshold


def counts_by_severity(rows: Sequence[tuple[str, int]]) -> dict[str, int]:
    """Every severity, 0 where no open alarm has it."""
    counts = {s.value: 0 for s in Severity}
    for severity, count in rows:
        counts[severity] = counts.get(severity, 0) + count
    return counts


# -- transitions as events ---------------------------------------------------------------

RAISED = "alarm.raised"
ACKNOWLEDGED = "alarm.acknowledged"
CLEARED = "alarm.cleared"
EVENT_OF_ACTION = {
    "raised": RAISED,
    "reraised": RAISED,
    "acknowledged": ACKNOWLEDGED,
    "cleared": CLEARED,
}


@dataclass(frozen=True, slots=True)
class Change:
    """A transition that happened: the alarm after it and what it was."""

    alarm: Alarm
    action: str  # raised / reraised / acknowledged / cleared
    by: str | None
    note: str | None

    @property
    def event_type(self) -> str:
        return EVENT_OF_ACTION[self.action]


def alarm_payload(change: Change) -> dict[str, Any]:
    """What the live stream and the outbox carry for a transition."""
    a = change.alarm
    return {
        "alarm_id": a.id,
        "action": change.action,
        "type": a.type.value,
        "severity": a.severity.value,
        "state": a.state.value,
        "dedupe_key": a.dedupe_key,
        "charge_point_id": a.charge_point_id,
        "site_id": a.site_id,
        "subject": a.subject,
        "message": a.message,
        "count": a.count,
        "raised_at": a.raised_at.isoformat(),
        "by": change.by,
        "note": change.note,
    }
