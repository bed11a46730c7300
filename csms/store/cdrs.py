"""Charge detail records: every ended session with a final cost, with what its CDR is made of.

One query gives a session with its charger's site, the tariff version it was priced with,
its charge and invoice, the account it bills to, and (as arrays in the row) its energy
register readings and charging states, so a CDR needs no further round trip.
:func:`stream` walks a range with a server-side cursor inside a read-only transaction: an
export of any size holds one prefetch of rows in memory at a time.

A session is in the range when it ENDED in ``[start, end)``; lists are ordered by session id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from csms.domain.billing import invoice_number
from csms.domain.cdrs import CdrCharge, CdrSession
from csms.domain.sites import Site
from csms.store.executor import Executor

PREFETCH = 500  # rows the cursor fetches at a time


@dataclass(frozen=True, slots=True)
class CdrFilter:
    """Which sessions: ended in ``[start, end)`` (either bound open when None), at a
    charger, at a site, billed to an account; ``after_pk`` for the next page."""

    start: datetime | None = None
    end: datetime | None = None
    charge_point_id: str | None = None
    site_id: str | None = None
    account_id: int | None = None
    after_pk: int = 0


_ACCOUNT = """coalesce(ch.account_id, tok.account_id,
    (SELECT b.id FROM id_token_users u JOIN billing_accounts b ON b.user_id = u.user_id
     WHERE u.id_token = tok.id_token))"""

_SELECT = f"""
SELECT t.id, t.charge_point_id, t.transaction_id, t.evse_id, t.connector_id, t.id_token,
       -- a 1.6 idTag has no type (the node records "Central"): none, which CDRs read as RFID
       CASE WHEN t.protocol = 'ocpp1.6' THEN NULL ELSE t.id_token_type END AS id_token_type,
       t.remote_start_id, t.started_at, t.ended_at, t.meter_start_wh,
       t.meter_stop_wh, t.energy_wh, t.stop_reason, c.meter_serial_number AS meter_id,
       t.tariff_id, t.tariff_version, v.definition AS tariff_definition,
       v.published_at AS tariff_published_at, t.currency, t.cost_excl_vat, t.cost_vat,
       t.cost_incl_vat, t.cost_breakdown, t.cost_at,
       s.id AS site_id, s.name AS site_name, s.time_zone AS site_time_zone,
       s.address AS site_address, s.city AS site_city, s.postal_code AS site_postal_code,
       s.country AS site_country, s.latitude AS site_latitude, s.longitude AS site_longitude,
       {_ACCOUNT} AS account_id,
       ch.id AS charge_id, ch.account_id AS charge_account_id, ch.currency AS charge_currency,
       ch.excl_vat AS charge_excl_vat, ch.vat AS charge_vat, ch.incl_vat AS charge_incl_vat,
       i.series AS invoice_series, i.number AS invoice_number,
       ARRAY(SELECT ROW(m.sampled_at, m.value * CASE WHEN m.unit = 'kWh' THEN 1000 ELSE 1 END)
             FROM meter_values m
             WHERE m.transaction_pk = t.id AND m.measurand = 'Energy.Active.Import.Register'
               AND m.phase = '' AND m.value IS NOT NULL AND m.unit IN ('', 'Wh', 'kWh')
             ORDER BY m.sampled_at) AS readings,
       ARRAY(SELECT ROW(st.at, st.charging) FROM session_states st
             WHERE st.transaction_pk = t.id ORDER BY st.at) AS states
FROM transactions t
JOIN chargers c ON c.charge_point_id = t.charge_point_id
JOIN tariff_versions v ON v.tariff_id = t.tariff_id AND v.version = t.tariff_version
LEFT JOIN sites s ON s.id = c.site_id
LEFT JOIN id_tokens tok ON lower(tok.id_token) = lower(t.id_token)
LEFT JOIN charges ch ON ch.transaction_pk = t.id
LEFT JOIN invoices i ON i.id = ch.invoice_id
"""

_WHERE = f"""
WHERE t.cost_final AND t.ended_at IS NOT NULL
  AND ($1::timestamptz IS NULL OR t.ended_at >= $1)
  AND ($2::timestamptz IS NULL OR t.ended_at < $2)
  AND ($3::text IS NULL OR t.charge_point_id = $3)
  AND ($4::text IS NULL OR c.site_id = $4)
  AND ($5::bigint IS NULL OR {_ACCOUNT} = $5)
  AND t.id > $6
