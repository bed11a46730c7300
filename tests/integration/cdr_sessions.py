"""Many ended, priced sessions written straight into PostgreSQL, for the CDR export tests of
big ranges (a simulator would take minutes to charge thousands)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from csms.domain.cost import Reading, Timeline, cost
from csms.domain.tariffs import parse_tariff


async def insert_sessions(
    pool: asyncpg.Pool,
    charge_point_id: str,
    tariff_id: str,
    definition: dict[str, Any],
    *,
    count: int,
    first_start: datetime,
    id_token: str = "BULK-TAG",
) -> tuple[Decimal, Decimal]:
    """``count`` sessions of 30 minutes and 7.5 kWh, one a minute from ``first_start``,
    priced with version 1 of ``tariff_id`` as pricing would; (excl, incl VAT) of each."""
    started = first_start
    timeline = Timeline(
        started,
        started + timedelta(minutes=30),
        Decimal(0),
        (Reading(started + timedelta(minutes=30), Decimal(7500)),),
        (),
    )
    breakdown = cost(parse_tariff(definition), timeline, time_zone=ZoneInfo("UTC"))
    await pool.execute(
        """INSERT INTO transactions (charge_point_id, protocol, transaction_id, evse_id,
               connector_id, id_token, id_token_type, started_at, ended_at, meter_start_wh,
               meter_stop_wh, energy_wh, stop_reason, tariff_id, tariff_version, currency,
               cost_excl_vat, cost_vat, cost_incl_vat, cost_breakdown, cost_at, cost_final,
               closed_by)
           SELECT $1, 'ocpp2.0.1', 'bulk-' || n, 1, 1, $2, 'ISO14443',
                  $3::timestamptz + n * interval '1 minute',
                  $3 + n * interval '1 minute' + interval '30 minutes',
                  0, 7500, 7500, 'Local', $4, 1, $5, $6, $7, $8, $9,
                  $3 + n * interval '1 minute' + interval '30 minutes', true,
                  'charger'
           FROM generate_series(0, $10 - 1) AS n""",
        charge_point_id,
        id_token,
        first_start,
        tariff_id,
        breakdown.currency,
        breakdown.total_excl_vat,
        breakdown.total_vat,
        breakdown.total_incl_vat,
        breakdown.to_json(),
        count,
    )
    return breakdown.total_excl_vat, breakdown.total_incl_vat
