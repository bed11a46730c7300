"""Which PostgreSQL errors a pool waits out and sends again (csms/store/pool.py): anything
that never reached the server; a SELECT whatever broke its connection; nothing else."""

from __future__ import annotations

import asyncpg
import pytest

from csms.store.pool import _not_sent, _reads_only, unavailable

REFUSED = ConnectionRefusedError(111, "Connect call failed")
STARTING = asyncpg.CannotConnectNowError("the database system is starting up")
CLOSED = asyncpg.InterfaceError("connection is closed")
MIDWAY = asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")
SHUTDOWN = asyncpg.AdminShutdownError("terminating connection due to administrator command")
UNIQUE = asyncpg.UniqueViolationError("duplicate key")
BUSY = asyncpg.InterfaceError("cannot perform operation: another operation is in progress")


@pytest.mark.parametrize("exc", [REFUSED, STARTING, CLOSED, TimeoutError()])
def test_what_never_reached_the_server_is_sent_again(exc: BaseException) -> None:
    assert _not_sent(exc) and unavailable(exc)


@pytest.mark.parametrize("exc", [MIDWAY, SHUTDOWN])
def test_a_broken_connection_may_have_committed(exc: BaseException) -> None:
    assert unavailable(exc) and not _not_sent(exc)  # a SELECT again; a write fails


@pytest.mark.parametrize("exc", [UNIQUE, BUSY, ValueError("x")])
def test_a_wrong_statement_is_never_unavailability(exc: BaseException) -> None:
    assert not unavailable(exc) and not _not_sent(exc)


def test_reads_only() -> None:
    assert _reads_only("  select 1")
    assert _reads_only("SELECT * FROM chargers")
    assert not _reads_only("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x")
    assert not _reads_only("INSERT INTO t VALUES (1) RETURNING id")
