"""Every backoffice replica's circuit breakers, in Redis for whoever shows the cluster.

Breakers live in each process that sends commands (a :class:`~csms.cluster.breakers.BreakerBox`
per backoffice replica): one replica may have opened its breaker for a node that another
still reaches. Each replica writes its breakers' states and failure counts under its own key
every ``REPORT_INTERVAL`` seconds with a TTL of ``REPORT_TTL``, so a replica that stops or
dies drops out of the report on its own; ``GET /api/v1/status`` reads them all.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import orjson
from redis.exceptions import RedisError

from csms.cluster.breakers import BreakerBox
from csms.cluster.connect import RedisClient
from csms.cluster.keys import Keys
from csms.cluster.tasks import stop_task

log = logging.getLogger(__name__)

REPORT_INTERVAL = 5.0
REPORT_TTL = 3 * REPORT_INTERVAL
STOP_TIMEOUT = 1.0


@dataclass(frozen=True, slots=True)
class BreakerView:
    """One replica's breaker for one node."""

    replica_id: str
    node_id: str
    state: str  # closed, open, half-open
    failures: int
    reported_at: float


def encode(box: BreakerBox, now: float) -> bytes:
    return orjson.dumps(
        {
            "reported_at": now,
            "breakers": {
                name: {"state": state, "failures": failures}
                for name, (state, failures) in box.failures().items()
            },
        }
    )


def decode(replica_id: str, raw: bytes | str) -> list[BreakerView]:
    """The views in one report; [] for a report that is not one (never raises)."""
    try:
        data = orjson.loads(raw)
        reported_at = float(data["reported_at"])
        return [
            BreakerView(replica_id, str(name), str(b["state"]), int(b["failures"]), reported_at)
            for name, b in data["breakers"].items()
        ]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        log.warning("ignoring a malformed breaker report of %s", replica_id)
        return []


async def publish(
    redis: RedisClient, keys: Keys, replica_id: str, box: BreakerBox, *, ttl: float = REPORT_TTL
) -> None:
    await redis.set(keys.breakers(replica_id), encode(box, time.time()), px=int(ttl * 1000))


async def read_all(redis: RedisClient, keys: Keys) -> list[BreakerView]:
    """Every live replica's breakers, by node then replica."""
    prefix_len = len(keys.breakers(""))
    views: list[BreakerView] = []
    async for key in redis.scan_iter(match=keys.breakers_pattern(), count=500):
        raw = await redis.get(key)
        if raw is not None:
            name = key.decode() if isinstance(key, bytes) else str(key)
            views.extend(decode(name[prefix_len:], raw))
    return sorted(views, key=lambda v: (v.node_id, v.replica_id))


class BreakerReporter:
    """Publishes one replica's breakers every ``interval`` seconds until stopped."""

    def __init__(
        self,
        redis: RedisClient,
        keys: Keys,
        replica_id: str,
        box: BreakerBox,
        *,
        interval: float = REPORT_INTERVAL,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.replica_id = replica_id
        self.box = box
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="breaker-reports")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await stop_task(task)
        try:  # bounded: a Redis that does not answer must not hold a shutdown up
            async with asyncio.timeout(STOP_TIMEOUT):
                await self.redis.delete(self.keys.breakers(self.replica_id))
        except (RedisError, OSError, TimeoutError):
            pass  # the TTL removes it

    async def publish(self) -> None:
        await publish(
            self.redis, self.keys, self.replica_id, self.box, ttl=max(REPORT_TTL, 3 * self.interval)
        )

    async def _run(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.interval):
                    await self.publish()
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("breaker report not published (Redis: %s)", exc)
            await asyncio.sleep(self.interval)
