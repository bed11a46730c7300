"""Billing: accounts, what settling a session comes to, and invoice numbers. Pure: no I/O.

Settlement turns a session's frozen cost (docs/topics/tariffs-and-cost.md) into one charge
on the account the session's id token bills to, or into a review with the reason it could
not be billed: :func:`settle` decides which.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from csms.domain.cost import CostBreakdown
from csms.domain.ledger import Posting, VatLine
from csms.domain.money import is_currency, minor_unit_places, round_to_minor_unit
from csms.domain.tariff_catalog import SessionCost
from csms.domain.transactions import (
    FLAG_METER_STOP_BELOW_START,
    FLAG_METER_STOP_ESTIMATED,
    FLAG_NO_METER_READING,
    FLAG_UNAUTHORIZED,
    Transaction,
)
from csms.errors import InvalidInput

PREPAID = "prepaid"
POSTPAID = "postpaid"
OPEN = "open"
BLOCKED = "blocked"
CLOSED = "closed"
INVOICE_PER_SESSION = "session"
INVOICE_PER_PERIOD = "period"

# why a session went to review instead of being billed
NOT_PRICED = "not_priced"  # no tariff applied when it started
NO_FINAL_COST = "no_final_cost"  # ended, but no final cost (missing meter data)
NO_ACCOUNT = "no_account"  # its token bills to no account
CURRENCY_MISMATCH = "currency_mismatch"  # priced in another currency than the account's
METER_BACKWARDS = "meter_backwards"  # the register went down during the session
METER_ESTIMATED = "meter_estimated"  # closed by the CSMS: its end reading is a guess
NO_METER_DATA = "no_meter_data"  # no reading at all: the energy is not known
UNAUTHORIZED = "unauthorized"  # the CSMS never accepted its token
ACCOUNT_CLOSED = "account_closed"
REVIEW_REASONS = (
    NOT_PRICED,
    NO_FINAL_COST,
    NO_ACCOUNT,
    CURRENCY_MISMATCH,
    METER_BACKWARDS,
    METER_ESTIMATED,
    NO_METER_DATA,
    UNAUTHORIZED,
    ACCOUNT_CLOSED,
)
# how an operator resolved a review
ENERGY_SET = "energy_set"
PRICED_MANUALLY = "priced"
WAIVED = "waived"
SETTLED = "settled"  # settled normally after all (e.g. an account was linked)


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    kind: str  # prepaid | postpaid
    currency: str
    status: str  # open | blocked | closed
    name: str
    email: str = ""
    address: str = ""
    country: str = ""
    vat_id: str = ""
    invoicing: str = INVOICE_PER_PERIOD
    hold_amount: Decimal = Decimal(0)
    payment_method: str | None = None
    user_id: int | None = None
    status_reason: str = ""
    created_at: datetime | None = None

    @property
    def prepaid(self) -> bool:
        return self.kind == PREPAID


# no amount an operator gives reaches this (and quantizing one that large would overflow)
MAX_AMOUNT = Decimal(10) ** 15


def check_account(kind: str, currency: str, name: str) -> None:
    if kind not in (PREPAID, POSTPAID):
        raise InvalidInput("kind: prepaid or postpaid")
    if not is_currency(currency):
        raise InvalidInput(f"currency: {currency!r} is not an ISO 4217 currency code")
    if not 1 <= len(name) <= 255:
        raise InvalidInput("name: 1-255 characters")


def check_amount(value: object, field: str, currency: str) -> Decimal:
    """A positive amount with no more decimals than the currency has."""
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise InvalidInput(f"{field}: not a number") from None
    if not amount.is_finite():
        raise InvalidInput(f"{field}: not a number")
    if amount <= 0:
        raise InvalidInput(f"{field}: must be positive")
    if amount >= MAX_AMOUNT:
        raise InvalidInput(f"{field}: must be below {MAX_AMOUNT:,}")
    places = minor_unit_places(currency)
    try:
        exact = amount == amount.quantize(Decimal(1).scaleb(-places))
    except ArithmeticError:  # more digits than a decimal holds
        raise InvalidInput(f"{field}: too large") from None
    if not exact:
        raise InvalidInput(f"{field}: at most {places} decimals in {currency}")
    return amount


@dataclass(frozen=True, slots=True)
class Charge:
    id: int
    transaction_pk: int
    account_id: int
    currency: str
    excl_vat: Decimal
    vat: Decimal
    incl_vat: Decimal
    vat_lines: tuple[VatLine, ...]
    source: str  # tariff | review
    ledger_entry_id: int
    invoice_id: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Review:
    transaction_pk: int
    reason: str
    detail: str
    status: str  # open | resolved
    resolution: str | None
    resolution_detail: dict[str, Any] | None
    resolved_by: str | None
    resolved_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """An entry as recorded, with its postings."""

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
    postings: tuple[Posting, ...]


@dataclass(frozen=True, slots=True)
class SettlementFacts:
    """What settling a session looks at, read in one go."""

    session: Transaction
    cost: SessionCost | None
    account: Account | None
    meter_went_backwards: bool
    charge: Charge | None
    review: Review | None
    held: Decimal  # what was held for the session and not released (0: nothing)


@dataclass(frozen=True, slots=True)
class Bill:
    """Settle: charge ``incl_vat`` (excl. VAT and VAT per rate in ``vat_lines``)."""

    currency: str
    excl_vat: Decimal
    vat: Decimal
    incl_vat: Decimal
    vat_lines: tuple[VatLine, ...]


@dataclass(frozen=True, slots=True)
class ToReview:
    reason: str
    detail: str


def vat_lines(breakdown: CostBreakdown) -> tuple[VatLine, ...]:
    """The breakdown's amounts per VAT rate, summing exactly to its totals. A cap changes
    the totals, not the lines: the difference goes to the rate with the largest amount
    (a cap has one VAT amount, so a single-rate session is exact)."""
    by_rate: dict[Decimal | None, list[Decimal]] = {}
    for line in breakdown.lines:
        amounts = by_rate.setdefault(line.vat_rate, [Decimal(0), Decimal(0)])
        amounts[0] += line.excl_vat
        amounts[1] += line.vat
    if not by_rate:
        by_rate[None] = [Decimal(0), Decimal(0)]
    excl_diff = breakdown.total_excl_vat - sum(a[0] for a in by_rate.values())
    vat_diff = breakdown.total_vat - sum(a[1] for a in by_rate.values())
    if excl_diff or vat_diff:
        largest = max(by_rate, key=lambda rate: by_rate[rate][0] + by_rate[rate][1])
        by_rate[largest][0] += excl_diff
        by_rate[largest][1] += vat_diff
    return tuple(
        VatLine(rate, excl, vat)
        for rate, (excl, vat) in sorted(
            by_rate.items(), key=lambda item: (item[0] is None, item[0] or Decimal(0))
        )
    )


def settle(
    session: Transaction,
    cost: SessionCost | None,
    account: Account | None,
    *,
    meter_went_backwards: bool = False,
) -> Bill | ToReview:
    """What an ended session comes to: a bill for ``account``, or a review and why. The
    session's flags (docs/topics/sessions.md) say what the CSMS doubts about it."""
    flags = set(session.flags)
    if meter_went_backwards or FLAG_METER_STOP_BELOW_START in flags:
        return ToReview(METER_BACKWARDS, "the energy register went down during the session")
    if FLAG_NO_METER_READING in flags:
        return ToReview(NO_METER_DATA, "no meter reading: the energy is not known")
    if FLAG_METER_STOP_ESTIMATED in flags:
        return ToReview(
            METER_ESTIMATED,
            f"closed by the CSMS ({session.close_reason or 'abandoned'}): its end reading is "
            "the last one known",
        )
    if FLAG_UNAUTHORIZED in flags:
        return ToReview(UNAUTHORIZED, "the CSMS never accepted its id token")
    if cost is None or cost.tariff_id is None:
        return ToReview(NOT_PRICED, "no tariff applied when the session started")
    if not cost.final or cost.incl_vat is None or cost.breakdown is None:
        return ToReview(NO_FINAL_COST, "the session has no final cost")
    if account is None:
        return ToReview(NO_ACCOUNT, f"id token {session.id_token or '-'} bills to no account")
    if account.status == CLOSED:
        return ToReview(ACCOUNT_CLOSED, f"account {account.id} is closed")
    if cost.currency != account.currency:
        return ToReview(
            CURRENCY_MISMATCH,
            f"priced in {cost.currency}, account {account.id} is in {account.currency}",
        )
    breakdown = CostBreakdown.from_json(cost.breakdown)
    assert cost.excl_vat is not None and cost.vat is not None
    return Bill(breakdown.currency, cost.excl_vat, cost.vat, cost.incl_vat, vat_lines(breakdown))


