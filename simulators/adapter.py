"""The seam between the version-neutral station and one OCPP version.

A version is an object with a few attributes (subprotocol, schemas, error codes, routes)
and message builders; the station never branches on the version string.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from simulators.config import StationConfig
from simulators.context import Routes
from simulators.display import Display
from simulators.meter import Reading
from simulators.offline import TransactionMessage
from simulators.schemas import SchemaSet
from simulators.transaction import Transaction
from simulators.v16.adapter import V16
from simulators.v201.adapter import V201

Message = tuple[str, dict[str, Any]]


class VersionAdapter(Protocol):
    """Builds one version's messages and interprets its answers."""

    version: str
    subprotocol: str
    schemas: SchemaSet
    routes: Routes
    #: Connector statuses sent around a remotely started session.
    statuses_before_start: tuple[str, ...]
    statuses_after_start: tuple[str, ...]
    statuses_after_stop: tuple[str, ...]
    #: Whether the final cost comes in a CALL of its own after the stop's answer (1.6
    #: California Pricing FinalCost) rather than in that answer (2.0.1 totalCost).
    final_cost_follows_stop: bool
    #: CALLERROR code per kind: format, occurrence, type, property (see schemas),
    #: and not_implemented, not_supported, internal, framing.
    error_codes: Mapping[str, str]
    #: The configuration key/variable of the security profile in force, and (2.0.1) the
    #: order of the network connection profiles (:mod:`simulators.security`).
    security_profile_key: str
    priority_key: str | None

    def default_configuration(self, config: StationConfig) -> tuple[dict[str, str], set[str]]:
        """Initial configuration keys/variables, and which of them are read-only."""
        ...

    def boot_notification(self, config: StationConfig, reason: str) -> Message: ...

    def heartbeat(self) -> Message: ...

    def status_notification(self, connector_id: int, status: str, error_code: str) -> Message: ...

    def authorize(self, id_token: str) -> Message: ...

    def new_transaction(self, connector_id: int, id_token: str, meter_start_wh: int) -> Transaction:
        """A transaction object (2.0.1 generates its transaction id here)."""
        ...

    def start_transaction(self, tx: Transaction, trigger_reason: str) -> TransactionMessage: ...

    def meter_values(
        self, tx: Transaction, readings: list[Reading], context: str
    ) -> TransactionMessage: ...

    def stop_transaction(self, tx: Transaction, reason: str) -> TransactionMessage: ...

    def mark_offline(self, message: TransactionMessage) -> None:
        """Flag a transaction message that was created while offline."""
        ...

    def finalize(self, message: TransactionMessage) -> dict[str, Any] | None:
        """The payload to send now, or None when it can no longer be sent."""
        ...

    def on_delivered(self, message: TransactionMessage, response: dict[str, Any]) -> None:
        """Learn from the answer to a delivered transaction message."""
        ...

    def heartbeat_interval(self, boot_response: dict[str, Any]) -> int | None: ...

    def authorization_status(self, response: dict[str, Any]) -> str:
        """The authorization status in an Authorize or transaction answer."""
        ...

    def show_authorize(
        self,
        display: Display,
        configuration: Mapping[str, str],
        id_token: str,
        response: dict[str, Any],
    ) -> None:
        """Show what an Authorize answer carries for the driver (a tariff text)."""
        ...

    def show_transaction_answer(
        self,
        display: Display,
        configuration: Mapping[str, str],
        message: TransactionMessage,
        response: dict[str, Any] | None,
    ) -> None:
        """Show what the answer to a transaction message carries (tariff text, running or
        final cost); ``response`` is None when the message was queued offline."""
        ...


def adapter_for(version: str) -> VersionAdapter:
    """The adapter of ``version`` ("1.6" or "2.0.1")."""
    adapters: dict[str, VersionAdapter] = {"1.6": V16, "2.0.1": V201}
    try:
        return adapters[version]
    except KeyError:
        raise ValueError(f"unsupported OCPP version {version!r}") from None
