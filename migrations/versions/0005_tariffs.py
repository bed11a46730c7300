"""Sites, tariffs (versioned, immutable once published), their assignment, the tariff and
cost of each session, its charging / idle periods, and tariff pushes to chargers
(docs/topics/tariffs-and-cost.md).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# One statement (its body has semicolons of its own), run before UPGRADE.
IMMUTABLE_FUNCTION = """
CREATE FUNCTION tariff_versions_immutable() RETURNS trigger AS $$
BEGIN
    IF OLD.published_at IS NOT NULL THEN
        RAISE EXCEPTION 'tariff % version % is published and cannot change',
            OLD.tariff_id, OLD.version USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql
"""

UPGRADE = """
-- A site: a named group of chargers at one place (OCPI Location-shaped), with the time zone
-- time-of-day tariff rules use.
CREATE TABLE sites (
    id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9._-]{1,36}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    time_zone   text NOT NULL,
    address     text NOT NULL DEFAULT '',
    city        text NOT NULL DEFAULT '',
    postal_code text NOT NULL DEFAULT '',
    country     text NOT NULL DEFAULT '',
    latitude    numeric(9, 6) CHECK (latitude BETWEEN -90 AND 90),
    longitude   numeric(9, 6) CHECK (longitude BETWEEN -180 AND 180),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE chargers ADD COLUMN site_id text REFERENCES sites ON DELETE SET NULL;
CREATE INDEX chargers_site ON chargers (site_id) WHERE site_id IS NOT NULL;

CREATE TABLE tariffs (
    id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9._-]{1,36}$'),
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- Every edit is a new version; a published version never changes (the trigger below), so a
-- session priced with it can always be priced again the same way.
CREATE TABLE tariff_versions (
    tariff_id    text NOT NULL REFERENCES tariffs ON DELETE CASCADE,
    version      integer NOT NULL CHECK (version >= 1),
    definition   jsonb NOT NULL,
    currency     text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    created_by   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_by text,
    published_at timestamptz,
    PRIMARY KEY (tariff_id, version)
);
CREATE UNIQUE INDEX tariff_versions_one_draft ON tariff_versions (tariff_id)
    WHERE published_at IS NULL;
CREATE TRIGGER tariff_versions_immutable BEFORE UPDATE ON tariff_versions
    FOR EACH ROW EXECUTE FUNCTION tariff_versions_immutable();

-- Which tariff applies: group (an id token or the group id token of its parent) > charger >
-- site > default (target '').
CREATE TABLE tariff_assignments (
    scope      text NOT NULL CHECK (scope IN ('default', 'site', 'charger', 'group')),
    target     text NOT NULL,
    tariff_id  text NOT NULL REFERENCES tariffs ON DELETE CASCADE,
    created_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, target),
    CHECK ((scope = 'default') = (target = ''))
);

-- The tariff version a session is priced with (fixed when it starts) and its cost: running
-- while it charges, frozen with its breakdown when it ends.
ALTER TABLE transactions ADD COLUMN tariff_id text;
ALTER TABLE transactions ADD COLUMN tariff_version integer;
ALTER TABLE transactions ADD CONSTRAINT transactions_tariff_version
    FOREIGN KEY (tariff_id, tariff_version) REFERENCES tariff_versions ON DELETE RESTRICT;
ALTER TABLE transactions ADD COLUMN currency text;
ALTER TABLE transactions ADD COLUMN cost_excl_vat numeric;
ALTER TABLE transactions ADD COLUMN cost_vat numeric;
ALTER TABLE transactions ADD COLUMN cost_incl_vat numeric;
ALTER TABLE transactions ADD COLUMN cost_breakdown jsonb;
ALTER TABLE transactions ADD COLUMN cost_at timestamptz;
ALTER TABLE transactions ADD COLUMN cost_final boolean NOT NULL DEFAULT false;

-- When a session charged and when it did not (idle / parking), as the charger reported it.
CREATE TABLE session_states (
    transaction_pk bigint NOT NULL REFERENCES transactions ON DELETE CASCADE,
    at             timestamptz NOT NULL,
    charging       boolean NOT NULL,
    PRIMARY KEY (transaction_pk, at)
);

-- The price display a charger should have (fallback texts, default price), per charger:
-- pending until the node holding it has applied it; chargers offline get it when they
-- connect.
CREATE TABLE tariff_pushes (
    charge_point_id text PRIMARY KEY REFERENCES chargers ON DELETE CASCADE,
    tariff_id       text REFERENCES tariffs ON DELETE CASCADE,
    tariff_version  integer,
    status          text NOT NULL CHECK (status IN
        ('pending', 'accepted', 'rejected', 'not_supported', 'failed')),
    detail          text NOT NULL DEFAULT '',
    attempts        integer NOT NULL DEFAULT 0,
    requested_at    timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tariff_pushes_pending ON tariff_pushes (charge_point_id) WHERE status = 'pending';
"""

DOWNGRADE = """
DROP TABLE tariff_pushes;
DROP TABLE session_states;
ALTER TABLE transactions DROP COLUMN cost_final;
ALTER TABLE transactions DROP COLUMN cost_at;
ALTER TABLE transactions DROP COLUMN cost_breakdown;
ALTER TABLE transactions DROP COLUMN cost_incl_vat;
ALTER TABLE transactions DROP COLUMN cost_vat;
ALTER TABLE transactions DROP COLUMN cost_excl_vat;
ALTER TABLE transactions DROP COLUMN currency;
ALTER TABLE transactions DROP CONSTRAINT transactions_tariff_version;
ALTER TABLE transactions DROP COLUMN tariff_version;
ALTER TABLE transactions DROP COLUMN tariff_id;
DROP TABLE tariff_assignments;
DROP TRIGGER tariff_versions_immutable ON tariff_versions;
DROP FUNCTION tariff_versions_immutable();
DROP TABLE tariff_versions;
DROP TABLE tariffs;
DROP INDEX chargers_site;
ALTER TABLE chargers DROP COLUMN site_id;
DROP TABLE sites;
"""


def _statements(sql: str) -> list[str]:
    # asyncpg prepares each statement, so a script is sent one statement at a time.
    chunks = (chunk.strip() for chunk in sql.split(";\n"))
    return [c for c in chunks if any(not line.startswith("--") for line in c.splitlines() if line)]


def upgrade() -> None:
    op.execute(IMMUTABLE_FUNCTION)
    for statement in _statements(UPGRADE):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(DOWNGRADE):
        op.execute(statement)
