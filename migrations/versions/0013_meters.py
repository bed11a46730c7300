"""Meter data at fleet scale (issue 16): one row per sampled set in ``meter_samples``
(partitioned by week), the journal partitioned by day, hourly rollups per connector, and
``meter_values`` kept as a read-only view that gives every reader the per-value series it
had (docs/adr/0005-meter-storage.md).

Existing databases: the old per-value rows stay in ``meter_values_legacy`` (the view reads
them too) and ``csms meters migrate`` (or the worker) moves them in batches, online; the old
journal table becomes the journal's first partition (no copy), dropped whole by retention.
A database without old rows drops them at once.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- A partition of ``parent`` holding ``at``: one per day or week (UTC), named
-- parent_pYYYYMMDD after its first day, created if missing (callers race safely: the
-- advisory lock serialises creators of one parent's partitions). NULL: a partition that is
-- not one of these (the old journal) holds that range already.
CREATE FUNCTION csms_ensure_partition(parent text, period text, at timestamptz)
RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
    lower_bound timestamptz := date_trunc(period, at, 'UTC');
    upper_bound timestamptz := lower_bound + ('1 ' || period)::interval;
    name text := parent || '_p' || to_char(lower_bound AT TIME ZONE 'UTC', 'YYYYMMDD');
BEGIN
    IF to_regclass(name) IS NULL THEN
        PERFORM pg_advisory_xact_lock(hashtext('csms_ensure_partition:' || parent));
        IF to_regclass(name) IS NULL THEN
            BEGIN
                EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                               name, parent, lower_bound, upper_bound);
            EXCEPTION WHEN invalid_object_definition THEN
                -- the range is inside one already there (the old journal up to its last day)
                RETURN NULL;
            END;
        END IF;
    END IF;
    RETURN name;
END
$fn$;

-- The key of a sampled set's shape: which measurand/phase/location each value is. Declared
-- immutable (array_to_string is only stable because of other element types; for text[]
-- it is immutable) so that a generated column can hold it.
CREATE FUNCTION csms_meter_series_key(measurands text[], phases text[], locations text[])
RETURNS uuid LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT md5(array_to_string(measurands, E'\x1f') || E'\x1e'
               || array_to_string(phases, E'\x1f') || E'\x1e'
               || array_to_string(locations, E'\x1f'))::uuid
$fn$;

-- One row per sampled set (a MeterValue element: one timestamp, one context). The foreign
-- keys stay: checked once per set, not per value (docs/adr/0005-meter-storage.md).
CREATE TABLE meter_samples (
    charge_point_id text NOT NULL REFERENCES chargers ON DELETE CASCADE,
    evse_id         integer NOT NULL,
    connector_id    integer NOT NULL,
    transaction_pk  bigint REFERENCES transactions ON DELETE CASCADE,
    sampled_at      timestamptz NOT NULL,
    context         text NOT NULL,
    measurands      text[] NOT NULL,
    phases          text[] NOT NULL,
    locations       text[] NOT NULL,
    units           text[] NOT NULL,
    "values"        numeric[] NOT NULL,
    raw_values      text[],
    signed          jsonb,
    received_at     timestamptz NOT NULL DEFAULT now(),
    series_key      uuid NOT NULL
        GENERATED ALWAYS AS (csms_meter_series_key(measurands, phases, locations)) STORED,
    CHECK (cardinality(measurands) > 0
           AND cardinality(phases) = cardinality(measurands)
           AND cardinality(locations) = cardinality(measurands)
           AND cardinality(units) = cardinality(measurands)
           AND cardinality("values") = cardinality(measurands)
           AND (raw_values IS NULL OR cardinality(raw_values) = cardinality(measurands))),
    -- a replayed MeterValue element (same place, time, context and shape) adds no row
    PRIMARY KEY (charge_point_id, evse_id, connector_id, sampled_at, context, series_key)
) PARTITION BY RANGE (sampled_at);
CREATE INDEX meter_samples_transaction ON meter_samples (transaction_pk, sampled_at)
    WHERE transaction_pk IS NOT NULL;
-- the rollups read the sets received since their watermark: rows are appended, so a BRIN
-- index on the arrival time finds them for a few pages of index per partition
CREATE INDEX meter_samples_received ON meter_samples USING brin (received_at);

-- Hourly rollups per connector, kept up to date by the worker from meter_samples rows
-- received after the watermark (csms/store/rollups.py).
CREATE TABLE meter_rollups (
    charge_point_id text NOT NULL,
    evse_id         integer NOT NULL,
    connector_id    integer NOT NULL,
    hour            timestamptz NOT NULL,
    first_wh        numeric,
    last_wh         numeric,
    first_at        timestamptz,
    last_at         timestamptz,
    max_power_w     numeric,
    sessions        bigint[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (charge_point_id, evse_id, connector_id, hour)
);
CREATE TABLE meter_rollup_watermark (
    one             boolean PRIMARY KEY DEFAULT true CHECK (one),
    received_before timestamptz NOT NULL
);
-- sets written from now on; the old rows moved later are rolled up by their move
INSERT INTO meter_rollup_watermark VALUES (true, now());

ALTER TABLE meter_values RENAME TO meter_values_legacy;
ALTER INDEX meter_values_sample RENAME TO meter_values_legacy_sample;
ALTER INDEX meter_values_transaction RENAME TO meter_values_legacy_transaction;

CREATE VIEW meter_values AS
SELECT s.charge_point_id, s.evse_id, s.connector_id, s.transaction_pk, s.sampled_at,
       v.measurand, v.phase, v.location, s.context, v.unit, v.value, v.raw_value,
       nullif(s.signed -> (v.ord::int - 1), 'null'::jsonb) AS signed, s.received_at
FROM meter_samples s,
     unnest(s.measurands, s.phases, s.locations, s.units, s."values", s.raw_values)
         WITH ORDINALITY AS v(measurand, phase, location, unit, value, raw_value, ord)
UNION ALL
SELECT charge_point_id, evse_id, connector_id, transaction_pk, sampled_at, measurand, phase,
       location, context, unit, value, raw_value, signed, received_at
FROM meter_values_legacy;

ALTER TABLE charger_messages RENAME TO charger_messages_legacy;
ALTER INDEX charger_messages_charger_at RENAME TO charger_messages_legacy_charger_at;
ALTER INDEX charger_messages_at RENAME TO charger_messages_legacy_at;

CREATE TABLE charger_messages (
    id              bigint NOT NULL DEFAULT nextval('charger_messages_id_seq'),
    charge_point_id text NOT NULL,
    at              timestamptz NOT NULL,
    direction       text NOT NULL,
    message_type    integer NOT NULL,
    message_id      text NOT NULL,
    action          text,
    payload         jsonb NOT NULL,
    CONSTRAINT charger_messages_direction_check CHECK (direction IN ('in', 'out'))
) PARTITION BY RANGE (at);
ALTER SEQUENCE charger_messages_id_seq OWNED BY charger_messages.id;
CREATE INDEX charger_messages_charger_at ON charger_messages (charge_point_id, at);
CREATE INDEX charger_messages_at ON charger_messages (at);

-- Old journal rows: the old table becomes the first partition (no copy) up to the end of
-- its last day; retention drops it whole. No old rows: it goes.
DO $do$
DECLARE
    upper_bound timestamptz;
BEGIN
    IF EXISTS (SELECT 1 FROM charger_messages_legacy) THEN
        SELECT date_trunc('day', greatest(max(at), now()), 'UTC') + interval '1 day'
          INTO upper_bound FROM charger_messages_legacy;
        EXECUTE format('ALTER TABLE charger_messages_legacy ADD CONSTRAINT '
                       'charger_messages_legacy_range CHECK (at < %L)', upper_bound);
        EXECUTE format('ALTER TABLE charger_messages ATTACH PARTITION charger_messages_legacy '
                       'FOR VALUES FROM (MINVALUE) TO (%L)', upper_bound);
    ELSE
        DROP TABLE charger_messages_legacy;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM meter_values_legacy) THEN
        CREATE OR REPLACE VIEW meter_values AS
        SELECT s.charge_point_id, s.evse_id, s.connector_id, s.transaction_pk, s.sampled_at,
               v.measurand, v.phase, v.location, s.context, v.unit, v.value, v.raw_value,
               nullif(s.signed -> (v.ord::int - 1), 'null'::jsonb) AS signed, s.received_at
        FROM meter_samples s,
             unnest(s.measurands, s.phases, s.locations, s.units, s."values", s.raw_values)
                 WITH ORDINALITY AS v(measurand, phase, location, unit, value, raw_value, ord);
        DROP TABLE meter_values_legacy;
    END IF;
END
$do$;

SELECT csms_ensure_partition('meter_samples', 'week', now());
SELECT csms_ensure_partition('meter_samples', 'week', now() + interval '1 week');
SELECT csms_ensure_partition('charger_messages', 'day', now());
SELECT csms_ensure_partition('charger_messages', 'day', now() + interval '1 day');
"""

