from __future__ import annotations

import functools
import zoneinfo
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from backoffice.schemas.common import Input, Name, Text

IDENTIFIER_PATTERN = r"^[A-Za-z0-9._-]{1,36}$"
Identifier = Annotated[
    str, Field(min_length=1, max_length=36, pattern=IDENTIFIER_PATTERN, examples=["AMS-01"])
]
"""Site and tariff ids: 1-36 of letters, digits and ``. _ -`` (OCPI ids)."""


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _time_zone(value: str) -> str:
    if value not in _time_zones():
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Amsterdam)")
    return value


TimeZone = Annotated[
    str,
    Field(min_length=1, max_length=64, examples=["Europe/Amsterdam"]),
    AfterValidator(_time_zone),
]
SiteName = Annotated[Name, Field(min_length=1, max_length=255)]
Line = Annotated[Text, Field(max_length=255)]
Country = Annotated[
    str,
    Field(pattern=r"^([A-Z]{2,3})?$", description="ISO 3166-1 alpha-2 or alpha-3 code"),
]
Latitude = Annotated[Decimal, Field(ge=-90, le=90, decimal_places=6)]
Longitude = Annotated[Decimal, Field(ge=-180, le=180, decimal_places=6)]


class SiteCreate(Input):
    id: Identifier
    name: SiteName
    time_zone: TimeZone = Field(description="IANA time zone: time-of-day tariff rules use it")
    address: Line = ""
    city: Line = ""
    postal_code: Annotated[Text, Field(max_length=32)] = ""
    country: Country = ""
    latitude: Latitude | None = None
    longitude: Longitude | None = None


class SiteUpdate(Input):
    """Only the fields given change; ``latitude``/``longitude`` null clears them."""

    name: SiteName | None = None
    time_zone: TimeZone | None = None
    address: Line | None = None
    city: Line | None = None
    postal_code: Annotated[Text, Field(max_length=32)] | None = None
    country: Country | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None


class SitePublic(BaseModel):
    id: str
    name: str
    time_zone: str
    address: str
    city: str
    postal_code: str
    country: str
    latitude: Decimal | None
    longitude: Decimal | None
    created_at: datetime | None


class ChargerSiteUpdate(Input):
    site_id: Identifier | None = Field(description="The site; null: at no site")


class ChargerSite(BaseModel):
    """Where a charger is: its site (null: none; time-of-day rules then use
    ``CSMS_DEFAULT_TIME_ZONE``)."""

    charge_point_id: str
    site: SitePublic | None