"""


def _args(f: CdrFilter) -> tuple[Any, ...]:
    return (f.start, f.end, f.charge_point_id, f.site_id, f.account_id, f.after_pk)


def _session(r: asyncpg.Record) -> CdrSession:
    site = None
    if r["site_id"] is not None:
        site = Site(
            id=r["site_id"],
            name=r["site_name"],
            time_zone=r["site_time_zone"],
            address=r["site_address"],
            city=r["site_city"],
            postal_code=r["site_postal_code"],
            country=r["site_country"],
            latitude=r["site_latitude"],
            longitude=r["site_longitude"],
        )
    charge = None
    if r["charge_id"] is not None:
        number = None
        if r["invoice_series"] is not None:
            number = invoice_number(r["invoice_series"], r["invoice_number"])
        charge = CdrCharge(
            id=r["charge_id"],
            account_id=r["charge_account_id"],
            currency=r["charge_currency"],
            excl_vat=r["charge_excl_vat"],
            vat=r["charge_vat"],
            incl_vat=r["charge_incl_vat"],
            invoice_number=number,
        )
    return CdrSession(
        id=r["id"],
        charge_point_id=r["charge_point_id"],
        transaction_id=r["transaction_id"],
        evse_id=r["evse_id"],
        connector_id=r["connector_id"],
        id_token=r["id_token"],
        id_token_type=r["id_token_type"],
        remote_start_id=r["remote_start_id"],
        started_at=r["started_at"],
        ended_at=r["ended_at"],
        meter_start_wh=r["meter_start_wh"],
        meter_stop_wh=r["meter_stop_wh"],
        energy_wh=r["energy_wh"],
        stop_reason=r["stop_reason"],
        meter_id=r["meter_id"],
        site=site,
        tariff_id=r["tariff_id"],
        tariff_version=r["tariff_version"],
        tariff_definition=r["tariff_definition"],
        tariff_published_at=r["tariff_published_at"],
        currency=r["currency"],
        excl_vat=r["cost_excl_vat"],
        vat=r["cost_vat"],
        incl_vat=r["cost_incl_vat"],
        breakdown=r["cost_breakdown"],
        cost_at=r["cost_at"],
        readings=tuple((at, wh) for at, wh in r["readings"]),
        states=tuple((at, charging) for at, charging in r["states"]),
        account_id=r["account_id"],
        charge=charge,
    )


async def get(db: Executor, transaction_pk: int) -> CdrSession | None:
    """The CDR of session ``transaction_pk``; None unless it ended with a final cost."""
    record = await db.fetchrow(
        _SELECT + _WHERE.replace("t.id > $6", "t.id = $6"),
        *_args(CdrFilter(after_pk=transaction_pk)),
    )
    return None if record is None else _session(record)


async def page(db: Executor, f: CdrFilter, limit: int) -> list[CdrSession]:
    """At most ``limit`` CDRs after ``f.after_pk``, by session id."""
    records = await db.fetch(_SELECT + _WHERE + " ORDER BY t.id LIMIT $7", *_args(f), limit)
    return [_session(r) for r in records]


async def count(db: Executor, f: CdrFilter) -> int:
    """How many CDRs ``f`` selects (for a progress bar)."""
    value = await db.fetchval(
        f"""SELECT count(*) FROM transactions t
            JOIN chargers c ON c.charge_point_id = t.charge_point_id
            LEFT JOIN id_tokens tok ON lower(tok.id_token) = lower(t.id_token)
            LEFT JOIN charges ch ON ch.transaction_pk = t.id
            {_WHERE} AND t.tariff_id IS NOT NULL""",
        *_args(f),
    )
    return int(value)


async def stream(
    pool: asyncpg.Pool, f: CdrFilter, *, prefetch: int = PREFETCH
) -> AsyncIterator[CdrSession]:
    """Every CDR ``f`` selects, by session id, through a server-side cursor in a read-only
    transaction on one connection of ``pool`` (held until the iteration ends or is closed)."""
    async with pool.acquire() as connection, connection.transaction(readonly=True):
        cursor = connection.cursor(
            _SELECT + _WHERE + " ORDER BY t.id", *_args(f), prefetch=prefetch
        )
        async for record in cursor:
            yield _session(record)
