"""Firmware campaigns: artifacts (files in PostgreSQL large objects or a directory),
campaigns, their waves, one target per charger with its state machine's state, and the
history of both (docs/topics/fleet-operations.md, "Firmware campaigns").

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UPGRADE = """
-- A firmware file for chargers of a vendor (and model), with its SHA-256 and, for secure
-- updates (1.6 SignedUpdateFirmware, 2.0.1 L01), the signature and signing certificate.
CREATE TABLE firmware_artifacts (
    id                  bigserial PRIMARY KEY,
    version             text NOT NULL CHECK (length(version) BETWEEN 1 AND 50),
    vendor              text CHECK (length(vendor) BETWEEN 1 AND 50),
    model               text CHECK (length(model) BETWEEN 1 AND 50),
    file_name           text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 100),
    size_bytes          bigint NOT NULL CHECK (size_bytes >= 0),
    sha256              text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    signature           text CHECK (length(signature) BETWEEN 1 AND 800),
    signing_certificate text CHECK (length(signing_certificate) BETWEEN 1 AND 5500),
    storage             text NOT NULL CHECK (storage IN ('large_object', 'directory')),
    lo_oid              oid,
    path                text,
    description         text NOT NULL DEFAULT '',
    created_by          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((storage = 'large_object') = (lo_oid IS NOT NULL)),
    CHECK ((storage = 'directory') = (path IS NOT NULL)),
    CHECK ((signature IS NULL) = (signing_certificate IS NULL))
);
CREATE UNIQUE INDEX firmware_artifacts_one_version ON firmware_artifacts
    (vendor, model, version) NULLS NOT DISTINCT;

CREATE TABLE firmware_campaigns (
    id               bigserial PRIMARY KEY,
    name             text NOT NULL DEFAULT '',
    artifact_id      bigint NOT NULL REFERENCES firmware_artifacts ON DELETE RESTRICT,
    status           text NOT NULL
        CHECK (status IN ('running', 'paused', 'halted', 'cancelled', 'completed')),
    selector         jsonb NOT NULL,
    canary           integer NOT NULL CHECK (canary >= 0),
    waves            numeric[] NOT NULL,
    max_failure_rate numeric NOT NULL CHECK (max_failure_rate BETWEEN 0 AND 100),
    max_concurrent   integer NOT NULL CHECK (max_concurrent >= 1),
    windows          text[] NOT NULL DEFAULT '{}',
    session_policy   text NOT NULL CHECK (session_policy IN ('wait', 'schedule')),
    retrieve_at      timestamptz,
    install_at       timestamptz,
    max_attempts     integer NOT NULL CHECK (max_attempts BETWEEN 1 AND 10),
    retry_delay      double precision NOT NULL CHECK (retry_delay >= 0),
    timeouts         jsonb NOT NULL DEFAULT '{}',
    current_wave     integer NOT NULL DEFAULT 0,
    halted_reason    text,
    created_by       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);
CREATE INDEX firmware_campaigns_running ON firmware_campaigns (id) WHERE status = 'running';

CREATE TABLE firmware_campaign_waves (
    campaign_id       bigint NOT NULL REFERENCES firmware_campaigns ON DELETE CASCADE,
    number            integer NOT NULL CHECK (number >= 0),
    label             text NOT NULL,
    size              integer NOT NULL CHECK (size >= 1),
    failures_accepted boolean NOT NULL DEFAULT false,
    started_at        timestamptz,
    finished_at       timestamptz,
    PRIMARY KEY (campaign_id, number)
);

-- One charger's update in a campaign (csms.domain.firmware). A charger is in at most one
-- campaign that has not finished with it: overlapping campaigns are impossible here.
CREATE TABLE firmware_targets (
    campaign_id      bigint NOT NULL REFERENCES firmware_campaigns ON DELETE CASCADE,
    charge_point_id  text NOT NULL REFERENCES chargers ON DELETE CASCADE,
    wave             integer NOT NULL,
    position         integer NOT NULL,
    state            text NOT NULL CHECK (state IN (
        'pending', 'sending', 'accepted', 'download_scheduled', 'downloading',
        'download_paused', 'downloaded', 'signature_verified', 'install_scheduled',
        'installing', 'install_rebooting', 'installed', 'succeeded', 'failed', 'cancelled')),
    active           boolean GENERATED ALWAYS AS
        (state NOT IN ('succeeded', 'failed', 'cancelled')) STORED,
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    request_id       integer,
    sent_at          timestamptz,
    phase_deadline   timestamptz,
    not_before       timestamptz,
    last_status      text,
    failure          text,
    from_version     text,
    reported_version text,
    waiting          text,
    revision         integer NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    PRIMARY KEY (campaign_id, charge_point_id),
    FOREIGN KEY (campaign_id, wave) REFERENCES firmware_campaign_waves
);
CREATE UNIQUE INDEX firmware_targets_one_active ON firmware_targets (charge_point_id)
    WHERE active;
CREATE INDEX firmware_targets_by_state ON firmware_targets (campaign_id, state, wave, position);

-- What happened: each target's transitions and each campaign's changes (who paused it, the
-- halt and its reason, waves started), append-only.
CREATE TABLE firmware_events (
    id              bigserial PRIMARY KEY,
    campaign_id     bigint NOT NULL REFERENCES firmware_campaigns ON DELETE CASCADE,
    charge_point_id text,
    at              timestamptz NOT NULL DEFAULT now(),
    kind            text NOT NULL,
    state           text,
    detail          text,
    actor           text
);
CREATE INDEX firmware_events_of_campaign ON firmware_events (campaign_id, id);
CREATE INDEX firmware_events_of_charger ON firmware_events (charge_point_id, id)
    WHERE charge_point_id IS NOT NULL
"""

DOWNGRADE = """
SELECT lo_unlink(lo_oid) FROM firmware_artifacts WHERE lo_oid IS NOT NULL;
DROP TABLE firmware_events;
DROP TABLE firmware_targets;
DROP TABLE firmware_campaign_waves;
DROP TABLE firmware_campaigns;
DROP TABLE firmware_artifacts
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
