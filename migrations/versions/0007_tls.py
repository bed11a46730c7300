"""Each charger's recorded security profile: the minimum it must connect with (only ever
raised by a connection; lowered by an operator outside OCPP), the profile of its last
connection, and the last profile upgrade an operator started (docs/topics/security.md).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-20
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE charger_security_profiles (
    charge_point_id     text PRIMARY KEY REFERENCES chargers ON DELETE CASCADE,
    minimum_profile     smallint NOT NULL DEFAULT 0 CHECK (minimum_profile BETWEEN 0 AND 3),
    last_profile        smallint CHECK (last_profile BETWEEN 0 AND 3),
    last_connected_at   timestamptz,
    upgrade_id          text,
    upgrade_target      smallint CHECK (upgrade_target BETWEEN 1 AND 3),
    upgrade_state       text CHECK (upgrade_state IN ('pending', 'completed', 'failed',
                                                      'rolled_back')),
    upgrade_started_at  timestamptz,
    upgrade_deadline    timestamptz,
    upgrade_finished_at timestamptz,
    upgrade_detail      text NOT NULL DEFAULT '',
    upgrade_restore     jsonb NOT NULL DEFAULT '{}',
    updated_at          timestamptz NOT NULL DEFAULT now(),
    -- an upgrade is all there or not at all
    CHECK ((upgrade_id IS NULL) = (upgrade_state IS NULL)
           AND (upgrade_id IS NULL) = (upgrade_target IS NULL)
           AND (upgrade_id IS NULL) = (upgrade_deadline IS NULL))
);
"""

DOWNGRADE = """
DROP TABLE charger_security_profiles;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
