"""Certificates the CSMS's authority issued to chargers (renewed ahead of expiry) and
Basic-auth passwords being rotated (docs/topics/certificates.md).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UPGRADE = """
-- One row per certificate signed for a charger: only public parts (never a key).
CREATE TABLE charger_certificates (
    id                   bigserial PRIMARY KEY,
    charge_point_id      text NOT NULL REFERENCES chargers ON DELETE CASCADE,
    certificate_type     text NOT NULL,
    serial_number        text NOT NULL CHECK (serial_number ~ '^[0-9a-f]{1,40}$'),
    common_name          text,
    organization         text,
    issuer               text NOT NULL,
    not_before           timestamptz NOT NULL,
    not_after            timestamptz NOT NULL CHECK (not_after > not_before),
    fingerprint_sha256   text NOT NULL CHECK (fingerprint_sha256 ~ '^[0-9a-f]{64}$'),
    pem                  text NOT NULL,
    issued_at            timestamptz NOT NULL,
    -- the charger's answer to CertificateSigned (NULL: none yet)
    delivery_status      text,
    delivered_at         timestamptz,
    -- a newer certificate of the same charger and type was accepted by it
    superseded_at        timestamptz,
    renewal_requested_at timestamptz,
    renewal_attempts     integer NOT NULL DEFAULT 0 CHECK (renewal_attempts >= 0),
    renewal_error        text,
    -- RFC 5280: a serial number is unique per issuer
    UNIQUE (issuer, serial_number),
    UNIQUE (fingerprint_sha256)
);
CREATE INDEX charger_certificates_charger ON charger_certificates (charge_point_id, id DESC);
-- the renewal sweep reads current certificates by expiry
CREATE INDEX charger_certificates_current ON charger_certificates (not_after)
    WHERE superseded_at IS NULL AND delivery_status = 'Accepted';

-- A new Basic-auth password being set on a charger: its hash only. While the row exists
-- the charger may connect with its current password or this one.
CREATE TABLE charger_password_rotations (
    charge_point_id text PRIMARY KEY REFERENCES chargers ON DELETE CASCADE,
    password_hash   text NOT NULL,
    status          text NOT NULL CHECK (status IN ('sending', 'accepted', 'unanswered')),
    requested_at    timestamptz NOT NULL,
    answered_at     timestamptz
);
"""

DOWNGRADE = """
DROP TABLE charger_password_rotations;
DROP TABLE charger_certificates;
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
