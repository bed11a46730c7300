"""Billing accounts, the ledger, charges and the settlement review queue (migration 0006).

Every write that moves money is one transaction that posts a ledger entry under its
idempotency key: a second attempt finds the key taken and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from csms.domain import ledger
from csms.domain.accounts import Standing
from csms.domain.billing import (
    OPEN,
    Account,
    Bill,
    Charge,
    LedgerEntry,
    Review,
    SettlementFacts,
    vat_line_from_json,
    vat_line_json,
)
from csms.domain.id_tokens import IdToken
from csms.domain.ledger import Entry, Posting
from csms.errors import InvalidInput, NotFound
from csms.store.executor import Executor
from csms.store.id_tokens import COLUMNS as TOKEN_COLUMNS
from csms.store.transactions import get_by_pk, session_cost

ACCOUNT_COLUMNS = """id, kind, currency, status, name, email, address, country, vat_id,
    invoicing, hold_amount, payment_method, user_id, status_reason, created_at"""
ACCOUNT_FIELDS = frozenset(
    {
        "status",
        "status_reason",
        "name",
        "email",
        "address",
        "country",
        "vat_id",
        "invoicing",
        "hold_amount",
        "payment_method",
        "user_id",
    }
)
CHARGE_COLUMNS = """id, transaction_pk, account_id, currency, excl_vat, vat, incl_vat,
    vat_lines, source, ledger_entry_id, invoice_id, created_at"""
REVIEW_COLUMNS = """transaction_pk, reason, detail, status, resolution, resolution_detail,
    resolved_by, resolved_at, created_at"""

# The account a token bills to: its own, else its driver's.
ACCOUNT_OF_TOKEN = """
    SELECT a.* FROM id_tokens t
    JOIN billing_accounts a ON a.id = coalesce(
        t.account_id,
        (SELECT b.id FROM id_token_users u JOIN billing_accounts b ON b.user_id = u.user_id
         WHERE u.id_token = t.id_token))
    WHERE lower(t.id_token) = lower($1)"""


def _account(record: asyncpg.Record) -> Account:
    return Account(**dict(record))


def _charge(record: asyncpg.Record) -> Charge:
    data = dict(record)
    data["vat_lines"] = tuple(vat_line_from_json(v) for v in data["vat_lines"])
    return Charge(**data)


def _review(record: asyncpg.Record) -> Review:
    return Review(**dict(record))


# -- accounts -----------------------------------------------------------------------------------


async def add_account(db: Executor, **fields: Any) -> Account:
    base = ("kind", "currency", "name")
    columns = [*base, *(k for k in fields if k in ACCOUNT_FIELDS and k not in base)]
    values = [fields["kind"], fields["currency"], fields["name"]]
    values += [fields[k] for k in columns[3:]]
    try:
        record = await db.fetchrow(
            f"""INSERT INTO billing_accounts ({", ".join(columns)})
                VALUES ({", ".join(f"${i}" for i in range(1, len(columns) + 1))})
                RETURNING {ACCOUNT_COLUMNS}""",
            *values,
        )
    except asyncpg.UniqueViolationError:
        raise InvalidInput("user_id: that user has an account already") from None
    except asyncpg.ForeignKeyViolationError:
        raise NotFound(f"user {fields.get('user_id')} not found") from None
    assert record is not None
    return _account(record)


async def get_account(db: Executor, account_id: int) -> Account | None:
    record = await db.fetchrow(
        f"SELECT {ACCOUNT_COLUMNS} FROM billing_accounts WHERE id = $1", account_id
    )
    return _account(record) if record else None


async def account_of_user(db: Executor, user_id: int) -> Account | None:
    record = await db.fetchrow(
        f"SELECT {ACCOUNT_COLUMNS} FROM billing_accounts WHERE user_id = $1", user_id
    )
    return _account(record) if record else None


async def list_accounts(
    db: Executor, *, after_id: int = 0, limit: int = 100, status: str | None = None
) -> list[Account]:
    records = await db.fetch(
        f"""SELECT {ACCOUNT_COLUMNS} FROM billing_accounts
            WHERE id > $1 AND ($3::text IS NULL OR status = $3) ORDER BY id LIMIT $2""",
        after_id,
        limit,
        status,
    )
    return [_account(r) for r in records]


async def update_account(db: Executor, account_id: int, **changes: Any) -> Account:
    unknown = set(changes) - ACCOUNT_FIELDS
    if unknown:
        raise ValueError(f"cannot update {sorted(unknown)}")
    if not changes:
        found = await get_account(db, account_id)
        if found is None:
            raise NotFound(f"account {account_id} not found")
        return found
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=2))
    try:
        record = await db.fetchrow(
            f"""UPDATE billing_accounts SET {assignments}, updated_at = now() WHERE id = $1
                RETURNING {ACCOUNT_COLUMNS}""",
            account_id,
            *changes.values(),
        )
    except asyncpg.UniqueViolationError:
        raise InvalidInput("user_id: that user has an account already") from None
    except asyncpg.ForeignKeyViolationError:
        raise NotFound(f"user {changes.get('user_id')} not found") from None
    if record is None:
        raise NotFound(f"account {account_id} not found")
    return _account(record)


_ACCOUNT_OF_TOKEN = ACCOUNT_OF_TOKEN.replace(
    "a.*", ", ".join(f"a.{c.strip()}" for c in ACCOUNT_COLUMNS.split(","))
)


async def account_of_token(db: Executor, id_token: str) -> Account | None:
    record = await db.fetchrow(_ACCOUNT_OF_TOKEN, id_token)
    return _account(record) if record else None


async def link_token(db: Executor, id_token: str, account_id: int | None) -> None:
    """Bill ``id_token`` to an account (None: to its driver's, if any)."""
    try:
        result = await db.execute(
            """UPDATE id_tokens SET account_id = $2, updated_at = now()
               WHERE lower(id_token) = lower($1)""",
            id_token,
            account_id,
        )
    except asyncpg.ForeignKeyViolationError:
        raise NotFound(f"account {account_id} not found") from None
    if result == "UPDATE 0":
        raise NotFound(f"id token {id_token} not found")


# -- the ledger ---------------------------------------------------------------------------------


async def post(db: Executor, entry: Entry) -> int | None:
    """Record ``entry`` inside the caller's transaction (a connection in a transaction: the
    entry and its postings commit together); None when its idempotency key is taken (it
    was recorded before: nothing is written)."""
    entry_id: int | None = await db.fetchval(
        """INSERT INTO ledger_entries (kind, idempotency_key, account_id, transaction_pk,
               payment_id, invoice_id, memo, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (idempotency_key) DO NOTHING RETURNING id""",
        entry.kind,
        entry.idempotency_key,
        entry.account_id,
        entry.transaction_pk,
        entry.payment_id,
        entry.invoice_id,
        entry.memo,
        entry.created_by,
    )
    if entry_id is None:
        return None
    await db.executemany(
        """INSERT INTO ledger_postings (entry_id, ledger_account, currency, amount)
           VALUES ($1, $2, $3, $4)""",
        [(entry_id, p.ledger_account, p.currency, p.amount) for p in entry.postings],
    )
    return entry_id


async def post_one(pool: asyncpg.Pool, entry: Entry) -> int | None:
    async with pool.acquire() as connection, connection.transaction():
        return await post(connection, entry)


async def balance(db: Executor, ledger_account: str, currency: str) -> Decimal:
    """The sum of an account's postings (debit-positive)."""
    total = await db.fetchval(
        """SELECT coalesce(sum(amount), 0) FROM ledger_postings
           WHERE ledger_account = $1 AND currency = $2""",
        ledger_account,
        currency,
    )
    return Decimal(total)


async def balances(db: Executor, account: Account) -> dict[str, Decimal]:
    """An account's ledger balances, each on its normal side: wallet and hold (what the
    driver has, what is reserved) positive when credited, receivable when debited."""
    records = await db.fetch(
        """SELECT ledger_account, coalesce(sum(amount), 0) AS total FROM ledger_postings
           WHERE ledger_account = ANY($1::text[]) AND currency = $2 GROUP BY ledger_account""",
        [ledger.wallet(account.id), ledger.hold(account.id), ledger.receivable(account.id)],
        account.currency,
    )
    totals = {r["ledger_account"]: Decimal(r["total"]) for r in records}
    return {
        "wallet": -totals.get(ledger.wallet(account.id), Decimal(0)),
        "held": -totals.get(ledger.hold(account.id), Decimal(0)),
        "receivable": totals.get(ledger.receivable(account.id), Decimal(0)),
    }


async def entries(
    db: Executor, *, account_id: int | None = None, after_id: int = 0, limit: int = 100
) -> list[LedgerEntry]:
    records = await db.fetch(
        """SELECT e.id, e.at, e.kind, e.idempotency_key, e.account_id, e.transaction_pk,
               e.payment_id, e.invoice_id, e.memo, e.created_by,
               jsonb_agg(jsonb_build_object('account', p.ledger_account,
                   'currency', p.currency, 'amount', p.amount::text)
                   ORDER BY p.amount DESC, p.ledger_account) AS postings
           FROM ledger_entries e JOIN ledger_postings p ON p.entry_id = e.id
           WHERE ($1::bigint IS NULL OR e.account_id = $1) AND e.id > $2
           GROUP BY e.id ORDER BY e.id LIMIT $3""",
        account_id,
        after_id,
        limit,
    )
    return [
        LedgerEntry(
            **{k: r[k] for k in r.keys() if k != "postings"},
            postings=tuple(
                Posting(p["account"], p["currency"], Decimal(p["amount"])) for p in r["postings"]
            ),
        )
        for r in records
    ]


async def trial_balance(db: Executor) -> dict[tuple[str, str], Decimal]:
    """Every ledger account's balance by currency (they sum to zero per currency)."""
    records = await db.fetch(
        """SELECT ledger_account, currency, sum(amount) AS total FROM ledger_postings
           GROUP BY ledger_account, currency"""
    )
    return {(r["ledger_account"], r["currency"]): Decimal(r["total"]) for r in records}


# -- settlement ---------------------------------------------------------------------------------


async def settlement_facts(db: Executor, transaction_pk: int) -> SettlementFacts | None:
    session = await get_by_pk(db, transaction_pk)
    if session is None:
        return None
    cost = await session_cost(db, transaction_pk)
    account = None if session.id_token is None else await account_of_token(db, session.id_token)
    backwards = bool(
        await db.fetchval(
            """SELECT EXISTS (
                 SELECT 1 FROM (
                   SELECT value, lag(value) OVER (ORDER BY sampled_at) AS before
                   FROM meter_values
                   WHERE transaction_pk = $1 AND measurand = 'Energy.Active.Import.Register'
                     AND phase = '' AND value IS NOT NULL) r
                 WHERE r.value < r.before)""",
            transaction_pk,
        )
    )
    charge = await charge_of(db, transaction_pk)
    review = await review_of(db, transaction_pk)
    held = await db.fetchval(
        """SELECT coalesce(sum(p.amount), 0) FROM ledger_entries e
           JOIN ledger_postings p ON p.entry_id = e.id
           WHERE e.transaction_pk = $1 AND e.kind IN ('hold', 'release')
             AND p.ledger_account LIKE 'hold:%'""",
        transaction_pk,
    )
    return SettlementFacts(session, cost, account, backwards, charge, review, -Decimal(held))


async def charge_of(db: Executor, transaction_pk: int) -> Charge | None:
    record = await db.fetchrow(
        f"SELECT {CHARGE_COLUMNS} FROM charges WHERE transaction_pk = $1", transaction_pk
    )
    return _charge(record) if record else None


async def record_charge(
    pool: asyncpg.Pool,
    *,
    transaction_pk: int,
    account: Account,
    bill: Bill,
    source: str,
    entry: Entry,
    release: Entry | None,
    resolve_review: tuple[str, dict[str, Any] | None, str | None] | None = None,
    at: datetime,
) -> Charge | None:
    """The session's one charge, its ledger entry (and the release of its hold), in one
    transaction; None when it was charged before (nothing is written)."""
    async with pool.acquire() as connection, connection.transaction():
        entry_id = await post(connection, entry)
        if entry_id is None:
            return None  # charged before (or concurrently: that one committed first)
        if release is not None:
            await post(connection, release)
        record = await connection.fetchrow(
            f"""INSERT INTO charges (transaction_pk, account_id, currency, excl_vat, vat,
                    incl_vat, vat_lines, source, ledger_entry_id)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {CHARGE_COLUMNS}""",
            transaction_pk,
            account.id,
            bill.currency,
            bill.excl_vat,
            bill.vat,
            bill.incl_vat,
            [vat_line_json(v) for v in bill.vat_lines],
            source,
            entry_id,
        )
        if resolve_review is not None:
            resolution, detail, by = resolve_review
            await _resolve(connection, transaction_pk, resolution, detail, by, at)
    assert record is not None
    return _charge(record)


async def record_review(db: Executor, transaction_pk: int, reason: str, detail: str) -> bool:
    """Put the session in the review queue (or update the reason of its open review);
    False when it was resolved already."""
    result = await db.execute(
        """INSERT INTO settlement_reviews (transaction_pk, reason, detail) VALUES ($1, $2, $3)
           ON CONFLICT (transaction_pk) DO UPDATE SET reason = excluded.reason,
               detail = excluded.detail
           WHERE settlement_reviews.status = 'open'""",
        transaction_pk,
        reason,
        detail,
    )
    return result == "INSERT 0 1"


async def review_of(db: Executor, transaction_pk: int) -> Review | None:
    record = await db.fetchrow(
        f"SELECT {REVIEW_COLUMNS} FROM settlement_reviews WHERE transaction_pk = $1",
        transaction_pk,
    )
    return _review(record) if record else None


async def list_reviews(
    db: Executor, *, status: str | None = OPEN, after_pk: int = 0, limit: int = 100
) -> list[Review]:
    records = await db.fetch(
        f"""SELECT {REVIEW_COLUMNS} FROM settlement_reviews
            WHERE ($1::text IS NULL OR status = $1) AND transaction_pk > $2
            ORDER BY transaction_pk LIMIT $3""",
        status,
        after_pk,
        limit,
    )
    return [_review(r) for r in records]


async def _resolve(
    db: Executor,
    transaction_pk: int,
    resolution: str,
    detail: dict[str, Any] | None,
    by: str | None,
    at: datetime,
) -> bool:
    result = await db.execute(
        """UPDATE settlement_reviews SET status = 'resolved', resolution = $2,
               resolution_detail = $3, resolved_by = $4, resolved_at = $5
           WHERE transaction_pk = $1 AND status = 'open'""",
        transaction_pk,
        resolution,
        detail,
        by,
        at,
    )
    return result == "UPDATE 1"


async def waive(
    pool: asyncpg.Pool,
    transaction_pk: int,
    *,
    detail: dict[str, Any],
    by: str | None,
    at: datetime,
    release: Entry | None,
) -> bool:
    """Resolve a review without a charge (its hold, if any, is released)."""
    async with pool.acquire() as connection, connection.transaction():
        if not await _resolve(connection, transaction_pk, "waived", detail, by, at):
            return False
        if release is not None:
            await post(connection, release)
    return True


async def set_session_energy(db: Executor, transaction_pk: int, energy_wh: Decimal) -> None:
    """An operator's energy for a session under review: its meter flags are cleared."""
    result = await db.execute(
        """UPDATE transactions SET energy_wh = $2,
               meter_stop_wh = coalesce(meter_start_wh, 0) + $2,
               flags = array(SELECT f FROM unnest(flags) f WHERE f NOT IN
                   ('meter_stop_below_start', 'no_meter_reading', 'meter_stop_estimated')),
               updated_at = now()
           WHERE id = $1 AND ended_at IS NOT NULL""",
        transaction_pk,
        energy_wh,
    )
    if result == "UPDATE 0":
        raise NotFound(f"no ended session {transaction_pk}")


async def unsettled(db: Executor, *, ended_before: datetime, limit: int = 500) -> list[int]:
    """Ended sessions with neither a charge nor a review (their settle job was lost)."""
    records = await db.fetch(
        """SELECT t.id FROM transactions t
           WHERE t.ended_at IS NOT NULL AND t.ended_at < $1
             AND NOT EXISTS (SELECT 1 FROM charges c WHERE c.transaction_pk = t.id)
             AND NOT EXISTS (SELECT 1 FROM settlement_reviews r WHERE r.transaction_pk = t.id)
           ORDER BY t.id LIMIT $2""",
        ended_before,
        limit,
    )
    return [r["id"] for r in records]


async def list_charges(
    db: Executor,
    *,
    account_id: int | None = None,
    uninvoiced: bool = False,
    created_before: datetime | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[Charge]:
    records = await db.fetch(
        f"""SELECT {CHARGE_COLUMNS} FROM charges
            WHERE ($1::bigint IS NULL OR account_id = $1)
              AND (NOT $2 OR invoice_id IS NULL)
              AND ($3::timestamptz IS NULL OR created_at < $3)
              AND id > $4
            ORDER BY id LIMIT $5""",
        account_id,
        uninvoiced,
        created_before,
        after_id,
        limit,
    )
    return [_charge(r) for r in records]


async def charges_total(db: Executor, pks: Sequence[int]) -> Decimal:
    total = await db.fetchval(
        "SELECT coalesce(sum(incl_vat), 0) FROM charges WHERE transaction_pk = ANY($1::bigint[])",
        list(pks),
    )
    return Decimal(total)


# -- accounts: standing, filters, what a driver's sessions came to ------------------------------

# The account a token bills to (its own, else its driver's) and the wallet balance of a
# prepaid one (the ledger_postings_account index; holds are out of the wallet already).
_ACCOUNT_STANDING = """
    a.id AS account_id, a.kind, a.status AS account_status, a.currency, a.hold_amount,
    CASE WHEN a.kind = 'prepaid' THEN
        -(SELECT coalesce(sum(p.amount), 0) FROM ledger_postings p
          WHERE p.ledger_account = 'wallet:' || a.id AND p.currency = a.currency)
    ELSE 0 END AS available"""
_ACCOUNT_JOIN = """
    LEFT JOIN billing_accounts a ON a.id = coalesce(
        t.account_id,
        (SELECT b.id FROM id_token_users u JOIN billing_accounts b ON b.user_id = u.user_id
         WHERE u.id_token = t.id_token))"""
# One round trip at Authorize: the token as registered and its account's standing.
_TOKEN_AND_STANDING = f"""
    SELECT {", ".join(f"t.{c.strip()}" for c in TOKEN_COLUMNS.split(","))}, {_ACCOUNT_STANDING}
    FROM id_tokens t {_ACCOUNT_JOIN}
    WHERE lower(t.id_token) = lower($1)"""
_STANDING_FIELDS = ("account_id", "kind", "account_status", "currency", "hold_amount", "available")


def _standing(record: asyncpg.Record) -> Standing | None:
    if record["account_id"] is None:
        return None
    return Standing(
        record["account_id"],
        record["kind"],
        record["account_status"],
        record["currency"],
        record["hold_amount"],
        record["available"],
    )


async def token_with_standing(
    db: Executor, id_token: str
) -> tuple[IdToken | None, Standing | None]:
    """The token (case-insensitive) and the standing of the account it bills to (None: no
    such token, or it bills to no account), in one query."""
    record = await db.fetchrow(_TOKEN_AND_STANDING, id_token)
    if record is None:
        return None, None
    token = IdToken(**{k: v for k, v in record.items() if k not in _STANDING_FIELDS})
    return token, _standing(record)


async def token_standing(db: Executor, id_token: str) -> Standing | None:
    """The standing of the account ``id_token`` bills to (None: it bills to none)."""
    return (await token_with_standing(db, id_token))[1]


async def find_accounts(
    db: Executor,
    *,
    after_id: int = 0,
    limit: int = 100,
    status: str | None = None,
    kind: str | None = None,
    currency: str | None = None,
    user_id: int | None = None,
    text: str | None = None,
) -> list[Account]:
    """Accounts by id, filtered; ``text`` is found in the name or e-mail (any case)."""
    pattern = None
    if text:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
    records = await db.fetch(
        f"""SELECT {ACCOUNT_COLUMNS} FROM billing_accounts
            WHERE id > $1
              AND ($3::text IS NULL OR status = $3)
              AND ($4::text IS NULL OR kind = $4)
              AND ($5::text IS NULL OR currency = $5)
              AND ($6::bigint IS NULL OR user_id = $6)
              AND ($7::text IS NULL OR name ILIKE $7 OR email ILIKE $7)
            ORDER BY id LIMIT $2""",
        after_id,
        limit,
        status,
        kind,
        currency,
        user_id,
        pattern,
    )
    return [_account(r) for r in records]


async def settlement_of_sessions(
    db: Executor, pks: Sequence[int]
) -> dict[int, tuple[Charge | None, Review | None]]:
    """The charge and the review of each session in ``pks`` that has either (two indexed
    lookups for a whole page)."""
    if not pks:
        return {}
    found: dict[int, tuple[Charge | None, Review | None]] = {}
    for record in await db.fetch(
        f"SELECT {CHARGE_COLUMNS} FROM charges WHERE transaction_pk = ANY($1::bigint[])",
        list(pks),
    ):
        charge = _charge(record)
        found[charge.transaction_pk] = (charge, None)
    for record in await db.fetch(
        f"""SELECT {REVIEW_COLUMNS} FROM settlement_reviews
            WHERE transaction_pk = ANY($1::bigint[])""",
        list(pks),
    ):
        review = _review(record)
        found[review.transaction_pk] = (found.get(review.transaction_pk, (None, None))[0], review)
    return found


async def trial_balance_at(
    pool: asyncpg.Pool,
) -> tuple[dict[tuple[str, str], Decimal], int, int]:
    """Every ledger account's balance by currency, with the number of entries and the last
    entry id it covers, read from one snapshot (a read-only REPEATABLE READ transaction)."""
    async with (
        pool.acquire() as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        totals = await trial_balance(connection)
        row = await connection.fetchrow(
            "SELECT count(*) AS n, coalesce(max(id), 0) AS last FROM ledger_entries"
        )
    assert row is not None
    return totals, int(row["n"]), int(row["last"])
