"""Charge detail record export: sessions as OCPI 2.2.1 CDRs (NDJSON or one JSON object) or
accounting CSV, produced chunk by chunk from a stream of sessions, so an export of any size
is written as it is read (docs/reference/cdr-export.md).

The REST API (``GET /api/v1/cdrs/export``) and ``csms cdr export`` both write what
:func:`export` yields.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from csms.domain import cdr_csv
from csms.domain.cdrs import CdrSession, ConnectorDefaults, Party, dumps, to_ocpi
from csms.errors import InvalidInput
from csms.settings import CommonSettings

ExportFormat = Literal["ocpi", "csv"]
FORMATS: tuple[ExportFormat, ...] = ("ocpi", "csv")
MEDIA_TYPES = {"ocpi": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
EXTENSIONS = {"ocpi": "ndjson", "csv": "csv"}


@dataclass(frozen=True, slots=True)
class CdrOptions:
    """Who the CDRs are from and what the CSMS does not store per connector."""

    party: Party
    connector: ConnectorDefaults
    default_zone: ZoneInfo

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> CdrOptions:
        return cls(
            Party(settings.ocpi_country_code, settings.ocpi_party_id),
            ConnectorDefaults(
                settings.ocpi_connector_standard,
                settings.ocpi_connector_format,
                settings.ocpi_power_type,
            ),
            ZoneInfo(settings.default_time_zone),
        )

    def ocpi(self, session: CdrSession) -> dict[str, Any]:
        """The OCPI 2.2.1 CDR object of ``session`` (numbers as Decimals: :func:`dumps`)."""
        return to_ocpi(
            session, party=self.party, connector=self.connector, default_zone=self.default_zone
        )


async def export(
    sessions: AsyncIterable[CdrSession],
    fmt: ExportFormat,
    options: CdrOptions,
    *,
    on_row: Callable[[], None] | None = None,
) -> AsyncIterator[bytes]:
    """The export of ``sessions`` in ``fmt``, a chunk per session (CSV: the header first).

    ``ocpi``: NDJSON, one CDR object per line. ``csv``: :data:`csms.domain.cdr_csv.COLUMNS`.
    ``on_row`` is called after each session's chunk (a progress bar).
    """
    if fmt == "csv":
        yield cdr_csv.header().encode()
    async for session in sessions:
        if fmt == "csv":
            yield cdr_csv.csv_line(cdr_csv.row(session, options.default_zone)).encode()
        else:
            yield dumps(options.ocpi(session)) + b"\n"
        if on_row is not None:
            on_row()


def parse_instant(text: str, field: str) -> datetime:
    """A range bound: ``2026-11-01`` (midnight UTC), ``2026-11-01T06:00`` (UTC) or with an
    offset (``2026-11-01T00:00+01:00``, ``...Z``). InvalidInput names ``field`` otherwise."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{field}: {text!r} is not a date (2026-11-01) or a date and time "
            "(2026-11-01T06:00:00Z, 2026-11-01T07:00:00+01:00)"
        ) from None
    if instant.tzinfo is None or instant.utcoffset() is None:
        instant = instant.replace(tzinfo=UTC)
    try:
        return instant.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 is past the last instant there is
        raise InvalidInput(f"{field}: {text!r} is out of range") from None


def check_range(start: datetime, end: datetime) -> None:
    """``from`` inclusive, ``to`` exclusive: ``to`` must come after ``from``."""
    if end <= start:
        raise InvalidInput("to: must be after from (from is inclusive, to exclusive)")
