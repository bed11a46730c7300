"""The alarm service's hook subscribers (csms.services.alarms) over an in-memory store that
follows the domain's lifecycle: which reports raise, which clear, and what is published."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from csms.domain.alarms import (
    Alarm,
    AlarmState,
    AlarmType,
    Change,
    Condition,
    Effective,
    Raise,
    Rule,
    Scope,
    Severity,
    effective_rule,
    on_raise,
)
from csms.domain.chargers import ConnectorStatus
from csms.domain.meter_values import MeterSample
from csms.domain.transactions import SessionRef
from csms.services.alarms import AlarmService
from csms.services.hooks import (
    ChargerBooted,
    ConnectorStatusChanged,
    FirmwareCampaignChanged,
    FirmwareCampaignHalted,
    FirmwareStatusReported,
    Hooks,
    LogStatusReported,
    NotificationReceived,
    SecurityEventReported,
    SessionUpdated,
)

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


class MemoryAlarms:
    def __init__(self, rules: list[Rule] | None = None) -> None:
        self.alarms: list[Alarm] = []
        self.rules = rules or []
        self.counters: dict[str, int] = {}

    def _latest(self, key: str) -> Alarm | None:
        found = [a for a in self.alarms if a.dedupe_key == key]
        return found[-1] if found else None

    async def raise_alarm(
        self,
        condition: Condition,
        *,
        now: datetime,
        flapping_window: timedelta,
        severity: Severity | None = None,
    ) -> Change | None:
        rule = effective_rule(condition.type, self.rules, charge_point_id=condition.charge_point_id)
        if not rule.enabled:
            return None
        latest = self._latest(condition.key)
        decision = on_raise(latest, now, flapping_window)
        if decision is Raise.NONE:
            return None
        level = severity or rule.severity
        if decision is Raise.REOPEN and latest is not None:
            alarm = Alarm(**{**_fields(latest), "state": AlarmState.RAISED,
                             "count": latest.count + 1, "cleared_at": None})  # fmt: skip
            self.alarms[self.alarms.index(latest)] = alarm
            return Change(alarm, "reraised", None, None)
        alarm = Alarm(
            id=len(self.alarms) + 1,
            type=condition.type,
            severity=level,
            state=AlarmState.RAISED,
            dedupe_key=condition.key,
            charge_point_id=condition.charge_point_id,
            site_id=None,
            subject=condition.subject,
            message=condition.message,
            details=condition.details,
            count=1,
            raised_at=now,
            last_raised_at=now,
        )
        self.alarms.append(alarm)
        return Change(alarm, "raised", None, None)

    async def clear(
        self, key: str, *, now: datetime, by: str | None = None, note: str | None = None
    ) -> Change | None:
        latest = self._latest(key)
        if latest is None or not latest.open:
            return None
        alarm = Alarm(**{**_fields(latest), "state": AlarmState.CLEARED, "cleared_at": now})
        self.alarms[self.alarms.index(latest)] = alarm
        return Change(alarm, "cleared", by, note)

    async def effective(self, alarm_type: AlarmType, charge_point_id: str | None) -> Effective:
        return effective_rule(alarm_type, self.rules, charge_point_id=charge_point_id)

    async def bump(self, key: str) -> int:
        self.counters[key] = self.counters.get(key, 0) + 1
        return self.counters[key]

    async def reset(self, key: str) -> bool:
        return self.counters.pop(key, None) is not None

    def open(self, alarm_type: AlarmType) -> list[Alarm]:
        return [a for a in self.alarms if a.type is alarm_type and a.open]


def _fields(a: Alarm) -> dict[str, Any]:
    return {name: getattr(a, name) for name in Alarm.__slots__}  # type: ignore[attr-defined]


@pytest.fixture
def store() -> MemoryAlarms:
    return MemoryAlarms()


@pytest.fixture
def published() -> list[tuple[str, str, dict[str, Any]]]:
    return []


@pytest.fixture
def hooks(store: MemoryAlarms, published: list[tuple[str, str, dict[str, Any]]]) -> Hooks:
    hooks = Hooks()
    service = AlarmService(
        store,
        clock=lambda: T0,
        flapping_window=timedelta(minutes=5),
        publish=lambda t, cp, d: published.append((t, cp, d)),
    )
    service.attach(hooks)
    service.attach_campaigns(hooks)
    return hooks


def status(s: str, error_code: str = "NoError", connector: int = 1) -> ConnectorStatus:
    return ConnectorStatus(0, connector, s, error_code, None, None, None, T0)


async def test_connector_fault_raises_clears_and_publishes(
    hooks: Hooks, store: MemoryAlarms, published: list[tuple[str, str, dict[str, Any]]]
) -> None:
    await hooks.emit(ConnectorStatusChanged("CP1", status("Available", "GroundFailure")))
    await hooks.emit(ConnectorStatusChanged("CP1", status("Faulted", "GroundFailure")))
    (alarm,) = store.open(AlarmType.CONNECTOR_FAULTED)
    assert "GroundFailure" in alarm.message
    await hooks.emit(ConnectorStatusChanged("CP1", status("Available")))
    assert store.open(AlarmType.CONNECTOR_FAULTED) == []
    assert [(t, cp) for t, cp, _ in published] == [
        ("alarm.raised", "CP1"),
        ("alarm.cleared", "CP1"),
    ]
    assert "charge_point_id" not in published[0][2]  # the event's own field


async def test_notify_event_problem_raises_and_clears(hooks: Hooks, store: MemoryAlarms) -> None:
    event = {
        "eventId": 7,
        "timestamp": "2026-12-05T12:00:00Z",
        "trigger": "Alerting",
        "actualValue": "92",
        "eventNotificationType": "CustomMonitor",
        "component": {"name": "EVSE", "evse": {"id": 1}},
        "variable": {"name": "Temperature"},
    }
    payload = {"generatedAt": "2026-12-05T12:00:00Z", "seqNo": 0, "eventData": [event]}
    await hooks.emit(NotificationReceived("CP1", "NotifyEvent", None, payload, T0))
    (alarm,) = store.open(AlarmType.CHARGER_PROBLEM)
    assert alarm.details["eventNotificationType"] == "CustomMonitor"
    cleared = {**payload, "eventData": [{**event, "cleared": True}]}
    await hooks.emit(NotificationReceived("CP1", "NotifyEvent", None, cleared, T0))
    assert store.open(AlarmType.CHARGER_PROBLEM) == []
    await hooks.emit(NotificationReceived("CP1", "DataTransfer", None, payload, T0))
    assert store.open(AlarmType.CHARGER_PROBLEM) == []


async def test_security_events_critical_and_routine(hooks: Hooks, store: MemoryAlarms) -> None:
    await hooks.emit(SecurityEventReported("CP1", "TamperDetectionActivated", T0, "door"))
    await hooks.emit(SecurityEventReported("CP1", "StartupOfTheDevice", T0, None))
    await hooks.emit(SecurityEventReported("CP1", "FailedToAuthenticateAtCsms", T0, None))
    found = {a.subject: a.severity for a in store.open(AlarmType.SECURITY_EVENT)}
    assert found == {
        "TamperDetectionActivated": Severity.CRITICAL,
        "StartupOfTheDevice": Severity.INFO,
    }


async def test_boot_loop_after_the_threshold_and_accepted_clears(
    hooks: Hooks, store: MemoryAlarms
) -> None:
    for _ in range(2):
        await hooks.emit(ChargerBooted("CP1", "Pending", None))  # type: ignore[arg-type]
    assert store.open(AlarmType.BOOT_LOOP) == []
    await hooks.emit(ChargerBooted("CP1", "Rejected", None))  # type: ignore[arg-type]
    (alarm,) = store.open(AlarmType.BOOT_LOOP)
    assert alarm.details["boots"] == 3
    await hooks.emit(ChargerBooted("CP1", "Accepted", None))  # type: ignore[arg-type]
    assert store.open(AlarmType.BOOT_LOOP) == [] and store.counters == {}


async def test_firmware_log_and_campaign(hooks: Hooks, store: MemoryAlarms) -> None:
    await hooks.emit(FirmwareStatusReported("CP1", "InstallationFailed", 3, "FirmwareStatus"))
    await hooks.emit(LogStatusReported("CP1", "UploadFailure", 4, "LogStatusNotification"))
    await hooks.emit(FirmwareCampaignHalted(9, 2, "failure rate 30 % above 10 %"))
    assert len(store.open(AlarmType.FIRMWARE_FAILED)) == 1
    assert len(store.open(AlarmType.LOG_UPLOAD_FAILED)) == 1
    (halted,) = store.open(AlarmType.CAMPAIGN_HALTED)
    assert halted.charge_point_id is None and halted.subject == "9"
    await hooks.emit(FirmwareStatusReported("CP1", "Installed", 3, "FirmwareStatus"))
    await hooks.emit(LogStatusReported("CP1", "Uploaded", 4, "LogStatusNotification"))
    await hooks.emit(FirmwareCampaignChanged(9, "resumed", "running", None, "op"))
    assert store.open(AlarmType.FIRMWARE_FAILED) == []
    assert store.open(AlarmType.LOG_UPLOAD_FAILED) == []
    assert store.open(AlarmType.CAMPAIGN_HALTED) == []


def register(wh: int, at: datetime) -> MeterSample:
    return MeterSample(at, "Energy.Active.Import.Register", "", "Outlet", "Sample.Periodic",
                       "Wh", Decimal(wh), str(wh))  # fmt: skip


async def test_meter_backwards_and_energy_above_max(hooks: Hooks, store: MemoryAlarms) -> None:
    ref = SessionRef(1, "TX-1", 0, 1)
    event: Any = None
    minute = timedelta(minutes=1)
    await hooks.emit(SessionUpdated("CP1", ref, [register(1000, T0)], event))
    await hooks.emit(SessionUpdated("CP1", ref, [register(1500, T0 + minute)], event))
    assert store.alarms == []
    await hooks.emit(SessionUpdated("CP1", ref, [register(1400, T0 + 2 * minute)], event))
    (backwards,) = store.open(AlarmType.METER_BACKWARDS)
    assert backwards.subject == "TX-1"
    # 100 kWh in one minute is above what 350 kW can deliver
    await hooks.emit(SessionUpdated("CP1", ref, [register(101_400, T0 + 3 * minute)], event))
    assert len(store.open(AlarmType.ENERGY_ABOVE_MAX)) == 1


async def test_a_disabled_rule_raises_nothing() -> None:
    store = MemoryAlarms([Rule(AlarmType.CONNECTOR_FAULTED, Scope.CHARGER, "CP1", enabled=False)])
    hooks = Hooks()
    AlarmService(store, clock=lambda: T0, flapping_window=timedelta(minutes=5)).attach(hooks)
    await hooks.emit(ConnectorStatusChanged("CP1", status("Faulted")))
    await hooks.emit(ConnectorStatusChanged("CP2", status("Faulted")))
    assert [a.charge_point_id for a in store.alarms] == ["CP2"]
