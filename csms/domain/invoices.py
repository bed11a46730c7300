"""Invoices and credit notes: what an invoice of charges says, and what a credit note may
credit. Pure: no I/O.

An invoice is made of charges (one per settled session, :mod:`csms.domain.billing`): one line
per charge and VAT rate, with the session's times, energy and tariff. Its totals are the sums
of its lines, exactly (nothing is rounded again: the charges are in minor units already), and
its totals per VAT rate come from :func:`csms.domain.billing.vat_totals`. Seller and buyer
are frozen into it when it is issued. Once issued nothing changes but its payment state; a
correction is a credit note (:func:`credit_note`), which never credits more than what is
left of the invoice, rate by rate.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from csms.domain.billing import (
    Account,
    Charge,
    check_amount,
    invoice_number,
    vat_line_from_json,
    vat_line_json,
    vat_totals,
)
from csms.domain.ledger import VatLine
from csms.domain.money import round_to_minor_unit
from csms.errors import InvalidInput

INVOICE = "invoice"
CREDIT_NOTE = "credit_note"
KINDS = (INVOICE, CREDIT_NOTE)
SERIES_PATTERN = re.compile(r"^[A-Z0-9-]{1,16}$")
MAX_REASON = 500
PRICED_BY_HAND = "priced by hand"
_ZERO = Decimal(0)


def check_series(series: str, field_name: str = "series") -> str:
    if not SERIES_PATTERN.match(series):
        raise InvalidInput(f"{field_name}: 1-16 of A-Z, 0-9 and '-' ({series!r})")
    return series


# -- parties ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Party:
    """A seller or buyer as printed on an invoice (frozen into it when it is issued)."""

    name: str
    address: str = ""
    country: str = ""
    vat_id: str = ""
    email: str = ""
    account_id: int | None = None  # the buyer's billing account

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "address": self.address,
            "country": self.country,
            "vat_id": self.vat_id,
            "email": self.email,
        }
        if self.account_id is not None:
            data["account_id"] = self.account_id
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Party:
        return cls(
            name=str(data.get("name", "")),
            address=str(data.get("address", "")),
            country=str(data.get("country", "")),
            vat_id=str(data.get("vat_id", "")),
            email=str(data.get("email", "")),
            account_id=data.get("account_id"),
        )


def buyer_of(account: Account) -> Party:
    return Party(
        name=account.name,
        address=account.address,
        country=account.country,
        vat_id=account.vat_id,
        email=account.email,
        account_id=account.id,
    )


# -- what an invoice is made of ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChargedSession:
    """A charge with what its invoice line shows of its session."""

    charge: Charge
    charge_point_id: str
    evse_id: int
    connector_id: int
    started_at: datetime
    ended_at: datetime | None
    energy_wh: Decimal | None
    tariff: str  # "standard v2", "priced by hand", or ""


@dataclass(frozen=True, slots=True)
class Line:
    line_no: int
    description: str
    vat_rate: Decimal | None
    excl_vat: Decimal
    vat: Decimal
    incl_vat: Decimal
    charge_id: int | None = None
    transaction_pk: int | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    energy_wh: Decimal | None = None
    tariff: str = ""

    @property
    def vat_line(self) -> VatLine:
        return VatLine(self.vat_rate, self.excl_vat, self.vat)


@dataclass(frozen=True, slots=True)
class Totals:
    excl_vat: Decimal
    vat: Decimal
    incl_vat: Decimal
    vat_totals: tuple[VatLine, ...]


def totals_of(lines: Sequence[Line]) -> Totals:
    """The sums of the lines, exactly, and per VAT rate."""
    return Totals(
        sum((line.excl_vat for line in lines), _ZERO),
        sum((line.vat for line in lines), _ZERO),
        sum((line.incl_vat for line in lines), _ZERO),
        vat_totals([line.vat_line for line in lines]),
    )


@dataclass(frozen=True, slots=True)
class Draft:
    """An invoice or credit note about to be issued (it gets its number when it is stored)."""

    kind: str
    account_id: int
    currency: str
    issued_at: datetime
    seller: Party
    buyer: Party
    lines: tuple[Line, ...]
    period_start: datetime | None = None
    period_end: datetime | None = None
    credits_invoice_id: int | None = None
    paid: bool = False
    totals: Totals = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "totals", totals_of(self.lines))

    @property
    def charge_ids(self) -> tuple[int, ...]:
        return tuple(line.charge_id for line in self.lines if line.charge_id is not None)


@dataclass(frozen=True, slots=True)
class CreditNoteRef:
    id: int
    number: str
    total_incl_vat: Decimal


@dataclass(frozen=True, slots=True)
class Invoice:
    """An issued invoice or credit note, as stored."""

    id: int
    series: str
    number: int
    kind: str
    account_id: int
    issued_at: datetime
    period_start: datetime | None
    period_end: datetime | None
    currency: str
    total_excl_vat: Decimal
    total_vat: Decimal
    total_incl_vat: Decimal
    vat_totals: tuple[VatLine, ...]
    seller: Party
    buyer: Party
    credits_invoice_id: int | None
    paid: bool
    paid_at: datetime | None
    lines: tuple[Line, ...] = ()
    # a credit note: why and who (its ledger entry's memo and author)
    reason: str | None = None
    created_by: str | None = None
    # an invoice: the number it credits (credit notes) or its credit notes (invoices)
    credits_number: str | None = None
    credit_notes: tuple[CreditNoteRef, ...] = ()

    @property
    def number_text(self) -> str:
        return invoice_number(self.series, self.number)

    @property
    def is_credit_note(self) -> bool:
        return self.kind == CREDIT_NOTE


@dataclass(frozen=True, slots=True)
class Issued:
    """What issuing came to. ``issued``: ``invoice`` is new; ``already``: the period's
    invoice existed (``invoice``); ``nothing``: no charge to invoice."""

    outcome: str
    invoice: Invoice | None = None


# -- periods ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    """A calendar month in the invoicing time zone: ``[start, end)``."""

    name: str  # "2026-11"
    start: datetime
    end: datetime


_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


def month(year: int, month_number: int, zone: ZoneInfo) -> Period:
    start = datetime(year, month_number, 1, tzinfo=zone)
    following = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return Period(f"{year:04d}-{month_number:02d}", start, following)


def parse_period(text: str, zone: ZoneInfo) -> Period:
    """``2026-11``: November 2026, from midnight on the 1st in ``zone``."""
    found = _PERIOD.match(text)
    if found is None or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < 1970:
        raise InvalidInput(f"period: a month as YYYY-MM, e.g. 2026-11 (not {text!r})")
    return month(int(found.group(1)), int(found.group(2)), zone)


def last_ended_period(now: datetime, zone: ZoneInfo) -> Period:
    """The latest month that has ended at ``now`` in ``zone``."""
    local = now.astimezone(zone)
    previous = local.replace(day=1) - timedelta(days=1)
    return month(previous.year, previous.month, zone)


def check_ended(period: Period, now: datetime) -> None:
    if period.end > now:
        raise InvalidInput(f"period: {period.name} has not ended yet (it ends {period.end})")


# -- invoices of charges -------------------------------------------------------------------------


def _vat_label(rate: Decimal | None) -> str:
    return "no VAT" if rate is None else f"VAT {rate.normalize():f} %"


def _describe(session: ChargedSession) -> str:
    place = (
        f"connector {session.connector_id}" if session.evse_id == 0 else f"EVSE {session.evse_id}"
    )
    return f"Charging session {session.charge.transaction_pk} at {session.charge_point_id}, {place}"


def invoice_of_charges(
    sessions: Sequence[ChargedSession],
    *,
    account: Account,
    seller: Party,
    issued_at: datetime,
    period: Period | None = None,
) -> Draft:
    """An invoice of ``account`` for its charges: one line per charge and VAT rate (only the
    first line of a charge names it: a charge is invoiced once), in the order the sessions
    started. A prepaid account's invoice is paid when issued (its wallet paid each charge)."""
    if not sessions:
        raise InvalidInput("an invoice needs at least one charge")
    lines: list[Line] = []
    for session in sorted(sessions, key=lambda s: (s.started_at, s.charge.id)):
        charge = session.charge
        if charge.account_id != account.id:
            raise InvalidInput(f"charge {charge.id} is not account {account.id}'s")
        if charge.currency != account.currency:
            raise InvalidInput(
                f"charge {charge.id} is in {charge.currency}, account {account.id} in "
                f"{account.currency}"
            )
        rates = charge.vat_lines or (VatLine(None, charge.excl_vat, charge.vat),)
        if (
            sum((r.excl_vat for r in rates), _ZERO) != charge.excl_vat
            or sum((r.vat for r in rates), _ZERO) != charge.vat
            or charge.excl_vat + charge.vat != charge.incl_vat
        ):
            raise ValueError(f"charge {charge.id}: its amounts per VAT rate do not add up")
        description = _describe(session)
        for i, rate in enumerate(rates):
            lines.append(
                Line(
                    line_no=len(lines) + 1,
                    description=description
                    if len(rates) == 1
                    else f"{description} ({_vat_label(rate.rate)})",
                    vat_rate=rate.rate,
                    excl_vat=rate.excl_vat,
                    vat=rate.vat,
                    incl_vat=rate.excl_vat + rate.vat,
                    charge_id=charge.id if i == 0 else None,
                    transaction_pk=charge.transaction_pk,
                    started_at=session.started_at,
                    ended_at=session.ended_at,
                    energy_wh=session.energy_wh if i == 0 else None,
                    tariff=session.tariff,
                )
            )
    return Draft(
        kind=INVOICE,
        account_id=account.id,
        currency=account.currency,
        issued_at=issued_at,
        seller=seller,
        buyer=buyer_of(account),
        lines=tuple(lines),
        period_start=None if period is None else period.start,
        period_end=None if period is None else period.end,
        paid=account.prepaid,
    )


