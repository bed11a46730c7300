"""Configuration and availability from commands; connection epochs; case-insensitive tokens.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = """
-- Which node and connection epoch hold the charger, so a late close of a replaced socket
-- on another node does not mark a connected charger as disconnected.
ALTER TABLE chargers ADD COLUMN connected_node text;
ALTER TABLE chargers ADD COLUMN connection_epoch bigint;

-- Id tokens are case insensitive in both versions (1.6 CiString20Type, 2.0.1 IdTokenType).
CREATE UNIQUE INDEX id_tokens_id_token_ci ON id_tokens (lower(id_token));
DROP INDEX transactions_id_token_active;
CREATE INDEX transactions_id_token_active ON transactions (lower(id_token))
    WHERE ended_at IS NULL;

-- 1.6 configuration keys as last read (GetConfiguration) or written (ChangeConfiguration).
CREATE TABLE charger_configuration (
    charge_point_id text NOT NULL REFERENCES chargers ON DELETE CASCADE,
    key             text NOT NULL,
    value           text,
    readonly        boolean,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (charge_point_id, key)
);

-- Availability the operator asked for (ChangeAvailability) and the charger's answer.
CREATE TABLE charger_availability (
    charge_point_id text NOT NULL REFERENCES chargers ON DELETE CASCADE,
    evse_id         integer NOT NULL DEFAULT 0,
    connector_id    integer NOT NULL DEFAULT 0,
    operative       boolean NOT NULL,
    answer          text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (charge_point_id, evse_id, connector_id)
);
"""

DOWNGRADE = """
DROP INDEX transactions_id_token_active;
CREATE INDEX transactions_id_token_active ON transactions (id_token) WHERE ended_at IS NULL;
DROP INDEX id_tokens_id_token_ci;
ALTER TABLE chargers DROP COLUMN connection_epoch;
ALTER TABLE chargers DROP COLUMN connected_node;
DROP TABLE charger_availability;
DROP TABLE charger_configuration;
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
