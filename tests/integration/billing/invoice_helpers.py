"""Charged sessions in the store, for invoice tests that need many of them or sessions of a
past month: a session row created and ended as the node stores them, charged with the
settlement store's own ``record_charge`` (one ledger entry per charge)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import asyncpg

from csms.domain.billing import POSTPAID, Account, Charge, manual_bill
from csms.domain.clock import Clock, utc_now
from csms.domain.invoices import Party
from csms.domain.ledger import charge_entry
from csms.domain.transactions import Ending, NewSession, start_key
from csms.services.invoices import InvoiceOptions, InvoiceService
from csms.store import billing, chargers, transactions
from csms.store.invoices import PostgresInvoices
from csms.store.jobs import PgJobQueue

SELLER = Party("ACME Charging B.V.", "Main street 1\n1000 AA Amsterdam", "NL", "NL123456789B01")


def new_series(prefix: str = "T") -> str:
    return f"{prefix}{secrets.token_hex(4).upper()}"


def invoice_service(
    pool: asyncpg.Pool,
    *,
    series: str = "INV",
    credit_note_series: str = "CN",
    clock: Clock = utc_now,
    zone: str = "UTC",
) -> InvoiceService:
    return InvoiceService(
        PostgresInvoices(pool),
        PgJobQueue(pool),
        clock=clock,
        options=InvoiceOptions(
            seller=SELLER,
            invoice_series=series,
            credit_note_series=credit_note_series,
            time_zone=ZoneInfo(zone),
        ),
    )


async def charger(pool: asyncpg.Pool) -> str:
    charge_point_id = f"INV-{secrets.token_hex(4)}"
    await chargers.add_charger(pool, charge_point_id, password_hash=None)
    return charge_point_id


async def account(pool: asyncpg.Pool, *, kind: str = POSTPAID, **fields: object) -> Account:
    fields.setdefault("name", f"Account {secrets.token_hex(3)}")
    return await billing.add_account(pool, kind=kind, currency="EUR", **fields)


async def ended_session(
    pool: asyncpg.Pool,
    charge_point_id: str,
    *,
    ended_at: datetime,
    minutes: int = 85,
    energy_wh: int = 10_000,
) -> int:
    """A 1.6 session that ended at ``ended_at`` (its pk)."""
    tag = f"TAG-{secrets.token_hex(4)}"
    started_at = ended_at - timedelta(minutes=minutes)
    session, _ = await transactions.create_started(
        pool,
        charge_point_id,
        NewSession(
            protocol="ocpp1.6",
            start_key=start_key(1, tag, started_at, 1000),
            evse_id=0,
            connector_id=1,
            id_token=tag,
            id_token_type="ISO14443",
            started_at=started_at,
            meter_start_wh=1000,
            reservation_id=None,
            authorization_status="Accepted",
            parent_id_token=None,
        ),
    )
    ended = await transactions.finish(
        pool,
        session.id,
        Ending(
            ended_at=ended_at,
            meter_start_wh=Decimal(1000),
            meter_stop_wh=Decimal(1000 + energy_wh),
            energy_wh=Decimal(energy_wh),
            flags=(),
            stop_reason="Local",
            stop_id_token=None,
        ),
    )
    assert ended
    return session.id


async def charged(
    pool: asyncpg.Pool,
    charge_point_id: str,
    payer: Account,
    *,
    ended_at: datetime,
    incl_vat: str = "5.00",
    vat_rate: str | None = "25",
) -> Charge:
    """A session that ended at ``ended_at``, charged ``incl_vat`` to ``payer``."""
    pk = await ended_session(pool, charge_point_id, ended_at=ended_at)
    bill = manual_bill("EUR", Decimal(incl_vat), None if vat_rate is None else Decimal(vat_rate))
    entry = charge_entry(
        account_id=payer.id,
        prepaid=payer.prepaid,
        currency="EUR",
        incl_vat=bill.incl_vat,
        vat_lines=bill.vat_lines,
        transaction_pk=pk,
        memo=f"session {pk}",
    )
    charge = await billing.record_charge(
        pool,
        transaction_pk=pk,
        account=payer,
        bill=bill,
        source="tariff",
        entry=entry,
        release=None,
        at=utc_now(),
    )
    assert charge is not None
    return charge


async def invoice_of_user(pool: asyncpg.Pool, user_id: int) -> int:
    """An issued invoice of a new per-session account of ``user_id`` (its id)."""
    payer = await account(pool, invoicing="session", user_id=user_id)
    charge = await charged(pool, await charger(pool), payer, ended_at=utc_now())
    issued = await invoice_service(pool, series=new_series()).issue_for_charge(charge.id)
    assert issued.invoice is not None
    return issued.invoice.id
