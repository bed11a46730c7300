"""PDF invoices (issue 13): what a reader of the PDF sees, read back with pypdf: number,
seller and buyer, each session line with its times, duration, energy and tariff, VAT per
rate and the totals, amounts with the currency's minor units."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pypdf
import pytest

from csms.domain.invoices import CREDIT_NOTE, Invoice, Line, Party
from csms.domain.ledger import VatLine
from csms.services.invoice_pdf import PdfOptions, duration, render_pdf

D = Decimal
T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def line(no: int, incl: str, vat: str, *, rate: str | None = "21", minutes: int = 85) -> Line:
    return Line(
        line_no=no,
        description=f"Charging session {100 + no} at CP-7, connector 1",
        vat_rate=None if rate is None else D(rate),
        excl_vat=D(incl) - D(vat),
        vat=D(vat),
        incl_vat=D(incl),
        charge_id=no,
        transaction_pk=100 + no,
        started_at=T0 + timedelta(hours=no),
        ended_at=T0 + timedelta(hours=no, minutes=minutes),
        energy_wh=D("12345"),
        tariff="standard v2",
    )


def invoice(*lines: Line, currency: str = "EUR", **changes: object) -> Invoice:
    by_rate: dict[Decimal | None, list[Decimal]] = {}
    for x in lines:
        by_rate.setdefault(x.vat_rate, [D(0), D(0)])
        by_rate[x.vat_rate][0] += x.excl_vat
        by_rate[x.vat_rate][1] += x.vat
    found = Invoice(
        id=5,
        series="INV",
        number=42,
        kind="invoice",
        account_id=7,
        issued_at=T0 + timedelta(days=28),
        period_start=datetime(2026, 11, 1, tzinfo=UTC),
        period_end=datetime(2026, 12, 1, tzinfo=UTC),
        currency=currency,
        total_excl_vat=sum((x.excl_vat for x in lines), D(0)),
        total_vat=sum((x.vat for x in lines), D(0)),
        total_incl_vat=sum((x.incl_vat for x in lines), D(0)),
        vat_totals=tuple(VatLine(r, e, v) for r, (e, v) in by_rate.items()),
        seller=Party("ACME Charging B.V.", "Main street 1\n1000 AA Amsterdam", "NL", "NL123B01"),
        buyer=Party("Fleet Ltd", "Dock 2", "GB", "GB999", "ap@fleet.test", account_id=7),
        credits_invoice_id=None,
        paid=False,
        paid_at=None,
        lines=lines,
    )
    return replace(found, **changes)  # type: ignore[arg-type]


def text_of(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def pages(pdf: bytes) -> int:
    return len(pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_the_pdf_shows_number_parties_lines_vat_and_totals() -> None:
    found = invoice(line(1, "12.10", "2.10"), line(2, "1.09", "0.09", rate="9", minutes=12))
    text = text_of(render_pdf(found))
    assert "Invoice" in text and "INV-000042" in text
    for seller in ("ACME Charging B.V.", "Main street 1", "1000 AA Amsterdam", "NL123B01"):
        assert seller in text
    for buyer in ("Fleet Ltd", "Dock 2", "GB999", "ap@fleet.test"):
        assert buyer in text
    assert "Issued December 1, 2026" in text
    assert "Period Nov 1, 2026 - Nov 30, 2026" in text
    # each session: description, times and duration, energy in kWh, tariff, rate, amounts
    assert "Charging session 101 at CP-7, connector 1" in text
    assert "2026-11-03 10:00 - 11:25 (1 h 25 min)" in text
    assert "2026-11-03 11:00 - 11:12 (12 min)" in text
    assert "12.345 standard v2 21 10.00 2.10 12.10" in text
    assert "12.345 standard v2 9 1.00 0.09 1.09" in text
    # VAT per rate, then the totals with the currency
    assert "21 10.00 2.10 12.10" in text and "9 1.00 0.09 1.09" in text
    assert "Total excl. VAT €11.00" in text
    assert "VAT €2.19" in text
    assert "Total €13.19" in text
    assert "1 / 1" in text


def test_a_credit_note_says_what_it_credits_and_why() -> None:
    note = invoice(
        line(1, "6.05", "1.05"),
        kind=CREDIT_NOTE,
        series="CN",
        number=3,
        period_start=None,
        period_end=None,
        credits_invoice_id=5,
        credits_number="INV-000042",
        reason="the charger stopped early",
    )
    text = text_of(render_pdf(note))
    assert "Credit note" in text and "CN-000003" in text
    assert "Credits invoice INV-000042" in text
    assert "Reason the charger stopped early" in text
    assert "Total credited €6.05" in text
    assert "Period" not in text


@pytest.mark.parametrize(
    ("currency", "incl", "vat", "total"),
    [("JPY", "1650", "150", "¥1,650"), ("KWD", "1.250", "0.050", "KWD1.250")],
)
def test_amounts_have_the_currencys_minor_units(
    currency: str, incl: str, vat: str, total: str
) -> None:
    text = text_of(render_pdf(invoice(line(1, incl, vat), currency=currency)))
    assert f"Total {total}" in text.replace("\xa0", "")


def test_the_locale_formats_numbers_and_dates() -> None:
    found = invoice(line(1, "1234.56", "214.26"))
    text = text_of(render_pdf(found, PdfOptions(locale="de_DE")))
    assert "1.234,56" in text and "12,345" in text
    assert "1. Dezember 2026" in text


def test_times_are_printed_in_the_invoicing_time_zone() -> None:
    text = text_of(
        render_pdf(
            invoice(line(1, "1.21", "0.21")), PdfOptions(time_zone=ZoneInfo("Europe/Amsterdam"))
        )
    )
    assert "2026-11-03 11:00 - 12:25 (1 h 25 min)" in text


def test_a_long_invoice_runs_over_pages_with_every_line() -> None:
    lines = [line(i, "4.84", "0.84") for i in range(1, 61)]
    pdf = render_pdf(invoice(*lines))
    text = text_of(pdf)
    assert pages(pdf) >= 3
    assert f"1 / {pages(pdf)}" in text and f"{pages(pdf)} / {pages(pdf)}" in text
    for i in range(1, 61):
        assert f"Charging session {100 + i} at CP-7" in text
    assert "Total €290.40" in text


def test_text_helvetica_cannot_print_is_printed_as_near_as_it_can() -> None:
    found = invoice(line(1, "1.21", "0.21"), buyer=Party("Zoë Dvořák 東京", account_id=7))
    text = text_of(render_pdf(found))
    assert "Zoë Dvorák ??" in text  # ř has no Windows-1252 form, á has


@pytest.mark.skipif(not DEJAVU.is_file(), reason="no DejaVu font on this machine")
def test_a_truetype_font_prints_any_script() -> None:
    found = invoice(line(1, "1.21", "0.21"), buyer=Party("Zoë Dvořák Łódź", account_id=7))
    text = text_of(render_pdf(found, PdfOptions(font=DEJAVU)))
    assert "Zoë Dvořák Łódź" in text and "INV-000042" in text and "€1.21" in text


def test_the_same_invoice_gives_the_same_bytes() -> None:
    found = invoice(line(1, "1.21", "0.21"))
    assert render_pdf(found) == render_pdf(found)


@pytest.mark.parametrize(
    ("seconds", "text"), [(40, "40 s"), (60, "1 min"), (3600, "1 h 00 min"), (5100, "1 h 25 min")]
)
def test_durations(seconds: int, text: str) -> None:
    assert duration(timedelta(seconds=seconds)) == text
