"""Periodic meter values of a running session."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from simulators.errors import SimulatorError
from simulators.transaction import Transaction

SendMeterValues = Callable[[Transaction], Awaitable[object]]


class MeterLoop:
    """Sends meter values for ``tx`` every ``interval`` seconds until stopped.

    Stopping waits for a send in progress, so no meter value follows the stop message.
    """

    def __init__(
        self,
        tx: Transaction,
        interval: float,
        send: SendMeterValues,
        log: logging.Logger | logging.LoggerAdapter[Any],
    ) -> None:
        self.tx = tx
        self._interval = interval
        self._send = send
        self._log = log
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=f"meter-loop-{tx.connector_id}")

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), self._interval)
            except TimeoutError:
                pass
            else:
                return
            try:
                await self._send(self.tx)
            except (SimulatorError, TimeoutError) as exc:
                self._log.warning("periodic meter values failed: %r", exc)

    async def stop(self) -> None:
        """Stop sending and wait until the loop has finished."""
        self._stopping.set()
        await self._task
