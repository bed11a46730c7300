"""The ledger's arithmetic and what settling a session comes to (issue 13). Pure."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csms.domain import billing, ledger
from csms.domain.cost import cost
from csms.domain.cost_periods import Reading, Timeline
from csms.domain.tariff_catalog import SessionCost
from csms.domain.tariffs import parse_tariff
from csms.domain.transactions import (
    FLAG_METER_STOP_BELOW_START,
    FLAG_METER_STOP_ESTIMATED,
    FLAG_NO_METER_READING,
    FLAG_UNAUTHORIZED,
    Transaction,
)
from csms.errors import InvalidInput

D = Decimal
START = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
TWO_RATES: dict[str, Any] = {
    "currency": "EUR",
    "elements": [
        {
            "price_components": [
                {"type": "ENERGY", "price": "0.3333", "vat": "21", "step_size": 1},
                {"type": "FLAT", "price": "0.99", "vat": "9", "step_size": 1},
            ]
        }
    ],
}


def session(**changes: Any) -> Transaction:
    base = Transaction(
        id=7,
        charge_point_id="CP-1",
        protocol="ocpp2.0.1",
        transaction_id="tx-7",
        evse_id=1,
        connector_id=1,
        id_token="TAG-1",
        id_token_type="ISO14443",
        parent_id_token=None,
        authorization_status="Accepted",
        remote_start_id=None,
        reservation_id=None,
        started_at=START,
        ended_at=START + timedelta(hours=1),
        meter_start_wh=D(1000),
        meter_stop_wh=D(11_000),
        energy_wh=D(10_000),
        stop_reason="Local",
        stop_id_token=None,
        charging_state=None,
        last_seq_no=None,
        last_trigger_reason=None,
        offline=False,
        flags=[],
        closed_by="charger",
    )
    return replace(base, **changes)


def priced(definition: dict[str, Any], wh: int, *, max_price: str | None = None) -> SessionCost:
    if max_price is not None:
        incl = str(D(max_price) * D("1.16"))
        definition = {**definition, "max_price": {"excl_vat": max_price, "incl_vat": incl}}
    end = START + timedelta(hours=1)
    breakdown = cost(
        parse_tariff(definition),
        Timeline(START, end, D(0), (Reading(end, D(wh)),), ()),
        time_zone=ZoneInfo("UTC"),
    )
    return SessionCost(
        "T",
        1,
        breakdown.currency,
        breakdown.total_excl_vat,
        breakdown.total_vat,
        breakdown.total_incl_vat,
        breakdown.to_json(),
        end,
        True,
    )


def account(**changes: Any) -> billing.Account:
    return replace(
        billing.Account(id=3, kind=billing.PREPAID, currency="EUR", status="open", name="A"),
        **changes,
    )


# -- the ledger --------------------------------------------------------------------------------


def test_an_entry_must_balance_per_currency() -> None:
    with pytest.raises(ledger.Unbalanced, match="does not balance in EUR"):
        ledger.Entry(
            "x", "k", (ledger.debit("a", "EUR", D("1.00")), ledger.credit("b", "EUR", D("0.99")))
        )
    with pytest.raises(ledger.Unbalanced, match="in EUR"):  # balanced in sum, not per currency
        ledger.Entry("x", "k", (ledger.debit("a", "EUR", D(1)), ledger.credit("b", "USD", D(1))))
    with pytest.raises(ledger.Unbalanced, match="moves nothing"):
        ledger.Entry("x", "k", (ledger.debit("a", "EUR", D(1)), ledger.credit("a", "EUR", D(1))))
    with pytest.raises(ValueError, match="idempotency key"):
        ledger.Entry("x", "", (ledger.debit("a", "EUR", D(1)), ledger.credit("b", "EUR", D(1))))


def test_postings_on_one_account_are_merged() -> None:
    entry = ledger.Entry(
        "x",
        "k",
        (
            ledger.debit("a", "EUR", D(1)),
            ledger.debit("a", "EUR", D(2)),
            ledger.credit("b", "EUR", D(3)),
        ),
    )
    assert entry.postings == (ledger.Posting("a", "EUR", D(3)), ledger.Posting("b", "EUR", D(-3)))


@given(
    incl=st.decimals(min_value=D("0.01"), max_value=D(10_000), places=2),
    rate=st.sampled_from([D(0), D(9), D(21), D("5.5")]),
    prepaid=st.booleans(),
)
def test_a_charge_and_its_credit_note_cancel_out(
    incl: Decimal, rate: Decimal, prepaid: bool
) -> None:
    bill = billing.manual_bill("EUR", incl, rate)
    assert bill.excl_vat + bill.vat == bill.incl_vat == incl
    charge = ledger.charge_entry(
        account_id=3,
        prepaid=prepaid,
        currency="EUR",
        incl_vat=bill.incl_vat,
        vat_lines=bill.vat_lines,
        transaction_pk=7,
        memo="",
    )
    credit_note = ledger.credit_note_entry(
        account_id=3,
        prepaid=prepaid,
        currency="EUR",
        incl_vat=bill.incl_vat,
        vat_lines=bill.vat_lines,
        invoice_id=9,
        memo="",
        created_by="alice",
    )
    payer = ledger.wallet(3) if prepaid else ledger.receivable(3)
    postings = charge.postings + credit_note.postings
    assert ledger.balance(charge.postings, payer, "EUR") == incl  # the payer owes it
    assert ledger.balance(charge.postings, ledger.REVENUE, "EUR") == -bill.excl_vat
    assert ledger.balance(charge.postings, ledger.VAT_PAYABLE, "EUR") == -bill.vat
    for name in (payer, ledger.REVENUE, ledger.VAT_PAYABLE):
        assert ledger.balance(postings, name, "EUR") == 0
    assert (charge.idempotency_key, credit_note.idempotency_key) == ("charge:7", "credit_note:9")


# -- settling a session ------------------------------------------------------------------------


def test_a_priced_session_bills_its_frozen_cost_split_per_vat_rate() -> None:
    frozen = priced(TWO_RATES, 10_000)
    bill = billing.settle(session(), frozen, account())
    assert isinstance(bill, billing.Bill)
    # 10 kWh x 0.3333 = 3.333 -> 3.33 + 21 % (0.70); flat 0.99 + 9 % (0.09)
    assert bill.vat_lines == (
        ledger.VatLine(D(9), D("0.99"), D("0.09")),
        ledger.VatLine(D(21), D("3.33"), D("0.70")),
    )
    assert (bill.excl_vat, bill.vat, bill.incl_vat) == (D("4.32"), D("0.79"), D("5.11"))
    assert bill.incl_vat == frozen.incl_vat


def test_a_capped_total_keeps_the_vat_lines_summing_to_it() -> None:
    frozen = priced(TWO_RATES, 50_000, max_price="5.00")
    bill = billing.settle(session(), frozen, account())
    assert isinstance(bill, billing.Bill)
    assert (bill.excl_vat, bill.incl_vat) == (D("5.00"), D("5.80"))
    assert sum((line.excl_vat for line in bill.vat_lines), D(0)) == bill.excl_vat
    assert sum((line.vat for line in bill.vat_lines), D(0)) == bill.vat
    assert bill.excl_vat + bill.vat == bill.incl_vat


@pytest.mark.parametrize(
    ("changes", "frozen", "payer", "reason"),
    [
        ({"flags": [FLAG_METER_STOP_BELOW_START]}, True, True, billing.METER_BACKWARDS),
        ({"flags": [FLAG_NO_METER_READING]}, True, True, billing.NO_METER_DATA),
        (
            {"flags": [FLAG_METER_STOP_ESTIMATED], "close_reason": "rebooted"},
            True,
            True,
            billing.METER_ESTIMATED,
        ),
        ({"flags": [FLAG_UNAUTHORIZED]}, True, True, billing.UNAUTHORIZED),
        ({}, False, True, billing.NOT_PRICED),
        ({}, True, False, billing.NO_ACCOUNT),
    ],
)
def test_what_cannot_be_billed_goes_to_review_with_the_reason(
    changes: dict[str, Any], frozen: bool, payer: bool, reason: str
) -> None:
    decision = billing.settle(
        session(**changes),
        priced(TWO_RATES, 10_000) if frozen else None,
        account() if payer else None,
    )
    assert isinstance(decision, billing.ToReview) and decision.reason == reason
    assert decision.reason in billing.REVIEW_REASONS and decision.detail


def test_review_for_a_running_cost_a_closed_account_or_another_currency() -> None:
    running = replace(priced(TWO_RATES, 10_000), final=False)
    assert billing.settle(session(), running, account()) == billing.ToReview(
        billing.NO_FINAL_COST, "the session has no final cost"
    )
    closed = billing.settle(session(), priced(TWO_RATES, 10), account(status=billing.CLOSED))
    assert isinstance(closed, billing.ToReview) and closed.reason == billing.ACCOUNT_CLOSED
    other = billing.settle(session(), priced(TWO_RATES, 10), account(currency="SEK"))
    assert isinstance(other, billing.ToReview) and other.reason == billing.CURRENCY_MISMATCH
    backwards = billing.settle(
        session(), priced(TWO_RATES, 10), account(), meter_went_backwards=True
    )
    assert isinstance(backwards, billing.ToReview) and backwards.reason == billing.METER_BACKWARDS


def test_a_manual_price_splits_vat_out_of_the_total() -> None:
    bill = billing.manual_bill("EUR", D("12.10"), D(21))
    assert (bill.excl_vat, bill.vat, bill.incl_vat) == (D("10.00"), D("2.10"), D("12.10"))
    free_of_vat = billing.manual_bill("EUR", D("5.00"), None)
    assert free_of_vat.vat_lines == (ledger.VatLine(None, D("5.00"), D(0)),)
    with pytest.raises(InvalidInput, match="vat_rate"):
        billing.manual_bill("EUR", D(1), D(101))


@pytest.mark.parametrize(
    ("value", "currency", "message"),
    [
        ("-1", "EUR", "must be positive"),
        ("0", "EUR", "must be positive"),
        ("abc", "EUR", "not a number"),
        ("NaN", "EUR", "not a number"),
        ("Infinity", "EUR", "not a number"),
        ("1.001", "EUR", "at most 2 decimals in EUR"),
        ("1.5", "JPY", "at most 0 decimals in JPY"),
    ],
)
def test_amounts_are_positive_with_the_currency_s_decimals(
    value: str, currency: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=f"amount: {message}"):
        billing.check_amount(value, "amount", currency)
    assert billing.check_amount("12.50", "amount", "EUR") == D("12.50")
    assert billing.check_amount("3.000", "amount", "KWD") == D(3)


def test_accounts_and_invoice_numbers() -> None:
    with pytest.raises(InvalidInput, match="kind"):
        billing.check_account("credit", "EUR", "A")
    with pytest.raises(InvalidInput, match="currency"):
        billing.check_account(billing.PREPAID, "EUX", "A")
    with pytest.raises(InvalidInput, match="name"):
        billing.check_account(billing.PREPAID, "EUR", "")
    assert billing.invoice_number("INV", 42) == "INV-000042"
    lines = (
        ledger.VatLine(D(21), D(1), D("0.21")),
        ledger.VatLine(None, D(2), D(0)),
        ledger.VatLine(D(21), D(3), D("0.63")),
    )
    assert billing.vat_totals(lines) == (
        ledger.VatLine(D(21), D(4), D("0.84")),
        ledger.VatLine(None, D(2), D(0)),
    )
    assert [billing.vat_line_from_json(billing.vat_line_json(x)) for x in lines] == list(lines)
