"""Billing: durable jobs (PgQueuer's schema), accounts, the double-entry ledger, charges,
the settlement review queue, payments and their webhook events, invoices and credit notes
(docs/topics/billing.md, ADR 0004).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from pathlib import Path

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# PgQueuer's own schema, frozen for the pinned version (tests check it matches).
PGQUEUER_DDL = (Path(__file__).parent / "0006_pgqueuer_1_6_0.sql").read_text(encoding="utf-8")

# One statement each (bodies have semicolons of their own), run before UPGRADE.
FUNCTIONS = [
    """
CREATE FUNCTION ledger_entry_balanced() RETURNS trigger AS $$
DECLARE
    unbalanced record;
BEGIN
    SELECT currency, sum(amount) AS total INTO unbalanced
    FROM ledger_postings WHERE entry_id = NEW.entry_id
    GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger entry % does not balance in %: %',
            NEW.entry_id, unbalanced.currency, unbalanced.total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql
""",
    """
CREATE FUNCTION ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$ LANGUAGE plpgsql
""",
    """
CREATE FUNCTION invoice_immutable() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'invoice % is issued: it cannot be deleted (issue a credit note)',
            OLD.id USING ERRCODE = 'restrict_violation';
    END IF;
    -- only its payment state may change once issued
    IF (NEW.series, NEW.number, NEW.kind, NEW.account_id, NEW.issued_at, NEW.currency,
        NEW.total_excl_vat, NEW.total_vat, NEW.total_incl_vat, NEW.vat_totals, NEW.seller,
        NEW.buyer, NEW.period_start, NEW.period_end, NEW.credits_invoice_id)
       IS DISTINCT FROM
       (OLD.series, OLD.number, OLD.kind, OLD.account_id, OLD.issued_at, OLD.currency,
        OLD.total_excl_vat, OLD.total_vat, OLD.total_incl_vat, OLD.vat_totals, OLD.seller,
        OLD.buyer, OLD.period_start, OLD.period_end, OLD.credits_invoice_id) THEN
        RAISE EXCEPTION 'invoice % is issued and cannot change (issue a credit note)', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql
""",
    """
CREATE FUNCTION invoice_lines_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'invoice lines are part of an issued invoice and cannot change'
        USING ERRCODE = 'restrict_violation';
END $$ LANGUAGE plpgsql
""",
]

UPGRADE = """
-- A billing account: who pays. Prepaid: a wallet topped up in advance, sessions paid from
-- it. Postpaid: sessions are receivables, invoiced per period and paid then.
CREATE TABLE billing_accounts (
    id             bigserial PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('prepaid', 'postpaid')),
    currency       text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'blocked', 'closed')),
    status_reason  text NOT NULL DEFAULT '',
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    email          text NOT NULL DEFAULT '',
    address        text NOT NULL DEFAULT '',
    country        text NOT NULL DEFAULT '',
    vat_id         text NOT NULL DEFAULT '',
    invoicing      text NOT NULL DEFAULT 'period' CHECK (invoicing IN ('session', 'period')),
    hold_amount    numeric NOT NULL DEFAULT 0 CHECK (hold_amount >= 0),
    payment_method text,  -- the card processor's reference of a saved card (postpaid)
    user_id        bigint UNIQUE REFERENCES users ON DELETE SET NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
-- A token bills to its account: set on the token, else the account of its driver (user).
ALTER TABLE id_tokens ADD COLUMN account_id bigint REFERENCES billing_accounts ON DELETE SET NULL;
CREATE INDEX id_tokens_account ON id_tokens (account_id) WHERE account_id IS NOT NULL;

-- The ledger: an entry is one movement of money; its postings (debit > 0, credit < 0) sum
-- to zero per currency (checked when the transaction commits). Nothing is ever updated or
-- deleted; a balance is a sum of postings. The idempotency key makes a movement happen once.
CREATE TABLE ledger_entries (
    id              bigserial PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    kind            text NOT NULL,
    idempotency_key text NOT NULL UNIQUE,
    account_id      bigint REFERENCES billing_accounts,
    transaction_pk  bigint,
    payment_id      bigint,
    invoice_id      bigint,
    memo            text NOT NULL DEFAULT '',
    created_by      text
);
CREATE INDEX ledger_entries_account ON ledger_entries (account_id, id);
CREATE TABLE ledger_postings (
    entry_id       bigint NOT NULL REFERENCES ledger_entries,
    ledger_account text NOT NULL,
    currency       text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    amount         numeric NOT NULL CHECK (amount <> 0),
    PRIMARY KEY (entry_id, ledger_account, currency)
);
CREATE INDEX ledger_postings_account ON ledger_postings (ledger_account, currency);
CREATE CONSTRAINT TRIGGER ledger_entry_balanced AFTER INSERT ON ledger_postings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entry_balanced();
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_postings_append_only BEFORE UPDATE OR DELETE ON ledger_postings
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

