"""Configuration baselines (profiles, applies, drift, history) and diagnostics / log
uploads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from backoffice.schemas.common import Input
from csms.domain.charger_logs import LogRequest
from csms.domain.fleet_config import (
    ApplyItem,
    ConfigApply,
    ConfigProfile,
    DriftItem,
    HistoryEntry,
    setting_json,
)

PROFILE_EXAMPLE = {
    "id": "ac-fleet-16",
    "ocpp_version": "1.6",
    "priority": 10,
    "description": "Heartbeat and metering of the AC fleet",
    "selector": {"model": ["SimModel"], "site": ["AMS-01"]},
    "settings": {"HeartbeatInterval": "300", "MeterValueSampleInterval": 60},
    "reapply_on_boot": True,
}


class ProfilePublic(BaseModel):
    id: str
    ocpp_version: str
    priority: int
    description: str
    reapply_on_boot: bool
    selector: dict[str, list[str]]
    settings: list[dict[str, Any]]
    created_by: str | None
    created_at: datetime
    updated_by: str | None
    updated_at: datetime

    @classmethod
    def of(cls, profile: ConfigProfile) -> ProfilePublic:
        return cls(
            id=profile.id,
            ocpp_version=profile.ocpp_version,
            priority=profile.priority,
            description=profile.description,
            reapply_on_boot=profile.reapply_on_boot,
            selector=profile.selector.as_json(),
            settings=[setting_json(d) for d in profile.settings],
            created_by=profile.created_by,
            created_at=profile.created_at,
            updated_by=profile.updated_by,
            updated_at=profile.updated_at,
        )


class ApplyPublic(BaseModel):
    id: int
    profile_id: str
    reason: str
    requested_by: str | None
    requested_at: datetime
    finished_at: datetime | None
    outcomes: dict[str, int]

    @classmethod
    def of(cls, applied: ConfigApply) -> ApplyPublic:
        return cls(**{f: getattr(applied, f) for f in cls.model_fields})


class PlannedItem(BaseModel):
    charge_point_id: str
    setting: str
    value: str
    outcome: str
    detail: str


class ApplyAnswer(BaseModel):
    """The apply recorded (null for a dry run) and what it does at each charger: Pending
    (sent by the worker), Unchanged, NotSupported, Superseded."""

    dry_run: bool
    apply: ApplyPublic | None
    chargers: int
    connected: int
    plan: list[PlannedItem]


class ApplyItemPublic(BaseModel):
    charge_point_id: str
    setting: str
    value: str
    outcome: str
    detail: str
    rebooted_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, item: ApplyItem) -> ApplyItemPublic:
        return cls(**{f: getattr(item, f) for f in cls.model_fields})


class DriftPublic(BaseModel):
    charge_point_id: str
    setting: str
    profile_id: str
    desired: str
    reported: str | None
    state: str = Field(description="in_sync, drift, not_supported, unknown")
    last_outcome: str | None

    @classmethod
    def of(cls, item: DriftItem) -> DriftPublic:
        return cls(**{f: getattr(item, f) for f in cls.model_fields})


class DriftReport(BaseModel):
    chargers: int = Field(description="Chargers with desired settings")
    drifted_chargers: int = Field(description="Chargers with at least one drifted setting")
    states: dict[str, int] = Field(description="Settings per state")
    items: list[DriftPublic]


class HistoryPublic(BaseModel):
    id: int
    setting: str
    old_value: str | None
    new_value: str | None
    source: str = Field(description="reported, applied or removed")
    changed_by: str | None
    changed_at: datetime

    @classmethod
    def of(cls, entry: HistoryEntry) -> HistoryPublic:
        return cls(**{f: getattr(entry, f) for f in cls.model_fields})


class RefreshPublic(BaseModel):
    charge_point_id: str
    status: str = Field(description="Complete (1.6) or Accepted (a 2.0.1 report follows)")
    request_id: int | None
    settings: int = Field(description="Values the charger reports now")


LogType = Literal["diagnostics", "security"]


class LogRequestCreate(Input):
    type: LogType = "diagnostics"
    from_: Annotated[
        AwareDatetime | None, Field(alias="from", description="Oldest time the log covers")
    ] = None
    to: Annotated[AwareDatetime | None, Field(description="Latest time the log covers")] = None


class LogRequestPublic(BaseModel):
    id: int
    charge_point_id: str
    type: str
    action: str
    request_id: int
    status: str
    status_at: datetime
    statuses: list[dict[str, Any]]
    requested_by: str | None
    requested_at: datetime
    expires_at: datetime
    oldest_at: datetime | None
    latest_at: datetime | None
    file_name: str | None
    upload_name: str | None
    content_type: str | None
    size_bytes: int | None
    sha256: str | None
    uploaded_at: datetime | None

    @classmethod
    def of(cls, r: LogRequest) -> LogRequestPublic:
        fields = {f: getattr(r, f) for f in cls.model_fields if f != "type"}
        return cls(type=r.log_type, **fields)
