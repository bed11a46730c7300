"""Billing accounts: the fields an operator sets, how an account's status moves, and whether
the tokens that bill to it may charge (their standing). Pure: no I/O.

An account's wallet balance (prepaid) is what the driver may still spend: a running
session's hold is moved out of the wallet into ``hold:<account>`` when it starts
(:func:`csms.domain.ledger.hold_entry`), so the wallet is already net of holds. A token of a
prepaid account may start a session while that balance covers the account's hold amount
(its minimum), and is above zero when the account holds nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from babel import Locale

from csms.domain.billing import (
    BLOCKED,
    CLOSED,
    INVOICE_PER_PERIOD,
    INVOICE_PER_SESSION,
    OPEN,
    PREPAID,
    check_amount,
)
from csms.domain.id_tokens import TokenStatus
from csms.errors import InvalidInput

STATUSES = (OPEN, BLOCKED, CLOSED)
INVOICING = (INVOICE_PER_SESSION, INVOICE_PER_PERIOD)
MAX_ADDRESS = 1000
MAX_EMAIL = 254
MAX_VAT_ID = 32
MAX_REASON = 255
MAX_PAYMENT_METHOD = 255
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# why a token of an account may not charge (the driver API's refusal names it too)
ACCOUNT_BLOCKED = "account_blocked"
ACCOUNT_CLOSED = "account_closed"
NO_CREDIT = "no_credit"


@dataclass(frozen=True, slots=True)
class Standing:
    """What deciding on a token's account needs (read in one query at Authorize)."""

    account_id: int
    kind: str  # prepaid | postpaid
    status: str  # open | blocked | closed
    currency: str
    hold_amount: Decimal
    available: Decimal  # the wallet balance (prepaid; holds are out of it already), else 0

    @property
    def minimum(self) -> Decimal:
        """What a prepaid wallet must hold to start a session: its hold amount (and, when
        that is zero, more than nothing)."""
        return self.hold_amount


@dataclass(frozen=True, slots=True)
class Refusal:
    """A token of this account may not charge: ``reason`` (one of the constants above), a
    sentence for people, and the version-neutral authorization status to answer."""

    reason: str
    detail: str
    status: TokenStatus


def refusal(standing: Standing) -> Refusal | None:
    """Why a token billing to this account may not start charging, or None.

    A blocked or closed account answers Blocked; a prepaid account whose available balance
    is below its hold amount (or is not above zero when it has none) answers NoCredit
    (2.0.1 AuthorizationStatusEnumType; 1.6 has no NoCredit and says Blocked).
    """
    if standing.status == BLOCKED:
        return Refusal(
            ACCOUNT_BLOCKED, f"account {standing.account_id} is blocked", TokenStatus.BLOCKED
        )
    if standing.status == CLOSED:
        return Refusal(
            ACCOUNT_CLOSED, f"account {standing.account_id} is closed", TokenStatus.BLOCKED
        )
    if standing.kind == PREPAID and (
        standing.available <= 0 or standing.available < standing.minimum
    ):
        needs = (
            f"; a session needs {standing.minimum:f} {standing.currency} (its hold amount)"
            if standing.minimum > 0
            else ""
        )
        return Refusal(
            NO_CREDIT,
            f"account {standing.account_id} has {standing.available:f} {standing.currency} "
            f"available{needs}: top up first",
            TokenStatus.NO_CREDIT,
        )
    return None


# -- fields -------------------------------------------------------------------------------------


# CLDR's two-letter region codes that are not ISO 3166-1 countries (reserved, groupings,
# pseudo and unknown regions); XK (Kosovo, user-assigned) is kept, as VAT and banks use it.
_NOT_COUNTRIES = frozenset(
    {"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "ZZ"}
)


@cache
def countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes (CLDR's regions through babel)."""
    regions: Mapping[str, str] = Locale("en").territories
    return frozenset(
        code for code in regions if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
    )


def check_fields(fields: Mapping[str, Any], currency: str) -> dict[str, Any]:
    """The account fields an operator gave (any subset), checked and normalised: each
    error names its field. ``currency`` is the account's (for ``hold_amount``)."""
    checked: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "name":
            text = _text(name, value, 255)
            if not text.strip():
                raise InvalidInput("name: 1-255 characters, not only spaces")
            checked[name] = text
        elif name == "email":
            text = _text(name, value, MAX_EMAIL).strip()
            if text and not _EMAIL.match(text):
                raise InvalidInput(f"email: {text!r} is not an e-mail address")
            checked[name] = text
        elif name == "address":
            checked[name] = _text(name, value, MAX_ADDRESS, lines=True)
        elif name == "country":
            text = _text(name, value, 2).strip().upper()
            if text and text not in countries():
                raise InvalidInput(f"country: {text!r} is not an ISO 3166-1 alpha-2 code")
            checked[name] = text
        elif name == "vat_id":
            checked[name] = _text(name, value, MAX_VAT_ID).strip()
        elif name == "invoicing":
            if value not in INVOICING:
                raise InvalidInput("invoicing: session or period")
            checked[name] = value
        elif name == "hold_amount":
            checked[name] = check_hold_amount(value, currency)
        elif name == "status_reason":
            checked[name] = _text(name, value, MAX_REASON)
        elif name == "payment_method":
            checked[name] = None if value is None else _text(name, value, MAX_PAYMENT_METHOD)
        elif name == "user_id":
            if value is not None and (not isinstance(value, int) or value < 1):
                raise InvalidInput("user_id: a user's id")
            checked[name] = value
        elif name == "status":
            if value not in STATUSES:
                raise InvalidInput("status: open, blocked or closed")
            checked[name] = value
        else:
            raise InvalidInput(f"{name}: not a field of an account")
    return checked


def check_hold_amount(value: object, currency: str) -> Decimal:
    """Zero (no hold) or a positive amount in the currency's minor units."""
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise InvalidInput("hold_amount: not a number") from None
    if amount.is_finite() and amount == 0:
        return Decimal(0)
    if amount.is_finite() and amount < 0:
        raise InvalidInput("hold_amount: must not be negative")
    return check_amount(value, "hold_amount", currency)


def check_status_change(
    account_id: int, current: str, new: str, balances: Mapping[str, Decimal], currency: str
) -> None:
    """``current`` -> ``new``: open and blocked go both ways; closing needs every balance at
    zero (refund the wallet, wait for running sessions, collect or write off what is owed);
    a closed account stays closed (its history stays; open a new one)."""
    if new not in STATUSES:
        raise InvalidInput("status: open, blocked or closed")
    if current == new:
        return
    if current == CLOSED:
        raise InvalidInput(f"status: account {account_id} is closed and stays closed")
    if new == CLOSED:
        owed = {name: amount for name, amount in balances.items() if amount != 0}
        if owed:
            listed = ", ".join(f"{name} {amount:f} {currency}" for name, amount in owed.items())
            raise InvalidInput(
                f"status: account {account_id} cannot close with balances ({listed}); "
                "refund the wallet, let running sessions settle, collect or write off "
                "what is owed first"
            )


def _text(name: str, value: object, limit: int, *, lines: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{name}: text")
    if len(value) > limit:
        raise InvalidInput(f"{name}: at most {limit} characters")
    allowed = value.replace("\n", "").replace("\r", "") if lines else value
    if not allowed.isprintable():
        raise InvalidInput(f"{name}: printable text only (no control characters)")
    return value
