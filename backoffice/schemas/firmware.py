"""Firmware artifacts and campaigns (docs/api.md "Firmware")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from backoffice.schemas.common import Input

Percent = Annotated[
    str | int | float,
    Field(examples=["5%"], description='A percentage: 5, 5.5 or "5%"'),
]


class ArtifactPublic(BaseModel):
    id: int
    version: str
    vendor: str | None
    model: str | None
    file_name: str
    size_bytes: int
    sha256: str
    signed: bool
    storage: str = Field(description="large_object (PostgreSQL) or directory")
    description: str
    created_by: str | None
    created_at: datetime


class Target(Input):
    """Which chargers: every criterion given must hold."""

    site: str | None = Field(None, max_length=36)
    vendor: str | None = Field(None, max_length=50)
    model: str | None = Field(None, max_length=50)
    firmware_version: str | None = Field(None, max_length=50, description="current version")
    chargers: list[Annotated[str, Field(min_length=1, max_length=48)]] | None = Field(
        None, max_length=100_000
    )


class CampaignCreate(Input):
    artifact_id: int = Field(ge=1)
    target: Target
    name: str = Field("", max_length=200)
    canary: int = Field(0, ge=0, description="chargers in the first wave")
    waves: list[Percent] = Field(
        default_factory=lambda: list[str | int | float](["100%"]),
        min_length=1,
        max_length=20,
        description="cumulative percentages of the selected chargers, the last 100%",
    )
    max_failure_rate: Percent = Field("5%", description="a wave failing more halts")
    max_concurrent: int = Field(100, ge=1, le=100_000)
    windows: list[Annotated[str, Field(max_length=11)]] = Field(
        default_factory=list,
        max_length=24,
        description="daily HH:MM-HH:MM windows in each site's local time; none: any time",
    )
    session_policy: str = Field(
        "wait", description="wait: only after a charger's sessions end; schedule: send now"
    )
    retrieve_at: datetime | None = Field(None, description="retrieveDateTime (not before)")
    install_at: datetime | None = Field(None, description="installDateTime")
    max_attempts: int = Field(2, ge=1, le=10)
    retry_delay: float = Field(300, ge=0, le=86_400, description="seconds between attempts")
    timeouts: dict[str, float] = Field(
        default_factory=dict, description="seconds per phase: answer, download, install, confirm"
    )


class WavePublic(BaseModel):
    number: int
    label: str
    size: int
    pending: int
    in_flight: int
    succeeded: int
    failed: int
    cancelled: int
    failure_rate: str = Field(description="failed / size, percent")
    failures_accepted: bool
    started_at: datetime | None
    finished_at: datetime | None


class CampaignPublic(BaseModel):
    id: int
    name: str
    status: str
    artifact_id: int
    target_version: str
    signed: bool
    target: dict[str, Any]
    canary: int
    waves: list[str]
    max_failure_rate: str
    max_concurrent: int
    windows: list[str]
    session_policy: str
    retrieve_at: datetime | None
    install_at: datetime | None
    max_attempts: int
    retry_delay: float
    timeouts: dict[str, float]
    current_wave: int
    halted_reason: str | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class CampaignDetail(CampaignPublic):
    chargers: int
    counts: dict[str, int] = Field(description="chargers by state")
    wave_progress: list[WavePublic]


class TargetPublic(BaseModel):
    charge_point_id: str
    wave: int
    position: int
    state: str
    attempts: int
    request_id: int | None
    last_status: str | None
    failure: str | None
    from_version: str | None
    reported_version: str | None
    waiting: str | None
    phase_deadline: datetime | None
    not_before: datetime | None
    updated_at: datetime
    finished_at: datetime | None


class EventPublic(BaseModel):
    id: int
    charge_point_id: str | None
    at: datetime
    kind: str
    state: str | None
    detail: str | None
    actor: str | None


class RetryResult(BaseModel):
    campaign: CampaignPublic
    retried: int
    skipped: int = Field(description="failed chargers now in another campaign")


class ChargerUpdatePublic(BaseModel):
    """The charger's update in one campaign."""

    campaign_id: int
    campaign_name: str
    campaign_status: str
    artifact_id: int
    version: str = Field(description="The firmware version the campaign installs")
    state: str
    last_status: str | None = Field(description="The last firmware status the charger reported")
    failure: str | None
    attempts: int
    from_version: str | None
    reported_version: str | None
    sent_at: datetime | None
    updated_at: datetime
    finished_at: datetime | None


class FirmwareStatusPublic(BaseModel):
    """A firmware status notification the charger sent."""

    id: int
    action: str = Field(
        description="FirmwareStatusNotification or SignedFirmwareStatusNotification"
    )
    status: str | None
    request_id: int | None
    occurred_at: datetime | None
    received_at: datetime


class ChargerFirmwarePublic(BaseModel):
    """A charger's firmware history, newest first."""

    charge_point_id: str
    firmware_version: str | None
    firmware_status: str | None = Field(description="The last status the charger reported")
    updates: list[ChargerUpdatePublic] = Field(description="Its updates in campaigns, newest first")
    statuses: list[FirmwareStatusPublic] = Field(
        description="The last firmware statuses it reported, newest first"
    )
