"""One fleet charger as a callback state machine: no task per call, no wait_for.

The connection hands each message to `Charger.on_message`; an answer to the outstanding
CALL runs the continuation that was given with it, a CSMS-initiated CALL is answered on the
spot (also while a call of our own is outstanding). Idle waits are loop timers; call
timeouts are swept once a second by the process (`Shared.expire`), so a call costs no timer.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from simulators.firmware import fetch, signature_verifies, update_of
from simulators.fleet import wire
from simulators.fleet.connection import Connection, Endpoint
from simulators.fleet.frames import FIRMWARE_COMMANDS, SUBPROTOCOL, Frames
from simulators.fleet.profile import FleetProfile, source_address
from simulators.fleet.stats import Stats

log = logging.getLogger(__name__)

CALL_TIMEOUT = 30.0

Then = Callable[[Any], None]


@dataclass
class Shared:
    """What the chargers of one process share."""

    profile: FleetProfile
    endpoint: Endpoint
    stats: Stats
    stop_at: float  # time.monotonic(): chargers stop their life here
    measure_from: float  # latencies of ordinary calls count from here on
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.get_running_loop)
    chargers: list[Charger] = field(default_factory=list)

    def expire(self, now: float) -> None:
        """Time out every outstanding call older than CALL_TIMEOUT (about 0.1 us a charger)."""
        oldest = now - CALL_TIMEOUT
        for charger in self.chargers:
            if charger.pending_id is not None and charger.pending_started <= oldest:
                charger.timed_out()


class Charger:
    """One simulated charger: connect, boot, report status, then heartbeats and (for the
    chargers that charge) sessions of periodic meter values until stop_at."""

    def __init__(self, shared: Shared, index: int) -> None:
        profile = shared.profile
        self.shared = shared
        self.stats = shared.stats
        self.index = index
        rng = random.Random(index)
        self.version = "2.0.1" if rng.random() < profile.v201_share else "1.6"
        self.charges = rng.random() < profile.session_share
        self.frames = Frames(profile.charger_id(index), self.version, profile.id_token)
        self.frames.firmware_version = profile.firmware_version
        self.frames.samples = profile.samples
        # firmware update: calls waiting for the line (one CALL at a time), the update's task
        self._extra: deque[tuple[tuple[str, bytes], asyncio.Future[Any]]] = deque()
        self._updating: asyncio.Task[None] | None = None
        self._rebooting = False
        self._rebooted: asyncio.Future[None] | None = None
        self.meter_wh = float(rng.randrange(0, 1_000_000))
        self.connection = Connection(self)
        self.pending_id: str | None = None
        self.pending_started = 0.0
        self._pending_values = 0  # sampled values the outstanding CALL carries
        self._pending_boot = False
        self._then: Then | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._ended = False
        self._stopping = False
        self._woke = 0.0
        self._next_heartbeat = 0.0
        self._next_meter: float | None = None
        # periodic messages of the current session (the start counts); 0 = no session
        self._in_session = 0

    async def run(self) -> None:
        """Connect, live until stop_at, close; returns when the socket is closed (after a
        reboot into new firmware it connects and boots again)."""
        while True:
            await self._live()
            if not self._rebooting:
                return
            self._rebooting = False
            self._ended = False
            self.pending_id = None
            self._then = None
            self.connection = Connection(self)
            self.frames.boot_reason = "FirmwareUpdate"

    async def _live(self) -> None:
        profile = self.shared.profile
        cid = self.frames.charge_point_id
        authorization = None
        if profile.password is not None:
            token = base64.b64encode(f"{cid}:{profile.password}".encode()).decode()
            authorization = f"Basic {token}"
        local_addr = (source_address(self.index), 0) if profile.spread_addresses else None
        started = time.monotonic()
        self.stats.connect.mark(started)
        try:
            await self.connection.connect(
                self.shared.endpoint,
                cid,
                SUBPROTOCOL[self.version],
                authorization=authorization,
                local_addr=local_addr,
            )
        except (OSError, wire.HandshakeError, TimeoutError) as exc:
            self.stats.connect_failures += 1
            log.debug("%s: connect failed: %s", cid, exc)
            self._rebooting = False
            if self._rebooted is not None and not self._rebooted.done():
                self._rebooted.set_exception(ConnectionError(str(exc)))
            return
        self.stats.connected += 1
        self.stats.latency(time.monotonic() - started, of="connect_histogram")
        try:
            self._call(*self.frames.boot(), self._booted, boot=True)
            await self.connection.closed
        finally:
            self.stats.connected -= 1

    # -- the connection's callbacks -----------------------------------------------------------

    def on_message(self, data: bytes) -> None:
        try:
            message = orjson.loads(data)
            kind = message[0]
            message_id = message[1]
            if kind == 2:
                action = message[2]
                self.connection.send(Frames.answer(message_id, action, self.frames.v201))
                self.stats.commands_answered += 1
                if action in FIRMWARE_COMMANDS and self._updating is None:
                    self._updating = self.shared.loop.create_task(self._update(action, message[3]))
                return
        except (ValueError, LookupError, TypeError):
            log.debug("%s: ignored %r", self.frames.charge_point_id, data[:100])
            return
        if self.pending_id is None or message_id != self.pending_id:
            return
        now = time.monotonic()
        stats = self.stats
        if self._pending_boot:
            stats.boot.mark(now)
            stats.latency(now - self.pending_started, of="boot_histogram")
        elif now >= self.shared.measure_from:
            stats.latency(now - self.pending_started)
        if kind == 3:
            stats.answered += 1
            stats.values_answered += self._pending_values
            result = message[2] if len(message) > 2 else None
        else:
            stats.call_errors += 1
            result = None
        self._resolve(result)

    def on_close(self) -> None:
        """The CSMS closed the connection (or broke the protocol) while we lived."""
        if not self._ended and not self._rebooting:
            self.stats.disconnects += 1
            self._end()

    def stop(self) -> None:
        """End the life before stop_at: now if idle, else once the outstanding call is done."""
        self._stopping = True
        if self._timer is not None:
            self._end()

    def timed_out(self) -> None:
        self.stats.timeouts += 1
        self._resolve(None)

    # -- calls --------------------------------------------------------------------------------

    def _call(
        self, message_id: str, frame: bytes, then: Then, *, boot: bool = False, values: int = 0
    ) -> None:
        """Send a CALL (carrying ``values`` sampled values); `then(result)` runs with the
        CALLRESULT payload, or None after a CALLERROR or a timeout."""
        self.pending_id = message_id
        self._pending_values = values
        self.pending_started = time.monotonic()
        self._pending_boot = boot
        self._then = then
        self.connection.send(frame)
        self.stats.sent += 1

    def _resolve(self, result: Any) -> None:
        then = self._then
        self.pending_id = None
        self._then = None
        if then is not None and not self._ended:
            then(result)

    # -- the charger's life -------------------------------------------------------------------

    def _booted(self, boot: Any) -> None:
        self.stats.boots += 1
        if not isinstance(boot, dict) or boot.get("status") != "Accepted":
            self._end()
            return
        self._call(*self.frames.status("Available"), self._available)

    def _available(self, _: Any) -> None:
        if self._rebooted is not None and not self._rebooted.done():
            self._rebooted.set_result(None)
        profile = self.shared.profile
        rng = random.Random(self.index * 7919)
        now = time.monotonic()
        self._next_heartbeat = now + rng.uniform(0, profile.heartbeat)
        if self.charges:
            self._next_meter = now + rng.uniform(0, profile.meter_interval)
        self._idle()

    def _idle(self) -> None:
        """Sleep until the next heartbeat or meter value is due, or the life ends."""
        now = time.monotonic()
        stop_at = self.shared.stop_at
        if (now >= stop_at or self._stopping) and self._updating is None:
            self._end()
            return
        if self._extra:
            frame, answered = self._extra.popleft()

            def then(result: Any) -> None:
                if not answered.done():
                    answered.set_result(result)
                self._idle()

            self._call(*frame, then)
            return
        when = min(self._next_heartbeat, stop_at)
        if self._next_meter is not None and self._next_meter < when:
            when = self._next_meter
        self._timer = self.shared.loop.call_later(max(when - now, 0.0), self._wake)

    def _wake(self) -> None:
        self._timer = None
        self._woke = time.monotonic()
        if self._woke >= self._next_heartbeat:
            self._call(*self.frames.heartbeat(), self._heartbeat_answered)
        else:
            self._meter_if_due()

    def _heartbeat_answered(self, _: Any) -> None:
        self._next_heartbeat = self._woke + self.shared.profile.heartbeat
        self._meter_if_due()

    def _meter_if_due(self) -> None:
        if self._next_meter is None or self._woke < self._next_meter:
            self._idle()
            return
        interval = self.shared.profile.meter_interval
        self.meter_wh += 11040 * interval / 3600
        # 2.0.1 TransactionEvents carry sampled values at start and end too; 1.6 Start/Stop none
        samples = self.frames.samples
        edge = samples if self.frames.v201 else 0
        if self._in_session == 0:
            self._in_session = 1
            self._call(*self.frames.start(self.meter_wh), self._started, values=edge)
        elif self._in_session >= self.shared.profile.session_meter_values:
            self._in_session = 0
            self._call(*self.frames.stop(self.meter_wh), self._metered, values=edge)
        else:
            self._in_session += 1
            self._call(*self.frames.meter_values(self.meter_wh), self._metered, values=samples)

    def _started(self, reply: Any) -> None:
        if isinstance(reply, dict) and reply and not self.frames.v201:
            self.frames.transaction_id = reply.get("transactionId")
        self._metered(reply)

    def _metered(self, _: Any) -> None:
        self._next_meter = self._woke + self.shared.profile.meter_interval
        self._idle()

    def _end(self) -> None:
        """Stop the life and close the connection (a no-op for a connection already closing)."""
        self._ended = True
        self.pending_id = None
        self._then = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.connection.close()

    # -- a firmware update (simulators.firmware) ----------------------------------------------

    def _send_extra(self, frame: tuple[str, bytes]) -> asyncio.Future[Any]:
        """Queue a CALL of the update's; sent when the line is free (wakes an idle charger)."""
        answered: asyncio.Future[Any] = self.shared.loop.create_future()
        self._extra.append((frame, answered))
        if self._timer is not None:  # idle: go now
            self._timer.cancel()
            self._timer = None
            self._idle()
        return answered

    async def _update(self, action: str, payload: dict[str, Any]) -> None:
        profile = self.shared.profile
        update = update_of(action, payload, v201=self.frames.v201)
        rng = random.Random(f"{self.frames.charge_point_id}:{update.request_id}:{update.location}")

        async def report(status: str) -> None:
            await self._send_extra(
                self.frames.firmware_status(update.action, status, update.request_id)
            )

        try:
            await report("Downloading")
            fetched = await fetch(update.location, retries=update.retries)
            if not fetched.ok or rng.random() < profile.fail_download:
                await report("DownloadFailed")
                return
            await report("Downloaded")
            if update.signature is not None:
                if (
                    profile.bad_signature
                    or update.certificate is None
                    or fetched.digest is None
                    or not signature_verifies(update.certificate, update.signature, fetched.digest)
                ):
                    await report("InvalidSignature")
                    await self._send_extra(self.frames.security_event("InvalidFirmwareSignature"))
                    return
                await report("SignatureVerified")
            while self._in_session:  # L01.FR.06: after the session
                await asyncio.sleep(0.5)
            await report("Installing")
            if rng.random() < profile.fail_install:
                await report("InstallationFailed")
                return
            version = fetched.version or f"{self.frames.firmware_version}-updated"
            if update.reboot_before_installed:
                await report("InstallRebooting")
                await self._reboot(version)
                await report("Installed")
            else:
                await report("Installed")
                await self._reboot(version)
        except (ConnectionError, asyncio.CancelledError) as exc:
            log.debug("%s: firmware update stopped: %r", self.frames.charge_point_id, exc)
        finally:
            self._updating = None

    async def _reboot(self, version: str) -> None:
        """Close, then connect and boot with ``version`` (run() does it); returns once the
        new boot was answered."""
        self.frames.firmware_version = version
        self._rebooted = self.shared.loop.create_future()
        self._rebooting = True
        self._end()
        await self._rebooted
