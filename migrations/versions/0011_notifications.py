"""Notifications: a durable outbox written inside the transaction of what happened, the
subscriptions (webhooks, e-mail), one delivery per subscription and notification, and the
log of every delivery attempt (docs/how-to/get-alarms-by-webhook-and-email.md).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UPGRADE = """
-- What happened, once per key (an alarm transition, a session's end): written in the
-- transaction of the change, so a rollback leaves nothing to deliver.
CREATE TABLE notification_outbox (
    id              bigserial PRIMARY KEY,
    key             text NOT NULL UNIQUE CHECK (length(key) BETWEEN 1 AND 200),
    event_id        uuid NOT NULL UNIQUE,
    event_type      text NOT NULL,
    payload         jsonb NOT NULL,
    site_id         text,
    charge_point_id text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    fanned_out_at   timestamptz,
    -- a test event an operator sends to one subscription: delivered to it alone
    subscription_id bigint
);
CREATE INDEX notification_outbox_waiting ON notification_outbox (id)
    WHERE fanned_out_at IS NULL;

-- Who is told: a webhook (url + the secret it is signed with) or e-mail recipients, for
-- some event types, at one site or all.
CREATE TABLE notification_subscriptions (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('webhook', 'email')),
    description     text NOT NULL DEFAULT '',
    event_types     text[] NOT NULL CHECK (cardinality(event_types) >= 1),
    site_id         text,
    enabled         boolean NOT NULL DEFAULT true,
    url             text,
    secret          text,
    -- after a rotation the old secret signs too, until previous_secret_until
    previous_secret text,
    previous_secret_until timestamptz,
    recipients      text[],
    created_by      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    secret_rotated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (kind <> 'webhook' OR (url IS NOT NULL AND secret IS NOT NULL)),
    CHECK (kind <> 'email' OR cardinality(recipients) >= 1)
);

-- One delivery per (subscription, notification): the unique key makes a second impossible.
CREATE TABLE notification_deliveries (
    id              bigserial PRIMARY KEY,
    subscription_id bigint NOT NULL REFERENCES notification_subscriptions ON DELETE CASCADE,
    notification_id bigint NOT NULL REFERENCES notification_outbox ON DELETE CASCADE,
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sending', 'failed', 'delivered', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    -- a replay gives a dead delivery a new round of tries: attempts - replayed_at_attempt
    replayed_at_attempt integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_by      text,
    claimed_until   timestamptz,
    last_status     integer,
    last_error      text,
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (subscription_id, notification_id)
);
CREATE INDEX notification_deliveries_subscription ON notification_deliveries
    (subscription_id, id);
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_attempt_at)
    WHERE state IN ('pending', 'failed', 'sending');

-- Every attempt: when, how long, what the receiver answered or what went wrong.
CREATE TABLE notification_attempts (
    id              bigserial PRIMARY KEY,
    delivery_id     bigint NOT NULL REFERENCES notification_deliveries ON DELETE CASCADE,
    attempt         integer NOT NULL,
    started_at      timestamptz NOT NULL,
    latency_ms      integer NOT NULL,
    status_code     integer,
    error           text,
    outcome         text NOT NULL CHECK (outcome IN ('delivered', 'failed', 'dead')),
    worker          text NOT NULL DEFAULT '',
    UNIQUE (delivery_id, attempt)
)
"""

DOWNGRADE = """
DROP TABLE notification_attempts;
DROP TABLE notification_deliveries;
DROP TABLE notification_subscriptions;
DROP TABLE notification_outbox
"""


def _statements(sql: str) -> list[str]:
    # asyncpg prepares each statement, so a script is sent one statement at a time.
    chunks = (chunk.strip() for chunk in sql.split(";\n"))
    return [c for c in chunks if any(not line.startswith("--") for line in c.splitlines() if line)]


def upgrade() -> None:
    for statement in _statements(UPGRADE):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(DOWNGRADE):
        op.execute(statement)
