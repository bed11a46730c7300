"""An invoice or credit note as an A4 PDF (fpdf2): seller, buyer, number, dates, one row per
line (session, times and duration, energy, tariff, VAT rate, amounts), totals per VAT rate
and the totals, amounts printed with the currency's minor units in the invoicing locale.

Without a TrueType font (``CSMS_INVOICE_FONT``) the PDF uses the built-in Helvetica, which
prints Windows-1252 text only: other characters are printed as their closest Latin letters
(or ``?``). Set a font with the scripts your buyers' names use (e.g. DejaVuSans.ttf).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from fpdf import FPDF, FontFace

from csms.domain.invoices import CREDIT_NOTE, Invoice, Line, Party

if TYPE_CHECKING:
    from csms.settings import CommonSettings

MARGIN = 15.0
GREY = (90, 90, 90)
CORE_ENCODING = "windows-1252"
# columns of the lines table (mm, 180 in all)
COLUMNS = (
    ("#", 7, "RIGHT"),
    ("Description", 76, "LEFT"),
    ("kWh", 16, "RIGHT"),
    ("Tariff", 20, "LEFT"),
    ("VAT %", 10, "RIGHT"),
    ("Excl. VAT", 18, "RIGHT"),
    ("VAT", 15, "RIGHT"),
    ("Incl. VAT", 18, "RIGHT"),
)


@dataclass(frozen=True, slots=True)
class PdfOptions:
    """``CSMS_INVOICE_LOCALE``, ``CSMS_INVOICE_TIME_ZONE``, ``CSMS_INVOICE_FONT``."""

    locale: str = "en"
    time_zone: ZoneInfo = ZoneInfo("UTC")
    font: Path | None = None

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> PdfOptions:
        return cls(
            locale=settings.invoice_locale,
            time_zone=ZoneInfo(settings.invoice_time_zone),
            font=settings.invoice_font,
        )


class _Document(FPDF):
    def __init__(self, footer_text: str, family: str, encode: bool) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.footer_text = footer_text
        self.family = family
        self.encode = encode
        self.core_fonts_encoding = CORE_ENCODING

    def text_of(self, text: str) -> str:
        return _core_safe(text) if self.encode else text

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family, "", 8)
        self.set_text_color(*GREY)
        self.cell(0, 5, self.text_of(self.footer_text), align="L")
        self.set_x(MARGIN)
        self.cell(0, 5, f"{self.page_no()} / {{nb}}", align="R")


def _core_safe(text: str) -> str:
    """``text`` in what Helvetica can print: Windows-1252, else the letter without its
    accents, else ``?``."""
    out = []
    for char in text:
        try:
            char.encode(CORE_ENCODING)
        except UnicodeEncodeError:
            plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            out.append(plain or "?")
        else:
            out.append(char)
    return "".join(out)


class _Format:
    def __init__(self, currency: str, options: PdfOptions) -> None:
        self.currency = currency
        self.locale = options.locale
        self.zone = options.time_zone

    def money(self, amount: Decimal) -> str:
        return format_currency(amount, self.currency, locale=self.locale)

    def number(self, amount: Decimal) -> str:
        """An amount without its currency symbol, with the currency's minor units."""
        text = format_currency(amount, self.currency, format="#,##0.00", locale=self.locale)
        return str(text)

    def rate(self, rate: Decimal | None) -> str:
        return "-" if rate is None else str(format_decimal(rate, locale=self.locale))

    def energy(self, wh: Decimal | None) -> str:
        if wh is None:
            return ""
        return str(format_decimal(wh / 1000, format="#,##0.000", locale=self.locale))

    def date(self, moment: datetime) -> str:
        return str(format_date(moment.astimezone(self.zone), format="long", locale=self.locale))

    def moment(self, moment: datetime) -> str:
        return str(
            format_datetime(moment, "yyyy-MM-dd HH:mm", tzinfo=self.zone, locale=self.locale)
        )

    def span(self, start: datetime, end: datetime) -> str:
        """``2026-11-03 10:00 - 11:25 (1 h 25 min)``: the end's date only if it differs."""
        ended = self.moment(end)
        if ended[:10] == self.moment(start)[:10]:
            ended = ended[11:]
        return f"{self.moment(start)} - {ended} ({duration(end - start)})"

    def day(self, moment: datetime) -> str:
        return str(format_date(moment.astimezone(self.zone), format="medium", locale=self.locale))


