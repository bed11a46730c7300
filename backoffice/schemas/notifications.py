"""Webhook and e-mail subscriptions, their deliveries and the event catalogue."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from backoffice.schemas.common import Input, Text
from backoffice.schemas.sites import Identifier

EventTypes = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=64)]],
    Field(
        min_length=1,
        max_length=32,
        description="Event types of the catalogue (GET /api/v1/notification-event-types), "
        "a family (`alarm.*`) or `*`",
        examples=[["alarm.raised", "alarm.cleared"]],
    ),
]
WebhookUrl = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2000,
        description="http(s) URL the events are POSTed to; not the platform itself, and not "
        "a loopback or private address unless CSMS_WEBHOOK_ALLOW_PRIVATE",
        examples=["https://ops.example.com/hooks/csms"],
    ),
]
Description = Annotated[Text, Field(max_length=500)]

_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


def _address(value: str) -> str:
    if not _ADDRESS.match(value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


Recipients = Annotated[
    list[Annotated[str, Field(max_length=254), AfterValidator(_address)]],
    Field(min_length=1, max_length=50, examples=[["ops@operator.example"]]),
]
DeliveryState = Literal["pending", "sending", "failed", "delivered", "dead"]


class WebhookCreate(Input):
    url: WebhookUrl
    event_types: EventTypes
    site_id: Identifier | None = Field(None, description="Only events of this site; null: all")
    description: Description = ""
    enabled: bool = True


class WebhookUpdate(Input):
    """Only the fields given change (``site_id: null``: every site)."""

    url: WebhookUrl | None = None
    event_types: EventTypes | None = None
    site_id: Identifier | None = None
    description: Description | None = None
    enabled: bool | None = None


class WebhookPublic(BaseModel):
    id: int
    url: str
    event_types: list[str]
    site_id: str | None
    description: str
    enabled: bool
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    secret_rotated_at: datetime


class WebhookWithSecret(WebhookPublic):
    secret: str = Field(
        description="The signing secret: shown once, here (store it; rotate to get a new one)"
    )


class EmailSubscriptionCreate(Input):
    recipients: Recipients
    event_types: EventTypes
    site_id: Identifier | None = Field(None, description="Only events of this site; null: all")
    description: Description = ""
    enabled: bool = True


class EmailSubscriptionUpdate(Input):
    """Only the fields given change (``site_id: null``: every site)."""

    recipients: Recipients | None = None
    event_types: EventTypes | None = None
    site_id: Identifier | None = None
    description: Description | None = None
    enabled: bool | None = None


class EmailSubscriptionPublic(BaseModel):
    id: int
    recipients: list[str]
    event_types: list[str]
    site_id: str | None
    description: str
    enabled: bool
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class AttemptPublic(BaseModel):
    attempt: int
    started_at: datetime
    latency_ms: int
    status_code: int | None = Field(description="HTTP status (webhooks) or SMTP reply code")
    error: str | None
    outcome: Literal["delivered", "failed", "dead"]
    worker: str = Field(description="The worker process that made the try")


class DeliveryPublic(BaseModel):
    id: int
    subscription_id: int
    event_id: uuid.UUID
    event_type: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime
    log: list[AttemptPublic]


class EventTypePublic(BaseModel):
    type: str
    description: str


class TestEvent(BaseModel):
    event_id: uuid.UUID = Field(description="Its id, in the delivery log once fanned out")
