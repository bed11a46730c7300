"""The journal stores frames as text (issue 16): ``charger_messages.frame`` holds the exact
frame received or sent (a frame that sets a charger's password: its redacted
re-serialisation), compressed with lz4 where the server has it (only values past the ~2 kB
TOAST threshold are compressed at all). ``payload`` (jsonb) is kept for the rows written
before, which have no ``frame``; readers derive one from the other
(``csms/store/journal.py``), and retention drops those old days whole. No row is rewritten:
adding a nullable column and dropping a NOT NULL are catalogue changes.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

UPGRADE = [
    "ALTER TABLE charger_messages ADD COLUMN frame text",
    "ALTER TABLE charger_messages ALTER COLUMN payload DROP NOT NULL",
    # lz4 on the parent (new partitions inherit it) and on each partition already there
    # (PostgreSQL 15 does not recurse); a server built without lz4 keeps its default.
    r"""
DO $do$
DECLARE
    part regclass;
BEGIN
    ALTER TABLE charger_messages ALTER COLUMN frame SET COMPRESSION lz4;
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits
                WHERE inhparent = 'charger_messages'::regclass LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN frame SET COMPRESSION lz4', part);
    END LOOP;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 not supported by this server: the journal uses default compression';
END
$do$
""",
]

# Back to jsonb payloads: frames written since are parsed back into the payload each had
# (the frame's text itself is not kept: a frame's whitespace and key order are lost)
# (one statement over the whole journal: there is no online way back).
DOWNGRADE = [
    r"""
UPDATE charger_messages SET payload = coalesce(CASE
    WHEN strpos(frame, '\u0000') > 0 THEN NULL  -- jsonb cannot hold it: raw, as before
    WHEN message_type = 2 THEN (frame::jsonb) -> 3
    WHEN message_type = 3 THEN (frame::jsonb) -> 2
    WHEN message_type = 4 THEN jsonb_build_object(
        'errorCode', (frame::jsonb) -> 2, 'errorDescription', (frame::jsonb) -> 3,
        'errorDetails', (frame::jsonb) -> 4)
    END, jsonb_build_object('raw', replace(frame, '\u0000', '\ufffd')))
WHERE payload IS NULL AND frame IS NOT NULL
""",
    "ALTER TABLE charger_messages ALTER COLUMN payload SET NOT NULL",
    "ALTER TABLE charger_messages DROP COLUMN frame",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