# -- credit notes -------------------------------------------------------------------------------


def remaining(original: Invoice, credit_notes: Sequence[Invoice]) -> tuple[VatLine, ...]:
    """What is left to credit of ``original``, per VAT rate, after ``credit_notes``."""
    left = {v.rate: [v.excl_vat, v.vat] for v in original.vat_totals}
    for note in credit_notes:
        for v in note.vat_totals:
            amounts = left.setdefault(v.rate, [_ZERO, _ZERO])
            amounts[0] -= v.excl_vat
            amounts[1] -= v.vat
    return tuple(VatLine(rate, excl, vat) for rate, (excl, vat) in left.items())


def check_reason(reason: str) -> str:
    reason = reason.strip()
    if not 1 <= len(reason) <= MAX_REASON:
        raise InvalidInput(f"reason: 1-{MAX_REASON} characters (why the invoice is credited)")
    return reason


def credit_note(
    original: Invoice,
    credit_notes: Sequence[Invoice],
    *,
    reason: str,
    issued_at: datetime,
    amount: object | None = None,
    line_nos: Sequence[int] = (),
) -> Draft:
    """A credit note of ``original``, which ``credit_notes`` credited already: all that is
    left (neither ``amount`` nor ``line_nos``), ``amount`` VAT included (spread over the VAT
    rates in proportion to what is left of each), or whole lines. Never more than what is
    left, rate by rate; a line is credited once."""
    if original.kind != INVOICE:
        raise InvalidInput(f"{original.number_text} is a credit note: only invoices are credited")
    reason = check_reason(reason)
    if amount is not None and line_nos:
        raise InvalidInput("amount: give an amount or lines, not both")
    left = remaining(original, credit_notes)
    left_incl = sum((v.excl_vat + v.vat for v in left), _ZERO)
    if left_incl <= 0:
        raise InvalidInput(f"{original.number_text} is credited in full already")
    prefix = f"Credit of {original.number_text}"
    if line_nos:
        lines = _credit_lines(original, credit_notes, line_nos, left, prefix, reason)
    elif amount is None:
        if credit_notes:
            lines = _spread(original.currency, left, left_incl, prefix, reason)
        else:  # all of it: line by line, as invoiced
            lines = [
                Line(
                    line_no=i,
                    description=f"{prefix} line {line.line_no}: {line.description}",
                    vat_rate=line.vat_rate,
                    excl_vat=line.excl_vat,
                    vat=line.vat,
                    incl_vat=line.incl_vat,
                    transaction_pk=line.transaction_pk,
                    started_at=line.started_at,
                    ended_at=line.ended_at,
                    energy_wh=line.energy_wh,
                    tariff=line.tariff,
                )
                for i, line in enumerate(original.lines, start=1)
            ]
    else:
        wanted = check_amount(amount, "amount", original.currency)
        if wanted > left_incl:
            raise InvalidInput(
                f"amount: {wanted:f} is more than what is left to credit of "
                f"{original.number_text} ({left_incl:f} {original.currency})"
            )
        lines = _spread(original.currency, left, wanted, prefix, reason)
    return Draft(
        kind=CREDIT_NOTE,
        account_id=original.account_id,
        currency=original.currency,
        issued_at=issued_at,
        seller=original.seller,
        buyer=original.buyer,
        lines=tuple(lines),
        credits_invoice_id=original.id,
    )


