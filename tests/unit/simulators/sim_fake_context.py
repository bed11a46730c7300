"""A fake station context for handler tests: no network, every CALL it sends is checked."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sim_fake_csms import schema_errors

from simulators.adapter import adapter_for
from simulators.config import StationConfig
from simulators.display import Display
from simulators.firmware import Fetched
from simulators.security import StationSecurity
from simulators.state import StationState
from simulators.transaction import Transaction


class FakeContext:
    """A StationContext that records what handlers ask for and validates sent CALLs."""

    def __init__(self, version: str, **config: Any) -> None:
        self.config = StationConfig(
            url="ws://unused", charge_point_id="CP-1", version=version, connectors=2, **config
        )
        self.adapter = adapter_for(version)
        configuration, readonly = self.adapter.default_configuration(self.config)
        self.state = StationState(configuration=configuration, readonly=readonly)
        self.security = StationSecurity(
            self.config,
            self.state.configuration,
            profile_key=self.adapter.security_profile_key,
            priority_key=self.adapter.priority_key,
        )
        self.switched = 0  # switch_security_profile calls
        self.log = logging.getLogger("test.station")
        self.display = Display(logging.getLogger("test.display"))
        self.pending_transaction_messages = 0
        self.actions: list[Callable[[], Awaitable[object]]] = []
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.events: list[tuple[Any, ...]] = []
        # what a firmware download gives (tests set it)
        self.fetched = Fetched(True, 3, b"\0" * 32, "2.3.1")

    def after(self, action: Callable[[], Awaitable[object]]) -> None:
        self.actions.append(action)

    async def run_after(self) -> None:
        actions, self.actions = self.actions, []
        for action in actions:
            await action()

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        assert schema_errors(self.config.version, 2, action, payload) == []
        self.sent.append((action, payload))
        return {}

    async def switch_security_profile(self) -> None:
        self.switched += 1

    async def boot(self, reason: str = "PowerUp") -> dict[str, Any]:
        return await self.call(*self.adapter.boot_notification(self.config, reason))

    async def heartbeat(self) -> dict[str, Any]:
        return await self.call(*self.adapter.heartbeat())

    async def status_notification(
        self, connector_id: int, status: str, error_code: str = "NoError"
    ) -> dict[str, Any]:
        message = self.adapter.status_notification(connector_id, status, error_code)
        return await self.call(*message)

    async def send_meter_values(
        self, tx: Transaction, energy_wh: float | None = None, *, context: str = "Sample.Periodic"
    ) -> dict[str, Any] | None:
        message = self.adapter.meter_values(tx, [], context)
        self.events.append(("meter_values", tx, context))
        return await self.call(message.action, self.adapter.finalize(message) or {})

    async def charge(self, connector_id: int, id_token: str, **kwargs: Any) -> Transaction:
        self.events.append(("charge", connector_id, id_token, kwargs))
        return Transaction(connector_id, id_token)

    async def end_charging(self, tx: Transaction, reason: str) -> None:
        self.events.append(("end_charging", tx, reason))

    async def reboot(self, reason: str) -> None:
        self.events.append(("reboot", reason))

    async def fetch_firmware(self, location: str, retries: int) -> Fetched:
        self.events.append(("fetch", location, retries))
        return self.fetched

    async def restart_with_firmware(self, version: str) -> None:
        self.events.append(("restart", version))
