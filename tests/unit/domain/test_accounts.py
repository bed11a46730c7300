"""Billing accounts, pure: whether a token of an account may charge (its standing), the
fields an operator sets, and how an account's status moves (docs/topics/billing.md)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from csms.domain.accounts import (
    ACCOUNT_BLOCKED,
    ACCOUNT_CLOSED,
    NO_CREDIT,
    Standing,
    check_fields,
    check_hold_amount,
    check_status_change,
    refusal,
)
from csms.domain.id_tokens import TokenStatus
from csms.errors import InvalidInput

ZERO = {"wallet": Decimal(0), "held": Decimal(0), "receivable": Decimal(0)}


def standing(
    kind: str = "prepaid",
    status: str = "open",
    hold: str = "0",
    available: str = "0",
) -> Standing:
    return Standing(7, kind, status, "EUR", Decimal(hold), Decimal(available))


def test_an_open_account_with_money_may_charge() -> None:
    assert refusal(standing(available="0.01")) is None
    assert refusal(standing(hold="20.00", available="20.00")) is None  # exactly its minimum
    assert refusal(standing(kind="postpaid")) is None  # postpaid: invoiced later


@pytest.mark.parametrize(
    ("status", "reason"), [("blocked", ACCOUNT_BLOCKED), ("closed", ACCOUNT_CLOSED)]
)
def test_a_blocked_or_closed_account_answers_blocked(status: str, reason: str) -> None:
    for kind in ("prepaid", "postpaid"):
        refused = refusal(standing(kind=kind, status=status, available="100"))
        assert refused is not None
        assert (refused.reason, refused.status) == (reason, TokenStatus.BLOCKED)
        assert f"account 7 is {status}" in refused.detail


def test_a_prepaid_wallet_below_its_hold_amount_has_no_credit() -> None:
    """2.0.1 AuthorizationStatusEnumType NoCredit: "Identifier is valid, but EV Driver
    doesn't have enough credit to start charging"."""
    refused = refusal(standing(hold="20.00", available="19.99"))
    assert refused is not None
    assert (refused.reason, refused.status) == (NO_CREDIT, TokenStatus.NO_CREDIT)
    assert refused.detail == (
        "account 7 has 19.99 EUR available; a session needs 20.00 EUR (its hold amount): "
        "top up first"
    )


@pytest.mark.parametrize("available", ["0", "0.00", "-3.10"])
def test_a_prepaid_wallet_with_nothing_has_no_credit_even_without_a_hold(available: str) -> None:
    refused = refusal(standing(available=available))
    assert refused is not None and refused.status is TokenStatus.NO_CREDIT
    assert refused.detail == f"account 7 has {available} EUR available: top up first"


def test_a_postpaid_account_owing_money_still_charges() -> None:
    assert refusal(standing(kind="postpaid", available="-500")) is None


def test_fields_are_checked_and_normalised() -> None:
    checked = check_fields(
        {
            "name": "Fleet B.V.",
            "email": " billing@fleet.example ",
            "address": "Keizersgracht 1\n1015 CS Amsterdam",
            "country": "nl",
            "vat_id": " NL123456789B01 ",
            "invoicing": "session",
            "hold_amount": "20.00",
            "user_id": 5,
            "payment_method": None,
        },
        "EUR",
    )
    assert checked == {
        "name": "Fleet B.V.",
        "email": "billing@fleet.example",
        "address": "Keizersgracht 1\n1015 CS Amsterdam",
        "country": "NL",
        "vat_id": "NL123456789B01",
        "invoicing": "session",
        "hold_amount": Decimal("20.00"),
        "user_id": 5,
        "payment_method": None,
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "   "}, "name: 1-255 characters"),
        ({"name": "x" * 256}, "name: at most 255"),
        ({"email": "not-an-address"}, "email: 'not-an-address' is not an e-mail address"),
        ({"country": "XX"}, "country: 'XX' is not an ISO 3166-1 alpha-2 code"),
        ({"country": "NLD"}, "country: at most 2"),
        ({"invoicing": "monthly"}, "invoicing: session or period"),
        ({"hold_amount": "-1"}, "hold_amount: must not be negative"),
        ({"hold_amount": "1.005"}, "hold_amount: at most 2 decimals in EUR"),
        ({"hold_amount": "lots"}, "hold_amount: not a number"),
        ({"hold_amount": "1E+30"}, "hold_amount: must be below 1,000,000,000,000,000"),
        ({"address": "a\x07b"}, "address: printable text only"),
        ({"status": "frozen"}, "status: open, blocked or closed"),
        ({"balance": "10"}, "balance: not a field of an account"),
    ],
)
def test_a_bad_field_is_refused_by_name(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_fields(fields, "EUR")


def test_a_hold_amount_follows_the_currency() -> None:
    assert check_hold_amount("0", "EUR") == 0
    assert check_hold_amount("1500", "JPY") == Decimal(1500)
    with pytest.raises(InvalidInput, match="at most 0 decimals in JPY"):
        check_hold_amount("1500.5", "JPY")


def test_open_and_blocked_go_both_ways() -> None:
    owing = {**ZERO, "receivable": Decimal("12.00")}
    check_status_change(7, "open", "blocked", owing, "EUR")
    check_status_change(7, "blocked", "open", owing, "EUR")
    check_status_change(7, "open", "open", owing, "EUR")


def test_an_account_closes_only_with_every_balance_at_zero() -> None:
    check_status_change(7, "blocked", "closed", ZERO, "EUR")
    with pytest.raises(InvalidInput) as refused:
        check_status_change(
            7, "open", "closed", {**ZERO, "wallet": Decimal("3.50"), "held": Decimal(20)}, "EUR"
        )
    assert str(refused.value).startswith(
        "status: account 7 cannot close with balances (wallet 3.50 EUR, held 20 EUR)"
    )


def test_a_closed_account_stays_closed() -> None:
    for new in ("open", "blocked"):
        with pytest.raises(InvalidInput, match="account 7 is closed and stays closed"):
            check_status_change(7, "closed", new, ZERO, "EUR")
