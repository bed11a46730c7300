"""Charge detail records: an ended, priced session as an OCPI 2.2.1 CDR object.

A :class:`CdrSession` is what the store gives for one session whose final cost is frozen
(docs/reference/cdr-export.md): the session, its charger and site, the tariff version it was
priced with, its stored cost and breakdown, its register readings and charging states, and
its charge and invoice if it was settled. :func:`to_ocpi` maps it to the CDR object of the
OCPI 2.2.1 CDRs module, field names and types as the module defines them:

- ``id`` and ``session_id``: the session's id in this CSMS (``/api/v1/transactions/{id}``).
- ``cdr_token``: the id token (``uid``, ``contract_id``), its OCPI ``type`` from the OCPP
  token type (ISO14443/ISO15693 ``RFID``, Central ``APP_USER``, others ``OTHER``); the token
  is ours, so its ``country_code``/``party_id`` are the CSMS's.
- ``auth_method``: ``COMMAND`` for a session started remotely, else ``WHITELIST`` (the
  CSMS authorizes from its own token list; no eMSP is asked).
- ``cdr_location``: the charger's site (``id``, ``name``, address, coordinates); a charger at
  no site is its own location (id = charge point id). The EVSE is ``<charger>*<evse>``
  (``evse_uid``) and ``<CC>*<PARTY>*E<CHARGER>*<evse>`` (``evse_id``, eMI3); the connector's
  standard, format and power type are the fleet defaults of the settings.
- ``tariffs``: the tariff version the session was priced with, as an OCPI Tariff
  (``last_updated`` = when that version was published; ``idle_grace_minutes`` is not OCPI
  and is left out).
- ``charging_periods``: the session cut as pricing cut it (:func:`csms.domain.cost_periods.cut`,
  the same readings and states), a new period whenever the element pricing energy, time or
  parking changes, or charging starts or stops, or the idle grace ends; each with its
  ``ENERGY`` (kWh), ``TIME`` (hours charging) or ``PARKING_TIME`` (hours not charging).
  When the readings do not add up to the session's stored energy (an operator set it in
  review), the energy is spread evenly over the session, as repricing did.
- ``total_cost`` is the stored final cost; ``total_fixed_cost``, ``total_energy_cost``,
  ``total_time_cost``, ``total_parking_cost`` are the sums of the breakdown's FLAT, ENERGY,
  TIME and PARKING_TIME lines (present when the session has such a line). ``total_energy``
  is the session's energy, ``total_time`` start to end, ``total_parking_time`` the time
  not charging (idle grace included: it is time not charging, only not billed).

Numbers. OCPI numbers are JSON numbers; here every one is a :class:`~decimal.Decimal` and
:func:`dumps` writes it as a JSON number with its exact decimal text (``4.00``, never
``4.0000000001``): amounts have the currency's minor unit, volumes and totals 4 decimals
(OCPI's "numbers use 4 decimals"), rounded half-even from exact values. DateTimes are UTC
RFC 3339 with ``Z`` and at most milliseconds (OCPI's ``string(25)``).

Pure: no I/O.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from csms.domain.cost import CostBreakdown, CostLine, matches
from csms.domain.cost_periods import Period, Reading, StateChange, Timeline, cut
from csms.domain.money import exact_decimal
from csms.domain.sites import Site
from csms.domain.tariffs import Dimension, Tariff, parse_tariff, tariff_to_json

__all__ = [
    "CdrCharge",
    "CdrSession",
    "ChargingPeriod",
    "ConnectorDefaults",
    "Party",
    "charging_periods",
    "dumps",
    "evse_number",
    "ocpi_datetime",
    "to_ocpi",
]

UTC_ZONE = ZoneInfo("UTC")
VOLUME = Decimal("0.0001")  # OCPI: numbers use 4 decimals
CONNECTOR_STANDARDS = frozenset(
    {
        "CHADEMO", "CHAOJI", "DOMESTIC_A", "DOMESTIC_B", "DOMESTIC_C", "DOMESTIC_D",
        "DOMESTIC_E", "DOMESTIC_F", "DOMESTIC_G", "DOMESTIC_H", "DOMESTIC_I", "DOMESTIC_J",
        "DOMESTIC_K", "DOMESTIC_L", "DOMESTIC_M", "DOMESTIC_N", "DOMESTIC_O", "GBT_AC",
        "GBT_DC", "IEC_60309_2_single_16", "IEC_60309_2_three_16", "IEC_60309_2_three_32",
        "IEC_60309_2_three_64", "IEC_62196_T1", "IEC_62196_T1_COMBO", "IEC_62196_T2",
        "IEC_62196_T2_COMBO", "IEC_62196_T3A", "IEC_62196_T3C", "NEMA_5_20", "NEMA_6_30",
        "NEMA_6_50", "NEMA_10_30", "NEMA_10_50", "NEMA_14_30", "NEMA_14_50", "PANTOGRAPH_BOTTOM_UP",
        "PANTOGRAPH_TOP_DOWN", "TESLA_R", "TESLA_S",
    }
)  # fmt: skip
"""OCPI 2.2.1 ConnectorType values."""
CONNECTOR_FORMATS = frozenset({"SOCKET", "CABLE"})
POWER_TYPES = frozenset({"AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"})
TOKEN_TYPES = {"ISO14443": "RFID", "ISO15693": "RFID", "Central": "APP_USER"}
"""OCPP IdTokenType -> OCPI 2.2.1 TokenType (anything else: ``OTHER``; 1.6 has none: RFID)."""
_TARIFF_NUMBERS = frozenset(
    {"price", "vat", "excl_vat", "incl_vat", "min_kwh", "max_kwh", "min_current"}
    | {"max_current", "min_power", "max_power"}
)
_NOT_OCPI = ("idle_grace_minutes",)


@dataclass(frozen=True, slots=True)
class Party:
    """The CSMS's OCPI identity (``CSMS_OCPI_COUNTRY_CODE``, ``CSMS_OCPI_PARTY_ID``)."""

    country_code: str
    party_id: str


