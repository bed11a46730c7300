"""Invoices, credit notes and billing runs (docs/topics/invoices.md). Amounts are decimal
strings in the invoice's currency; rates are percentages (null: no VAT applies)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from backoffice.schemas.common import Input, Text

Kind = Literal["invoice", "credit_note"]
PeriodText = Annotated[
    str, Field(pattern=r"^\d{4}-\d{2}$", description="A month, `YYYY-MM`", examples=["2026-11"])
]


class PartyPublic(BaseModel):
    name: str
    address: str
    country: str
    vat_id: str
    email: str
    account_id: int | None = Field(None, description="The buyer's billing account")


class VatTotalPublic(BaseModel):
    rate: Decimal | None = Field(description="Percent; null: no VAT applies")
    excl_vat: Decimal
    vat: Decimal


class InvoiceLinePublic(BaseModel):
    line_no: int
    description: str
    charge_id: int | None = Field(description="The charge it invoices (its first line)")
    transaction_pk: int | None = Field(description="The session (`/transactions/{id}`)")
    started_at: datetime | None
    ended_at: datetime | None
    energy_wh: Decimal | None
    tariff: str = Field(description="`<tariff id> v<version>`, or `priced by hand`")
    vat_rate: Decimal | None
    excl_vat: Decimal
    vat: Decimal
    incl_vat: Decimal


class CreditNoteRefPublic(BaseModel):
    id: int
    number: str
    total_incl_vat: Decimal


class InvoicePublic(BaseModel):
    id: int
    number: str = Field(description="`<series>-<number>`, e.g. `INV-000042`")
    series: str
    series_number: int = Field(description="Gap-free within the series")
    kind: Kind
    account_id: int
    issued_at: datetime
    period_start: datetime | None = Field(description="A period invoice's month (start)")
    period_end: datetime | None = Field(description="... and its end (exclusive)")
    currency: str
    total_excl_vat: Decimal
    total_vat: Decimal
    total_incl_vat: Decimal
    vat_totals: list[VatTotalPublic]
    seller: PartyPublic
    buyer: PartyPublic
    credits_invoice_id: int | None = Field(description="A credit note: the invoice it credits")
    credits_number: str | None
    reason: str | None = Field(description="A credit note: why")
    created_by: str | None = Field(description="A credit note: who issued it (staff only)")
    paid: bool
    paid_at: datetime | None


class InvoiceDetail(InvoicePublic):
    lines: list[InvoiceLinePublic]
    credit_notes: list[CreditNoteRefPublic] = Field(description="An invoice: its credit notes")


class CreditNoteCreate(Input):
    reason: Annotated[Text, Field(min_length=1, max_length=500, description="Why (required)")]
    amount: Decimal | None = Field(
        None,
        description="VAT included, at most what is left to credit (spread over the VAT rates "
        "in proportion); omit both `amount` and `lines` to credit all that is left",
        examples=["2.50"],
    )
    lines: list[Annotated[int, Field(ge=1, le=100_000)]] = Field(
        default_factory=list, max_length=10_000, description="Line numbers to credit whole"
    )


class BillingRunCreate(Input):
    period: PeriodText


class BillingRunPublic(BaseModel):
    period: str
    period_start: datetime
    period_end: datetime
    queued: bool = Field(description="False: a run of this period is queued or running already")
    accounts: int = Field(description="Accounts the run will invoice, as counted now")
