"""The service status without servers: a dependency that hangs is reported down within the
probe timeout, a slow refresher does not hang a scrape, breaker reports round-trip."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pybreaker
import pytest
from prometheus_client import generate_latest

from backoffice.metrics import Metrics
from backoffice.services import status
from csms.cluster import breaker_reports
from csms.cluster.breakers import BreakerBox, guarded
from csms.cluster.keys import Keys


class HangingPool:
    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        await asyncio.Event().wait()
        yield None  # pragma: no cover


class HangingRedis:
    async def ping(self) -> bool:
        await asyncio.Event().wait()
        return True  # pragma: no cover


class RefusingRedis:
    async def ping(self) -> bool:
        raise ConnectionRefusedError(111, "Connection refused")


def sources(redis: Any, box: BreakerBox | None = None, **providers: Any) -> status.Sources:
    return status.Sources(
        pool=HangingPool(),  # type: ignore[arg-type]
        redis=redis,
        keys=Keys("t:"),
        replica_id="backoffice-1",
        breakers=box or BreakerBox(),
        providers=status.StatusProviders(**providers),
    )


async def boom() -> None:
    raise RuntimeError("node gone")


async def test_hanging_dependencies_are_down_within_the_timeout() -> None:
    async def alarms(conn: Any) -> dict[str, int]:
        return {"critical": 1}  # pragma: no cover: PostgreSQL never answers

    box = BreakerBox(fail_max=1)
    with pytest.raises(RuntimeError):
        await guarded(box.get("n1"), boom)
    started = time.monotonic()
    found = await status.collect(sources(HangingRedis(), box, alarm_counts=alarms), timeout=0.2)
    assert time.monotonic() - started < 1.0
    assert found.dependencies["postgres"].up is False
    assert found.dependencies["postgres"].error == "timed out"
    assert found.dependencies["redis"].up is False
    assert found.nodes is None and found.queues is None and found.alarms is None
    assert set(found.unavailable) == {"queues", "alarms", "nodes"}
    assert not found.healthy


async def test_a_refused_redis_is_down_with_the_reason() -> None:
    found = await status.collect(sources(RefusingRedis()), timeout=0.2)
    assert found.dependencies["redis"].up is False
    assert "Connection refused" in (found.dependencies["redis"].error or "")
    assert found.dependencies["redis"].latency_seconds is None


async def test_dependency_gauges_say_down_and_drop_the_latency() -> None:
    metrics = Metrics()
    up = status.ServiceStatus(
        checked_at=time.time(),
        replica_id="r",
        dependencies={
            "postgres": status.DependencyHealth(True, 0.002),
            "redis": status.DependencyHealth(True, 0.001),
        },
    )
    status.set_metrics(metrics, up)
    down = status.ServiceStatus(
        checked_at=time.time(),
        replica_id="r",
        dependencies={
            "postgres": status.DependencyHealth(True, 0.002),
            "redis": status.DependencyHealth(False, None, "timed out"),
        },
    )
    status.set_metrics(metrics, down)
    page = generate_latest(metrics.registry).decode()
    assert 'csms_dependency_up{dependency="redis"} 0.0' in page
    assert 'csms_dependency_up{dependency="postgres"} 1.0' in page
    assert 'csms_dependency_latency_seconds{dependency="redis"}' not in page
    assert 'csms_dependency_latency_seconds{dependency="postgres"} 0.002' in page


async def test_a_slow_refresher_does_not_hang_the_scrape() -> None:
    metrics = Metrics()
    refreshed = asyncio.Event()

    async def slow() -> None:
        await asyncio.Event().wait()

    async def failing() -> None:
        raise OSError("database gone")

    async def quick() -> None:
        metrics.nodes_alive.set(3)
        refreshed.set()

    for refresher in (slow, failing, quick):
        metrics.add_refresher(refresher)
    started = time.monotonic()
    await metrics.refresh(timeout=0.2)
    assert time.monotonic() - started < 1.0
    assert refreshed.is_set()
    assert "csms_nodes_alive 3.0" in generate_latest(metrics.registry).decode()


async def test_breaker_reports_round_trip_and_ignore_garbage() -> None:
    box = BreakerBox(fail_max=2)
    with pytest.raises(RuntimeError):
        await guarded(box.get("n1"), boom)
    box.get("n2")
    views = breaker_reports.decode("r1", breaker_reports.encode(box, 1000.0))
    assert [(v.replica_id, v.node_id, v.state, v.failures, v.reported_at) for v in views] == [
        ("r1", "n1", "closed", 1, 1000.0),
        ("r1", "n2", "closed", 0, 1000.0),
    ]
    with pytest.raises(RuntimeError):
        await guarded(box.get("n1"), boom)
    with pytest.raises(pybreaker.CircuitBreakerError):
        await guarded(box.get("n1"), boom)
    views = breaker_reports.decode("r1", breaker_reports.encode(box, 1000.0))
    assert views[0].state == "open" and views[0].failures == 2
    assert breaker_reports.decode("r1", b"not json") == []
    assert breaker_reports.decode("r1", b'{"breakers": {}}') == []


class SlowReadsPool:
    """Answers the ping, hangs on every read after it."""

    class Conn:
        async def fetchval(self, query: str) -> int:
            return 1

        async def fetch(self, query: str, *args: Any) -> list[Any]:
            await asyncio.Event().wait()
            return []  # pragma: no cover

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        yield self.Conn()


async def test_a_ping_that_answered_keeps_the_dependency_up_when_a_read_is_slow() -> None:
    source = status.Sources(
        pool=SlowReadsPool(),  # type: ignore[arg-type]
        redis=RefusingRedis(),  # type: ignore[arg-type]
        keys=Keys("t:"),
        replica_id="r",
        breakers=BreakerBox(),
        providers=status.StatusProviders(),
    )
    found = await status.collect(source, timeout=0.2)
    assert found.dependencies["postgres"].up is True
    assert found.dependencies["postgres"].latency_seconds is not None
    assert found.queues is None and "queues" in found.unavailable
