"""What a handler of a CSMS-initiated CALL may see and do.

Handlers are plain functions ``(ctx, payload) -> response payload``. They run inside the
station's reader, so they must not wait for the network: anything that sends messages
(a triggered message, firmware progress, a remotely started session) is registered with
:meth:`StationContext.after` and runs once the response has been sent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from simulators.config import StationConfig
from simulators.display import Display
from simulators.security import StationSecurity
from simulators.state import StationState
from simulators.transaction import Transaction

if TYPE_CHECKING:
    from simulators.firmware import Fetched

AfterAction = Callable[[], Awaitable[object]]


class StationContext(Protocol):
    """The part of a station that handlers use (a fake in unit tests)."""

    @property
    def config(self) -> StationConfig: ...

    @property
    def state(self) -> StationState: ...

    @property
    def display(self) -> Display: ...

    @property
    def log(self) -> logging.Logger | logging.LoggerAdapter[Any]:
        """The station's logger (it prefixes the charge point id)."""

    @property
    def pending_transaction_messages(self) -> int: ...

    @property
    def security(self) -> StationSecurity:
        """The security profile in force and the network profiles (simulators.security)."""

    async def switch_security_profile(self) -> None:
        """Reconnect with the profile just accepted (1.6 A05), falling back if it fails."""

    def after(self, action: AfterAction) -> None:
        """Run ``action`` after the response to the current CALL has been sent."""

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]: ...

    async def boot(self, reason: str = "PowerUp") -> dict[str, Any]: ...

    async def reboot(self, reason: str) -> None: ...

    async def heartbeat(self) -> dict[str, Any]: ...

    async def status_notification(
        self, connector_id: int, status: str, error_code: str = "NoError"
    ) -> dict[str, Any]: ...

    async def send_meter_values(
        self, tx: Transaction, energy_wh: float | None = None, *, context: str = "Sample.Periodic"
    ) -> dict[str, Any] | None: ...

    async def charge(
        self,
        connector_id: int,
        id_token: str,
        *,
        id_token_type: str = "ISO14443",
        remote_start_id: int | None = None,
    ) -> Transaction:
        """Run a remotely started session: start, then periodic meter values until stopped."""

    async def end_charging(self, tx: Transaction, reason: str) -> None:
        """Stop a session (and its periodic meter values) and make the connector Available."""

    async def fetch_firmware(self, location: str, retries: int) -> Fetched:
        """Download a firmware file (simulators.firmware.fetch)."""

    async def restart_with_firmware(self, version: str) -> None:
        """Reboot into firmware ``version``: reconnect, boot, report the connectors."""


Handler = Callable[[StationContext, dict[str, Any]], dict[str, Any]]
Routes = Mapping[str, Handler]
