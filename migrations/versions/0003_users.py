"""Backoffice users, refresh tokens, and which driver an id token belongs to.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE users (
    id              bigserial PRIMARY KEY,
    username        text NOT NULL CHECK (length(username) BETWEEN 1 AND 64),
    password_hash   text NOT NULL,
    role            text NOT NULL CHECK (role IN ('admin', 'operator', 'monitor', 'driver')),
    disabled        boolean NOT NULL DEFAULT false,
    -- bumped on role, password or disabled change: older access tokens stop working
    token_version   integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- Usernames are case insensitive: "Alice" and "alice" are one user.
CREATE UNIQUE INDEX users_username_ci ON users (lower(username));

-- Rotating refresh tokens, stored as SHA-256 of the random token. Every refresh marks the
-- presented token used and issues a new one in the same family; presenting a used (or
-- revoked) token again revokes the whole family.
CREATE TABLE refresh_tokens (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    family      text NOT NULL,
    token_hash  text NOT NULL UNIQUE,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

-- The driver (user) an id token belongs to: at most one per token.
CREATE TABLE id_token_users (
    id_token    text PRIMARY KEY REFERENCES id_tokens ON DELETE CASCADE ON UPDATE CASCADE,
    user_id     bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX id_token_users_user ON id_token_users (user_id);

-- Sessions by token (a driver's sessions, the API's token filter), case insensitive.
CREATE INDEX transactions_id_token_ci ON transactions (lower(id_token), id DESC);
"""

DOWNGRADE = """
DROP INDEX transactions_id_token_ci;
DROP TABLE id_token_users;
DROP TABLE refresh_tokens;
DROP TABLE users;
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