def manual_bill(currency: str, incl_vat: Decimal, vat_rate: Decimal | None) -> Bill:
    """An operator's price for a session under review, VAT included at ``vat_rate``."""
    if vat_rate is None:
        no_vat = (VatLine(None, incl_vat, Decimal(0)),)
        return Bill(currency, incl_vat, Decimal(0), incl_vat, no_vat)
    if not Decimal(0) <= vat_rate <= 100:
        raise InvalidInput("vat_rate: between 0 and 100")
    excl = round_to_minor_unit(incl_vat * 100 / (100 + vat_rate), currency)
    vat = incl_vat - excl
    return Bill(currency, excl, vat, incl_vat, (VatLine(vat_rate, excl, vat),))


def invoice_number(series: str, number: int) -> str:
    """``INV-000042``: the series and its gap-free number."""
    return f"{series}-{number:06d}"


def vat_totals(lines: Sequence[VatLine]) -> tuple[VatLine, ...]:
    """Amounts per VAT rate over many charges (an invoice's totals per rate)."""
    by_rate: dict[Decimal | None, list[Decimal]] = {}
    for line in lines:
        amounts = by_rate.setdefault(line.rate, [Decimal(0), Decimal(0)])
        amounts[0] += line.excl_vat
        amounts[1] += line.vat
    return tuple(
        VatLine(rate, excl, vat)
        for rate, (excl, vat) in sorted(
            by_rate.items(), key=lambda item: (item[0] is None, item[0] or Decimal(0))
        )
    )


def vat_line_json(line: VatLine) -> dict[str, str | None]:
    return {
        "rate": None if line.rate is None else f"{line.rate:f}",
        "excl_vat": f"{line.excl_vat:f}",
        "vat": f"{line.vat:f}",
    }


def vat_line_from_json(data: dict[str, Any]) -> VatLine:
    rate = data.get("rate")
    return VatLine(
        None if rate is None else Decimal(rate), Decimal(data["excl_vat"]), Decimal(data["vat"])
    )