@dataclass(frozen=True, slots=True)
class ConnectorDefaults:
    """What the CSMS does not store per connector: the fleet's connector (OCPI values)."""

    standard: str = "IEC_62196_T2"
    format: str = "SOCKET"
    power_type: str = "AC_3_PHASE"


@dataclass(frozen=True, slots=True)
class CdrCharge:
    """The session's charge on its account (and its invoice, once invoiced)."""

    id: int
    account_id: int
    currency: str
    excl_vat: Decimal
    vat: Decimal
    incl_vat: Decimal
    invoice_number: str | None


@dataclass(frozen=True, slots=True)
class CdrSession:
    """Everything a CDR is made of, as stored, for one ended session with a final cost."""

    id: int
    charge_point_id: str
    transaction_id: str
    evse_id: int
    connector_id: int
    id_token: str | None
    id_token_type: str | None
    remote_start_id: int | None
    started_at: datetime
    ended_at: datetime
    meter_start_wh: Decimal | None
    meter_stop_wh: Decimal | None
    energy_wh: Decimal | None
    stop_reason: str | None
    meter_id: str | None
    site: Site | None
    tariff_id: str
    tariff_version: int
    tariff_definition: Mapping[str, Any]
    tariff_published_at: datetime | None
    currency: str
    excl_vat: Decimal
    vat: Decimal
    incl_vat: Decimal
    breakdown: Mapping[str, Any]
    cost_at: datetime
    readings: tuple[tuple[datetime, Decimal], ...] = ()
    states: tuple[tuple[datetime, bool], ...] = ()
    account_id: int | None = None
    charge: CdrCharge | None = None

    def zone(self, default: ZoneInfo) -> ZoneInfo:
        """The site's time zone (pricing's), else ``default``."""
        return self.site.zone if self.site is not None else default

    def cost_breakdown(self) -> CostBreakdown:
        return CostBreakdown.from_json(self.breakdown)


@dataclass(frozen=True, slots=True)
class ChargingPeriod:
    """A stretch of the session within which the tariff element of each dimension and
    the charging state do not change; volumes exact (kWh and hours)."""

    start: datetime
    charging: bool
    energy_kwh: Fraction
    hours: Fraction
    priced: bool  # some element prices what happens in it


