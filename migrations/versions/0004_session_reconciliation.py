"""Sessions the CSMS closes because the charger abandoned them (docs/topics/sessions.md).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UPGRADE = """
-- Who ended the session: the charger (its own stop message), or the CSMS, which closed a
-- session the charger abandoned (close_reason says which rule); a charger's late stop then
-- still wins, once.
ALTER TABLE transactions ADD COLUMN closed_by text
    CHECK (closed_by IN ('charger', 'csms'));
ALTER TABLE transactions ADD COLUMN close_reason text;
UPDATE transactions SET closed_by = 'charger' WHERE ended_at IS NOT NULL;
ALTER TABLE transactions ADD CONSTRAINT transactions_closed_when_ended
    CHECK ((ended_at IS NULL) = (closed_by IS NULL));
"""

DOWNGRADE = """
ALTER TABLE transactions DROP CONSTRAINT transactions_closed_when_ended;
ALTER TABLE transactions DROP COLUMN close_reason;
ALTER TABLE transactions DROP COLUMN closed_by;
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
