"""Stations that record every CALL the CSMS sends them, for the cluster tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from csms.node.server import Node
from simulators.framing import Call, CallErrorFrame, CallResult
from simulators.station import Station, StationConfig
from tests.timeouts import TIMEOUT

# The ``start_node`` fixture (conftest.py): ``async with start_node("n1") as node``.
StartNode = Callable[..., AbstractAsyncContextManager[Node]]


class RecordingStation(Station):
    """A simulated station that also remembers every CALL the CSMS sent it."""

    def __init__(self, config: StationConfig) -> None:
        super().__init__(config)
        self.received: list[Call] = []

    def answer(self, call: Call) -> CallResult | CallErrorFrame:
        self.received.append(call)
        return super().answer(call)

    def received_actions(self) -> list[str]:
        return [call.action for call in self.received]


@contextlib.asynccontextmanager
async def online(
    node: Node, charge_point_id: str, password: str | None
) -> AsyncIterator[RecordingStation]:
    """A 1.6 station connected to ``node`` and booted (so ``node`` owns it); disconnected on
    exit."""
    station = RecordingStation(
        StationConfig(
            url=f"ws://127.0.0.1:{node.port}/ocpp",
            charge_point_id=charge_point_id,
            password=password,
            call_timeout=TIMEOUT,
            open_timeout=TIMEOUT,
        )
    )
    await station.connect()
    try:
        response = await station.boot()
        assert response["status"] == "Accepted", response
        yield station
    finally:
        await station.disconnect()
