"""The worker's alarm sweeps against PostgreSQL (csms.worker.alarms): a stuck session, the
queue backing up, a breaker open, a node gone from the registry (a stand-in registry), and
connector alarms reconciled with the stored status; each raised once and cleared when its
condition ends."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from csms.domain.alarms import AlarmType, Condition
from csms.domain.clock import utc_now
from csms.settings import WorkerSettings
from csms.store import alarms as store
from csms.store import chargers
from csms.worker.alarms import AlarmSweeper, alarm_service

pytestmark = pytest.mark.integration


@dataclass
class FakeNode:
    node_id: str


class FakeRegistry:
    def __init__(self) -> None:
        self.live: list[str] = []

    async def live_nodes(self) -> list[FakeNode]:
        return [FakeNode(n) for n in self.live]


async def open_of(pool: asyncpg.Pool, alarm_type: AlarmType, subject: str) -> list[Any]:
    return list(
        await pool.fetch(
            "SELECT * FROM alarms WHERE type = $1 AND subject = $2 AND state <> 'cleared'",
            alarm_type.value,
            subject,
        )
    )


async def test_platform_and_session_sweeps(pool: asyncpg.Pool) -> None:
    prefix = f"sweep-{secrets.token_hex(4)}:"
    waiting = await store.queue_depth(pool)  # the run's other jobs: one more is too many
    settings = WorkerSettings(
        redis_prefix=prefix, alarm_queue_depth=waiting, alarm_session_stuck_minutes=1
    )
    registry = FakeRegistry()
    breakers = {"node-x": "open"}
    sweeper = AlarmSweeper(
        pool,
        alarm_service(pool, settings, None),
        settings,
        registry=registry,  # type: ignore[arg-type]
        breakers=lambda: dict(breakers),
    )
    # a charging session on a connected charger, with no meter value for two hours
    cp = f"SW-{secrets.token_hex(4)}"
    await chargers.add_charger(pool, cp, password_hash=None)
    await pool.execute(
        "UPDATE chargers SET connected_node = 'n-live' WHERE charge_point_id = $1", cp
    )
    tx = f"TX-{secrets.token_hex(3)}"
    pk = await pool.fetchval(
        """INSERT INTO transactions (charge_point_id, protocol, transaction_id, evse_id,
               connector_id, started_at, charging_state)
           VALUES ($1, 'ocpp2.0.1', $2, 1, 1, $3, 'Charging') RETURNING id""",
        cp,
        tx,
        utc_now() - timedelta(hours=2),
    )
    job = await pool.fetchval(
        """INSERT INTO pgqueuer (priority, status, entrypoint, payload)
           VALUES (0, 'queued', 'alarm-test-nobody-runs-this', NULL) RETURNING id"""
    )
    registry.live = ["a"]
    try:
        counts = await sweeper.sweep()
        assert counts.raised >= 3
        assert len(await open_of(pool, AlarmType.SESSION_STUCK, tx)) == 1
        assert len(await open_of(pool, AlarmType.QUEUE_BACKLOG, "pgqueuer")) == 1
        assert len(await open_of(pool, AlarmType.BREAKER_OPEN, "node-x")) == 1
        assert await open_of(pool, AlarmType.NODE_GONE, f"{prefix}a") == []

        registry.live = []  # "a" left without deregistering
        await sweeper.sweep()
        await sweeper.sweep()  # again: nothing new
        (gone,) = await open_of(pool, AlarmType.NODE_GONE, f"{prefix}a")
        assert gone["count"] == 1 and gone["severity"] == "critical"
        assert len(await open_of(pool, AlarmType.SESSION_STUCK, tx)) == 1

        # every condition ends
        registry.live = ["a"]
        breakers["node-x"] = "closed"
        await pool.execute("DELETE FROM pgqueuer WHERE id = $1", job)
        job = None
        await pool.execute(
            "INSERT INTO meter_samples (charge_point_id, evse_id, connector_id, transaction_pk,"
            ' sampled_at, context, measurands, phases, locations, units, "values")'
            " VALUES ($1, 1, 1, $2, now(), 'Sample.Periodic', '{Power.Active.Import}', '{\"\"}',"
            " '{Outlet}', '{W}', '{7000}')",
            cp,
            pk,
        )
        await sweeper.sweep()
        for alarm_type, subject in (
            (AlarmType.SESSION_STUCK, tx),
            (AlarmType.QUEUE_BACKLOG, "pgqueuer"),
            (AlarmType.BREAKER_OPEN, "node-x"),
            (AlarmType.NODE_GONE, f"{prefix}a"),
        ):
            assert await open_of(pool, alarm_type, subject) == [], alarm_type
    finally:
        if job is not None:
            await pool.execute("DELETE FROM pgqueuer WHERE id = $1", job)
        await pool.execute("DELETE FROM alarms WHERE type = 'breaker_open' AND subject = 'node-x'")


async def test_connector_alarms_follow_the_stored_status(pool: asyncpg.Pool) -> None:
    settings = WorkerSettings()
    sweeper = AlarmSweeper(pool, alarm_service(pool, settings, None), settings)
    cp = f"SW-{secrets.token_hex(4)}"
    await chargers.add_charger(pool, cp, password_hash=None)
    for connector, status in ((1, "Faulted"), (2, "Available")):
        await pool.execute(
            """INSERT INTO connectors (charge_point_id, evse_id, connector_id, status, status_at)
               VALUES ($1, 0, $2, $3, now())""",
            cp,
            connector,
            status,
        )
        condition = Condition(AlarmType.CONNECTOR_FAULTED, cp, f"0/{connector}", "Faulted")
        await store.raise_alarm(
            pool, condition, now=utc_now(), flapping_window=timedelta(minutes=5)
        )
    await sweeper.sweep()
    assert len(await open_of(pool, AlarmType.CONNECTOR_FAULTED, "0/1")) >= 1
    rows = await pool.fetch(
        "SELECT subject, state FROM alarms WHERE charge_point_id = $1 ORDER BY subject", cp
    )
    assert [(r["subject"], r["state"]) for r in rows] == [("0/1", "raised"), ("0/2", "cleared")]


class DownRegistry(FakeRegistry):
    """A registry whose Redis refuses connections until it is back."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True

    async def live_nodes(self) -> list[FakeNode]:
        if self.down:
            raise RedisConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")
        return await super().live_nodes()


