"""Chargers, connectors, id tokens, transactions, meter values, journal, notifications.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE chargers (
    charge_point_id     text PRIMARY KEY
        CHECK (length(charge_point_id) BETWEEN 1 AND 48 AND position(':' in charge_point_id) = 0),
    password_hash       text,
    auth_mode           text NOT NULL DEFAULT 'basic' CHECK (auth_mode IN ('basic', 'none')),
    boot_policy         text NOT NULL DEFAULT 'accept'
        CHECK (boot_policy IN ('accept', 'pending', 'reject')),
    ocpp_version        text CHECK (ocpp_version IN ('ocpp1.6', 'ocpp2.0.1')),
    description         text NOT NULL DEFAULT '',
    registration_status text CHECK (registration_status IN ('Accepted', 'Pending', 'Rejected')),
    vendor              text,
    model               text,
    serial_number       text,
    firmware_version    text,
    iccid               text,
    imsi                text,
    meter_type          text,
    meter_serial_number text,
    connected_protocol  text,
    last_boot_at        timestamptz,
    last_heartbeat_at   timestamptz,
    last_seen_at        timestamptz,
    firmware_status     text,
    diagnostics_status  text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (auth_mode = 'none' OR password_hash IS NOT NULL)
);

-- 1.6: evse_id 0, connector_id 0..n (0 = the charge point itself).
-- 2.0.1: evse_id 0..n, connector_id 0 for the EVSE as a whole.
CREATE TABLE connectors (
    charge_point_id   text NOT NULL REFERENCES chargers ON DELETE CASCADE,
    evse_id           integer NOT NULL CHECK (evse_id >= 0),
    connector_id      integer NOT NULL CHECK (connector_id >= 0),
    status            text NOT NULL,
    error_code        text NOT NULL DEFAULT 'NoError',
    info              text,
    vendor_id         text,
    vendor_error_code text,
    status_at         timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (charge_point_id, evse_id, connector_id)
);

CREATE TABLE id_tokens (
    id_token          text PRIMARY KEY CHECK (length(id_token) BETWEEN 1 AND 36),
    token_type        text NOT NULL DEFAULT 'ISO14443',
    status            text NOT NULL DEFAULT 'Accepted'
        CHECK (status IN ('Accepted', 'Blocked', 'Expired', 'Invalid')),
    expiry_date       timestamptz,
    parent_id_token   text,
    allow_concurrent  boolean NOT NULL DEFAULT false,
    description       text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE transactions (
    id                  bigserial PRIMARY KEY,
    charge_point_id     text NOT NULL REFERENCES chargers ON DELETE CASCADE,
    protocol            text NOT NULL CHECK (protocol IN ('ocpp1.6', 'ocpp2.0.1')),
    -- the id the charger uses: 1.6 an integer we assign, 2.0.1 the charger's string
    transaction_id      text NOT NULL,
    -- 1.6 replay key: connector, idTag, timestamp and meterStart of the StartTransaction
    start_key           text,
    evse_id             integer NOT NULL DEFAULT 0,
    connector_id        integer NOT NULL DEFAULT 0,
    id_token            text,
    id_token_type       text,
    parent_id_token     text,
    authorization_status text,
    remote_start_id     integer,
    reservation_id      integer,
    started_at          timestamptz NOT NULL,
    ended_at            timestamptz,
    meter_start_wh      numeric,
    meter_stop_wh       numeric,
    energy_wh           numeric CHECK (energy_wh >= 0),
    stop_reason         text,
    stop_id_token       text,
    charging_state      text,
    last_seq_no         integer,
    last_trigger_reason text,
    offline             boolean NOT NULL DEFAULT false,
    flags               text[] NOT NULL DEFAULT '{}',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (charge_point_id, transaction_id),
    UNIQUE (charge_point_id, start_key)
);
-- 1.6 transaction ids are unique across all chargers, so none can be guessed from another.
CREATE UNIQUE INDEX transactions_ocpp16_id ON transactions (transaction_id)
    WHERE protocol = 'ocpp1.6';
CREATE INDEX transactions_active ON transactions (charge_point_id) WHERE ended_at IS NULL;
CREATE INDEX transactions_id_token_active ON transactions (id_token) WHERE ended_at IS NULL;
CREATE INDEX transactions_started ON transactions (started_at);

-- 2.0.1 TransactionEvent messages, one per seqNo: a replay cannot apply twice.
CREATE TABLE transaction_events (
    transaction_pk  bigint NOT NULL REFERENCES transactions ON DELETE CASCADE,
    seq_no          integer NOT NULL,
    event_type      text NOT NULL,
    trigger_reason  text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    offline         boolean NOT NULL DEFAULT false,
    payload         jsonb NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (transaction_pk, seq_no)
);

CREATE TABLE meter_values (
    id              bigserial PRIMARY KEY,
    charge_point_id text NOT NULL REFERENCES chargers ON DELETE CASCADE,
    evse_id         integer NOT NULL,
    connector_id    integer NOT NULL,
    transaction_pk  bigint REFERENCES transactions ON DELETE CASCADE,
    sampled_at      timestamptz NOT NULL,
    measurand       text NOT NULL,
    phase           text NOT NULL DEFAULT '',
    location        text NOT NULL DEFAULT '',
    context         text NOT NULL DEFAULT '',
    unit            text NOT NULL DEFAULT '',
    value           numeric,
    raw_value       text,
    signed          jsonb,
    received_at     timestamptz NOT NULL DEFAULT now()
);
-- One sample per (where, when, what): a replayed MeterValues adds no row.
CREATE UNIQUE INDEX meter_values_sample ON meter_values
    (charge_point_id, evse_id, connector_id, sampled_at, measurand, phase, location, context);
CREATE INDEX meter_values_transaction ON meter_values (transaction_pk, sampled_at);

-- The OCPP message journal: every frame in and out, kept journal_retention_days.
CREATE TABLE charger_messages (
    id              bigserial PRIMARY KEY,
    charge_point_id text NOT NULL,
    at              timestamptz NOT NULL,
    direction       text NOT NULL CHECK (direction IN ('in', 'out')),
    message_type    integer NOT NULL,
    message_id      text NOT NULL,
    action          text,
    payload         jsonb NOT NULL
);
CREATE INDEX charger_messages_charger_at ON charger_messages (charge_point_id, at);
CREATE INDEX charger_messages_at ON charger_messages (at);

-- Notifications a charger reports (security events, firmware/diagnostics/log status,
-- charging limits, display messages, EV charging needs, ...): the payload as received.
CREATE TABLE charger_events (
    id              bigserial PRIMARY KEY,
    charge_point_id text NOT NULL REFERENCES chargers ON DELETE CASCADE,
    action          text NOT NULL,
    kind            text,
    occurred_at     timestamptz,
    payload         jsonb NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX charger_events_charger ON charger_events (charge_point_id, received_at);
CREATE INDEX charger_events_kind ON charger_events (action, kind);

-- 2.0.1 device model as reported by NotifyReport (and, later, GetVariables).
CREATE TABLE device_model_variables (
    charge_point_id    text NOT NULL REFERENCES chargers ON DELETE CASCADE,
    component          text NOT NULL,
    component_instance text NOT NULL DEFAULT '',
    evse_id            integer NOT NULL DEFAULT -1,
    connector_id       integer NOT NULL DEFAULT -1,
    variable           text NOT NULL,
    variable_instance  text NOT NULL DEFAULT '',
    attribute_type     text NOT NULL DEFAULT 'Actual',
    value              text,
    mutability         text,
    characteristics    jsonb,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (charge_point_id, component, component_instance, evse_id, connector_id,
                 variable, variable_instance, attribute_type)
);
"""

DOWNGRADE = """
DROP TABLE device_model_variables;
DROP TABLE charger_events;
DROP TABLE charger_messages;
DROP TABLE meter_values;
DROP TABLE transaction_events;
DROP TABLE transactions;
DROP TABLE id_tokens;
DROP TABLE connectors;
DROP TABLE chargers;
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
