"""The settlement review queue: sessions settlement could not bill, and how each was
resolved (docs/topics/billing.md, "The review queue")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from backoffice.schemas.accounts import AccountPublic, ChargePublic, DecimalText
from backoffice.schemas.common import Input, Text
from backoffice.schemas.transactions import TransactionPublic

ReviewStatus = Literal["open", "resolved"]


class ReviewPublic(BaseModel):
    transaction_pk: int = Field(description="The session (`id` of /transactions)")
    reason: str = Field(
        description="not_priced, no_final_cost, no_account, currency_mismatch, "
        "meter_backwards, meter_estimated, no_meter_data, unauthorized, account_closed"
    )
    detail: str
    status: ReviewStatus
    resolution: Literal["energy_set", "priced", "waived", "settled"] | None
    resolution_detail: dict[str, Any] | None
    resolved_by: str | None
    resolved_at: datetime | None
    created_at: datetime


class ReviewDetail(ReviewPublic):
    session: TransactionPublic
    account: AccountPublic | None = Field(
        description="The account the session's id token bills to now (null: none)"
    )
    charge: ChargePublic | None


class SetEnergy(Input):
    energy_wh: DecimalText = Field(description="The session's energy in Wh")


class ManualPrice(Input):
    incl_vat: DecimalText = Field(description="The price, VAT included, in the account's currency")
    vat_rate: DecimalText | None = Field(
        None, description="VAT rate in percent included in the price (null: no VAT)"
    )


class Waive(Input):
    note: Annotated[Text, Field(min_length=1, max_length=500)] = Field(
        description="Why the session is free (kept with the resolution)"
    )


class ResolutionPublic(BaseModel):
    """What resolving did: ``charged`` (``charge``), ``waived``, ``review`` (it still cannot
    be billed: ``reason``), ``already`` (it was charged before)."""

    transaction_pk: int
    outcome: Literal["charged", "waived", "review", "already"]
    reason: str | None = None
    charge: ChargePublic | None = None
    review: ReviewPublic
