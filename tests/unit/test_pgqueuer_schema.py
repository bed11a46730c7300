"""The job queue's schema is frozen in migration 0006 for the pinned PgQueuer version: an
upgrade of PgQueuer must come with a migration (ADR 0004)."""

from __future__ import annotations

from pathlib import Path

import pgqueuer
from pgqueuer.adapters.persistence.qb import DBSettings
from pgqueuer.adapters.persistence.schema_ddl import render_install

FROZEN = Path(__file__).resolve().parents[2] / "migrations" / "versions" / "0006_pgqueuer_1_6_0.sql"


def test_the_frozen_schema_is_the_pinned_versions() -> None:
    assert pgqueuer.__version__ == "1.6.0"
    assert FROZEN.read_text(encoding="utf-8") == render_install(DBSettings(), create_schema=False)