def duration(span: timedelta) -> str:
    """``1 h 05 min``, ``12 min``, ``40 s``."""
    seconds = max(0, int(span.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def render_pdf(invoice: Invoice, options: PdfOptions | None = None) -> bytes:
    """The invoice as PDF bytes (deterministic: same invoice, same bytes)."""
    options = PdfOptions() if options is None else options
    fmt = _Format(invoice.currency, options)
    title = "Credit note" if invoice.kind == CREDIT_NOTE else "Invoice"
    family, encode = "Helvetica", True
    pdf = _Document(f"{title} {invoice.number_text} - {invoice.seller.name}", family, encode)
    if options.font is not None:
        pdf.add_font("invoice", "", options.font)
        bold = options.font.with_name(f"{options.font.stem}-Bold{options.font.suffix}")
        pdf.add_font("invoice", "B", bold if bold.exists() else options.font)
        pdf.family, pdf.encode = "invoice", False
    text = pdf.text_of
    pdf.set_creation_date(invoice.issued_at)
    pdf.set_title(text(f"{title} {invoice.number_text}"))
    pdf.set_author(text(invoice.seller.name))
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=18)
    pdf.alias_nb_pages()
    pdf.add_page()

    # title and number
    pdf.set_font(pdf.family, "B", 20)
    pdf.cell(90, 10, text(title))
    pdf.set_font(pdf.family, "B", 12)
    pdf.cell(0, 10, text(invoice.number_text), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    # seller and buyer side by side
    top = pdf.get_y()
    _party(pdf, "From", invoice.seller, x=MARGIN)
    seller_bottom = pdf.get_y()
    pdf.set_y(top)
    _party(pdf, "Bill to", invoice.buyer, x=MARGIN + 95)
    pdf.set_y(max(seller_bottom, pdf.get_y()) + 4)

    # dates and references
    facts = [("Number", invoice.number_text), ("Issued", fmt.date(invoice.issued_at))]
    if invoice.period_start is not None and invoice.period_end is not None:
        last_day = invoice.period_end - timedelta(seconds=1)
        facts.append(("Period", f"{fmt.day(invoice.period_start)} - {fmt.day(last_day)}"))
    if invoice.credits_number is not None:
        facts.append(("Credits invoice", invoice.credits_number))
    if invoice.reason:
        facts.append(("Reason", invoice.reason))
    if invoice.buyer.account_id is not None:
        facts.append(("Account", str(invoice.buyer.account_id)))
    facts.append(("Currency", invoice.currency))
    if invoice.paid and invoice.kind != CREDIT_NOTE:
        paid = "" if invoice.paid_at is None else f" ({fmt.date(invoice.paid_at)})"
        facts.append(("Paid", f"yes{paid}"))
    for label, value in facts:
        pdf.set_font(pdf.family, "B", 9)
        pdf.cell(32, 5, text(label))
        pdf.set_font(pdf.family, "", 9)
        pdf.multi_cell(0, 5, text(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    _lines(pdf, invoice.lines, fmt)
    pdf.ln(4)
    _vat_and_totals(pdf, invoice, fmt)
    return bytes(pdf.output())


def _party(pdf: _Document, label: str, party: Party, *, x: float) -> None:
    text = pdf.text_of
    pdf.set_x(x)
    pdf.set_font(pdf.family, "B", 8)
    pdf.set_text_color(*GREY)
    pdf.cell(85, 5, text(label.upper()), new_x="LEFT", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.set_font(pdf.family, "B", 10)
    pdf.multi_cell(85, 5, text(party.name), new_x="LEFT", new_y="NEXT")
    pdf.set_font(pdf.family, "", 9)
    rows = [*party.address.splitlines(), party.country]
    if party.vat_id:
        rows.append(f"VAT id: {party.vat_id}")
    if party.email:
        rows.append(party.email)
    for row in rows:
        if row.strip():
            pdf.multi_cell(85, 4.5, text(row), new_x="LEFT", new_y="NEXT")


def _describe(line: Line, fmt: _Format) -> str:
    parts = [line.description]
    if line.started_at is not None and line.ended_at is not None:
        parts.append(fmt.span(line.started_at, line.ended_at))
    return "\n".join(parts)


def _lines(pdf: _Document, lines: tuple[Line, ...], fmt: _Format) -> None:
    text = pdf.text_of
    pdf.set_font(pdf.family, "", 8)
    with pdf.table(
        col_widths=[width for _, width, _ in COLUMNS],
        text_align=[align for _, _, align in COLUMNS],
        headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235)),
        line_height=4,
        padding=1,
        borders_layout="HORIZONTAL_LINES",
        width=180,
    ) as table:
        heading = table.row()
        for name, _, _ in COLUMNS:
            heading.cell(name)
        for line in lines:
            row = table.row()
            for value in (
                str(line.line_no),
                _describe(line, fmt),
                fmt.energy(line.energy_wh),
                line.tariff,
                fmt.rate(line.vat_rate),
                fmt.number(line.excl_vat),
                fmt.number(line.vat),
                fmt.number(line.incl_vat),
            ):
                row.cell(text(value))


def _vat_and_totals(pdf: _Document, invoice: Invoice, fmt: _Format) -> None:
    text = pdf.text_of
    left = MARGIN + 80
    pdf.set_x(left)
    pdf.set_font(pdf.family, "B", 9)
    pdf.cell(100, 6, text("VAT per rate"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.family, "", 8)
    with pdf.table(
        col_widths=(25, 25, 25, 25),
        text_align=("RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235)),
        line_height=4,
        padding=1,
        borders_layout="HORIZONTAL_LINES",
        width=100,
        align="RIGHT",
    ) as table:
        heading = table.row()
        for name in ("VAT %", "Excl. VAT", "VAT", "Incl. VAT"):
            heading.cell(name)
        for vat in invoice.vat_totals:
            row = table.row()
            for value in (
                fmt.rate(vat.rate),
                fmt.number(vat.excl_vat),
                fmt.number(vat.vat),
                fmt.number(vat.excl_vat + vat.vat),
            ):
                row.cell(text(value))
    pdf.ln(4)
    totals = (
        ("Total excl. VAT", invoice.total_excl_vat, ""),
        ("VAT", invoice.total_vat, ""),
        ("Total credited" if invoice.kind == CREDIT_NOTE else "Total", invoice.total_incl_vat, "B"),
    )
    for label, amount, style in totals:
        pdf.set_x(left)
        pdf.set_font(pdf.family, style, 11 if style else 9)
        pdf.cell(60, 6, text(label))
        pdf.cell(40, 6, text(fmt.money(amount)), align="R", new_x="LMARGIN", new_y="NEXT")
