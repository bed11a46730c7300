"""Fleet configuration and log uploads: configuration profiles (baselines), their applies
with per-charger, per-key outcomes, the history of configuration changes, what the CSMS
knows of each charger's configuration reads (2.0.1 reports assembled by requestId and
seqNo), and diagnostics / log uploads (docs/topics/fleet-operations.md).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OUTCOMES = (
    "'Pending', 'Offline', 'Accepted', 'Rejected', 'RebootRequired', 'NotSupported', "
    "'Failed', 'Unchanged', 'Superseded'"
)

UPGRADE = f"""
-- Desired configuration per selector and OCPP version; the highest priority wins a key.
CREATE TABLE config_profiles (
    id              text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9._-]{{1,64}}$'),
    description     text NOT NULL DEFAULT '',
    ocpp_version    text NOT NULL CHECK (ocpp_version IN ('1.6', '2.0.1')),
    priority        integer NOT NULL DEFAULT 0,
    selector        jsonb NOT NULL DEFAULT '{{}}',
    settings        jsonb NOT NULL,
    reapply_on_boot boolean NOT NULL DEFAULT false,
    created_by      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_by      text,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One apply of a profile (by an operator, or again at a charger's boot) ...
CREATE TABLE config_applies (
    id              bigserial PRIMARY KEY,
    profile_id      text NOT NULL REFERENCES config_profiles ON DELETE CASCADE,
    reason          text NOT NULL CHECK (reason IN ('operator', 'boot')),
    requested_by    text,
    requested_at    timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);

-- ... and what became of each key at each charger: Pending until sent, Offline until the
-- charger connects, the charger's answer, or why nothing was sent. A RebootRequired key is
-- done once the next boot was seen (rebooted_at) and the value read again.
CREATE TABLE config_apply_items (
    apply_id        bigint NOT NULL REFERENCES config_applies ON DELETE CASCADE,
    charge_point_id text NOT NULL REFERENCES chargers ON DELETE CASCADE,
    setting         text NOT NULL,
    value           text NOT NULL,
    outcome         text NOT NULL CHECK (outcome IN ({OUTCOMES})),
    detail          text NOT NULL DEFAULT '',
    rebooted_at     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (apply_id, charge_point_id, setting)
);
CREATE INDEX config_apply_items_waiting ON config_apply_items (charge_point_id)
    WHERE outcome IN ('Pending', 'Offline')
       OR (outcome = 'RebootRequired' AND rebooted_at IS NULL);

-- Every change of a reported value: what it was, what it became, why and by whom.
CREATE TABLE config_history (
    id              bigserial PRIMARY KEY,
    charge_point_id text NOT NULL REFERENCES chargers ON DELETE CASCADE,
    setting         text NOT NULL,
    old_value       text,
    new_value       text,
    source          text NOT NULL CHECK (source IN ('reported', 'applied', 'removed')),
    changed_by      text,
    changed_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX config_history_charger ON config_history (charge_point_id, id);

-- The OCPP version a charger last booted with and its last configuration read.
CREATE TABLE charger_config_state (
    charge_point_id      text PRIMARY KEY REFERENCES chargers ON DELETE CASCADE,
    protocol             text CHECK (protocol IN ('ocpp1.6', 'ocpp2.0.1')),
    refresh_status       text,
    refresh_detail       text NOT NULL DEFAULT '',
    refresh_request_id   integer,
    refresh_requested_by text,
    refresh_requested_at timestamptz,
    refreshed_at         timestamptz
);

-- 2.0.1 reports (NotifyReport parts) by requestId: complete once seqNo 0..last arrived.
CREATE TABLE device_model_reports (
    charge_point_id text NOT NULL REFERENCES chargers ON DELETE CASCADE,
    request_id      integer NOT NULL,
    report_base     text,
    requested_by    text,
    requested_at    timestamptz,
    seq_nos         integer[] NOT NULL DEFAULT '{{}}',
    last_seq_no     integer,
    reported        text[] NOT NULL DEFAULT '{{}}',
    completed_at    timestamptz,
    PRIMARY KEY (charge_point_id, request_id)
);

-- Diagnostics / log uploads asked of chargers (1.6 GetDiagnostics, GetLog of both
-- versions): the upload URL's token is kept as its SHA-256 only.
CREATE TABLE charger_log_requests (
    id              bigserial PRIMARY KEY,
    charge_point_id text NOT NULL REFERENCES chargers ON DELETE CASCADE,
    log_type        text NOT NULL CHECK (log_type IN ('diagnostics', 'security')),
    action          text NOT NULL CHECK (action IN ('GetDiagnostics', 'GetLog')),
    request_id      integer NOT NULL,
    token_hash      bytea NOT NULL UNIQUE,
    expires_at      timestamptz NOT NULL,
    oldest_at       timestamptz,
    latest_at       timestamptz,
    requested_by    text,
    requested_at    timestamptz NOT NULL DEFAULT now(),
    file_name       text,
    status          text NOT NULL DEFAULT 'Requested',
    status_at       timestamptz NOT NULL DEFAULT now(),
    statuses        jsonb NOT NULL DEFAULT '[]',
    upload_name     text,
    content_type    text,
    size_bytes      bigint,
    sha256          text,
    stored_in       text CHECK (stored_in IN ('database', 'directory')),
    uploaded_at     timestamptz,
    UNIQUE (charge_point_id, request_id)
);
CREATE INDEX charger_log_requests_charger ON charger_log_requests (charge_point_id, id);

-- An upload stored in PostgreSQL, in chunks (never one value holding the whole file).
CREATE TABLE charger_log_chunks (
    log_id          bigint NOT NULL REFERENCES charger_log_requests ON DELETE CASCADE,
    seq             integer NOT NULL,
    data            bytea NOT NULL,
    PRIMARY KEY (log_id, seq)
);
"""

DOWNGRADE = """
DROP TABLE charger_log_chunks;
DROP TABLE charger_log_requests;
DROP TABLE device_model_reports;
DROP TABLE charger_config_state;
DROP TABLE config_history;
DROP TABLE config_apply_items;
DROP TABLE config_applies;
DROP TABLE config_profiles;
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