async def test_redis_unreachable_raises_and_clears_a_dependency_alarm(pool: asyncpg.Pool) -> None:
    prefix = f"dep-{secrets.token_hex(4)}:"
    settings = WorkerSettings(redis_prefix=prefix, alarm_queue_depth=10**9)
    registry = DownRegistry()
    sweeper = AlarmSweeper(
        pool,
        alarm_service(pool, settings, None),
        settings,
        registry=registry,  # type: ignore[arg-type]
    )
    await sweeper.sweep()  # the rest of the sweep still runs without Redis
    await sweeper.sweep()  # the same condition: still one alarm
    (alarm,) = await open_of(pool, AlarmType.DEPENDENCY_DOWN, f"{prefix}redis")
    assert alarm["severity"] == "critical" and alarm["count"] == 1
    assert "Redis unreachable" in alarm["message"]
    registry.down = False
    await sweeper.sweep()
    assert await open_of(pool, AlarmType.DEPENDENCY_DOWN, f"{prefix}redis") == []
    state = await pool.fetchval("SELECT state FROM alarms WHERE id = $1", alarm["id"])
    assert state == "cleared"


class RefusingPool:
    """The real pool, except that while ``down`` every query and acquire is refused, as a
    stopped PostgreSQL refuses connections."""

    QUERIES = frozenset({"acquire", "execute", "executemany", "fetch", "fetchrow", "fetchval"})

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.down = False

    def __getattr__(self, name: str) -> Any:
        if self.down and name in self.QUERIES:

            def refused(*args: Any, **kwargs: Any) -> Any:
                raise ConnectionRefusedError(111, "Connection refused")

            return refused
        return getattr(self._pool, name)


async def test_a_postgres_outage_is_recorded_when_it_ends(pool: asyncpg.Pool) -> None:
    prefix = f"dep-{secrets.token_hex(4)}:"
    settings = WorkerSettings(redis_prefix=prefix, alarm_queue_depth=10**9)
    flaky = RefusingPool(pool)
    sweeper = AlarmSweeper(flaky, alarm_service(pool, settings, None), settings)  # type: ignore[arg-type]
    # a sweep fails while PostgreSQL is away: nothing can be stored (the sweeper's own
    # queries are refused; the alarm store, on the real pool, is untouched meanwhile)
    flaky.down = True
    with pytest.raises(ConnectionRefusedError):
        await sweeper.sweep()
    flaky.down = False
    await sweeper.sweep()  # back: the outage is raised and cleared at once
    await sweeper.sweep()  # and only once
    rows = await pool.fetch(
        "SELECT * FROM alarms WHERE type = 'dependency_down' AND subject = $1",
        f"{prefix}postgres",
    )
    assert len(rows) == 1 and rows[0]["state"] == "cleared"
    assert "PostgreSQL was unreachable" in rows[0]["message"]
    history = await pool.fetch(
        "SELECT action FROM alarm_history WHERE alarm_id = $1 ORDER BY id", rows[0]["id"]
    )
    assert [h["action"] for h in history] == ["raised", "cleared"]
