"""A simulated OCPP 1.6J / 2.0.1 charging station driven from Python.

::

    station = Station(StationConfig(url="ws://127.0.0.1:9000/ocpp", charge_point_id="CP-1"))
    await station.connect()
    await station.boot()
    tx = await station.start_transaction(1, "TAG-1")
    await station.send_meter_values(tx)
    await station.stop_transaction(tx)
    await station.disconnect()

One CALL is outstanding at a time; a background reader resolves answers and lets the
version's handlers answer CSMS-initiated CALLs. Transaction messages go through the
offline queue (:mod:`simulators.outbox`) so none is lost while the station is offline.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from websockets.exceptions import InvalidHandshake

from simulators import firmware, framing, meter
from simulators.adapter import VersionAdapter, adapter_for
from simulators.charging import MeterLoop
from simulators.config import StationConfig
from simulators.connection import Connection
from simulators.context import AfterAction
from simulators.dispatcher import Dispatcher
from simulators.display import Display
from simulators.errors import (
    CallError,
    ConnectionLostError,
    FramingError,
    NotConnectedError,
    SimulatorError,
)
from simulators.framing import Call, CallErrorFrame, CallResult
from simulators.link import open_connection
from simulators.offline import TransactionMessage
from simulators.outbox import Outbox
from simulators.security import Endpoint, StationSecurity
from simulators.state import StationState
from simulators.transaction import Transaction

__all__ = ["CallError", "Station", "StationConfig", "Transaction"]

logger = logging.getLogger(__name__)


class StationLog(logging.LoggerAdapter[logging.Logger]):
    """Prefixes every record with the charge point id."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return f"[{self.extra['charge_point_id'] if self.extra else '?'}] {msg}", kwargs


