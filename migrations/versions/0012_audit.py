"""The audit log: every operator action, append-only (docs/topics/audit.md).

``audit_log`` refuses UPDATE, DELETE and TRUNCATE through triggers, whoever asks (even its
owner or a superuser). Rows older than the retention are removed only by
``audit_log_purge(days, batch)``, a SECURITY DEFINER function that raises a transaction-local
flag the DELETE trigger checks and deletes rows older than ``days`` (at least 1) and nothing
else. UPDATE, DELETE and TRUNCATE are also revoked from PUBLIC; in production the tables are
owned by a migration role and the apps connect as a role granted SELECT and INSERT only
(docs/topics/audit.md shows the GRANTs).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UPGRADE = (
    """
CREATE TABLE audit_log (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    source        text NOT NULL CHECK (source IN ('api', 'cli', 'worker')),
    actor_user_id bigint,
    actor         text,
    actor_role    text,
    action        text NOT NULL CHECK (length(action) BETWEEN 1 AND 200),
    method        text,
    route         text,
    target        text,
    target_params jsonb NOT NULL DEFAULT '{}',
    params        jsonb NOT NULL DEFAULT '{}',
    status        integer,
    outcome       text NOT NULL CHECK (outcome IN ('ok', 'refused', 'failed', 'error')),
    result        jsonb,
    client        text,
    request_id    text
)
""",
    """
CREATE INDEX audit_log_at ON audit_log (at)
""",
    """
CREATE INDEX audit_log_actor ON audit_log (actor, id)
""",
    """
CREATE INDEX audit_log_target ON audit_log (target, id)
""",
    """
CREATE INDEX audit_log_action ON audit_log (action, id)
""",
    """
CREATE INDEX audit_log_request ON audit_log (request_id)
""",
    """
CREATE FUNCTION audit_log_refuse() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('csms.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$
""",
    """
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse()
""",
    """
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse()
""",
    """
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse()
""",
    """
-- The only way rows leave: older than `days` (>= 1), at most `batch` per call.
CREATE FUNCTION audit_log_purge(days integer, batch integer DEFAULT 10000) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    removed bigint;
BEGIN
    IF days IS NULL OR days < 1 THEN
        RAISE EXCEPTION 'audit_log_purge: days must be at least 1' USING ERRCODE = '22023';
    END IF;
    IF batch IS NULL OR batch < 1 THEN
        RAISE EXCEPTION 'audit_log_purge: batch must be at least 1' USING ERRCODE = '22023';
    END IF;
    PERFORM set_config('csms.audit_purge', 'on', true);
    DELETE FROM audit_log WHERE id IN (
        SELECT id FROM audit_log
        WHERE at < now() - make_interval(days => days)
        ORDER BY id LIMIT batch
    );
    GET DIAGNOSTICS removed = ROW_COUNT;
    PERFORM set_config('csms.audit_purge', 'off', true);
    RETURN removed;
END $$
""",
    """
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC
""",
    """
REVOKE ALL ON FUNCTION audit_log_purge(integer, integer) FROM PUBLIC
""",
)

DOWNGRADE = (
    "DROP FUNCTION audit_log_purge(integer, integer)",
    "DROP TABLE audit_log",
    "DROP FUNCTION audit_log_refuse()",
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
