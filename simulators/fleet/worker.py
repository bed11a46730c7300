"""One fleet process: an event loop running many chargers, reporting stats every second."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
import time
from dataclasses import dataclass
from multiprocessing.queues import Queue
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from simulators.fleet.frames import SUBPROTOCOL, Frames
from simulators.fleet.stats import Stats

log = logging.getLogger(__name__)

CALL_TIMEOUT = 30.0


@dataclass(frozen=True)
class FleetProfile:
    """What the fleet does. Times in seconds."""

    url: str
    chargers: int
    processes: int = 1
    id_prefix: str = "FLEET-"
    first_index: int = 0
    password: str | None = None
    connect_rate: float = 1000.0  # new connections per second, whole fleet
    heartbeat: float = 60.0
    meter_interval: float = 10.0
    session_share: float = 0.5  # share of chargers that charge
    session_meter_values: int = 30  # MeterValues per session before it stops
    v201_share: float = 0.2
    duration: float = 30.0  # after the last charger connected
    id_token: str = "FLEET-TAG"
    spread_addresses: bool = True
    warmup: float = 5.0  # after the last connection, before latencies are recorded

    def charger_id(self, index: int) -> str:
        return f"{self.id_prefix}{self.first_index + index}"


def source_address(index: int) -> str:
    """A loopback source address per charger (127.0.0.0/8), so the ephemeral port range of
    one address is never the limit."""
    n = index + 1
    return f"127.{1 + (n >> 16) % 254}.{(n >> 8) & 0xFF}.{max(n & 0xFF, 1)}"


class Charger:
    # latencies of ordinary calls count from this time.monotonic() on (set by _run)
    measure_from = 0.0

    def __init__(self, profile: FleetProfile, index: int, stats: Stats) -> None:
        self.profile = profile
        self.index = index
        self.stats = stats
        rng = random.Random(index)
        self.version = "2.0.1" if rng.random() < profile.v201_share else "1.6"
        self.charges = rng.random() < profile.session_share
        self.frames = Frames(profile.charger_id(index), self.version, profile.id_token)
        self.meter_wh = float(rng.randrange(0, 1_000_000))
        self.ws: ClientConnection | None = None

    async def run(self, stop_at: float) -> None:
        try:
            await self._connect()
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            self.stats.connect_failures += 1
            log.debug("%s: connect failed: %s", self.frames.charge_point_id, exc)
            return
        self.stats.connected += 1
        try:
            await self._life(stop_at)
        except ConnectionClosed:
            self.stats.disconnects += 1
        finally:
            self.stats.connected -= 1
            if self.ws is not None:
                with contextlib.suppress(Exception):
                    await self.ws.close()

    async def _connect(self) -> None:
        profile = self.profile
        headers = {}
        cid = self.frames.charge_point_id
        if profile.password is not None:
            token = base64.b64encode(f"{cid}:{profile.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        kwargs: dict[str, Any] = {}
        if profile.spread_addresses:
            kwargs["local_addr"] = (source_address(self.index), 0)
        self.ws = await connect(
            f"{profile.url}/{cid}",
            subprotocols=[SUBPROTOCOL[self.version]],  # type: ignore[list-item]
            additional_headers=headers,
            compression=None,
            open_timeout=60,
            ping_interval=None,
            max_queue=4,
            **kwargs,
        )

    async def _call(self, message_id: str, frame: bytes, *, boot: bool = False) -> Any:
        assert self.ws is not None
        started = time.perf_counter()
        await self.ws.send(frame, text=True)
        self.stats.sent += 1
        deadline = started + CALL_TIMEOUT
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                self.stats.timeouts += 1
                return None
            try:
                data = await asyncio.wait_for(self.ws.recv(), remaining)
            except TimeoutError:
                self.stats.timeouts += 1
                return None
            reply = orjson.loads(data)
            if reply[0] == 2:
                await self._answer(reply)
                continue
            if reply[1] != message_id:
                continue
            if boot or time.monotonic() >= Charger.measure_from:
                self.stats.latency(time.perf_counter() - started, boot=boot)
            if reply[0] == 3:
                self.stats.answered += 1
                return reply[2]
            self.stats.call_errors += 1
            return None

    async def _answer(self, call: list[Any]) -> None:
        assert self.ws is not None
        await self.ws.send(Frames.answer(call[1], call[2]), text=True)
        self.stats.commands_answered += 1

    async def _idle_until(self, when: float) -> None:
        """Wait, answering any command the CSMS sends meanwhile."""
        assert self.ws is not None
        while (remaining := when - time.monotonic()) > 0:
            try:
                data = await asyncio.wait_for(self.ws.recv(), remaining)
            except TimeoutError:
                return
            frame = orjson.loads(data)
            if frame[0] == 2:
                await self._answer(frame)

    async def _life(self, stop_at: float) -> None:
        profile = self.profile
        boot = await self._call(*self.frames.boot(), boot=True)
        self.stats.boots += 1
        if not boot or boot.get("status") != "Accepted":
            return
        await self._call(*self.frames.status("Available"))
        rng = random.Random(self.index * 7919)
        now = time.monotonic()
        next_heartbeat = now + rng.uniform(0, profile.heartbeat)
        next_meter = now + rng.uniform(0, profile.meter_interval) if self.charges else None
        in_session = 0  # meter values sent in the current session; 0 = no session
        while time.monotonic() < stop_at:
            when = min(next_heartbeat, next_meter or next_heartbeat, stop_at)
            await self._idle_until(when)
            now = time.monotonic()
            if now >= next_heartbeat:
                await self._call(*self.frames.heartbeat())
                next_heartbeat = now + profile.heartbeat
            if next_meter is not None and now >= next_meter:
                in_session = await self._session_step(in_session)
                next_meter = now + profile.meter_interval

    async def _session_step(self, in_session: int) -> int:
        self.meter_wh += 11040 * self.profile.meter_interval / 3600
        if in_session == 0:
            reply = await self._call(*self.frames.start(self.meter_wh))
            if reply and not self.frames.v201:
                self.frames.transaction_id = reply.get("transactionId")
            return 1
        if in_session >= self.profile.session_meter_values:
            await self._call(*self.frames.stop(self.meter_wh))
            return 0
        await self._call(*self.frames.meter_values(self.meter_wh))
        return in_session + 1


async def _run(profile: FleetProfile, indexes: range, queue: Queue[Stats], start_at: float) -> None:
    stats = Stats()
    reported = Stats()
    rate = profile.connect_rate / max(profile.processes, 1)
    ramp = len(indexes) / rate if rate > 0 else 0.0
    stop_at = start_at + ramp + profile.duration
    Charger.measure_from = start_at + ramp + profile.warmup
    tasks: list[asyncio.Task[None]] = []

    async def report() -> None:
        nonlocal reported
        while True:
            await asyncio.sleep(1.0)
            snapshot = stats.snapshot()
            queue.put(_delta(snapshot, reported))
            reported = snapshot

    reporter = asyncio.create_task(report())
    for n, index in enumerate(indexes):
        due = start_at + n / rate if rate > 0 else start_at
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(Charger(profile, index, stats).run(stop_at)))
    await asyncio.gather(*tasks)
    reporter.cancel()
    queue.put(_delta(stats.snapshot(), reported))


def _delta(now: Stats, before: Stats) -> Stats:
    delta = Stats()
    for name in (
        "connected", "connect_failures", "disconnects", "sent", "answered", "call_errors",
        "timeouts", "commands_answered", "boots",
    ):  # fmt: skip
        setattr(delta, name, getattr(now, name) - getattr(before, name))
    for target, a, b in (
        (delta.histogram, now.histogram, before.histogram),
        (delta.boot_histogram, now.boot_histogram, before.boot_histogram),
    ):
        for bucket, count in a.items():
            if count - b.get(bucket, 0):
                target[bucket] = count - b.get(bucket, 0)
    return delta


def worker_main(
    profile: FleetProfile, indexes: range, queue: Queue[Stats], start_at: float
) -> None:
    """Process entry point (spawned by the runner)."""
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    # start_at is a time.monotonic() value of the parent: the same clock on Linux
    runner(_run(profile, indexes, queue, start_at))
