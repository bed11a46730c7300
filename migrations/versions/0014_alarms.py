"""Alarms: open and past alarms (one open alarm per dedupe key, cluster-wide), their history
(every transition: who, when, a note), the rules operators set per type and scope, the
chargers and sites in maintenance, and the counters some sources need (boot loops)
(docs/topics/alarms.md).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE alarms (
    id              bigserial PRIMARY KEY,
    type            text NOT NULL,
    severity        text NOT NULL
        CHECK (severity IN ('critical', 'major', 'minor', 'warning', 'info')),
    state           text NOT NULL CHECK (state IN ('raised', 'acknowledged', 'cleared')),
    dedupe_key      text NOT NULL,
    charge_point_id text,
    site_id         text,
    subject         text NOT NULL DEFAULT '',
    message         text NOT NULL DEFAULT '',
    details         jsonb NOT NULL DEFAULT '{}',
    count           integer NOT NULL DEFAULT 1 CHECK (count >= 1),
    raised_at       timestamptz NOT NULL,
    last_raised_at  timestamptz NOT NULL,
    acknowledged_at timestamptz,
    acknowledged_by text,
    ack_note        text,
    cleared_at      timestamptz,
    cleared_by      text,
    clear_note      text,
    CHECK ((state = 'cleared') = (cleared_at IS NOT NULL))
);
-- Raised exactly once across the cluster: at most one open alarm per key.
CREATE UNIQUE INDEX alarms_one_open ON alarms (dedupe_key) WHERE state <> 'cleared';
CREATE INDEX alarms_key_cleared ON alarms (dedupe_key, cleared_at DESC) WHERE state = 'cleared';
CREATE INDEX alarms_charger ON alarms (charge_point_id, id) WHERE charge_point_id IS NOT NULL;
CREATE INDEX alarms_open_type ON alarms (type) WHERE state <> 'cleared';

CREATE TABLE alarm_history (
    id              bigserial PRIMARY KEY,
    alarm_id        bigint NOT NULL REFERENCES alarms ON DELETE CASCADE,
    at              timestamptz NOT NULL,
    action          text NOT NULL
        CHECK (action IN ('raised', 'reraised', 'acknowledged', 'cleared')),
    state           text NOT NULL,
    by              text,
    note            text
);
CREATE INDEX alarm_history_alarm ON alarm_history (alarm_id, id);

CREATE TABLE alarm_rules (
    id              bigserial PRIMARY KEY,
    type            text NOT NULL,
    scope           text NOT NULL CHECK (scope IN ('default', 'site', 'charger')),
    target          text NOT NULL DEFAULT '',
    enabled         boolean NOT NULL DEFAULT true,
    severity        text CHECK (severity IN ('critical', 'major', 'minor', 'warning', 'info')),
    threshold       bigint CHECK (threshold >= 0),
    updated_by      text,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (type, scope, target),
    CHECK ((scope = 'default') = (target = ''))
);

CREATE TABLE alarm_maintenance (
    scope           text NOT NULL CHECK (scope IN ('site', 'charger')),
    target          text NOT NULL,
    note            text NOT NULL DEFAULT '',
    since           timestamptz NOT NULL DEFAULT now(),
    set_by          text,
    PRIMARY KEY (scope, target)
);

CREATE TABLE alarm_counters (
    key             text PRIMARY KEY,
    count           integer NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Nodes the alarm sweep saw registered (per cluster: its Redis key prefix): one missing
-- from the registry without having deregistered is gone.
CREATE TABLE alarm_known_nodes (
    cluster         text NOT NULL,
    node_id         text NOT NULL,
    last_seen_at    timestamptz NOT NULL,
    PRIMARY KEY (cluster, node_id)
);
"""

DOWNGRADE = """
DROP TABLE alarm_known_nodes;
DROP TABLE alarm_counters;
DROP TABLE alarm_maintenance;
DROP TABLE alarm_rules;
DROP TABLE alarm_history;
DROP TABLE alarms;
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
