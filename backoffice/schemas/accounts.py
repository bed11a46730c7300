"""Billing accounts, their balances, ledger entries and charges; the trial balance.

Amounts are decimal strings in the account's currency, in requests as in answers: a JSON
number is refused (money is exact; ``12.5`` may not be what was meant by ``"12.50"``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field

from backoffice.schemas.common import BigId, Input, Text

MAX_AMOUNT_TEXT = 40
MAX_DIGITS = 14  # integer digits - 1: below 10^15
MAX_PLACES = 12


def _decimal_text(value: object) -> Decimal:
    if not isinstance(value, str):
        raise ValueError('a decimal string such as "12.50" (JSON numbers are refused)')
    if len(value) > MAX_AMOUNT_TEXT:
        raise ValueError(f"at most {MAX_AMOUNT_TEXT} characters")
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal number") from None
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a decimal number")
    places = -int(number.as_tuple().exponent)  # finite: an int
    if number and (number.adjusted() > MAX_DIGITS or places > MAX_PLACES):
        raise ValueError(
            f"{value!r} is out of range (below 10^{MAX_DIGITS + 1}, at most {MAX_PLACES} decimals)"
        )
    return number


DecimalText = Annotated[
    Decimal,
    BeforeValidator(_decimal_text),
    Field(json_schema_extra={"type": "string", "examples": ["20.00"]}),
]
"""A decimal number written as a JSON string."""

Kind = Literal["prepaid", "postpaid"]
AccountStatus = Literal["open", "blocked", "closed"]
Invoicing = Literal["session", "period"]
Currency = Annotated[str, Field(min_length=3, max_length=3, examples=["EUR"])]
AccountName = Annotated[Text, Field(min_length=1, max_length=255)]
Email = Annotated[Text, Field(max_length=254)]
Address = Annotated[Text, Field(max_length=1000, description="Billing address (lines)")]
Country = Annotated[Text, Field(max_length=2, description="ISO 3166-1 alpha-2, e.g. NL")]
VatId = Annotated[Text, Field(max_length=32)]
StatusReason = Annotated[Text, Field(max_length=255)]
PaymentMethod = Annotated[
    Text, Field(max_length=255, description="The card processor's reference of a saved card")
]
HOLD_DESCRIPTION = (
    "Prepaid: reserved from the wallet when a session starts, released when it is settled; "
    "also the least a wallet must hold to start a session (0: no hold, any positive balance)"
)


class AccountCreate(Input):
    kind: Kind
    currency: Currency = Field(description="ISO 4217; the account's ledger is kept in it")
    name: AccountName
    email: Email = ""
    address: Address = ""
    country: Country = ""
    vat_id: VatId = ""
    invoicing: Invoicing = Field("period", description="An invoice per session or per period")
    hold_amount: DecimalText = Field(Decimal(0), description=HOLD_DESCRIPTION)
    payment_method: PaymentMethod | None = None
    user_id: BigId | None = Field(None, description="The driver (user) whose account it is")


class AccountUpdate(Input):
    """Only the fields given change. ``status``: open <-> blocked; closed once every balance
    is zero (a closed account stays closed). ``user_id``/``payment_method`` null unset them;
    kind and currency never change."""

    name: AccountName | None = None
    status: AccountStatus | None = None
    status_reason: StatusReason | None = None
    email: Email | None = None
    address: Address | None = None
    country: Country | None = None
    vat_id: VatId | None = None
    invoicing: Invoicing | None = None
    hold_amount: DecimalText | None = None
    payment_method: PaymentMethod | None = None
    user_id: BigId | None = None


class BalancesPublic(BaseModel):
    wallet: Decimal = Field(
        description="Prepaid: what the driver may spend (money held for running sessions "
        "is out of it)"
    )
    held: Decimal = Field(description="Reserved for running sessions")
    receivable: Decimal = Field(description="Postpaid: what the account owes")


class AccountPublic(BaseModel):
    id: int
    kind: Kind
    currency: str
    status: AccountStatus
    status_reason: str
    name: str
    email: str
    address: str
    country: str
    vat_id: str
    invoicing: Invoicing
    hold_amount: Decimal
    payment_method: str | None
    user_id: int | None
    created_at: datetime | None


class StandingPublic(BaseModel):
    """Whether the account's tokens may start a session now (what Authorize answers)."""

    may_start: bool
    reason: str | None = Field(None, description="account_blocked, account_closed, no_credit")
    detail: str | None = None


class AccountDetail(AccountPublic):
    balances: BalancesPublic
    standing: StandingPublic


class PostingPublic(BaseModel):
    ledger_account: str = Field(description="wallet:N, hold:N, receivable:N, revenue, ...")
    currency: str
    amount: Decimal = Field(description="Debit positive, credit negative")


class LedgerEntryPublic(BaseModel):
    id: int
    at: datetime
    kind: str
    idempotency_key: str
    account_id: int | None
    transaction_pk: int | None
    payment_id: int | None
    invoice_id: int | None
    memo: str
    created_by: str | None
    postings: list[PostingPublic]


class VatLinePublic(BaseModel):
    rate: Decimal | None = Field(description="VAT rate in percent (null: no VAT applies)")
    excl_vat: Decimal
    vat: Decimal


class ChargePublic(BaseModel):
    id: int
    transaction_pk: int
    account_id: int
    currency: str
    excl_vat: Decimal
    vat: Decimal
    incl_vat: Decimal
    vat_lines: list[VatLinePublic]
    source: Literal["tariff", "review"] = Field(
        description="tariff: priced by its tariff; review: resolved by an operator"
    )
    ledger_entry_id: int
    invoice_id: int | None
    created_at: datetime


class TokenAccount(Input):
    account_id: BigId | None = Field(
        description="The account the token bills to; null: its driver's account again"
    )


class TokenAccountPublic(BaseModel):
    id_token: str
    account_id: int | None = Field(description="The account the token bills to now")
    via: Literal["token", "driver"] | None = Field(
        description="token: linked to it; driver: its driver's account; null: none"
    )


class TrialBalanceLine(BaseModel):
    ledger_account: str
    balance: Decimal = Field(description="Sum of its postings: debit positive")


class TrialBalanceCurrency(BaseModel):
    currency: str
    lines: list[TrialBalanceLine]
    total: Decimal = Field(description="Zero when the ledger balances")


class TrialBalance(BaseModel):
    balanced: bool
    entries: int
    last_entry_id: int
    currencies: list[TrialBalanceCurrency]
