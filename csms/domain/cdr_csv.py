"""Charge detail records as CSV for accounting: one row per session, a stable column order.

:data:`COLUMNS` is the order, documented in docs/reference/cdr-export.md; a new column is
only ever appended. Cells follow RFC 4180 (comma separated, CRLF line ends, a field quoted
with ``"`` when it holds a comma, quote, CR or LF, a quote doubled inside), and are safe to
open in a spreadsheet: a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a CR is
prefixed with ``'`` so it is never read as a formula (OWASP "CSV injection"). Amounts,
energy and durations are never negative here, so no number is ever prefixed.

Times are UTC (``2026-11-03T21:30:00Z``) and the site's local time with its offset
(``2026-11-03T22:30:00+01:00``); energy in kWh and durations in hours with 4 decimals;
amounts as the currency writes them (``4.00``); VAT rates in percent, ``;`` between several.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from csms.domain.cdrs import CdrSession, evse_number, session_periods, vat_rates, volume
from csms.domain.money import exact_decimal
from csms.domain.tariffs import parse_tariff

COLUMNS: tuple[str, ...] = (
    "cdr_id",
    "transaction_id",
    "charge_point_id",
    "site_id",
    "evse_id",
    "connector_id",
    "id_token",
    "account_id",
    "start_utc",
    "end_utc",
    "time_zone",
    "start_local",
    "end_local",
    "energy_kwh",
    "duration_hours",
    "charging_hours",
    "parking_hours",
    "tariff_id",
    "tariff_version",
    "currency",
    "excl_vat",
    "vat",
    "incl_vat",
    "vat_rates",
    "charge_id",
    "charged_excl_vat",
    "charged_vat",
    "charged_incl_vat",
    "invoice_number",
    "stop_reason",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NEEDS_QUOTES = (",", '"', "\r", "\n")


def safe_cell(value: str) -> str:
    """``value`` as a spreadsheet reads it as text: a leading formula character escaped."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def csv_line(cells: Sequence[str]) -> str:
    """One RFC 4180 record (CRLF-terminated) of ``cells``, each made formula-safe."""
    out = []
    for cell in cells:
        text = safe_cell(cell)
        if any(c in text for c in _NEEDS_QUOTES):
            text = '"' + text.replace('"', '""') + '"'
        out.append(text)
    return ",".join(out) + "\r\n"


def header() -> str:
    return csv_line(COLUMNS)


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:f}"
    return str(value)


def row(s: CdrSession, default_zone: ZoneInfo) -> list[str]:
    """The cells of session ``s`` in :data:`COLUMNS` order."""
    zone = s.zone(default_zone)
    periods = session_periods(s, parse_tariff(s.tariff_definition), default_zone)
    ended = max(s.ended_at, s.started_at)
    duration = Fraction((ended - s.started_at) // timedelta(microseconds=1), 3_600_000_000)
    parking = sum((p.hours for p in periods if not p.charging), Fraction(0))
    energy = s.energy_wh
    if energy is None:
        energy = exact_decimal(sum((p.energy_kwh for p in periods), Fraction(0)) * 1000)
    rates = vat_rates(s.cost_breakdown().lines)
    charge = s.charge
    values: dict[str, object] = {
        "cdr_id": s.id,
        "transaction_id": s.transaction_id,
        "charge_point_id": s.charge_point_id,
        "site_id": None if s.site is None else s.site.id,
        "evse_id": evse_number(s.evse_id, s.connector_id),
        "connector_id": max(s.connector_id, 1),
        "id_token": s.id_token,
        "account_id": s.account_id if charge is None else charge.account_id,
        "start_utc": _utc(s.started_at),
        "end_utc": _utc(s.ended_at),
        "time_zone": zone.key,
        "start_local": s.started_at.astimezone(zone).isoformat(timespec="seconds"),
        "end_local": s.ended_at.astimezone(zone).isoformat(timespec="seconds"),
        "energy_kwh": volume(Fraction(energy) / 1000),
        "duration_hours": volume(duration),
        "charging_hours": volume(duration - parking),
        "parking_hours": volume(parking),
        "tariff_id": s.tariff_id,
        "tariff_version": s.tariff_version,
        "currency": s.currency,
        "excl_vat": s.excl_vat,
        "vat": s.vat,
        "incl_vat": s.incl_vat,
        "vat_rates": ";".join(f"{r:f}" for r in rates),
        "charge_id": None if charge is None else charge.id,
        "charged_excl_vat": None if charge is None else charge.excl_vat,
        "charged_vat": None if charge is None else charge.vat,
        "charged_incl_vat": None if charge is None else charge.incl_vat,
        "invoice_number": None if charge is None else charge.invoice_number,
        "stop_reason": s.stop_reason,
    }
    return [_text(values[column]) for column in COLUMNS]
