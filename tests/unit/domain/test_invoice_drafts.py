"""Invoices of charges and credit notes (issue 13): lines, exact totals, totals per VAT rate,
periods, and credit notes that never credit more than what is left."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csms.domain.billing import Account, Charge
from csms.domain.invoices import (
    CREDIT_NOTE,
    INVOICE,
    ChargedSession,
    Draft,
    Invoice,
    Party,
    check_ended,
    credit_note,
    invoice_json,
    invoice_of_charges,
    last_ended_period,
    parse_period,
    remaining,
)
from csms.domain.ledger import VatLine
from csms.errors import InvalidInput

D = Decimal
T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
SELLER = Party("ACME Charging B.V.", "Main street 1\n1000 AA Amsterdam", "NL", "NL123B01")
POSTPAID = Account(7, "postpaid", "EUR", "open", "Fleet Ltd", address="Dock 2", vat_id="GB1")
PREPAID = replace(POSTPAID, kind="prepaid")


def charged(
    charge_id: int,
    *rates: tuple[str | None, str, str],
    started: datetime = T0,
    account: Account = POSTPAID,
    currency: str = "EUR",
    energy_wh: str = "10000",
) -> ChargedSession:
    lines = tuple(VatLine(None if r is None else D(r), D(e), D(v)) for r, e, v in rates)
    excl = sum((v.excl_vat for v in lines), D(0))
    vat = sum((v.vat for v in lines), D(0))
    return ChargedSession(
        charge=Charge(
            id=charge_id,
            transaction_pk=1000 + charge_id,
            account_id=account.id,
            currency=currency,
            excl_vat=excl,
            vat=vat,
            incl_vat=excl + vat,
            vat_lines=lines,
            source="tariff",
            ledger_entry_id=charge_id,
            invoice_id=None,
            created_at=started,
        ),
        charge_point_id="CP-1",
        evse_id=0,
        connector_id=1,
        started_at=started,
        ended_at=started + timedelta(minutes=85),
        energy_wh=D(energy_wh),
        tariff="standard v2",
    )


def issued(draft: Draft, invoice_id: int = 1, number: int = 42) -> Invoice:
    """``draft`` as the store gives it back."""
    totals = draft.totals
    return Invoice(
        id=invoice_id,
        series="INV" if draft.kind == INVOICE else "CN",
        number=number,
        kind=draft.kind,
        account_id=draft.account_id,
        issued_at=draft.issued_at,
        period_start=draft.period_start,
        period_end=draft.period_end,
        currency=draft.currency,
        total_excl_vat=totals.excl_vat,
        total_vat=totals.vat,
        total_incl_vat=totals.incl_vat,
        vat_totals=totals.vat_totals,
        seller=draft.seller,
        buyer=draft.buyer,
        credits_invoice_id=draft.credits_invoice_id,
        paid=draft.paid,
        paid_at=draft.issued_at if draft.paid else None,
        lines=draft.lines,
    )


# -- invoices of charges ----------------------------------------------------------------------


def test_an_invoice_has_a_line_per_charge_and_rate_and_its_totals_are_their_sums() -> None:
    later = charged(2, ("21", "4.00", "0.84"), started=T0 + timedelta(hours=5))
    mixed = charged(1, ("21", "2.00", "0.42"), ("9", "1.10", "0.10"), energy_wh="2500")
    draft = invoice_of_charges([later, mixed], account=POSTPAID, seller=SELLER, issued_at=T0)

    # in the order the sessions started; a charge's first line names it (invoiced once)
    assert [(x.line_no, x.charge_id, x.transaction_pk, x.vat_rate) for x in draft.lines] == [
        (1, 1, 1001, D("21")),
        (2, None, 1001, D("9")),
        (3, 2, 1002, D("21")),
    ]
    assert draft.lines[0].description == "Charging session 1001 at CP-1, connector 1 (VAT 21 %)"
    assert draft.lines[2].description == "Charging session 1002 at CP-1, connector 1"
    assert [x.energy_wh for x in draft.lines] == [D("2500"), None, D("10000")]
    assert [x.incl_vat for x in draft.lines] == [D("2.42"), D("1.20"), D("4.84")]
    assert draft.lines[0].tariff == "standard v2"
    assert draft.lines[0].started_at == T0 and draft.lines[0].ended_at == T0 + timedelta(minutes=85)
    assert draft.charge_ids == (1, 2)

    totals = draft.totals
    assert (totals.excl_vat, totals.vat, totals.incl_vat) == (D("7.10"), D("1.36"), D("8.46"))
    assert totals.incl_vat == later.charge.incl_vat + mixed.charge.incl_vat
    assert totals.vat_totals == (
        VatLine(D("9"), D("1.10"), D("0.10")),
        VatLine(D("21"), D("6.00"), D("1.26")),
    )
    assert draft.kind == INVOICE and draft.currency == "EUR" and not draft.paid
    assert draft.seller == SELLER
    assert draft.buyer == Party("Fleet Ltd", "Dock 2", "", "GB1", "", account_id=7)
    assert draft.period_start is None and draft.credits_invoice_id is None


def test_a_prepaid_accounts_invoice_is_paid_and_a_period_invoice_has_its_month() -> None:
    period = parse_period("2026-11", ZoneInfo("UTC"))
    draft = invoice_of_charges(
        [charged(1, ("21", "1.00", "0.21"), account=PREPAID)],
        account=PREPAID,
        seller=SELLER,
        issued_at=T0,
        period=period,
    )
    assert draft.paid
    assert (draft.period_start, draft.period_end) == (period.start, period.end)


def test_no_vat_is_its_own_rate() -> None:
    draft = invoice_of_charges(
        [charged(1, (None, "3.00", "0")), charged(2, ("0", "1.00", "0"))],
        account=POSTPAID,
        seller=SELLER,
        issued_at=T0,
    )
    assert draft.totals.vat_totals == (
        VatLine(D("0"), D("1.00"), D("0")),
        VatLine(None, D("3.00"), D("0")),
    )


@pytest.mark.parametrize(
    ("sessions", "message"),
    [
        ([], "at least one charge"),
        ([charged(1, ("21", "1.00", "0.21"), account=replace(POSTPAID, id=8))], "not account 7"),
        ([charged(1, ("21", "1.00", "0.21"), currency="USD")], "is in USD"),
    ],
)
def test_an_invoice_refuses_charges_it_cannot_hold(
    sessions: list[ChargedSession], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        invoice_of_charges(sessions, account=POSTPAID, seller=SELLER, issued_at=T0)


def test_a_charge_whose_rates_do_not_add_up_is_never_invoiced() -> None:
    broken = charged(1, ("21", "1.00", "0.21"))
    broken = replace(broken, charge=replace(broken.charge, incl_vat=D("1.22")))
    with pytest.raises(ValueError, match="do not add up"):
        invoice_of_charges([broken], account=POSTPAID, seller=SELLER, issued_at=T0)


amounts = st.decimals(min_value=D("0.00"), max_value=D("500.00"), places=2)
rates = st.sampled_from([None, D("0"), D("9"), D("21"), D("25")])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.tuples(rates, amounts, amounts), min_size=1, max_size=3), max_size=30))
def test_totals_are_the_exact_sums_of_lines_and_of_charges(
    charges: list[list[tuple[Decimal | None, Decimal, Decimal]]],
) -> None:
    sessions = []
    for i, lines in enumerate(charges, start=1):
        by_rate = {rate: (excl, vat) for rate, excl, vat in lines}  # one line per rate
        sessions.append(
            charged(
                i,
                *((None if r is None else str(r), str(e), str(v)) for r, (e, v) in by_rate.items()),
            )
        )
    if not sessions:
        return
    draft = invoice_of_charges(sessions, account=POSTPAID, seller=SELLER, issued_at=T0)
    totals = draft.totals
    assert totals.incl_vat == sum((s.charge.incl_vat for s in sessions), D(0))
    assert totals.excl_vat == sum((x.excl_vat for x in draft.lines), D(0))
    assert totals.vat == sum((x.vat for x in draft.lines), D(0))
    assert totals.excl_vat + totals.vat == totals.incl_vat
    assert sum((v.excl_vat for v in totals.vat_totals), D(0)) == totals.excl_vat
    assert sum((v.vat for v in totals.vat_totals), D(0)) == totals.vat
    assert [x.line_no for x in draft.lines] == list(range(1, len(draft.lines) + 1))
    assert sorted(draft.charge_ids) == [s.charge.id for s in sessions]


# -- periods ----------------------------------------------------------------------------------


def test_a_period_is_a_month_in_the_invoicing_time_zone() -> None:
    amsterdam = ZoneInfo("Europe/Amsterdam")
    period = parse_period("2026-11", amsterdam)
    assert period.name == "2026-11"
    assert period.start == datetime(2026, 11, 1, tzinfo=amsterdam)
    assert period.end == datetime(2026, 12, 1, tzinfo=amsterdam)
    assert period.start.utcoffset() == timedelta(hours=1)
    december = parse_period("2026-12", ZoneInfo("UTC"))
    assert december.end == datetime(2027, 1, 1, tzinfo=UTC)
    assert parse_period("2028-02", ZoneInfo("UTC")).end == datetime(2028, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["2026-13", "2026-00", "2026-1", "26-11", "november", "", "1969-12"]
)
def test_a_period_that_is_not_a_month_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="period: a month as YYYY-MM"):
        parse_period(text, ZoneInfo("UTC"))


def test_the_last_ended_period_and_a_period_that_has_not_ended() -> None:
    new_york = ZoneInfo("America/New_York")
    # 1 December 02:00 UTC is still 30 November in New York: October is the last that ended
    assert last_ended_period(datetime(2026, 12, 1, 2, tzinfo=UTC), new_york).name == "2026-10"
    assert last_ended_period(datetime(2026, 12, 1, 6, tzinfo=UTC), new_york).name == "2026-11"
    assert last_ended_period(datetime(2027, 1, 15, tzinfo=UTC), ZoneInfo("UTC")).name == "2026-12"
    november = parse_period("2026-11", ZoneInfo("UTC"))
    check_ended(november, datetime(2026, 12, 1, tzinfo=UTC))
    with pytest.raises(InvalidInput, match="period: 2026-11 has not ended"):
        check_ended(november, datetime(2026, 11, 30, 23, 59, tzinfo=UTC))


# -- credit notes -----------------------------------------------------------------------------


def invoice_of(*sessions: ChargedSession) -> Invoice:
    return issued(invoice_of_charges(list(sessions), account=POSTPAID, seller=SELLER, issued_at=T0))


ORIGINAL = invoice_of(
    charged(1, ("21", "10.00", "2.10")),
    charged(2, ("21", "5.00", "1.05"), ("9", "2.00", "0.18"), started=T0 + timedelta(hours=1)),
)
LATER = T0 + timedelta(days=3)


def credited(*notes: Draft) -> list[Invoice]:
    return [issued(n, invoice_id=100 + i, number=i) for i, n in enumerate(notes, start=1)]


def test_a_full_credit_note_mirrors_the_invoice_line_by_line() -> None:
    note = credit_note(ORIGINAL, [], reason="duplicate session", issued_at=LATER)
    assert note.kind == CREDIT_NOTE and note.credits_invoice_id == ORIGINAL.id
    assert note.seller == ORIGINAL.seller and note.buyer == ORIGINAL.buyer
    assert [(x.vat_rate, x.incl_vat, x.transaction_pk) for x in note.lines] == [
        (x.vat_rate, x.incl_vat, x.transaction_pk) for x in ORIGINAL.lines
    ]
    assert note.lines[0].description.startswith("Credit of INV-000042 line 1: Charging session")
    assert note.charge_ids == ()  # a credit note invoices no charge
    assert note.totals.incl_vat == ORIGINAL.total_incl_vat
    assert note.totals.vat_totals == ORIGINAL.vat_totals
    assert remaining(ORIGINAL, credited(note)) == (
        VatLine(D("9"), D(0), D(0)),
        VatLine(D("21"), D(0), D(0)),
    )
    with pytest.raises(InvalidInput, match="credited in full already"):
        credit_note(ORIGINAL, credited(note), reason="again", issued_at=LATER)


def test_a_partial_credit_is_spread_over_the_rates_and_the_rest_can_follow() -> None:
    # left: 21 % 15.00 + 3.15 = 18.15, 9 % 2.00 + 0.18 = 2.18; 20.33 in all
    first = credit_note(ORIGINAL, [], reason="slow charging", issued_at=LATER, amount="10.00")
    assert first.totals.incl_vat == D("10.00")
    assert [(x.vat_rate, x.excl_vat, x.vat, x.incl_vat) for x in first.lines] == [
        (D("9"), D("0.98"), D("0.09"), D("1.07")),  # 10.00 x 2.18 / 20.33
        (D("21"), D("7.38"), D("1.55"), D("8.93")),  # the rest
    ]
    assert first.lines[1].description == "Credit of INV-000042 (VAT 21 %): slow charging"
    with pytest.raises(InvalidInput, match=r"amount: 10.34 is more than what is left .*10.33 EUR"):
        credit_note(ORIGINAL, credited(first), reason="x", issued_at=LATER, amount="10.34")
    rest = credit_note(ORIGINAL, credited(first), reason="goodwill", issued_at=LATER)
    assert rest.totals.incl_vat == D("10.33")
    both = credited(first, rest)
    assert all(v.excl_vat == 0 and v.vat == 0 for v in remaining(ORIGINAL, both))


def test_whole_lines_are_credited_once() -> None:
    note = credit_note(ORIGINAL, [], reason="faulty charger", issued_at=LATER, line_nos=[2])
    (line,) = note.lines
    assert (line.vat_rate, line.incl_vat, line.transaction_pk) == (D("21"), D("6.05"), 1002)
    assert line.description == "Credit of INV-000042 line 2: faulty charger"
    with pytest.raises(InvalidInput, match="lines: line 2 of INV-000042 is credited already"):
        credit_note(ORIGINAL, credited(note), reason="x", issued_at=LATER, line_nos=[2])
    other = credit_note(ORIGINAL, credited(note), reason="x", issued_at=LATER, line_nos=[1, 3])
    assert other.totals.incl_vat == D("12.10") + D("2.18")


def test_a_line_is_not_credited_past_what_amounts_left_of_its_rate() -> None:
    most = credit_note(ORIGINAL, [], reason="x", issued_at=LATER, amount="20.00")
    with pytest.raises(InvalidInput, match="lines: more than what is left"):
        credit_note(ORIGINAL, credited(most), reason="x", issued_at=LATER, line_nos=[1])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reason": "  "}, "reason: 1-500 characters"),
        ({"reason": "x" * 501}, "reason: 1-500 characters"),
        ({"amount": "0"}, "amount: must be positive"),
        ({"amount": "-1.00"}, "amount: must be positive"),
        ({"amount": "1.001"}, "amount: at most 2 decimals in EUR"),
        ({"amount": "ten"}, "amount: not a number"),
        ({"amount": "NaN"}, "amount: not a number"),
        ({"amount": "20.34"}, "amount: 20.34 is more than what is left"),
        ({"amount": "1.00", "line_nos": [1]}, "amount: give an amount or lines, not both"),
        ({"line_nos": [4]}, "lines: INV-000042 has no line 4"),
        ({"line_nos": [1, 1]}, "lines: a line is given twice"),
    ],
)
def test_a_bad_credit_is_refused_naming_the_field(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"reason": "why"} | kwargs
    with pytest.raises(InvalidInput, match=message):
        credit_note(ORIGINAL, [], issued_at=LATER, **arguments)  # type: ignore[arg-type]


def test_a_credit_note_is_not_credited() -> None:
    note = issued(credit_note(ORIGINAL, [], reason="x", issued_at=LATER), number=1)
    with pytest.raises(InvalidInput, match="CN-000001 is a credit note"):
        credit_note(note, [], reason="x", issued_at=LATER)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(rates, st.decimals(min_value=D("0.01"), max_value=D("99.99"), places=2)),
        min_size=1,
        max_size=4,
        unique_by=lambda t: t[0],
    ),
    st.lists(st.decimals(min_value=D("0.01"), max_value=D("60.00"), places=2), max_size=8),
)
def test_credits_never_exceed_what_is_left_rate_by_rate(
    lines: list[tuple[Decimal | None, Decimal]], wanted: list[Decimal]
) -> None:
    def split(rate: Decimal | None, incl: Decimal) -> tuple[str | None, str, str]:
        vat = D(0) if rate is None else (incl * rate / (100 + rate)).quantize(D("0.01"))
        return (None if rate is None else str(rate), str(incl - vat), str(vat))

    original = invoice_of(charged(1, *(split(r, incl) for r, incl in lines)))
    notes: list[Invoice] = []
    for amount in wanted:
        left = sum((v.excl_vat + v.vat for v in remaining(original, notes)), D(0))
        if amount > left:
            refusal = "credited in full already" if left == 0 else "more than what is left"
            with pytest.raises(InvalidInput, match=refusal):
                credit_note(original, notes, reason="x", issued_at=LATER, amount=amount)
            continue
        draft = credit_note(original, notes, reason="x", issued_at=LATER, amount=amount)
        assert draft.totals.incl_vat == amount
        notes.append(issued(draft, invoice_id=100 + len(notes), number=len(notes) + 1))
        for v in remaining(original, notes):
            assert v.excl_vat >= 0 and v.vat >= 0, v
    if sum((v.excl_vat + v.vat for v in remaining(original, notes)), D(0)) > 0:
        notes.append(issued(credit_note(original, notes, reason="rest", issued_at=LATER)))
    assert remaining(original, notes) == tuple(
        VatLine(v.rate, D(0), D(0)) for v in original.vat_totals
    )
    assert sum((n.total_incl_vat for n in notes), D(0)) == original.total_incl_vat


def test_invoice_json_has_decimal_strings_and_iso_times() -> None:
    data = invoice_json(ORIGINAL)
    assert data["number"] == "INV-000042" and data["series_number"] == 42
    assert data["total_incl_vat"] == "20.33"
    assert data["vat_totals"] == [
        {"rate": "9", "excl_vat": "2.00", "vat": "0.18"},
        {"rate": "21", "excl_vat": "15.00", "vat": "3.15"},
    ]
    assert data["lines"][0]["incl_vat"] == "12.10"
    assert data["lines"][0]["energy_wh"] == "10000"
    assert data["lines"][0]["started_at"] == "2026-11-03T09:00:00+00:00"
    assert data["seller"]["name"] == "ACME Charging B.V."
    assert data["buyer"]["account_id"] == 7
    assert "lines" not in invoice_json(ORIGINAL, lines=False)
