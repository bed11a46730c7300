"""Hook points: what happened to a charger or a session, as typed domain events.

The services emit one of these after what it describes is committed; features attach with
:meth:`Hooks.subscribe` while the process is assembled (live events today; tariffs, billing,
alarms and firmware campaigns next). A subscriber runs in the charger's message path, so it
must be quick: work that may fail or take long belongs in a durable job. A subscriber that
raises is logged with the charger id and does not fail the charger's message (what the
event describes is already stored). docs/topics/architecture.md lists them.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from csms.domain.chargers import ConnectorStatus, Identity
from csms.domain.id_tokens import Authorization
from csms.domain.meter_values import MeterSample
from csms.domain.tariff_catalog import SessionCost
from csms.domain.transactions import SessionEvent, SessionRef

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChargerConnected:
    charge_point_id: str
    protocol: str
    node_id: str
    epoch: int


@dataclass(frozen=True, slots=True)
class ChargerDisconnected:
    charge_point_id: str
    node_id: str
    epoch: int


@dataclass(frozen=True, slots=True)
class ChargerBooted:
    charge_point_id: str
    registration_status: str  # Accepted / Pending / Rejected
    identity: Identity  # vendor, model, serial_number, firmware_version, ...


@dataclass(frozen=True, slots=True)
class ConnectorStatusChanged:
    """A connector's status as reported (1.6 StatusNotification with its error code; 2.0.1
    StatusNotification, or a NotifyEvent on AvailabilityState). Replays included: compare
    ``status.status_at`` to what you know."""

    charge_point_id: str
    status: ConnectorStatus


@dataclass(frozen=True, slots=True)
class SessionStarted:
    """A session's start was recorded (once per session; for a session the charger named,
    when its start message arrives, even if another message opened it before)."""

    charge_point_id: str
    session: SessionRef
    authorization: Authorization | None
    event: SessionEvent


@dataclass(frozen=True, slots=True)
class SessionUpdated:
    """A message during a session was recorded, with its meter samples (never a replay of
    a sequenced message)."""

    charge_point_id: str
    session: SessionRef
    samples: Sequence[MeterSample]
    event: SessionEvent


@dataclass(frozen=True, slots=True)
class SessionEnded:
    """A session ended, with its final readings: by the charger's stop (``closed_by``
    "charger"), or closed by the CSMS because the charger abandoned it ("csms", with the
    rule in ``close_reason``; ``event`` is None). Once per session, except that the
    charger's own stop arriving after a close by the CSMS ends it again with the true
    readings (``replaces_close``): whoever settles sessions must replace the first end."""

    charge_point_id: str
    session: SessionRef
    ended_at: datetime
    meter_start_wh: Decimal | None
    meter_stop_wh: Decimal | None
    energy_wh: Decimal | None
    flags: tuple[str, ...]
    stop_reason: str | None
    event: SessionEvent | None
    closed_by: str = "charger"
    close_reason: str | None = None
    replaces_close: bool = False


@dataclass(frozen=True, slots=True)
class SessionCostComputed:
    """A session's running cost was recomputed from what is stored, or its final cost frozen
    (``cost.final``; csms.services.pricing)."""

    charge_point_id: str
    session: SessionRef
    cost: SessionCost


@dataclass(frozen=True, slots=True)
class FirmwareStatusReported:
    """A firmware status notification (1.6 FirmwareStatusNotification and the signed
    variant; 2.0.1 FirmwareStatusNotification). ``request_id`` where the version has one."""

    charge_point_id: str
    status: str
    request_id: int | None
    action: str


@dataclass(frozen=True, slots=True)
class LogStatusReported:
    """A diagnostics or log upload status (1.6 DiagnosticsStatusNotification,
    LogStatusNotification; 2.0.1 LogStatusNotification)."""

    charge_point_id: str
    status: str
    request_id: int | None
    action: str


@dataclass(frozen=True, slots=True)
class SecurityEventReported:
    charge_point_id: str
    type: str
    occurred_at: datetime
    tech_info: str | None


@dataclass(frozen=True, slots=True)
class NotificationReceived:
    """Any message kept as received in the charger's events (the typed events above come
    besides this one): NotifyEvent, NotifyReport, DataTransfer, ..."""

    charge_point_id: str
    action: str
    kind: str | None
    payload: dict[str, Any]
    occurred_at: datetime | None


@dataclass(frozen=True, slots=True)
class FirmwareTargetChanged:
    """A charger's update in a firmware campaign changed state (csms.domain.firmware)."""

    campaign_id: int
    charge_point_id: str
    state: str
    status: str | None  # the last firmware status the charger reported
    failure: str | None
    attempts: int


@dataclass(frozen=True, slots=True)
class FirmwareCampaignChanged:
    """A campaign was created, paused, resumed, halted, cancelled or completed, or started
    a wave (``kind``; ``status`` the campaign's status after it)."""

    campaign_id: int
    kind: str
    status: str
    detail: str | None
    actor: str | None


@dataclass(frozen=True, slots=True)
class FirmwareCampaignHalted:
    """A wave's failures exceeded the campaign's rate: it halted by itself (what the alarms
    raise an alarm from)."""

    campaign_id: int
    wave: int
    reason: str


E = TypeVar("E")
Subscriber = Callable[[E], Awaitable[None] | None]


class Hooks:
    """Subscribers by event type, called in subscription order."""

    def __init__(self) -> None:
        self._subscribers: dict[type, list[Callable[[Any], Awaitable[None] | None]]] = {}

    def subscribe(self, event_type: type[E], subscriber: Subscriber[E]) -> None:
        self._subscribers.setdefault(event_type, []).append(subscriber)

    def wants(self, event_type: type) -> bool:
        """Whether anyone listens (to skip building an event nobody reads)."""
        return event_type in self._subscribers

    async def emit(self, event: object) -> None:
        for subscriber in self._subscribers.get(type(event), ()):
            try:
                result = subscriber(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception(
                    "hook %s failed on %s",
                    getattr(subscriber, "__qualname__", subscriber),
                    type(event).__name__,
                    extra={"charge_point_id": getattr(event, "charge_point_id", "-")},
                )