# -------------------------------------------------------------------------- charging periods


def _timeline(s: CdrSession) -> Timeline:
    """What pricing priced: the readings, the stop reading at the end, the states."""
    readings = [Reading(at, wh) for at, wh in s.readings]
    if s.meter_stop_wh is not None:
        readings.append(Reading(s.ended_at, s.meter_stop_wh))
    return Timeline(
        started_at=s.started_at,
        ended_at=max(s.ended_at, s.started_at),
        meter_start_wh=s.meter_start_wh,
        readings=tuple(readings),
        states=tuple(StateChange(at, charging) for at, charging in s.states),
    )


def _even(s: CdrSession, energy_wh: Decimal) -> Timeline:
    """The session as repricing after a review sees it: ``energy_wh`` spread evenly."""
    start = s.meter_start_wh or Decimal(0)
    ended = max(s.ended_at, s.started_at)
    return Timeline(
        started_at=s.started_at,
        ended_at=ended,
        meter_start_wh=start,
        readings=(Reading(ended, start + energy_wh),),
        states=tuple(StateChange(at, charging) for at, charging in s.states),
    )


def _first_elements(tariff: Tariff, period: Period) -> tuple[int | None, int | None, int | None]:
    """The element pricing energy, time (or parking, when not charging) and FLAT in
    ``period`` (None: none does), by the cost engine's first-match rule."""
    matched = [e.restrictions is None or matches(e.restrictions, period) for e in tariff.elements]

    def first(dimension: Dimension) -> int | None:
        for index, element in enumerate(tariff.elements):
            if matched[index] and element.component(dimension) is not None:
                return index
        return None

    energy = first(Dimension.ENERGY)
    if period.charging:
        time = first(Dimension.TIME)
    else:
        time = None if period.in_grace else first(Dimension.PARKING_TIME)
    return energy, time, first(Dimension.FLAT)


def charging_periods(tariff: Tariff, timeline: Timeline, zone: ZoneInfo) -> list[ChargingPeriod]:
    """``timeline`` in OCPI charging periods: pricing's periods joined while the charging
    state, the idle grace and the elements pricing energy and time/parking stay the same."""
    started = timeline.started_at.astimezone(UTC)
    out: list[ChargingPeriod] = []
    last_key: tuple[object, ...] | None = None
    for period in cut(timeline, tariff, zone):
        energy, time, flat = _first_elements(tariff, period)
        key = (period.charging, period.in_grace, energy, time)
        kwh, hours = period.energy_wh / 1000, period.hours
        priced = energy is not None or time is not None or flat is not None
        if key == last_key:
            previous = out[-1]
            out[-1] = ChargingPeriod(
                previous.start,
                previous.charging,
                previous.energy_kwh + kwh,
                previous.hours + hours,
                previous.priced or priced,
            )
            continue
        at = started + timedelta(microseconds=int(period.start * 1_000_000))
        out.append(ChargingPeriod(at, period.charging, kwh, hours, priced))
        last_key = key
    if not out:  # a session of no length: one period, nothing consumed
        out.append(ChargingPeriod(started, True, Fraction(0), Fraction(0), True))
    return out


def session_periods(s: CdrSession, tariff: Tariff, default_zone: ZoneInfo) -> list[ChargingPeriod]:
    """The session's charging periods; their energy adds up to its stored energy."""
    zone = s.zone(default_zone)
    periods = charging_periods(tariff, _timeline(s), zone)
    if s.energy_wh is not None:
        total = sum((p.energy_kwh for p in periods), Fraction(0)) * 1000
        if total != Fraction(s.energy_wh):
            periods = charging_periods(tariff, _even(s, s.energy_wh), zone)
    return periods


# ---------------------------------------------------------------------------------- numbers


def volume(value: Fraction | Decimal | int) -> Decimal:
    """A volume or total as OCPI writes numbers: 4 decimals, half-even, from the exact value."""
    return exact_decimal(value).quantize(VOLUME, rounding=decimal.ROUND_HALF_EVEN)


