"""Sites and which tariff applies where. Pure: no I/O.

A site is a named group of chargers at one place (shaped after the OCPI Location): its time
zone is the one time-of-day tariff rules are read in. A tariff is assigned to a driver group,
a charger, a site or as the default; the most specific assignment wins.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum

from csms.errors import InvalidInput

IDENTIFIER = re.compile(r"^[A-Za-z0-9._-]{1,36}$")  # site and tariff ids (OCPI: 36 chars)


def check_identifier(value: str, what: str) -> str:
    if not IDENTIFIER.match(value):
        raise InvalidInput(f"{what}: 1-36 of letters, digits and . _ -")
    return value


def check_time_zone(name: str) -> str:
    """An IANA time zone name (``Europe/Amsterdam``)."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: 'Europe'
        raise InvalidInput(f"time_zone: {name!r} is not an IANA time zone") from None
    return name


@dataclass(frozen=True, slots=True)
class Site:
    id: str
    name: str
    time_zone: str
    address: str = ""
    city: str = ""
    postal_code: str = ""
    country: str = ""
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    created_at: datetime | None = None

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Scope(Enum):
    """Where a tariff is assigned, most specific first (the order of precedence)."""

    GROUP = "group"  # a driver group: an id token, or the group (parent) id token of tokens
    CHARGER = "charger"
    SITE = "site"
    DEFAULT = "default"


PRECEDENCE = (Scope.GROUP, Scope.CHARGER, Scope.SITE, Scope.DEFAULT)


@dataclass(frozen=True, slots=True)
class Assignment:
    scope: Scope
    target: str  # the group id token (lower case), charge point id, site id; "" for default
    tariff_id: str
    created_by: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Applicable:
    """The tariff that applies, and why (which assignment)."""

    tariff_id: str
    scope: Scope
    target: str

    @property
    def reason(self) -> str:
        if self.scope is Scope.DEFAULT:
            return "the default tariff"
        return f"assigned to {self.scope.value} {self.target}"


def group_targets(id_token: str | None, parent_id_token: str | None) -> tuple[str, ...]:
    """The group assignments a driver's token falls under, most specific first: the token
    itself, then its group (parent) token; case-insensitive like tokens."""
    found: list[str] = []
    for token in (id_token, parent_id_token):
        if token and token.lower() not in found:
            found.append(token.lower())
    return tuple(found)


def applicable(
    assignments: Mapping[tuple[Scope, str], str],
    *,
    charge_point_id: str,
    site_id: str | None,
    groups: Sequence[str] = (),
) -> Applicable | None:
    """The most specific assignment among ``assignments`` ((scope, target) -> tariff id):
    a group of the driver's token > the charger > its site > the default."""
    candidates: list[tuple[Scope, str]] = [(Scope.GROUP, g) for g in groups]
    candidates.append((Scope.CHARGER, charge_point_id))
    if site_id is not None:
        candidates.append((Scope.SITE, site_id))
    candidates.append((Scope.DEFAULT, ""))
    for scope, target in candidates:
        tariff_id = assignments.get((scope, target))
        if tariff_id is not None:
            return Applicable(tariff_id, scope, target)
    return None
