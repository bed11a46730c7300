"""Tariffs as the CSMS keeps them: versions (immutable once published) and the price display
each charger should have. The model and the cost engine are ``csms.domain.tariffs`` and
``csms.domain.cost``. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from csms.domain.sites import Applicable, Site

# A tariff push (the price display of a charger): what became of it.
PUSH_PENDING = "pending"  # to be applied by the node holding the charger (or when it connects)
PUSH_ACCEPTED = "accepted"
PUSH_REJECTED = "rejected"  # the charger refused a value
PUSH_NOT_SUPPORTED = "not_supported"  # the charger has no price display (device model / keys)
PUSH_FAILED = "failed"  # no answer, a CALLERROR: retried when it next connects
PUSH_STATUSES = (PUSH_PENDING, PUSH_ACCEPTED, PUSH_REJECTED, PUSH_NOT_SUPPORTED, PUSH_FAILED)
PUSH_OFFLINE = "offline"  # shown, not stored: pending or failed while the charger is offline


@dataclass(frozen=True, slots=True)
class TariffVersion:
    tariff_id: str
    version: int
    definition: dict[str, Any]  # the OCPI-shaped tariff (csms.domain.tariffs.tariff_to_json)
    currency: str
    created_at: datetime
    created_by: str | None = None
    published_at: datetime | None = None
    published_by: str | None = None

    @property
    def published(self) -> bool:
        return self.published_at is not None


@dataclass(frozen=True, slots=True)
class TariffInfo:
    id: str
    description: str
    created_at: datetime
    latest_version: int
    published_version: int | None  # the current one: new sessions are priced with it


@dataclass(frozen=True, slots=True)
class TariffPush:
    charge_point_id: str
    tariff_id: str | None  # None: no tariff applies any more (the display is cleared)
    tariff_version: int | None
    status: str
    detail: str
    attempts: int
    requested_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SessionCost:
    """The cost of a session as stored: running while it charges, final once it ended."""

    tariff_id: str | None
    tariff_version: int | None
    currency: str | None
    excl_vat: Decimal | None
    vat: Decimal | None
    incl_vat: Decimal | None
    breakdown: dict[str, Any] | None  # csms.domain.cost.CostBreakdown.to_json()
    computed_at: datetime | None
    final: bool


@dataclass(frozen=True, slots=True)
class Resolved:
    """What prices a charger's session: its site (its time zone), the assignment that
    applies (None: none) and that tariff's current published version (None: none)."""

    site: Site | None
    applicable: Applicable | None
    version: TariffVersion | None