-- Exactly one charge per session (the unique key is what makes settlement idempotent).
CREATE TABLE charges (
    id              bigserial PRIMARY KEY,
    transaction_pk  bigint NOT NULL UNIQUE REFERENCES transactions ON DELETE RESTRICT,
    account_id      bigint NOT NULL REFERENCES billing_accounts,
    currency        text NOT NULL,
    excl_vat        numeric NOT NULL,
    vat             numeric NOT NULL,
    incl_vat        numeric NOT NULL,
    vat_lines       jsonb NOT NULL,  -- [{"rate": "21", "excl_vat": ..., "vat": ...}]
    source          text NOT NULL CHECK (source IN ('tariff', 'review')),
    ledger_entry_id bigint NOT NULL REFERENCES ledger_entries,
    invoice_id      bigint,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX charges_account ON charges (account_id, id);
CREATE INDEX charges_uninvoiced ON charges (account_id) WHERE invoice_id IS NULL;

-- Sessions settlement could not bill, with the reason; an operator resolves each (set the
-- energy, price it manually, waive it), which is recorded.
CREATE TABLE settlement_reviews (
    transaction_pk bigint PRIMARY KEY REFERENCES transactions ON DELETE CASCADE,
    reason         text NOT NULL,
    detail         text NOT NULL DEFAULT '',
    status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    resolution     text CHECK (resolution IN ('energy_set', 'priced', 'waived', 'settled')),
    resolution_detail jsonb,
    resolved_by    text,
    resolved_at    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX settlement_reviews_open ON settlement_reviews (created_at) WHERE status = 'open';

-- Money asked of a provider (a top-up, an invoice paid by card, a refund), with the key
-- that makes asking twice ask once.
CREATE TABLE payments (
    id              bigserial PRIMARY KEY,
    account_id      bigint NOT NULL REFERENCES billing_accounts,
    provider        text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('topup', 'invoice', 'refund')),
    amount          numeric NOT NULL CHECK (amount > 0),
    currency        text NOT NULL,
    status          text NOT NULL CHECK (status IN
        ('pending', 'succeeded', 'failed', 'written_off', 'canceled')),
    idempotency_key text NOT NULL UNIQUE,
    provider_ref    text,
    invoice_id      bigint,
    refund_of       bigint REFERENCES payments,
    failure         text NOT NULL DEFAULT '',
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    created_by      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_account ON payments (account_id, id);
CREATE UNIQUE INDEX payments_provider_ref ON payments (provider, provider_ref)
    WHERE provider_ref IS NOT NULL;
CREATE INDEX payments_retry ON payments (next_attempt_at) WHERE status = 'pending';

-- Every webhook event once (the provider may deliver it again).
CREATE TABLE payment_events (
    provider    text NOT NULL,
    event_id    text NOT NULL,
    type        text NOT NULL,
    payment_id  bigint REFERENCES payments,
    payload     jsonb NOT NULL,
    outcome     text NOT NULL DEFAULT '',
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, event_id)
);

-- Invoices: numbered without gaps per series (the counter row is locked while an invoice
-- takes its number, in the transaction that inserts it), immutable once issued (only the
-- payment state changes); a correction is a credit note.
CREATE TABLE invoice_series (
    series      text PRIMARY KEY CHECK (series ~ '^[A-Z0-9-]{1,16}$'),
    next_number bigint NOT NULL DEFAULT 1 CHECK (next_number >= 1)
);
CREATE TABLE invoices (
    id                 bigserial PRIMARY KEY,
    series             text NOT NULL REFERENCES invoice_series,
    number             bigint NOT NULL,
    kind               text NOT NULL CHECK (kind IN ('invoice', 'credit_note')),
    account_id         bigint NOT NULL REFERENCES billing_accounts,
    issued_at          timestamptz NOT NULL DEFAULT now(),
    period_start       timestamptz,
    period_end         timestamptz,
    currency           text NOT NULL,
    total_excl_vat     numeric NOT NULL,
    total_vat          numeric NOT NULL,
    total_incl_vat     numeric NOT NULL,
    vat_totals         jsonb NOT NULL,
    seller             jsonb NOT NULL,
    buyer              jsonb NOT NULL,
    credits_invoice_id bigint REFERENCES invoices,
    paid               boolean NOT NULL DEFAULT false,
    paid_at            timestamptz,
    UNIQUE (series, number)
);
CREATE INDEX invoices_account ON invoices (account_id, id);
-- an account has at most one invoice per period (a re-run finds it)
CREATE UNIQUE INDEX invoices_one_per_period ON invoices (account_id, period_start, period_end)
    WHERE kind = 'invoice' AND period_start IS NOT NULL;
CREATE TRIGGER invoices_immutable BEFORE UPDATE OR DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION invoice_immutable();
CREATE TABLE invoice_lines (
    invoice_id     bigint NOT NULL REFERENCES invoices,
    line_no        integer NOT NULL,
    charge_id      bigint REFERENCES charges,
    transaction_pk bigint,
    description    text NOT NULL,
    started_at     timestamptz,
    ended_at       timestamptz,
    energy_wh      numeric,
    tariff         text NOT NULL DEFAULT '',
    vat_rate       numeric,
    excl_vat       numeric NOT NULL,
    vat            numeric NOT NULL,
    incl_vat       numeric NOT NULL,
    PRIMARY KEY (invoice_id, line_no)
);
CREATE UNIQUE INDEX invoice_lines_charge ON invoice_lines (charge_id)
    WHERE charge_id IS NOT NULL;
CREATE TRIGGER invoice_lines_immutable BEFORE UPDATE OR DELETE ON invoice_lines
    FOR EACH ROW EXECUTE FUNCTION invoice_lines_immutable();
ALTER TABLE charges ADD CONSTRAINT charges_invoice FOREIGN KEY (invoice_id) REFERENCES invoices;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_payment
    FOREIGN KEY (payment_id) REFERENCES payments;
"""

DOWNGRADE = """
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_payment;
ALTER TABLE charges DROP CONSTRAINT charges_invoice;
DROP TABLE invoice_lines;
DROP TABLE invoices;
DROP TABLE invoice_series;
DROP TABLE payment_events;
DROP TABLE payments;
DROP TABLE settlement_reviews;
DROP TABLE charges;
DROP TABLE ledger_postings;
DROP TABLE ledger_entries;
DROP INDEX id_tokens_account;
ALTER TABLE id_tokens DROP COLUMN account_id;
DROP TABLE billing_accounts;
DROP FUNCTION invoice_lines_immutable();
DROP FUNCTION invoice_immutable();
DROP FUNCTION ledger_append_only();
DROP FUNCTION ledger_entry_balanced();
DROP TRIGGER tg_pgqueuer_changed ON pgqueuer;
DROP FUNCTION fn_pgqueuer_changed();
DROP TABLE pgqueuer_statistics;
DROP TABLE pgqueuer_schedules;
DROP TABLE pgqueuer_log;
DROP TABLE pgqueuer;
DROP TYPE pgqueuer_status;
"""


def _statements(sql: str) -> list[str]:
    # asyncpg prepares each statement, so a script is sent one statement at a time.
    chunks = (chunk.strip() for chunk in sql.split(";\n"))
    return [c for c in chunks if any(not line.startswith("--") for line in c.splitlines() if line)]


def _pgqueuer_statements() -> list[str]:
    # a statement ends at a line ending in ";" outside a $$-quoted function body
    statements, current, quoted = [], [], False
    for line in PGQUEUER_DDL.splitlines():
        current.append(line)
        quoted ^= line.count("$$") % 2 == 1
        if not quoted and line.rstrip().endswith(";"):
            statements.append("\n".join(current).strip().rstrip(";"))
            current = []
    return [c for c in statements if any(not ln.startswith("--") for ln in c.splitlines() if ln)]


def upgrade() -> None:
    for statement in _pgqueuer_statements():
        op.execute(statement)
    for function in FUNCTIONS:
        op.execute(function)
    for statement in _statements(UPGRADE):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(DOWNGRADE):
        op.execute(statement)