class Station:
    """One simulated charging station (see the module docstring)."""

    def __init__(self, config: StationConfig, *, adapter: VersionAdapter | None = None) -> None:
        self._config = config
        self.adapter = adapter or adapter_for(config.version)
        configuration, readonly = self.adapter.default_configuration(config)
        self.state = StationState(configuration=configuration, readonly=readonly)
        #: the security profile in force and where to connect (simulators.security)
        self.security = StationSecurity(
            config,
            self.state.configuration,
            profile_key=self.adapter.security_profile_key,
            priority_key=self.adapter.priority_key,
        )
        self.log = StationLog(logger, {"charge_point_id": config.charge_point_id})
        display_log = logging.getLogger("simulators.display")
        #: what the station's display shows (tariff texts, running and final costs)
        self.display = Display(StationLog(display_log, {"charge_point_id": config.charge_point_id}))
        self.boot_response: dict[str, Any] | None = None
        self._connection: Connection | None = None
        self._dispatcher = Dispatcher(self.adapter, self, self.log)
        self._outbox = Outbox(
            self.adapter, self._call, lambda: self.connected, self.log, self._show_answer
        )
        self._after_actions: list[AfterAction] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._meter_loops: dict[int, MeterLoop] = {}

    @property
    def config(self) -> StationConfig:
        return self._config

    @config.setter
    def config(self, config: StationConfig) -> None:
        """A new configuration (another URL, other credentials) applies from the next
        connection on."""
        self._config = config
        self.security.reconfigure(config)

    # -- connection -------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether a WebSocket connection is open."""
        return self._connection is not None and self._connection.open

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the CSMS selected (None if it selected none)."""
        return self._connection.ws.subprotocol if self._connection is not None else None

    async def connect(self) -> None:
        """Open the WebSocket.

        Raises ``websockets.exceptions.InvalidStatus`` when the CSMS refuses the handshake
        (HTTP 401, 404, ...) and ``OSError`` when it cannot be reached.
        """
        if self.connected:
            raise SimulatorError("already connected")
        await self._open(self.security.endpoint)

    async def _open(self, endpoint: Endpoint) -> None:
        ws = await open_connection(self.config, self.adapter.subprotocol, endpoint)
        self._connection = Connection(ws, self, self.config.call_timeout, self.log)
        self.log.info(
            "connected (subprotocol %s, security profile %d)",
            ws.subprotocol,
            endpoint.security_profile,
        )

    async def connect_in_order(self) -> None:
        """Connect the way a station does after a reboot or a profile change: each of
        :meth:`StationSecurity.connection_order` in turn until one works (2.0.1
        NetworkConfigurationPriority; 1.6 the new SecurityProfile, then the old one)."""
        failure: BaseException | None = None
        for endpoint in self.security.connection_order():
            try:
                await self._open(endpoint)
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                self.log.warning("cannot connect to %s: %r", endpoint.url, exc)
                failure = exc
                continue
            self.security.connected(endpoint)
            return
        assert failure is not None
        raise failure

    async def switch_security_profile(self) -> None:
        """Reconnect with the SecurityProfile just accepted (1.6 whitepaper A05.FR.06-08)."""
        if self._connection is not None:
            await self._connection.close()
        await self.connect_in_order()

    async def reconnect(self) -> None:
        """Connect again with the same configuration (dropping a connection still open)."""
        if self.connected:
            await self.drop()
        await self.connect()

    async def disconnect(self) -> None:
        """Close cleanly; periodic meter values and pending follow-up actions stop."""
        for loop in list(self._meter_loops.values()):
            await loop.stop()
        self._meter_loops.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._connection is not None:
            await self._connection.close()

    async def drop(self) -> None:
        """Cut the TCP connection without a closing handshake (power loss, network cut).

        Running sessions keep going; their transaction messages are queued.
        """
        if self._connection is not None:
            await self._connection.abort()

    async def wait_closed(self) -> tuple[int | None, str]:
        """Wait until the connection is closed; return the close code and reason."""
        if self._connection is None:
            return None, ""
        return await self._connection.closed()

    def _require_connection(self) -> Connection:
        if self._connection is None or not self._connection.open:
            raise NotConnectedError(f"{self.config.charge_point_id} is not connected")
        return self._connection

    # -- answering the CSMS (Responder) -------------------------------------------------

    def answer(self, call: Call) -> CallResult | CallErrorFrame:
        """Answer a CSMS-initiated CALL with the version's handlers."""
        self._after_actions = []
        return self._dispatcher.answer(call)

    def answered(self, answer: CallResult | CallErrorFrame) -> None:
        """Start the follow-up actions of a successfully answered CALL."""
        actions, self._after_actions = self._after_actions, []
        if isinstance(answer, CallResult):
            for action in actions:
                self._spawn(action)

    def framing_error(self, exc: FramingError) -> CallErrorFrame | None:
        """The CALLERROR for an unreadable frame, if it has a message id."""
        return self._dispatcher.framing_error(exc)

    def after(self, action: AfterAction) -> None:
        """Run ``action`` once the answer to the CALL being handled has been sent."""
        self._after_actions.append(action)

    def _spawn(self, action: AfterAction) -> None:
        async def run() -> None:
            try:
                await action()
            except (SimulatorError, TimeoutError) as exc:
                self.log.warning("follow-up action failed: %r", exc)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- calls ----------------------------------------------------------------------------

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send any CALL and return the CALLRESULT payload.

        Raises :class:`CallError` on a CALLERROR, ``TimeoutError`` after ``call_timeout``,
        :class:`NotConnectedError` / :class:`ConnectionLostError` without a connection.
        """
        return await self._call(action, payload)

    async def _call(
        self, action: str, payload: dict[str, Any], message_id: str | None = None
    ) -> dict[str, Any]:
        call = Call(message_id or framing.new_message_id(), action, payload)
        return await self._require_connection().call(call)

    async def send_raw(self, text: str) -> list[Any]:
        """Send any text frame and return the next frame received, parsed as a JSON array."""
        return await self._require_connection().send_raw(text)

    # -- station messages -------------------------------------------------------------------

    async def boot(self, reason: str = "PowerUp") -> dict[str, Any]:
        """BootNotification; when accepted and ``auto_replay`` is set, replay the queue."""
        response = await self.call(*self.adapter.boot_notification(self.config, reason))
        self.boot_response = response
        self.state.heartbeat_interval = self.adapter.heartbeat_interval(response)
        if response.get("status") == "Accepted" and self.config.auto_replay and self._outbox:
            await self.flush_queue()
        return response

    async def heartbeat(self) -> dict[str, Any]:
        """Heartbeat."""
        return await self.call(*self.adapter.heartbeat())

    async def status_notification(
        self, connector_id: int, status: str, error_code: str = "NoError"
    ) -> dict[str, Any]:
        """StatusNotification (2.0.1: EVSE ``connector_id``, connector 1, 1.6 names mapped)."""
        self.state.connector_status[connector_id] = status
        message = self.adapter.status_notification(connector_id, status, error_code)
        return await self.call(*message)

    async def authorize(self, id_token: str) -> dict[str, Any]:
        """Authorize (2.0.1: idToken of type ISO14443); a tariff in the answer is shown."""
        response = await self.call(*self.adapter.authorize(id_token))
        self.adapter.show_authorize(self.display, self.state.configuration, id_token, response)
        return response

    def _show_answer(self, message: TransactionMessage, response: dict[str, Any] | None) -> None:
        configuration = self.state.configuration
        self.adapter.show_transaction_answer(self.display, configuration, message, response)

    # -- transactions -------------------------------------------------------------------------

    @property
    def pending_transaction_messages(self) -> int:
        """Transaction messages waiting in the offline queue."""
        return len(self._outbox)

    async def start_transaction(
        self,
        connector_id: int,
        id_token: str,
        meter_start_wh: int = 0,
        *,
        id_token_type: str = "ISO14443",
        remote_start_id: int | None = None,
        trigger_reason: str = "Authorized",
    ) -> Transaction:
        """Start a transaction (1.6 StartTransaction, 2.0.1 TransactionEvent Started).

        While offline the message is queued and, in 1.6, ``transaction_id`` stays None
        until the replay's answer provides it. Raises :class:`CallError` if the CSMS answers
        the start with a CALLERROR.
        """
        tx = self.adapter.new_transaction(connector_id, id_token, meter_start_wh)
        tx.id_token_type = id_token_type
        tx.remote_start_id = remote_start_id
        self.state.transactions[connector_id] = tx
        try:
            await self._outbox.submit(self.adapter.start_transaction(tx, trigger_reason))
        except (CallError, TimeoutError):
            del self.state.transactions[connector_id]
            raise
        return tx

    async def send_meter_values(
        self, tx: Transaction, energy_wh: float | None = None, *, context: str = "Sample.Periodic"
    ) -> dict[str, Any] | None:
        """Meter values of ``tx`` (1.6 MeterValues, 2.0.1 TransactionEvent Updated).

        Without ``energy_wh`` the meter advances by ``meter_interval`` seconds of charging.
        Returns None when the message was queued.
        """
        if energy_wh is None:
            meter.advance(self.config.meter, tx, self.config.meter_interval)
        else:
            tx.meter_wh = float(energy_wh)
        readings = meter.readings(self.config.meter, tx)
        return await self._outbox.submit(self.adapter.meter_values(tx, readings, context))

    async def stop_transaction(
        self, tx: Transaction, reason: str = "Local", meter_stop_wh: int | None = None
    ) -> dict[str, Any] | None:
        """Stop ``tx`` (1.6 StopTransaction, 2.0.1 TransactionEvent Ended).

        ``reason`` may be a 1.6 or 2.0.1 name. Returns None when the message was queued.
        """
        loop = self._meter_loops.pop(tx.connector_id, None)
        if loop is not None and loop.tx is tx:
            await loop.stop()
        if meter_stop_wh is not None:
            tx.meter_wh = float(meter_stop_wh)
        tx.ended = True
        if self.state.transactions.get(tx.connector_id) is tx:
            del self.state.transactions[tx.connector_id]
        self.state.ended_transactions.append(tx)
        self.state.energy_register_wh[tx.connector_id] = tx.meter_wh
        message = self.adapter.stop_transaction(tx, reason)
        response = await self._outbox.submit(message)
        if not message.delivered:
            self._show_answer(message, None)
        return response

    async def flush_queue(self) -> list[dict[str, Any]]:
        """Replay queued transaction messages in order; return their CALLRESULT payloads.

        A message answered with a CALLERROR is dropped (see ``replay_errors``); a lost
        connection stops the replay and leaves the rest queued.
        """
        self._require_connection()
        return await self._outbox.flush()

    @property
    def replay_errors(self) -> list[CallError]:
        """CALLERRORs received for replayed messages, which were then dropped."""
        return self._outbox.errors

    async def replay_last_transaction_message(self, new_message_id: bool = True) -> dict[str, Any]:
        """Send the last delivered transaction message again (an idempotency probe)."""
        last = self._outbox.last_sent
        if last is None:
            raise SimulatorError("no transaction message was sent yet")
        message_id, action, payload = last
        return await self._call(action, payload, None if new_message_id else message_id)

    # -- remotely started sessions ------------------------------------------------------------

    async def charge(
        self,
        connector_id: int,
        id_token: str,
        *,
        id_token_type: str = "ISO14443",
        remote_start_id: int | None = None,
    ) -> Transaction:
        """Start a session with periodic meter values every ``meter_interval`` seconds."""
        try:
            await self._statuses(connector_id, self.adapter.statuses_before_start)
            tx = await self.start_transaction(
                connector_id,
                id_token,
                round(self.state.energy_register_wh.get(connector_id, 0.0)),
                id_token_type=id_token_type,
                remote_start_id=remote_start_id,
                trigger_reason="RemoteStart",
            )
        finally:
            self.state.claimed.discard(connector_id)
        await self._statuses(connector_id, self.adapter.statuses_after_start)
        interval = self.config.meter_interval
        self._meter_loops[connector_id] = MeterLoop(tx, interval, self.send_meter_values, self.log)
        return tx

    async def reboot(self, reason: str) -> None:
        """What a charger does after an accepted Reset (1.6 section 5.14, 2.0.1 B11/B12):
        end its sessions with ``reason``, close, reconnect, boot and report its connectors."""
        for tx in list(self.state.transactions.values()):
            await self.end_charging(tx, reason)
        for loop in list(self._meter_loops.values()):
            await loop.stop()
        self._meter_loops.clear()
        if self._connection is not None:
            await self._connection.close()
        self.log.info("rebooting (%s)", reason)
        await self.connect_in_order()
        await self.boot(reason="RemoteReset")
        for connector_id in range(1, self.config.connectors + 1):
            await self.status_notification(connector_id, "Available")

    async def fetch_firmware(self, location: str, retries: int) -> firmware.Fetched:
        """Download a firmware file over HTTP(S) (resuming a broken download)."""
        return await firmware.fetch(location, retries=retries, timeout=self.config.call_timeout)

    async def restart_with_firmware(self, version: str) -> None:
        """What a charger does to activate new firmware: its sessions end, it reboots and
        boots with the new version (2.0.1 reason FirmwareUpdate), reports its connectors."""
        for tx in list(self.state.transactions.values()):
            await self.end_charging(tx, "Reboot")
        for loop in list(self._meter_loops.values()):
            await loop.stop()
        self._meter_loops.clear()
        if self._connection is not None:
            await self._connection.close()
        self.config = dataclasses.replace(self.config, firmware_version=version)
        self.log.info("rebooting into firmware %s", version)
        await self.connect()
        await self.boot(reason="FirmwareUpdate")
        for connector_id in range(1, self.config.connectors + 1):
            await self.status_notification(connector_id, "Available")

    async def end_charging(self, tx: Transaction, reason: str) -> None:
        """Stop ``tx`` and its periodic meter values; the connector becomes Available."""
        await self.stop_transaction(tx, reason)
        await self._statuses(tx.connector_id, self.adapter.statuses_after_stop)

    async def _statuses(self, connector_id: int, statuses: tuple[str, ...]) -> None:
        for status in statuses:
            try:
                await self.status_notification(connector_id, status)
            except (NotConnectedError, ConnectionLostError):
                self.state.connector_status[connector_id] = status