def _spread(
    currency: str, left: Sequence[VatLine], wanted: Decimal, prefix: str, reason: str
) -> list[Line]:
    """``wanted`` (VAT included) over the rates in proportion to what is left of each, in
    minor units, what rounding leaves over going to the rates that can still take it; a
    rate's part is split into excl. VAT and VAT as what is left of it is. No part exceeds
    what is left of its rate, excl. VAT or VAT."""
    rates = [v for v in left if v.excl_vat + v.vat > 0]
    room = [v.excl_vat + v.vat for v in rates]
    total = sum(room, _ZERO)
    parts = [min(round_to_minor_unit(wanted * r / total, currency), r) for r in room]
    over = sum(parts, _ZERO) - wanted
    for i in range(len(parts)):  # take back what rounding gave too much, first rates first
        taken = min(over, parts[i]) if over > 0 else max(over, parts[i] - room[i])
        parts[i] -= taken
        over -= taken
    lines: list[Line] = []
    for v, part, r in zip(rates, parts, room, strict=True):
        if part <= 0:
            continue
        vat = v.vat if part == r else round_to_minor_unit(part * v.vat / r, currency)
        vat = max(part - v.excl_vat, min(vat, v.vat))
        lines.append(
            Line(
                line_no=len(lines) + 1,
                description=f"{prefix} ({_vat_label(v.rate)}): {reason}",
                vat_rate=v.rate,
                excl_vat=part - vat,
                vat=vat,
                incl_vat=part,
            )
        )
    return lines