DOWNGRADE = """
-- Back to one row per value: the sets are unnested into the old table (a long statement
-- on a big database; there is no online way back).
ALTER TABLE charger_messages RENAME TO charger_messages_partitioned;
CREATE TABLE charger_messages (
    id              bigint PRIMARY KEY DEFAULT nextval('charger_messages_id_seq'),
    charge_point_id text NOT NULL,
    at              timestamptz NOT NULL,
    direction       text NOT NULL,
    message_type    integer NOT NULL,
    message_id      text NOT NULL,
    action          text,
    payload         jsonb NOT NULL
);
INSERT INTO charger_messages SELECT * FROM charger_messages_partitioned;
ALTER SEQUENCE charger_messages_id_seq OWNED BY charger_messages.id;
DROP TABLE charger_messages_partitioned;
ALTER TABLE charger_messages ADD CONSTRAINT charger_messages_direction_check
    CHECK (direction IN ('in', 'out'));
CREATE INDEX charger_messages_charger_at ON charger_messages (charge_point_id, at);
CREATE INDEX charger_messages_at ON charger_messages (at);

CREATE TABLE meter_values_old (
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
INSERT INTO meter_values_old (charge_point_id, evse_id, connector_id, transaction_pk,
    sampled_at, measurand, phase, location, context, unit, value, raw_value, signed,
    received_at)
SELECT charge_point_id, evse_id, connector_id, transaction_pk, sampled_at, measurand, phase,
    location, context, unit, value, raw_value, signed, received_at
FROM meter_values
ON CONFLICT DO NOTHING;
DROP VIEW meter_values;
DROP TABLE IF EXISTS meter_values_legacy;
DROP TABLE meter_samples;
ALTER TABLE meter_values_old RENAME TO meter_values;
ALTER SEQUENCE meter_values_old_id_seq RENAME TO meter_values_id_seq;
CREATE UNIQUE INDEX meter_values_sample ON meter_values
    (charge_point_id, evse_id, connector_id, sampled_at, measurand, phase, location, context);
CREATE INDEX meter_values_transaction ON meter_values (transaction_pk, sampled_at);
DROP TABLE meter_rollup_watermark;
DROP TABLE meter_rollups;
DROP FUNCTION csms_meter_series_key(text[], text[], text[]);
DROP FUNCTION csms_ensure_partition(text, text, timestamptz);
"""


def _statements(sql: str) -> list[str]:
    # asyncpg prepares each statement, so a script is sent one statement at a time; the
    # dollar-quoted bodies above contain no ";\n" outside their own statement's end.
    statements: list[str] = []
    current: list[str] = []
    in_body = False
    for line in sql.splitlines():
        if line.startswith("--") and not current:
            continue
        current.append(line)
        if line.count("$fn$") % 2 or line.count("$do$") % 2:
            in_body = not in_body
        if line.rstrip().endswith(";") and not in_body:
            statement = "\n".join(current).strip()
            if statement:
                statements.append(statement)
            current = []
    return statements


def upgrade() -> None:
    for statement in _statements(UPGRADE):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(DOWNGRADE):
        op.execute(statement)