def ocpi_datetime(value: datetime) -> str:
    """UTC RFC 3339 with ``Z``; milliseconds only when there are any (string(25))."""
    utc = value.astimezone(UTC)
    if utc.microsecond:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def evse_number(evse_id: int, connector_id: int) -> int:
    """The EVSE of a session: 2.0.1's evse id; 1.6 has none (0), its connector is one."""
    return evse_id if evse_id > 0 else max(connector_id, 1)


def _emi3(text: str) -> str:
    """Upper-case letters and digits only (eMI3 ids allow ``*`` as separator only)."""
    return "".join(c for c in text.upper() if c.isascii() and c.isalnum())


def _price(excl: Decimal, incl: Decimal) -> dict[str, Decimal]:
    return {"excl_vat": excl, "incl_vat": incl}


def _sum_lines(lines: Iterable[CostLine]) -> tuple[Decimal, Decimal] | None:
    found = list(lines)
    if not found:
        return None
    return sum((x.excl_vat for x in found), Decimal(0)), sum(
        (x.incl_vat for x in found), Decimal(0)
    )


def _numbers(value: Any, key: str | None = None) -> Any:
    """tariff_to_json's text numbers as Decimals (OCPI numbers)."""
    if isinstance(value, dict):
        return {k: _numbers(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if key in _TARIFF_NUMBERS and isinstance(value, str):
        return Decimal(value)
    return value


def ocpi_tariff(
    party: Party, tariff_id: str, tariff: Tariff, last_updated: datetime
) -> dict[str, Any]:
    """The OCPI 2.2.1 Tariff object of a tariff version."""
    body = _numbers(tariff_to_json(tariff))
    for key in _NOT_OCPI:
        body.pop(key, None)
    return {
        "country_code": party.country_code,
        "party_id": party.party_id,
        "id": tariff_id,
        **body,
        "last_updated": ocpi_datetime(last_updated),
    }


# ------------------------------------------------------------------------------- the object


def cdr_location(s: CdrSession, party: Party, connector: ConnectorDefaults) -> dict[str, Any]:
    site = s.site
    evse = evse_number(s.evse_id, s.connector_id)
    # OCPI's lengths: longer site fields are cut (a strict partner refuses the CDR otherwise)
    location: dict[str, Any] = {
        "id": site.id if site is not None else s.charge_point_id[:36],
        "name": (site.name if site is not None else s.charge_point_id)[:255],
        "address": site.address[:45] if site is not None else "",
        "city": site.city[:45] if site is not None else "",
        "postal_code": site.postal_code[:10] if site is not None else "",
        "country": site.country if site is not None else "",
    }
    if site is not None and site.latitude is not None and site.longitude is not None:
        location["coordinates"] = {
            "latitude": f"{site.latitude:.6f}",
            "longitude": f"{site.longitude:.6f}",
        }
    location.update(
        {
            "evse_uid": f"{s.charge_point_id}*{evse}"[:36],
            "evse_id": f"{party.country_code}*{party.party_id}*E{_emi3(s.charge_point_id)}*{evse}"[
                :48
            ],
            "connector_id": str(max(s.connector_id, 1)),
            "connector_standard": connector.standard,
            "connector_format": connector.format,
            "connector_power_type": connector.power_type,
        }
    )
    return location


def to_ocpi(
    s: CdrSession,
    *,
    party: Party,
    connector: ConnectorDefaults = ConnectorDefaults(),
    default_zone: ZoneInfo = UTC_ZONE,
) -> dict[str, Any]:
    """The OCPI 2.2.1 CDR object of ``s`` (see the module); numbers are Decimals."""
    tariff = parse_tariff(s.tariff_definition)
    periods = session_periods(s, tariff, default_zone)
    lines = s.cost_breakdown().lines
    uid = s.id_token or ""
    cdr: dict[str, Any] = {
        "country_code": party.country_code,
        "party_id": party.party_id,
        "id": str(s.id),
        "start_date_time": ocpi_datetime(s.started_at),
        "end_date_time": ocpi_datetime(s.ended_at),
        "session_id": str(s.id),
        "cdr_token": {
            "country_code": party.country_code,
            "party_id": party.party_id,
            "uid": uid,
            "type": TOKEN_TYPES.get(s.id_token_type or "ISO14443", "OTHER"),
            "contract_id": uid,
        },
        "auth_method": "COMMAND" if s.remote_start_id is not None else "WHITELIST",
        "cdr_location": cdr_location(s, party, connector),
    }
    if s.meter_id:
        cdr["meter_id"] = s.meter_id[:255]
    cdr["currency"] = s.currency
    cdr["tariffs"] = [ocpi_tariff(party, s.tariff_id, tariff, s.tariff_published_at or s.cost_at)]
    cdr["charging_periods"] = [_period_json(p, s.tariff_id) for p in periods]
    cdr["total_cost"] = _price(s.excl_vat, s.incl_vat)
    by_dimension = {
        "total_fixed_cost": Dimension.FLAT,
        "total_energy": None,
        "total_energy_cost": Dimension.ENERGY,
        "total_time": None,
        "total_time_cost": Dimension.TIME,
        "total_parking_time": None,
        "total_parking_cost": Dimension.PARKING_TIME,
    }
    parking = sum((p.hours for p in periods if not p.charging), Fraction(0))
    energy_wh = s.energy_wh
    if energy_wh is None:
        energy_wh = exact_decimal(sum((p.energy_kwh for p in periods), Fraction(0)) * 1000)
    hours = Fraction((max(s.ended_at, s.started_at) - s.started_at) // timedelta(microseconds=1))
    totals = {
        "total_energy": volume(Fraction(energy_wh) / 1000),
        "total_time": volume(hours / 3_600_000_000),
        "total_parking_time": volume(parking),
    }
    for key, dimension in by_dimension.items():
        if dimension is None:
            cdr[key] = totals[key]
            continue
        summed = _sum_lines(line for line in lines if line.dimension is dimension)
        if summed is not None:
            cdr[key] = _price(*summed)
    if s.stop_reason:
        cdr["remark"] = f"stop reason: {s.stop_reason}"[:255]
    cdr["last_updated"] = ocpi_datetime(s.cost_at)
    return cdr


def _period_json(p: ChargingPeriod, tariff_id: str) -> dict[str, Any]:
    dimensions: list[dict[str, Any]] = []
    if p.charging or p.energy_kwh:
        dimensions.append({"type": "ENERGY", "volume": volume(p.energy_kwh)})
    kind = "TIME" if p.charging else "PARKING_TIME"
    dimensions.append({"type": kind, "volume": volume(p.hours)})
    out: dict[str, Any] = {"start_date_time": ocpi_datetime(p.start), "dimensions": dimensions}
    if p.priced:
        out["tariff_id"] = tariff_id
    return out


# ---------------------------------------------------------------------------------- the JSON


def dumps(value: Any) -> bytes:
    """``value`` as compact JSON; a :class:`~decimal.Decimal` is a JSON number with its exact
    decimal text (``4.00``), never a float and never a string."""
    parts: list[bytes] = []
    _write(value, parts)
    return b"".join(parts)


def _write(value: Any, parts: list[bytes]) -> None:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        parts.append(f"{value:f}".encode())
    elif isinstance(value, Mapping):
        parts.append(b"{")
        for i, (key, item) in enumerate(value.items()):
            if i:
                parts.append(b",")
            parts.append(orjson.dumps(str(key)))
            parts.append(b":")
            _write(item, parts)
        parts.append(b"}")
    elif isinstance(value, list | tuple):
        parts.append(b"[")
        for i, item in enumerate(value):
            if i:
                parts.append(b",")
            _write(item, parts)
        parts.append(b"]")
    elif isinstance(value, float):
        raise TypeError("floats are not written: money and volumes are Decimals")
    else:
        parts.append(orjson.dumps(value))


def vat_rates(lines: Sequence[CostLine]) -> list[Decimal]:
    """The distinct VAT rates of a breakdown's lines, ascending (none: no VAT applied)."""
    return sorted({line.vat_rate for line in lines if line.vat_rate is not None})
