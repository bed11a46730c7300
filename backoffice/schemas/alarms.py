"""Alarms, their history, alarm rules and maintenance flags (docs/topics/alarms.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from backoffice.schemas.common import Input, Text
from csms.domain.alarms import Alarm, AlarmType, Rule, Scope, Severity, Transition
from csms.store.alarms import Maintenance

Note = Field(max_length=2000, description="Why: kept in the alarm's history")


class AlarmNote(Input):
    note: Text = Note


class HistoryEntry(BaseModel):
    at: datetime
    action: str
    state: str
    by: str | None
    note: str | None

    @classmethod
    def of(cls, t: Transition) -> HistoryEntry:
        return cls(at=t.at, action=t.action, state=t.state.value, by=t.by, note=t.note)


class AlarmPublic(BaseModel):
    id: int
    type: AlarmType
    severity: Severity
    state: str
    dedupe_key: str
    charge_point_id: str | None
    site_id: str | None
    subject: str
    message: str
    details: dict[str, Any]
    count: int = Field(description="Times raised: flapping within the window stays one alarm")
    raised_at: datetime
    last_raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    ack_note: str | None
    cleared_at: datetime | None
    cleared_by: str | None = Field(description="Who cleared it by hand; null when automatic")
    clear_note: str | None

    @classmethod
    def of(cls, a: Alarm) -> AlarmPublic:
        return cls(
            id=a.id,
            type=a.type,
            severity=a.severity,
            state=a.state.value,
            dedupe_key=a.dedupe_key,
            charge_point_id=a.charge_point_id,
            site_id=a.site_id,
            subject=a.subject,
            message=a.message,
            details=dict(a.details),
            count=a.count,
            raised_at=a.raised_at,
            last_raised_at=a.last_raised_at,
            acknowledged_at=a.acknowledged_at,
            acknowledged_by=a.acknowledged_by,
            ack_note=a.ack_note,
            cleared_at=a.cleared_at,
            cleared_by=a.cleared_by,
            clear_note=a.clear_note,
        )


class AlarmDetail(AlarmPublic):
    history: list[HistoryEntry]


class RuleCreate(Input):
    type: str = Field(description="An alarm type (GET /api/v1/alarm-types)")
    scope: Literal["default", "site", "charger"] = "default"
    target: str = Field("", max_length=48, description="The site or charger id; '' for default")
    enabled: bool = True
    severity: Severity | None = Field(None, description="Null: inherit")
    threshold: int | None = Field(None, description="Null: inherit. Never negative")


class RuleUpdate(Input):
    enabled: bool = True
    severity: Severity | None = None
    threshold: int | None = None


class RulePublic(BaseModel):
    id: int
    type: AlarmType
    scope: Scope
    target: str
    enabled: bool
    severity: Severity | None
    threshold: int | None

    @classmethod
    def of(cls, r: Rule) -> RulePublic:
        assert r.id is not None
        return cls(
            id=r.id,
            type=r.type,
            scope=r.scope,
            target=r.target,
            enabled=r.enabled,
            severity=r.severity,
            threshold=r.threshold,
        )


class AlarmTypePublic(BaseModel):
    type: AlarmType
    severity: Severity
    threshold: int | None
    unit: str | None
    description: str


class MaintenanceSet(Input):
    enabled: bool
    note: Text = Field("", max_length=2000)


class MaintenancePublic(BaseModel):
    scope: Scope
    target: str
    enabled: bool
    note: str = ""
    since: datetime | None = None
    set_by: str | None = None

    @classmethod
    def of(cls, scope: Scope, target: str, m: Maintenance | None) -> MaintenancePublic:
        if m is None:
            return cls(scope=scope, target=target, enabled=False)
        return cls(
            scope=scope, target=target, enabled=True, note=m.note, since=m.since, set_by=m.set_by
        )