def _credit_lines(
    original: Invoice,
    credit_notes: Sequence[Invoice],
    line_nos: Sequence[int],
    left: Sequence[VatLine],
    prefix: str,
    reason: str,
) -> list[Line]:
    by_no = {line.line_no: line for line in original.lines}
    credited = {
        (line.transaction_pk, line.vat_rate)
        for note in credit_notes
        for line in note.lines
        if line.transaction_pk is not None
    }
    if len(set(line_nos)) != len(line_nos):
        raise InvalidInput("lines: a line is given twice")
    lines: list[Line] = []
    per_rate: dict[Decimal | None, list[Decimal]] = {}
    for no in line_nos:
        line = by_no.get(no)
        if line is None:
            raise InvalidInput(f"lines: {original.number_text} has no line {no}")
        if line.transaction_pk is not None and (line.transaction_pk, line.vat_rate) in credited:
            raise InvalidInput(f"lines: line {no} of {original.number_text} is credited already")
        amounts = per_rate.setdefault(line.vat_rate, [_ZERO, _ZERO])
        amounts[0] += line.excl_vat
        amounts[1] += line.vat
        lines.append(
            Line(
                line_no=len(lines) + 1,
                description=f"{prefix} line {no}: {reason}",
                vat_rate=line.vat_rate,
                excl_vat=line.excl_vat,
                vat=line.vat,
                incl_vat=line.incl_vat,
                transaction_pk=line.transaction_pk,
                started_at=line.started_at,
                ended_at=line.ended_at,
                energy_wh=line.energy_wh,
                tariff=line.tariff,
            )
        )
    left_by_rate = {v.rate: v for v in left}
    for rate, (excl, vat) in per_rate.items():
        v = left_by_rate.get(rate, VatLine(rate, _ZERO, _ZERO))
        if excl > v.excl_vat or vat > v.vat:
            raise InvalidInput(
                f"lines: more than what is left to credit of {original.number_text} at "
                f"{_vat_label(rate)} ({v.excl_vat + v.vat:f} {original.currency})"
            )
    return lines


# -- JSON ---------------------------------------------------------------------------------------


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:f}"


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def line_json(line: Line) -> dict[str, Any]:
    return {
        "line_no": line.line_no,
        "description": line.description,
        "charge_id": line.charge_id,
        "transaction_pk": line.transaction_pk,
        "started_at": _time(line.started_at),
        "ended_at": _time(line.ended_at),
        "energy_wh": _amount(line.energy_wh),
        "tariff": line.tariff,
        "vat_rate": _amount(line.vat_rate),
        "excl_vat": _amount(line.excl_vat),
        "vat": _amount(line.vat),
        "incl_vat": _amount(line.incl_vat),
    }


def invoice_json(invoice: Invoice, *, lines: bool = True) -> dict[str, Any]:
    """The invoice as the API and ``csms invoice show --json`` give it: amounts as decimal
    strings, times ISO 8601."""
    data: dict[str, Any] = {
        "id": invoice.id,
        "number": invoice.number_text,
        "series": invoice.series,
        "series_number": invoice.number,
        "kind": invoice.kind,
        "account_id": invoice.account_id,
        "issued_at": _time(invoice.issued_at),
        "period_start": _time(invoice.period_start),
        "period_end": _time(invoice.period_end),
        "currency": invoice.currency,
        "total_excl_vat": _amount(invoice.total_excl_vat),
        "total_vat": _amount(invoice.total_vat),
        "total_incl_vat": _amount(invoice.total_incl_vat),
        "vat_totals": [vat_line_json(v) for v in invoice.vat_totals],
        "seller": invoice.seller.to_json(),
        "buyer": invoice.buyer.to_json(),
        "credits_invoice_id": invoice.credits_invoice_id,
        "credits_number": invoice.credits_number,
        "reason": invoice.reason,
        "created_by": invoice.created_by,
        "paid": invoice.paid,
        "paid_at": _time(invoice.paid_at),
    }
    if lines:
        data["lines"] = [line_json(line) for line in invoice.lines]
        data["credit_notes"] = [
            {"id": c.id, "number": c.number, "total_incl_vat": _amount(c.total_incl_vat)}
            for c in invoice.credit_notes
        ]
    return data


def vat_totals_from_json(data: Sequence[dict[str, Any]]) -> tuple[VatLine, ...]:
    return tuple(vat_line_from_json(v) for v in data)
