from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from backoffice.schemas.common import Input, Name, Text
from backoffice.schemas.sites import Identifier, SitePublic

Description = Annotated[Text, Field(max_length=255)]
Definition = Annotated[
    dict[str, Any],
    Field(
        description="The OCPI-shaped tariff: currency, elements (price_components, "
        "restrictions), min_price, max_price, tariff_alt_text, idle_grace_minutes "
        "(docs/topics/tariffs-and-cost.md)",
        examples=[
            {
                "currency": "EUR",
                "elements": [
                    {
                        "price_components": [
                            {"type": "ENERGY", "price": "0.25", "vat": "21", "step_size": 1}
                        ]
                    }
                ],
            }
        ],
    ),
]
ScopeName = Literal["default", "site", "charger", "group"]
PushStatus = Literal["pending", "accepted", "rejected", "not_supported", "failed", "offline"]


class TariffCreate(Input):
    id: Identifier
    description: Description = ""
    definition: Definition


class TariffUpdate(Input):
    """A new definition for the draft (or for a new draft version when the latest version is
    published); ``description`` changes the tariff's description when given."""

    description: Description | None = None
    definition: Definition


class TariffDescribe(Input):
    """The description only: no new version (a description prices nothing)."""

    description: Description


class TariffVersionPublic(BaseModel):
    tariff_id: str
    version: int
    status: Literal["draft", "published"]
    currency: str
    definition: dict[str, Any] = Field(description="As stored (normalised, numbers as strings)")
    display_text: str = Field(description="The price text a charger's display shows")
    created_at: datetime
    created_by: str | None
    published_at: datetime | None
    published_by: str | None


class TariffPublic(BaseModel):
    id: str
    description: str
    created_at: datetime
    latest_version: int
    published_version: int | None = Field(
        description="The current version: new sessions are priced with it (null: none yet)"
    )
    draft_version: int | None = Field(description="The version being edited, if any")


class TariffDetail(TariffPublic):
    published: TariffVersionPublic | None = Field(description="The current published version")
    draft: TariffVersionPublic | None = Field(description="The draft, if any")


class TariffPushPublic(BaseModel):
    """The price display pushed to a charger: what became of it."""

    charge_point_id: str
    tariff_id: str | None
    tariff_version: int | None
    status: PushStatus = Field(
        description="offline: pending or failed while the charger is not connected (it is "
        "pushed when it connects)"
    )
    stored_status: str = Field(description="pending, accepted, rejected, not_supported, failed")
    connected: bool = Field(description="Held by a live node now")
    detail: str
    attempts: int
    requested_at: datetime
    updated_at: datetime


class AssignmentPut(Input):
    scope: ScopeName = Field(description="group > charger > site > default")
    target: Annotated[Name, Field(max_length=48)] = Field(
        "",
        description="The id token (group), charge point id, site id; empty for default",
    )
    tariff_id: Identifier


class AssignmentPublic(BaseModel):
    scope: ScopeName
    target: str
    tariff_id: str
    created_by: str | None
    created_at: datetime | None


class ApplicableTariff(BaseModel):
    scope: ScopeName
    target: str
    reason: str = Field(description="Why this tariff applies", examples=["the default tariff"])
    tariff_id: str
    version: int
    currency: str
    display_text: str
    definition: dict[str, Any]
    published_at: datetime | None


class ChargerTariff(BaseModel):
    """Which tariff a session at the charger (of a driver with ``id_token``) is priced with
    now, and why."""

    charge_point_id: str
    id_token: str | None
    site: SitePublic | None
    time_zone: str = Field(description="The site's, else CSMS_DEFAULT_TIME_ZONE")
    applicable: ApplicableTariff | None = Field(description="null: no tariff applies")
